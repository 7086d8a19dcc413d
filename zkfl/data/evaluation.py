"""Model quality on held-out data, and the float FedAvg the proven run is compared with."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import torch

from zkfl.circuits import TrainingStepSpec
from zkfl.data.batches import ClientData, load_dataset, make_batches
from zkfl.fedavg import weighted_mean
from zkfl.fixedpoint import dequantize, quantize


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


def float_fedavg_curve(
    spec: TrainingStepSpec,
    client_files: Sequence[str | os.PathLike[str]],
    test_file: str | os.PathLike[str],
    rounds: int,
    seed: int,
    genesis_seed: int = 0,
) -> list[float]:
    """Test accuracy after each of `rounds` float FedAvg rounds, from the quantized genesis model,
    each client drawing its round batches as a proven run's clients do (`make_batches`, client i
    seeded `seed + i`): where a proven run stops, how far float training goes on."""
    x_test, y_test = load_dataset(test_file, spec)
    batches = [
        make_batches(spec, *load_dataset(f, spec), rounds, np.random.default_rng(seed + i))
        for i, f in enumerate(client_files)
    ]
    theta = dequantize(quantize(spec.model.genesis(genesis_seed)))
    curve = []
    for r in range(rounds):
        theta = float_fedavg_round(spec, theta, [b[r] for b in batches])
        curve.append(round(accuracy(spec, theta, x_test, y_test), 3))
    return curve
