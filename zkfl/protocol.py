"""The protocol's facts, in one place: how a vector is committed to, what each proof's public
instances are, what an empty FedAvg slot carries, which slot commitments an aggregation must
consume, and how a stored vector is checked against the commitment the chain holds.

The client and aggregator roles, the pipeline, the round checker behind `zkfl verify --round` and
`zkfl audit`, and the tests all use these functions; `zkfl/contracts/Coordinator.sol` enforces the same
rules on-chain (`submitUpdate`, `finalizeRound`).

    client proof       instances [C(model), C(data), C(update)]
    aggregation proof  instances [C(slot_0) .. C(slot_{K-1}), C(next model)]

Links: a client's C(model) is its round's model commitment; an aggregation's slot i is the update
accepted in slot i, or C(empty slot) where none was; its output is the next round's model.
C is today the Poseidon hash of the fixed-point vector (`zkfl.commitments.poseidon`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from zkfl.circuits import FedAvgSpec
from zkfl.commitments import poseidon
from zkfl.errors import LinkError
from zkfl.fixedpoint import FixedArray
from zkfl.store import ArtifactStore, get_vector

CLIENT_INSTANCES = 3


def commit(vector: FixedArray) -> int:
    """The commitment to a fixed-point vector, as proofs expose it and the chain stores it."""
    return poseidon(vector)


@dataclass(frozen=True)
class ClientInstances:
    """A training-step proof's public instances."""

    model: int  # the global model it trained from
    data: int  # the salted data batch it trained on
    update: int  # the update it produced

    @classmethod
    def parse(cls, instances: Sequence[int]) -> ClientInstances:
        if len(instances) != CLIENT_INSTANCES:
            raise LinkError(f"a client proof has {CLIENT_INSTANCES} public instances, this one has {len(instances)}")
        return cls(*instances)

    @classmethod
    def of(cls, model: FixedArray, data: FixedArray, update: FixedArray) -> ClientInstances:
        """The instances a proof over these vectors must carry."""
        return cls(commit(model), commit(data), commit(update))

    def as_tuple(self) -> tuple[int, ...]:
        return self.model, self.data, self.update


@dataclass(frozen=True)
class AggregationInstances:
    """A FedAvg proof's public instances."""

    slots: tuple[int, ...]  # what each slot consumed
    next_model: int

    @classmethod
    def parse(cls, instances: Sequence[int], slots: int) -> AggregationInstances:
        if len(instances) != slots + 1:
            raise LinkError(f"an aggregation proof over {slots} slots has {slots + 1} public instances, this one "
                            f"has {len(instances)}")
        return cls(tuple(instances[:-1]), instances[-1])

    @classmethod
    def of(cls, slots: Sequence[FixedArray], next_model: FixedArray) -> AggregationInstances:
        return cls(tuple(commit(v) for v in slots), commit(next_model))

    def as_tuple(self) -> tuple[int, ...]:
        return (*self.slots, self.next_model)


def empty_slot(spec: FedAvgSpec) -> FixedArray:
    """What fills a slot no client submitted to: zero weights, zero samples (so FedAvg gives it
    weight 0). The coordinator holds its commitment as `emptySlotHash`."""
    return np.zeros(spec.update_len, dtype=np.int64)


def empty_slot_commitment(spec: FedAvgSpec) -> int:
    return commit(empty_slot(spec))


def expected_slots(accepted: Mapping[int, int], slots: int, empty: int) -> tuple[int, ...]:
    """The slot commitments an aggregation must consume: slot i's accepted update, else `empty`."""
    return tuple(accepted.get(i, empty) for i in range(slots))


def client_link_problem(proof: ClientInstances, round_model: int, accepted_update: int) -> str | None:
    """Why a client proof does not link into its round (None if it does)."""
    if proof.model != round_model:
        return f"the client trained from model {proof.model:#x}, the round's global model is {round_model:#x}"
    if proof.update != accepted_update:
        return f"the proof outputs update {proof.update:#x}, the chain accepted {accepted_update:#x}"
    return None


def aggregation_link_problem(proof: AggregationInstances, expected: Sequence[int], next_model: int) -> str | None:
    """Why an aggregation proof does not link into its round (None if it does)."""
    if len(proof.slots) != len(expected):
        return f"the aggregation has {len(proof.slots)} slots, the round has {len(expected)}"
    for slot, (consumed, wanted) in enumerate(zip(proof.slots, expected, strict=True)):
        if consumed != wanted:
            return f"slot {slot}: the aggregation consumed {consumed:#x}, the round's slot holds {wanted:#x}"
    if proof.next_model != next_model:
        return f"the aggregation outputs model {proof.next_model:#x}, the published next model is {next_model:#x}"
    return None


def commitment_mismatch(actual: int, expected: int, what: str) -> str | None:
    """Why `what`, committing to `actual`, is not the vector the record says (None if it is)."""
    return None if actual == expected else f"{what} commits to {actual:#x}, not to {expected:#x}"


def check_commitment(vector: FixedArray, expected: int, what: str) -> None:
    """Raise LinkError unless `vector` commits to `expected` (the chain's or a proof's record)."""
    problem = commitment_mismatch(commit(vector), expected, what)
    if problem:
        raise LinkError(problem)


def checked_vector(store: ArtifactStore, cid: str, expected: int, what: str) -> FixedArray:
    """The vector stored under `cid`: intact (its bytes match the CID, else ContentMismatchError)
    and committing to `expected` (else LinkError)."""
    vector = get_vector(store, cid)
    check_commitment(vector, expected, f"{what} {cid}")
    return vector
