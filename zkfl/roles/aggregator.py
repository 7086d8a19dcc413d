"""The aggregator role: FedAvg of a round's accepted client updates, proven from their sum. The
proof's commitments are `zkfl.protocol.AggregationCommitments` (the sum, then the next model); the
sum's commitment is the one the coordinator adds up from the accepted updates' commitments, so the
aggregator needs the summed vector only (`prove_fedavg`)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from zkfl.circuits import FedAvgSpec
from zkfl.errors import ConfigError, LinkError
from zkfl.fedavg import check_sum, fixed_point_fedavg, update_sum
from zkfl.fixedpoint import FixedArray
from zkfl.protocol import (
    CLIENT_POINTS,
    AggregationCommitments,
    aggregation_link_problem,
    check_commitment,
    client_link_problem,
    proof_points,
    summed_commitment,
)
from zkfl.roles.client import ClientUpdate
from zkfl.zk.commitments import CommitmentKey, keys_commitment, point_hash
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
    update_sum: FixedArray  # the input: the accepted updates summed (weights, then their count)
    weights: FixedArray  # next global model, fixed point
    proof: Proof

    @property
    def commitments(self) -> AggregationCommitments:
        return AggregationCommitments.from_proof(self.proof.data)

    @property
    def sum_hash(self) -> int:
        return self.commitments.update_sum

    @property
    def global_hash(self) -> int:
        return self.commitments.next_model


def summed_updates(key: CommitmentKey, spec: FedAvgSpec, updates: Sequence[SlotUpdate | None]) -> FixedArray:
    """The exact sum of the accepted updates (None: a slot without one), each checked against the
    commitment the chain accepted for it."""
    vectors = []
    for i, update in enumerate(updates):
        if update is None:
            continue
        if update.vector.shape != (spec.update_len,):
            raise ConfigError(f"slot {i}: update has {update.vector.shape[0]} elements, expected {spec.update_len}")
        check_commitment(key, update.vector, update.update_hash, f"slot {i}: the update")
        vectors.append(update.vector)
    if not vectors:
        raise ConfigError("no client update to aggregate: at least one must have been accepted")
    return update_sum(vectors)


def aggregate_and_prove(
    keys: CircuitKeys,
    spec: FedAvgSpec,
    updates: Sequence[SlotUpdate | None],
    proof_path: str | os.PathLike[str],
) -> AggregateResult:
    """Prove FedAvg of the accepted updates (None entries, slots without one, are left out)."""
    return prove_fedavg(keys, spec, summed_updates(keys_commitment(keys), spec, updates), proof_path)


def prove_fedavg(
    keys: CircuitKeys, spec: FedAvgSpec, total: FixedArray, proof_path: str | os.PathLike[str]
) -> AggregateResult:
    """Prove FedAvg of the accepted updates from their sum alone. Refuses before proving a sum whose
    mean would not be exact (AggregationRangeError). The proof file appears at `proof_path` only
    once its output is `zkfl.fedavg.fixed_point_fedavg` of the sum and its commitments are the
    sum's and the output's."""
    total = np.asarray(total, dtype=np.int64)
    if total.shape != (spec.update_len,):
        raise ConfigError(f"the sum has {total.shape} elements, expected ({spec.update_len},)")
    check_sum(total)
    key = keys_commitment(keys)
    with _scratch_beside(Path(proof_path)) as scratch:
        run = prove(keys, [total], scratch)
        result = AggregateResult(total, run.outputs[0], run.proof)
        if not np.array_equal(result.weights, fixed_point_fedavg(total)):
            raise LinkError("the circuit's mean differs from zkfl.fedavg.fixed_point_fedavg of the same sum")
        expected = AggregationCommitments.of(key, total, result.weights)
        if result.commitments != expected:
            raise LinkError(
                "the aggregation proof's commitments are not the commitments of its sum and output: "
                f"expected {expected.as_tuple()}, proof has {result.commitments.as_tuple()}"
            )
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
) -> None:
    """The links of one round held in memory (`zkfl.protocol`'s rules, as the coordinator enforces
    them): every client started from the round's global model, the aggregation consumed the sum of
    the updates' commitments (the sum rule), and the published weights commit to its output.
    Raises LinkError naming the first broken link."""
    points = []
    for i, update in enumerate(slots):
        if update is not None:
            problem = client_link_problem(update.commitments, global_hash, update.update_hash)
            if problem:
                raise LinkError(f"slot {i}: {problem}")
            points.append(proof_points(update.proof.data, CLIENT_POINTS, "a client proof")[3])
    expected = point_hash(summed_commitment(points, key.zero_point()))
    problem = aggregation_link_problem(aggregate.commitments, expected, key.commitment_hash(aggregate.weights))
    if problem:
        raise LinkError(problem)
