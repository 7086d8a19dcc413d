"""The computations zkFL proves, as torch modules exported to ONNX. Nothing here imports ezkl.

- `families`: the model families a client can train (one class each, in a registry).
- `training`: one client's k local SGD steps (forward, hand-written backward, update).
- `aggregation`: the aggregator's sample-weighted mean of K client updates, and a tree leaf's partial sum.
- `kinds`: `CircuitKind`, the name of each kind of circuit.
"""

from zkfl.circuits.aggregation import FedAvg, FedAvgSpec, PartialSum, PartialSumSpec
from zkfl.circuits.export import export_onnx
from zkfl.circuits.families import FAMILIES, SOFTMAX_FLOOR, LogisticRegression, Mlp, ModelFamily, model_from_json
from zkfl.circuits.kinds import CircuitKind
from zkfl.circuits.training import SALT_LEN, TrainingStep, TrainingStepSpec

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
    "PartialSum",
    "PartialSumSpec",
    "TrainingStep",
    "TrainingStepSpec",
    "export_onnx",
    "model_from_json",
]
