"""The computations zkFL proves, as torch modules exported to ONNX. Nothing here imports ezkl.

- `families`: the model families a client can train (one class each, in a registry).
- `training`: one client's k local SGD steps (forward, derived backward, update).
- `derived`: a training step whose backward pass is torch's autodiff of a module's forward pass,
  and the check that refuses a module of unsupported layers.
- `aggregation`: FedAvg, the mean of a round's accepted updates from their sum.
- `graphs`: the torch modules of those computations, which `export` writes to ONNX.
- `kinds`: `CircuitKind`, the name of each kind of circuit.

The specs import neither torch nor onnx; `TrainingStep`, `FedAvg` and `export_onnx`
load them on first use, so that reading a workspace's config stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from zkfl.circuits.aggregation import FedAvgSpec
from zkfl.circuits.families import FAMILIES, SOFTMAX_FLOOR, LogisticRegression, Mlp, ModelFamily, model_from_json
from zkfl.circuits.kinds import CircuitKind
from zkfl.circuits.training import SALT_LEN, TrainingStepSpec
from zkfl.lazy import lazy_getattr

if TYPE_CHECKING:
    from zkfl.circuits.export import export_onnx
    from zkfl.circuits.graphs import FedAvg, TrainingStep

_TORCH_EXPORTS = {
    "TrainingStep": "zkfl.circuits.graphs",
    "FedAvg": "zkfl.circuits.graphs",
    "export_onnx": "zkfl.circuits.export",
}


__getattr__ = lazy_getattr(globals(), _TORCH_EXPORTS)


__all__ = [
    "FAMILIES",
    "SALT_LEN",
    "SOFTMAX_FLOOR",
    "CircuitKind",
    "FedAvg",
    "FedAvgSpec",
    "LogisticRegression",
    "Mlp",
    "ModelFamily",
    "TrainingStep",
    "TrainingStepSpec",
    "export_onnx",
    "model_from_json",
]
