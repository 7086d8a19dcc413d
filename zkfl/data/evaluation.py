"""Model quality on held-out data, and the float FedAvg the proven run is compared with."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import torch

from zkfl.circuits import TrainingStepSpec
from zkfl.data.batches import ClientData
from zkfl.fedavg import weighted_mean
from zkfl.fixedpoint import dequantize


def accuracy(spec: TrainingStepSpec, theta: npt.ArrayLike, x: npt.ArrayLike, y: npt.ArrayLike) -> float:
    """Top-1 accuracy of the model with flat float weights `theta` on (x, y)."""
    params = spec.model.unpack(torch.tensor(np.asarray(theta, dtype=np.float64)))
    with torch.no_grad():
        predicted = spec.model.logits(params, torch.tensor(np.asarray(x, dtype=np.float64))).argmax(dim=1).numpy()
    return float(np.mean(predicted == np.asarray(y)))


def float_fedavg_round(spec: TrainingStepSpec, theta: npt.ArrayLike, batches: Sequence[ClientData]) -> np.ndarray:
    """One FedAvg round in float64 on the same batches the proven round used: every client's k SGD
    steps (torch autograd), averaged (every client contributes the same sample count)."""
    return weighted_mean(
        [float_sgd_reference(spec, theta, batch) for batch in batches], [spec.sample_count] * len(batches)
    )


def float_sgd_reference(spec: TrainingStepSpec, theta: npt.ArrayLike, data: ClientData) -> np.ndarray:
    """The same k SGD steps in float64 with torch autograd on the standard cross-entropy: an
    implementation independent of the circuit's traced and exported step, for checking proofs."""
    params = torch.tensor(np.asarray(theta, dtype=np.float64), requires_grad=False)
    x_all = torch.tensor(dequantize(data.features))
    y_all = torch.tensor(data.labels)
    for j in range(spec.local_steps):
        rows = slice(j * spec.batch_size, (j + 1) * spec.batch_size)
        params = params.detach().requires_grad_(True)
        loss = torch.nn.functional.cross_entropy(spec.model.logits(spec.model.unpack(params), x_all[rows]), y_all[rows])
        (grad,) = torch.autograd.grad(loss, params)
        params = params - spec.learning_rate * grad
    return params.detach().numpy()
