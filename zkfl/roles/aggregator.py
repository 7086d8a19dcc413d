"""The aggregator role: FedAvg of the round's accepted client updates, proven; in a tree, first
each leaf's exact partial sum of its slots, proven, then FedAvg of the partial sums. Both proofs'
commitments are `zkfl.protocol.AggregationCommitments` (inputs, then the output)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from zkfl.circuits import FedAvgSpec, PartialSumSpec
from zkfl.errors import ConfigError, LinkError
from zkfl.fedavg import check_partial_sum, fixed_point_partial_sum
from zkfl.fixedpoint import FixedArray
from zkfl.protocol import (
    AggregationCommitments,
    aggregation_link_problem,
    check_commitment,
    client_link_problem,
    empty_slot,
    empty_slot_commitment,
    expected_slots,
)
from zkfl.roles.client import ClientUpdate
from zkfl.zk.commitments import CommitmentKey, keys_commitment
from zkfl.zk.prover import CircuitKeys, Proof, prove


class SlotUpdate(Protocol):
    """What FedAvg consumes from a slot: the update vector and the commitment the chain accepted
    for it (a `ClientUpdate` fresh from the prover, or an `AcceptedVector` fetched from the store)."""

    @property
    def vector(self) -> FixedArray: ...

    @property
    def update_hash(self) -> int: ...


@dataclass(frozen=True)
class AcceptedVector:
    vector: FixedArray
    update_hash: int


@dataclass(frozen=True)
class AggregateResult:
    weights: FixedArray  # next global model, fixed point
    proof: Proof
    slots: int  # K: the proof's first K commitments are the slots'

    @property
    def commitments(self) -> AggregationCommitments:
        return AggregationCommitments.from_proof(self.proof.data, self.slots)

    @property
    def slot_hashes(self) -> tuple[int, ...]:
        return self.commitments.slots

    @property
    def global_hash(self) -> int:
        return self.commitments.next_model


def slot_vectors(
    key: CommitmentKey, spec: FedAvgSpec | PartialSumSpec, slots: Sequence[SlotUpdate | None]
) -> list[FixedArray]:
    """The circuit's inputs: each accepted update (or leaf partial sum) in its slot, the empty
    vector elsewhere."""
    if len(slots) != spec.slots:
        raise ConfigError(
            f"the circuit has {spec.slots} inputs, got {len(slots)} entries (use None for a missing client)"
        )
    if all(s is None for s in slots):
        raise ConfigError("no client update to aggregate: at least one slot must be filled")
    vectors = []
    for i, update in enumerate(slots):
        if update is None:
            vectors.append(empty_slot(spec))
            continue
        if update.vector.shape != (spec.update_len,):
            raise ConfigError(f"slot {i}: update has {update.vector.shape[0]} elements, expected {spec.update_len}")
        check_commitment(key, update.vector, update.update_hash, f"slot {i}: the update")
        vectors.append(update.vector)
    return vectors


def aggregate_and_prove(
    keys: CircuitKeys,
    spec: FedAvgSpec,
    slots: Sequence[SlotUpdate | None],
    proof_path: str | os.PathLike[str],
) -> AggregateResult:
    """Prove FedAvg of the filled slots (missing slots are left out of the mean). The proof file
    appears at `proof_path` only once its commitments are those of the slots and the output."""
    key = keys_commitment(keys)
    vectors = slot_vectors(key, spec, slots)
    with _scratch_beside(Path(proof_path)) as scratch:
        run = prove(keys, vectors, scratch)
        result = AggregateResult(run.outputs[0], run.proof, spec.slots)
        expected = AggregationCommitments.of(key, vectors, result.weights)
        if result.commitments != expected:
            raise LinkError(
                "the aggregation proof's commitments are not the commitments of its slots and output: "
                f"expected {expected.as_tuple()}, proof has {result.commitments.as_tuple()}"
            )
        return replace(result, proof=_place(scratch, Path(proof_path), result.proof))


@dataclass(frozen=True)
class LeafResult:
    leaf: int
    partial: FixedArray  # the exact sum of the leaf's slots: weights, then sample count
    proof: Proof
    slots: int  # G

    @property
    def commitments(self) -> AggregationCommitments:
        return AggregationCommitments.from_proof(self.proof.data, self.slots)

    @property
    def partial_hash(self) -> int:
        return self.commitments.next_model  # the output commitment


def sum_and_prove(
    keys: CircuitKeys,
    spec: PartialSumSpec,
    leaf: int,
    slots: Sequence[SlotUpdate | None],
    proof_path: str | os.PathLike[str],
) -> LeafResult:
    """Prove a leaf's partial sum of its G slots; refuses before proving a sum outside the range
    the root takes (AggregationRangeError). The proof file appears at `proof_path` only once its
    output and commitments are those of the slots' sum."""
    key = keys_commitment(keys)
    vectors = slot_vectors(key, spec, slots)
    partial = fixed_point_partial_sum(vectors, spec.update_len)
    check_partial_sum(partial, leaf, spec.slots)
    with _scratch_beside(Path(proof_path)) as scratch:
        run = prove(keys, vectors, scratch)
        result = LeafResult(leaf, run.outputs[0], run.proof, spec.slots)
        if not np.array_equal(result.partial, partial):
            raise LinkError(f"leaf {leaf}: the circuit's partial sum differs from the sum of its slots")
        expected = AggregationCommitments.of(key, vectors, partial)
        if result.commitments != expected:
            raise LinkError(f"leaf {leaf}: the proof's commitments are not those of its slots and partial sum")
        return replace(result, proof=_place(scratch, Path(proof_path), result.proof))


@contextmanager
def _scratch_beside(proof_path: Path) -> Iterator[Path]:
    """A path to prove into in a scratch folder beside `proof_path` (so the final move is a rename);
    the folder, with whatever a refused proof left in it, is gone afterwards."""
    proof_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=proof_path.parent, prefix=f".{proof_path.name}.") as folder:
        yield Path(folder) / proof_path.name


def _place(scratch: Path, proof_path: Path, proof: Proof) -> Proof:
    """Move a checked proof from its scratch path to where the pipeline finds it."""
    os.replace(scratch, proof_path)
    return replace(proof, path=proof_path)


def check_round_links(
    key: CommitmentKey,
    global_hash: int,
    slots: Sequence[ClientUpdate | None],
    aggregate: AggregateResult,
    spec: FedAvgSpec,
) -> None:
    """The links of one round held in memory (`zkfl.protocol`'s rules, as the coordinator enforces
    them): every client started from the round's global model, the aggregation consumed exactly
    the updates in slot order (the empty-slot commitment where none was accepted), and the
    published weights commit to its output. Raises LinkError naming the first broken link."""
    accepted = {i: u.update_hash for i, u in enumerate(slots) if u is not None}
    for i, update in enumerate(slots):
        if update is not None:
            problem = client_link_problem(update.commitments, global_hash, update.update_hash)
            if problem:
                raise LinkError(f"slot {i}: {problem}")
    expected = expected_slots(accepted, len(slots), empty_slot_commitment(key, spec))
    problem = aggregation_link_problem(aggregate.commitments, expected, key.commitment_hash(aggregate.weights))
    if problem:
        raise LinkError(problem)
