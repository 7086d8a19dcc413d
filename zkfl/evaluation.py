"""Model quality on held-out data, and the float FedAvg the proven run is compared with."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import torch

from zkfl.circuits import TrainingStepSpec
from zkfl.client import ClientData, float_sgd_reference


def accuracy(spec: TrainingStepSpec, theta: npt.ArrayLike, x: npt.ArrayLike, y: npt.ArrayLike) -> float:
    """Top-1 accuracy of the model with flat float weights `theta` on (x, y)."""
    params = spec.model.unpack(torch.tensor(np.asarray(theta, dtype=np.float64)))
    with torch.no_grad():
        predicted = spec.model.logits(params, torch.tensor(np.asarray(x, dtype=np.float64))).argmax(dim=1).numpy()
    return float(np.mean(predicted == np.asarray(y)))


def float_fedavg_round(spec: TrainingStepSpec, theta: npt.ArrayLike, batches: Sequence[ClientData]) -> np.ndarray:
    """One FedAvg round in float64 on the same batches the proven round used: every client's k SGD
    steps (torch autograd), averaged (every client contributes the same sample count)."""
    return np.mean([float_sgd_reference(spec, theta, batch) for batch in batches], axis=0)
