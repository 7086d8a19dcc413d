"""The FedAvg circuit: the next global model as the mean of a round's accepted client updates,
taken from their sum, whatever their number.

    input    total   (P + 1,)   the accepted updates summed: weights, then how many were summed
    output   theta   (P,)       the next global weights: the weights' mean (`zkfl.fedavg.fixed_point_fedavg`)

Each client update ends with the element 1 (at scale 12), a constant of the training circuit, so
the sum's last element counts the updates and no client can weigh more than one. The coordinator
sums the updates' commitments as it accepts them (a commitment is affine in its vector), so the one
input's commitment is fixed on-chain; the aggregator needs the summed vector only, never an update.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from zkfl.errors import ConfigError

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class FedAvgSpec:
    """The FedAvg circuit of a model with `num_params` weights."""

    num_params: int

    def __post_init__(self) -> None:
        if self.num_params < 1:
            raise ConfigError(f"num_params must be at least 1, got {self.num_params}")

    @property
    def update_len(self) -> int:
        """Elements of an update, and of the sum: the weights, then the count."""
        return self.num_params + 1

    def io_lengths(self) -> tuple[list[int], list[int]]:
        """Lengths of the graph's input (the sum) and output (the next model)."""
        return [self.update_len], [self.num_params]

    def module(self) -> torch.nn.Module:
        from zkfl.circuits.graphs import FedAvg  # torch loads only when a graph is built

        return FedAvg(self)

    def calibration_inputs(self) -> list[np.ndarray]:
        """The sum of three updates with weights in [-1, 1] (scales are fixed, so calibration sizes nothing)."""
        rng = np.random.default_rng(2)
        return [np.append(rng.uniform(-3.0, 3.0, self.num_params), 3.0)]
