"""The computations zkFL proves, as torch modules exported to ONNX (installed as `zkfl.circuits`).

- `training`: one client's k local SGD steps (forward, hand-written backward, update).
- `fedavg`:   the aggregator's sample-weighted mean of K client updates.
"""

from zkfl.circuits.export import export_onnx
from zkfl.circuits.fedavg import FedAvg, FedAvgSpec
from zkfl.circuits.training import SOFTMAX_FLOOR, TrainingStep, TrainingStepSpec

__all__ = ["FedAvg", "FedAvgSpec", "SOFTMAX_FLOOR", "TrainingStep", "TrainingStepSpec", "export_onnx"]
