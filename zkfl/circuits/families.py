"""Model families: what a training-step circuit trains. A family is one class (its shape fields,
parameter layout, forward pass and genesis weights) and one line in `FAMILIES`; everything else
(the graph, the workspace config, the manifest, the float reference, the range check) works
through this interface. No family writes a backward pass: `sgd_step` is torch's autodiff of the
forward pass (`zkfl.circuits.derived`).

Contract of a family, relied on by the training step and its calibration:
- `layout` names the parameter blocks in the order they are packed into the flat `theta` (the one
  place that order is fixed), and it ends with the output bias, of shape (classes,);
- `logits` is the forward pass, in ops whose derivatives `zkfl.circuits.derived` exports.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import Field, asdict, dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from zkfl.errors import ConfigError

if TYPE_CHECKING:
    from torch import Tensor

SOFTMAX_FLOOR = -7.0
"""Logit gaps below this are clamped before exp() (e**-7 = 9e-4, under 4 units at scale 12).
The clamp bounds ezkl's exp lookup table for *every* input, where calibration on sample data alone
could leave a real client's logits outside the table, and it keeps the table (7 * 2**12 rows)
inside 2**15 rows, so small circuits stay at logrows 15."""

Layout = list[tuple[str, tuple[int, ...]]]
"""Named parameter blocks, in the order they are packed into the flat theta."""


def clamped_softmax(z: Tensor) -> Tensor:
    import torch  # here, not at the top: a model's config is read without loading torch

    gap = z - torch.max(z, dim=1, keepdim=True).values
    e = torch.exp(torch.clamp(gap, min=SOFTMAX_FLOOR))
    return e * torch.reciprocal(torch.sum(e, dim=1, keepdim=True))


class ModelFamily(ABC):
    """A classifier over `features` inputs and `classes` outputs; subclasses are frozen dataclasses."""

    name: ClassVar[str]
    __dataclass_fields__: ClassVar[dict[str, Field[Any]]]  # every family is a dataclass (`fields`, `asdict`)
    features: int
    classes: int

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if field.type == "int" and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise ConfigError(f"{self.name}: {field.name} must be a positive integer, got {value!r}")
        if self.classes < 2:
            raise ConfigError(f"a classifier needs at least 2 classes, got {self.classes}")
        if self.layout[-1][1] != (self.classes,):
            raise ConfigError(f"{self.name}: the parameter layout must end with the output bias ({self.classes},)")

    @property
    @abstractmethod
    def layout(self) -> Layout:
        """Named parameter blocks, in the order they are packed into theta; the output bias last."""

    @abstractmethod
    def logits(self, params: list[Tensor], x: Tensor) -> Tensor:
        """The forward pass: (B x features) -> (B x classes)."""

    def sgd_step(self, params: list[Tensor], x: Tensor, y: Tensor, step: float) -> list[Tensor]:
        """One SGD step on the mean softmax cross-entropy of the batch (x, one-hot y), `step` = lr / B;
        its backward pass is torch's vjp of `logits`."""
        from zkfl.circuits.derived import derived_sgd_step

        return derived_sgd_step(lambda p, batch: self.logits(list(p), batch))(params, x, y, step)

    def genesis(self, seed: int) -> np.ndarray:
        """Round 0's global weights (float64). Default: `init_params`."""
        return self.init_params(seed)

    user_code: ClassVar[bool] = False
    """Whether the forward pass is a user's Python (`TorchModel`). zkFL runs it only for the owner
    who named it (genesis weights, export, float reference); a participant's range check and an
    audit use the published graph instead, so a manifest cannot make anyone import a file."""

    @property
    def num_params(self) -> int:
        return sum(int(np.prod(shape)) for _, shape in self.layout)

    def init_params(self, seed: int = 0) -> np.ndarray:
        """Glorot-uniform matrices and convolution kernels (fans: the two leading axes times the
        kernel's size), zero vectors (float64; quantize before publishing)."""
        rng = np.random.default_rng(seed)
        blocks = []
        for _, shape in self.layout:
            if len(shape) >= 2:
                window = int(np.prod(shape[2:]))
                limit = np.sqrt(6.0 / ((shape[0] + shape[1]) * window))
                blocks.append(rng.uniform(-limit, limit, size=shape).reshape(-1))
            else:
                blocks.append(np.zeros(shape))
        return np.concatenate(blocks)

    def unpack(self, theta: Tensor) -> list[Tensor]:
        """Split flat theta into the blocks of `layout`."""
        blocks, offset = [], 0
        for _, shape in self.layout:
            size = int(np.prod(shape))
            blocks.append(theta[offset : offset + size].reshape(shape))
            offset += size
        return blocks

    def to_json(self) -> dict[str, Any]:
        return {"family": self.name, **asdict(self)}


