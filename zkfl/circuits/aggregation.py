"""The FedAvg circuit: the next global model as the mean of the filled slots' client updates.

    inputs   update_1 .. update_K   (P + 1,) each: client weights, then the client's sample count
    output   theta                  (P,)     next global weights

Every client circuit trains on the same constant number of samples n, which its proof puts into the
update, so every filled slot counts n and sample-weighted FedAvg is the plain mean of the filled
slots. The circuit computes it in its cheapest form: sum the K slots (additions, no rescale), divide
the summed count by n to get the number of filled slots f, and multiply the summed weights by 1/f.
Only the P products of that last multiply are rescaled, where a weighted MatMul rescales K·P.

Missing-slot rule: a slot with no accepted client update carries the all-zero vector: it adds
nothing to the sums and its count is 0, so f counts only the clients that did submit. Its
commitment is the constant the coordinator accepts only for empty slots. At least one slot must be
filled (f = 0 has no reciprocal; an all-empty round is refused before proving).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

import numpy as np

from zkfl.errors import ConfigError

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class _AggregationSpec:
    """What both aggregation circuits take: `slots` update vectors of P weights and a sample count."""

    num_params: int
    slots: int  # the circuit's inputs
    sample_count: int  # n: every client update's count (the training circuit's constant)

    def __post_init__(self) -> None:
        for field in fields(self):  # every field is a count
            if getattr(self, field.name) < 1:
                raise ConfigError(f"{field.name} must be at least 1, got {getattr(self, field.name)}")

    @property
    def update_len(self) -> int:
        return self.num_params + 1


@dataclass(frozen=True)
class FedAvgSpec(_AggregationSpec):
    """R inputs (client slots; leaves as the root of a tree) in, the next model out."""

    clients_per_input: int = 1  # G as the root of a tree: each input is the partial sum of G slots

    def io_lengths(self) -> tuple[list[int], list[int]]:
        """Lengths of the graph's inputs (one update per slot) and output (the next model)."""
        return [self.update_len] * self.slots, [self.num_params]

    def module(self) -> torch.nn.Module:
        from zkfl.circuits.graphs import FedAvg  # torch loads only when a graph is built

        return FedAvg(self)

    def calibration_inputs(self) -> list[np.ndarray]:
        """Every input full: the sum of `clients_per_input` updates with weights in [-1, 1], each
        counting n samples."""
        rng = np.random.default_rng(2)
        m = self.clients_per_input
        return [
            np.append(rng.uniform(-1.0, 1.0, self.num_params) * m, self.sample_count * m) for _ in range(self.slots)
        ]


@dataclass(frozen=True)
class PartialSumSpec(_AggregationSpec):
    """A leaf of the aggregation tree: G client updates in, their exact sum out.

        inputs   update_1 .. update_G   (P + 1,) each: weights, then sample count (zeros: empty slot)
        output   partial                (P + 1,)       summed weights, then summed count

    Integer additions only (no rescale), so a partial sum is exact and the sum of a round's
    partials is the sum of its updates: the root, today's FedAvg circuit over the leaves' partials,
    gives bit for bit the flat FedAvg of the same updates (its count element is the number of
    filled slots times n, from which it takes the filled count exactly as over client slots)."""

    def io_lengths(self) -> tuple[list[int], list[int]]:
        return [self.update_len] * self.slots, [self.update_len]

    def module(self) -> torch.nn.Module:
        from zkfl.circuits.graphs import PartialSum

        return PartialSum()

    def calibration_inputs(self) -> list[np.ndarray]:
        return FedAvgSpec(self.num_params, self.slots, self.sample_count).calibration_inputs()


@dataclass(frozen=True)
class TreeShape:
    """How a round's K client slots are aggregated: flat (leaf_slots 0: one FedAvg proof over the
    slots) or in leaves of G slots under a FedAvg root over the leaves (Coordinator.leafSlots)."""

    slots: int
    leaf_slots: int = 0

    @classmethod
    def of(cls, shape: TreeShape | int) -> TreeShape:
        """A shape, or K slots aggregated flat."""
        return cls(shape) if isinstance(shape, int) else shape

    def problems(self) -> list[str]:
        if self.slots < 1:
            return [f"slots must be at least 1, got {self.slots}"]
        if self.leaf_slots == 0:
            return []
        if self.leaf_slots < 1 or self.slots % self.leaf_slots or self.slots == self.leaf_slots:
            return [
                f"leaf_slots must divide slots into at least two leaves (slots {self.slots}, leaf_slots "
                f"{self.leaf_slots}); use 0 for a flat federation"
            ]
        return []

    @property
    def is_tree(self) -> bool:
        return self.leaf_slots > 0

    @property
    def leaves(self) -> int:
        return self.slots // self.leaf_slots if self.is_tree else 0

    @property
    def root_inputs(self) -> int:
        """R: the FedAvg circuit's inputs (leaves of a tree, slots of a flat federation)."""
        return self.leaves if self.is_tree else self.slots

    def leaf_slot_range(self, leaf: int) -> range:
        return range(leaf * self.leaf_slots, (leaf + 1) * self.leaf_slots)

    def leaf_of(self, slot: int) -> int:
        return slot // self.leaf_slots
