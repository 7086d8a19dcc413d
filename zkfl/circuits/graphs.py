"""The torch modules that are exported to ONNX and proven: a client's training step and FedAvg.
Their specs (shapes, calibration, JSON) live in `training` and `aggregation`, which do not import
torch, so reading a workspace's config stays cheap."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor
from torch.overrides import TorchFunctionMode

from zkfl.circuits.training import CONTEXT_LEN
from zkfl.fedavg import MEAN_BITS

if TYPE_CHECKING:
    from zkfl.circuits.aggregation import FedAvgSpec
    from zkfl.circuits.training import TrainingStepSpec


def split_data(spec: TrainingStepSpec, data: Tensor) -> tuple[Tensor, Tensor]:
    """The flat data vector -> (X: n x D, Y: n x C); the salt tail is dropped."""
    n, d, c = spec.sample_count, spec.features, spec.classes
    x = data[: n * d].reshape(n, d)
    y = data[n * d : n * (d + c)].reshape(n, c)
    return x, y


class TrainingStep(torch.nn.Module):
    """forward(theta, data, context) -> [theta after k SGD steps on cross-entropy, 1]."""

    def __init__(self, spec: TrainingStepSpec) -> None:
        super().__init__()
        self.spec = spec

    def forward(self, theta: Tensor, data: Tensor, context: Tensor) -> Tensor:
        spec, model = self.spec, self.spec.model
        x_all, y_all = split_data(spec, data)
        params = model.unpack(theta)
        step = spec.learning_rate / spec.batch_size  # folds the batch mean and the learning rate together
        for j in range(spec.local_steps):
            rows = slice(j * spec.batch_size, (j + 1) * spec.batch_size)
            params = model.sgd_step(params, x_all[rows], y_all[rows], step)
        new = torch.cat([p.reshape(-1) for p in params])
        if spec.update_bound is not None:
            new = bounded_step(theta, new, spec.update_bound, spec.update_norm)
        count = torch.ones(1, dtype=theta.dtype)  # one update: the sum of updates counts them
        # The context only has to be committed, not computed on; ONNX export drops an unused input,
        # so it enters the count multiplied by zero (a handful of rows).
        count = count + 0.0 * context.sum(dim=0, keepdim=True)
        return torch.cat([new, count])


def bounded_step(theta: Tensor, new: Tensor, bound: float, norm: str) -> Tensor:
    """The new weights with their change from `theta` clipped to `bound`: each element's change to
    [-bound, bound] (`linf`), or the whole change scaled to L2 norm `bound` when it is longer (`l2`).

    The L-infinity clip is new - relu(d - B) + relu(-d - B), with d = new - theta: the clamp's values
    (exactly so in fixed point), in fewer rows than a clamp (two comparisons, each a decomposition)
    and with no elementwise op more than it needs (each costs a row per two weights):
    `bench/privacy.py --part norm`."""
    delta = new - theta
    if norm == "linf":
        return new - torch.relu(delta - bound) + torch.relu(-delta - bound)
    length = torch.sqrt((delta * delta).sum())
    return theta + delta * torch.clamp(bound / torch.clamp(length, min=bound), max=1.0)


class _PeakWatch(TorchFunctionMode):
    """Records the largest |value| any torch operation produces, and which operation it was."""

    def __init__(self) -> None:
        super().__init__()
        self.peak, self.op = 0.0, ""

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        out = func(*args, **(kwargs or {}))
        for value in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(value, torch.Tensor) and value.is_floating_point() and value.numel():
                peak = float(value.detach().abs().max())
                if peak > self.peak:
                    self.peak, self.op = peak, getattr(func, "__name__", str(func))
        return out


def training_step_peak(spec: TrainingStepSpec, theta: np.ndarray, data: np.ndarray) -> tuple[float, str]:
    """The largest |intermediate value| of the training step from `theta` on the float64 data vector,
    and the operation that produced it (`zkfl.zk.ranges` turns it into range checks)."""
    data_t = torch.tensor(np.asarray(data, dtype=np.float64))
    weights = torch.tensor(np.asarray(theta, dtype=np.float64))
    module = spec.module()
    context = torch.zeros(CONTEXT_LEN, dtype=torch.float64)  # multiplied by zero in the graph: no peak
    with torch.no_grad(), _PeakWatch() as watch:
        module(weights, data_t, context)
    return watch.peak, watch.op


class FedAvg(torch.nn.Module):
    """forward(total) -> the mean of the accepted updates from their sum (`zkfl.fedavg.fixed_point_fedavg`).

    The divisions by powers of two are relabels in ezkl (the values stay, the scale moves): the
    count enters the reciprocal at scale 12 + K, so the reciprocal keeps 12 + 2K bits, and the
    product is rebased to scale 36 (scale_rebase_multiplier 3), whose values are the mean at 12. In
    float, the graph therefore computes the mean times 2^-24."""

    def __init__(self, spec: FedAvgSpec) -> None:
        super().__init__()
        self.spec = spec

    def forward(self, total: Tensor) -> Tensor:
        p, k = self.spec.num_params, MEAN_BITS
        count = total[p:] / float(1 << k)
        inverse = torch.reciprocal(count) * float(2.0 ** -(k + 24))
        return total[:p] * inverse