@dataclass(frozen=True)
class LogisticRegression(ModelFamily):
    """Multinomial logistic regression: z = x W + b."""

    name: ClassVar[str] = "logreg"
    features: int = 64
    classes: int = 10

    @property
    def layout(self) -> Layout:
        return [("W", (self.features, self.classes)), ("b", (self.classes,))]

    def logits(self, params: list[Tensor], x: Tensor) -> Tensor:
        w, b = params
        return x @ w + b

    def genesis(self, seed: int) -> np.ndarray:
        """Zeros: the loss is convex, so any start works, and zeros keep the first logits at 0."""
        return np.zeros(self.num_params)


@dataclass(frozen=True)
class Mlp(ModelFamily):
    """One hidden ReLU layer: z = relu(x W1 + b1) W2 + b2."""

    name: ClassVar[str] = "mlp"
    features: int = 64
    hidden: int = 16
    classes: int = 10

    @property
    def layout(self) -> Layout:
        d, h, c = self.features, self.hidden, self.classes
        return [("W1", (d, h)), ("b1", (h,)), ("W2", (h, c)), ("b2", (c,))]

    def logits(self, params: list[Tensor], x: Tensor) -> Tensor:
        import torch

        w1, b1, w2, b2 = params
        return torch.relu(x @ w1 + b1) @ w2 + b2


@dataclass(frozen=True)
class TorchModel(ModelFamily):
    """A user's own torch module: `source` is "file.py:function", a function that returns the module
    (`zkfl.circuits.user_models`). The module takes flat rows of `features` (an `nn.Unflatten` first
    turns them into images) and returns `classes` logits; its layers must be ones a derived step
    supports (`zkfl.circuits.derived.check_supported`).

    `layout` is the module's `named_parameters()`, recorded when the model was named (`zkfl init
    --model`), so that everyone who reads the config or the manifest knows the weights' shapes
    without running the module; only its owner, who has the file, runs it (genesis weights,
    export, float reference)."""

    name: ClassVar[str] = "torch"
    user_code: ClassVar[bool] = True
    source: str = ""
    features: int = 64
    classes: int = 10
    parameters: tuple[tuple[str, tuple[int, ...]], ...] = ()

    def __post_init__(self) -> None:
        blocks = tuple((str(name), tuple(int(n) for n in shape)) for name, shape in self.parameters)
        object.__setattr__(self, "parameters", blocks)  # JSON and TOML give lists
        if ":" not in self.source:
            raise ConfigError(f"torch: source must be 'file.py:function', got {self.source!r}")
        if not blocks:
            raise ConfigError(
                f"torch: the model {self.source} has no parameters recorded; name it with `zkfl init --model`"
            )
        super().__post_init__()

    @property
    def layout(self) -> Layout:
        return list(self.parameters)

    def logits(self, params: list[Tensor], x: Tensor) -> Tensor:
        from torch.func import functional_call

        from zkfl.circuits.user_models import load_model

        module = load_model(self.source, self.layout)
        return functional_call(module, {name: p for (name, _), p in zip(self.layout, params, strict=True)}, (x,))

    def genesis(self, seed: int) -> np.ndarray:
        """The module's own initial weights, as its function makes them under torch seed `seed`."""
        from zkfl.circuits.user_models import initial_weights

        return initial_weights(self.source, self.layout, seed)

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "parameters": [[name, list(shape)] for name, shape in self.parameters]}


FAMILIES: dict[str, type[ModelFamily]] = {
    LogisticRegression.name: LogisticRegression,
    Mlp.name: Mlp,
    TorchModel.name: TorchModel,
}
"""Every model family by name: a new family is one class above and one line here."""


def model_from_json(body: dict[str, Any]) -> ModelFamily:
    """A model from its JSON/TOML form: {"family": name, **shape fields}."""
    values = dict(body)
    name = values.pop("family", LogisticRegression.name)
    if name not in FAMILIES:
        raise ConfigError(f"unknown model family {name!r}; expected one of: {', '.join(FAMILIES)}")
    family = FAMILIES[name]
    known = [f.name for f in fields(family)]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(
            f"unknown key(s) {', '.join(map(repr, unknown))} for model family {name!r} (its keys: {', '.join(known)})"
        )
    return family(**values)
