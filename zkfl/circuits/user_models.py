"""A user's own torch model, named "file.py:function": loading it from the owner's file, checking it,
and recording what everyone else needs to know of it (`torch_model`).

The function is called with no arguments and returns an `nn.Module` that takes flat rows of
features, (B, features), and returns (B, classes) logits. Only the federation's owner runs it: to
record its parameters when the model is named, to make the genesis weights, to export the training
step and for its float reference. Participants and auditors compile the published graph instead
(`zkfl.federation.manifest.published_circuits`), and the range check runs that graph
(`zkfl.zk.ranges`): a source named by a manifest is never imported.
"""

from __future__ import annotations

import hashlib
import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from zkfl.circuits.families import Layout, ModelFamily, TorchModel, model_from_json
from zkfl.errors import ConfigError

if TYPE_CHECKING:
    from torch import nn


def source_file(source: str) -> Path:
    """The file of "file.py:function"."""
    return Path(source.rpartition(":")[0]).expanduser()


def torch_model(source: str, features: int, base: Path | None = None) -> TorchModel:
    """The `TorchModel` of `source` ("file.py:function", a relative file taken from `base`, default the
    current directory): the module is loaded, checked, and run once on `features` zeros to learn
    its classes; its parameters are recorded in `named_parameters()` order."""
    import torch

    path, _, function = source.rpartition(":")
    if not path or not function:
        raise ConfigError(f"--model must be a built-in family or 'file.py:function', got {source!r}")
    absolute = f"{(Path(base or Path.cwd()) / Path(path).expanduser()).resolve()}:{function}"
    module = _build(absolute)
    layout = [(name, tuple(p.shape)) for name, p in module.named_parameters()]
    try:
        with torch.no_grad():
            out = module(torch.zeros(2, features))
    except Exception as exc:  # the user's forward pass: any error means the shapes do not fit
        raise ConfigError(
            f"the model {source} does not take rows of {features} features ({type(exc).__name__}: {exc}); set "
            "the features to its input size, or start it with nn.Unflatten for image-shaped input"
        ) from exc
    if out.ndim != 2 or out.shape[0] != 2:
        raise ConfigError(f"the model {source} must return (batch, classes) logits, got shape {tuple(out.shape)}")
    if not layout or layout[-1][1] != (out.shape[1],):
        raise ConfigError(
            f"the model {source}'s last parameter must be its output layer's bias, of shape ({out.shape[1]},); "
            f"got {layout[-1] if layout else 'no parameters'}"
        )
    return TorchModel(absolute, features, int(out.shape[1]), tuple(layout))


def named_model(name: str, features: int, classes: int, base: Path | None = None) -> ModelFamily:
    """The model a user names: a built-in family (its default shape beyond `features` and `classes`),
    or a torch module as "file.py:function" (`torch_model`), which must return `classes` logits."""
    if ":" not in name:
        return model_from_json({"family": name, "features": features, "classes": classes})
    model = torch_model(name, features, base)
    if model.classes != classes:
        raise ConfigError(f"the model {name} returns {model.classes} logits, the data has {classes} classes")
    return model


def load_model(source: str, layout: Layout) -> nn.Module:
    """The module of `source`, which must still have the parameters recorded for it."""
    return _with_layout(source, _build(source), layout)


def initial_weights(source: str, layout: Layout, seed: int) -> np.ndarray:
    """The module's own initial weights under torch seed `seed`, flat in layout order (float64)."""
    import torch

    from zkfl.circuits.derived import check_supported

    with torch.random.fork_rng():
        torch.manual_seed(seed)
        module = _call(source)
    check_supported(module)
    _with_layout(source, module, layout)
    return np.concatenate([p.detach().double().reshape(-1).numpy() for p in module.parameters()])


def _with_layout(source: str, module: nn.Module, layout: Layout) -> nn.Module:
    """`module`, refused unless it still has the parameters recorded for the federation."""
    found = [(name, tuple(p.shape)) for name, p in module.named_parameters()]
    if found != list(layout):
        raise ConfigError(
            f"the model {source} no longer has the parameters recorded for the federation ({_names(layout)}); it "
            f"has {_names(found)}. Restore the file, or name the model again in a new workspace"
        )
    return module


def _names(layout: Layout) -> str:
    return ", ".join(f"{name} {tuple(shape)}" for name, shape in layout)


def _build(source: str) -> nn.Module:
    """The checked module of `source`, in eval mode (built once per file content)."""
    return _cached(source, _file_digest(source))


def _file_digest(source: str) -> str:
    path = source_file(source)
    if not path.is_file():
        raise ConfigError(
            f"the model's file {path} is not found (a model's Python runs only where its owner keeps the file; "
            "participants and auditors compile the federation's published graph instead)"
        )
    return hashlib.sha256(path.read_bytes()).hexdigest()


@lru_cache(maxsize=8)
def _cached(source: str, digest: str) -> nn.Module:
    from zkfl.circuits.derived import check_supported

    module = _call(source)
    check_supported(module)
    return module.eval()


def _call(source: str) -> nn.Module:
    """Import the file as a module of its own and call the function."""
    from torch import nn

    path, _, function = source.rpartition(":")
    spec = importlib.util.spec_from_file_location(f"zkfl_user_model_{abs(hash(path))}", path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"cannot import {path} as Python")
    code = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(code)
    except Exception as exc:  # the user's file: report any error in it by name
        raise ConfigError(f"importing the model's file {path} failed: {type(exc).__name__}: {exc}") from exc
    make = getattr(code, function, None)
    if not callable(make):
        raise ConfigError(f"{path} has no function {function!r} (the model is named 'file.py:function')")
    module = make()
    if not isinstance(module, nn.Module):
        raise ConfigError(f"{source} must return a torch.nn.Module, got {type(module).__name__}")
    return module
