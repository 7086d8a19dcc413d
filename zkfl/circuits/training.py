"""Training-step circuits: one ONNX graph = k local SGD steps of a classifier, with the backward
pass written by hand (ONNX has no autograd), so ezkl can prove "these new weights are the SGD
steps from *these* weights on *this* (committed) data".

Graph interface (identical for every model family, which is what lets proofs link):

    inputs   theta  (P,)            flat weights of the published global model
             data   (n*(D+C) + S,)  n = B*k samples: features row-major, then one-hot labels,
                                    then S salt elements (sliced off: they only blind the hash)
    output   update (P + 1,)        the new flat weights, followed by the sample count n

With `hashed/public` visibility the proof's public instances are
`[H(theta), H(data), H(update)]`: the global model it started from, the salted data commitment,
and the update that the aggregator must consume. The sample count sits inside the hashed update
(the aggregator weights by it), and is a constant of the graph, so a client cannot inflate it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from zkfl.commitments import SALT_LEN
from zkfl.errors import ConfigError

Family = Literal["logreg", "mlp"]

SOFTMAX_FLOOR = -7.0
"""Logit gaps below this are clamped before exp() (e**-7 = 9e-4, under 4 units at scale 12).
The clamp bounds ezkl's exp lookup table for *every* input, where calibration on sample data alone
could leave a real client's logits outside the table, and it keeps the table (7 * 2**12 rows)
inside 2**15 rows, so small circuits stay at logrows 15."""


@dataclass(frozen=True)
class TrainingStepSpec:
    """Everything that fixes a training-step circuit's shape and arithmetic."""

    family: Family
    features: int
    classes: int
    batch_size: int
    local_steps: int = 1
    learning_rate: float = 0.5
    hidden: int = 0

    def __post_init__(self) -> None:
        if self.family not in ("logreg", "mlp"):
            raise ConfigError(f"unknown model family {self.family!r}; expected 'logreg' or 'mlp'")
        for name in ("features", "classes", "batch_size", "local_steps"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.classes < 2:
            raise ConfigError(f"a classifier needs at least 2 classes, got {self.classes}")
        if (self.family == "mlp") != (self.hidden > 0):
            raise ConfigError("hidden > 0 is required for 'mlp' and not allowed for 'logreg'")
        if not 0 < self.learning_rate <= 8:
            raise ConfigError(f"learning_rate must be in (0, 8], got {self.learning_rate}")

    @property
    def layout(self) -> list[tuple[str, tuple[int, ...]]]:
        """Named parameter blocks, in the order they are packed into theta."""
        d, c, h = self.features, self.classes, self.hidden
        if self.family == "logreg":
            return [("W", (d, c)), ("b", (c,))]
        return [("W1", (d, h)), ("b1", (h,)), ("W2", (h, c)), ("b2", (c,))]

    @property
    def num_params(self) -> int:
        return sum(int(np.prod(shape)) for _, shape in self.layout)

    @property
    def sample_count(self) -> int:
        """Samples consumed per round: fixed by the circuit, never a free input."""
        return self.batch_size * self.local_steps

    @property
    def data_len(self) -> int:
        return self.sample_count * (self.features + self.classes) + SALT_LEN

    @property
    def update_len(self) -> int:
        return self.num_params + 1

    def init_params(self, seed: int = 0) -> np.ndarray:
        """Glorot-uniform weights, zero biases (float64; quantize before publishing)."""
        rng = np.random.default_rng(seed)
        blocks = []
        for name, shape in self.layout:
            if len(shape) == 2:
                limit = np.sqrt(6.0 / (shape[0] + shape[1]))
                blocks.append(rng.uniform(-limit, limit, size=shape).reshape(-1))
            else:
                blocks.append(np.zeros(shape))
        return np.concatenate(blocks)

    def module(self) -> torch.nn.Module:
        return TrainingStep(self)

    def calibration_inputs(self) -> tuple[np.ndarray, np.ndarray]:
        """(theta, data) floats that drive every range the circuit must accept to its bound:
        a large output bias pushes logit gaps past SOFTMAX_FLOOR, so the calibrated exp table
        covers [SOFTMAX_FLOOR, 0] for any client's data."""
        theta = self.init_params(seed=1)
        theta[self.num_params - self.classes] = 4.0 * abs(SOFTMAX_FLOOR)  # bias of class 0
        rng = np.random.default_rng(1)
        n = self.sample_count
        x = rng.uniform(0.0, 1.0, size=(n, self.features))
        y = np.eye(self.classes)[rng.integers(0, self.classes, size=n)]
        salt = rng.uniform(-1000.0, 1000.0, size=SALT_LEN)
        return theta, np.concatenate([x.reshape(-1), y.reshape(-1), salt])


def unpack(spec: TrainingStepSpec, theta: Tensor) -> list[Tensor]:
    """Split flat theta into the parameter blocks of `spec.layout`."""
    blocks, offset = [], 0
    for _, shape in spec.layout:
        size = int(np.prod(shape))
        blocks.append(theta[offset : offset + size].reshape(shape))
        offset += size
    return blocks


def split_data(spec: TrainingStepSpec, data: Tensor) -> tuple[Tensor, Tensor]:
    """The flat data vector -> (X: n x D, Y: n x C); the salt tail is dropped."""
    n, d, c = spec.sample_count, spec.features, spec.classes
    x = data[: n * d].reshape(n, d)
    y = data[n * d : n * (d + c)].reshape(n, c)
    return x, y


def logits(spec: TrainingStepSpec, params: list[Tensor], x: Tensor) -> Tensor:
    """The model's forward pass (for references and inference; the step inlines it for backward)."""
    if spec.family == "logreg":
        w, b = params
        return x @ w + b
    w1, b1, w2, b2 = params
    return torch.relu(x @ w1 + b1) @ w2 + b2


def clamped_softmax(z: Tensor) -> Tensor:
    gap = z - torch.max(z, dim=1, keepdim=True).values
    e = torch.exp(torch.clamp(gap, min=SOFTMAX_FLOOR))
    return e * torch.reciprocal(torch.sum(e, dim=1, keepdim=True))


class TrainingStep(torch.nn.Module):
    """forward(theta, data) -> [theta after k SGD steps on cross-entropy, sample count]."""

    def __init__(self, spec: TrainingStepSpec) -> None:
        super().__init__()
        self.spec = spec

    def forward(self, theta: Tensor, data: Tensor) -> Tensor:
        spec = self.spec
        x_all, y_all = split_data(spec, data)
        params = unpack(spec, theta)
        # (p - y) * lr / B folds the mean over the batch and the learning rate into one constant.
        step = spec.learning_rate / spec.batch_size
        ones = torch.ones(1, spec.batch_size, dtype=theta.dtype)
        for j in range(spec.local_steps):
            rows = slice(j * spec.batch_size, (j + 1) * spec.batch_size)
            x, y = x_all[rows], y_all[rows]
            if spec.family == "logreg":
                params = _logreg_step(params, x, y, step, ones)
            else:
                params = _mlp_step(params, x, y, step, ones)
        count = torch.full((1,), float(spec.sample_count), dtype=theta.dtype)
        return torch.cat([p.reshape(-1) for p in params] + [count])


def _logreg_step(params: list[Tensor], x: Tensor, y: Tensor, step: float, ones: Tensor) -> list[Tensor]:
    w, b = params
    g = (clamped_softmax(x @ w + b) - y) * step  # dL/dz, already scaled by lr / B
    return [w - x.t() @ g, b - (ones @ g).reshape(-1)]


def _mlp_step(params: list[Tensor], x: Tensor, y: Tensor, step: float, ones: Tensor) -> list[Tensor]:
    w1, b1, w2, b2 = params
    pre = x @ w1 + b1
    h = torch.relu(pre)
    g2 = (clamped_softmax(h @ w2 + b2) - y) * step
    gh = (g2 @ w2.t()) * (pre > 0).to(pre.dtype)  # ReLU derivative as a 0/1 mask
    return [w1 - x.t() @ gh, b1 - (ones @ gh).reshape(-1), w2 - h.t() @ g2, b2 - (ones @ g2).reshape(-1)]
