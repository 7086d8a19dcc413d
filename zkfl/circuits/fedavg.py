"""The FedAvg circuit: the next global model as the sample-weighted mean of K client updates.

    inputs   update_1 .. update_K   (P + 1,) each: client weights, then the client's sample count
    output   theta                  (P,)     next global weights = sum_i n_i w_i / sum_i n_i

Each input is hashed separately, so the public instances are `[H(update_1) .. H(update_K),
H(theta)]` and each H(update_i) is exactly the out-hash of client i's training-step proof.

Missing-slot rule: a slot with no accepted client update carries the all-zero vector. Its sample
count is 0, so it gets weight 0 and the mean runs over the clients that did submit; its hash is the
constant `H(0^(P+1))`, which the coordinator accepts only for empty slots. At least one slot must
be filled (an all-empty round would divide by zero and is refused before proving).

The weights are computed once, as n_i * 1/sum(n) (K values), and applied as one (1 x K) @ (K x P)
MatMul: far fewer rows than a per-element Mul + ReduceSum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from zkfl.errors import ConfigError


@dataclass(frozen=True)
class FedAvgSpec:
    num_params: int
    slots: int

    def __post_init__(self) -> None:
        if self.num_params < 1:
            raise ConfigError(f"num_params must be at least 1, got {self.num_params}")
        if self.slots < 1:
            raise ConfigError(f"slots (K) must be at least 1, got {self.slots}")

    @property
    def update_len(self) -> int:
        return self.num_params + 1

    def io_lengths(self) -> tuple[list[int], list[int]]:
        """Lengths of the graph's inputs (one update per slot) and output (the next model)."""
        return [self.update_len] * self.slots, [self.num_params]

    def module(self) -> torch.nn.Module:
        return FedAvg(self)

    def calibration_inputs(self, sample_count: int = 1) -> list[np.ndarray]:
        """K full slots with weights in [-1, 1] and equal sample counts."""
        rng = np.random.default_rng(2)
        return [np.append(rng.uniform(-1.0, 1.0, self.num_params), sample_count) for _ in range(self.slots)]


class FedAvg(torch.nn.Module):
    def __init__(self, spec: FedAvgSpec) -> None:
        super().__init__()
        self.spec = spec

    def forward(self, *updates: Tensor) -> Tensor:
        p, k = self.spec.num_params, self.spec.slots
        stacked = torch.stack(updates)  # K x (P + 1)
        counts = stacked[:, p:]  # K x 1
        weights = (counts * torch.reciprocal(torch.sum(counts))).reshape(1, k)
        return (weights @ stacked[:, :p]).reshape(p)
