"""The aggregator role: FedAvg of the round's accepted client updates, proven.
The proof's public instances are [H(slot_1) .. H(slot_K), H(next global)]."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from zkfl.circuits import FedAvgSpec
from zkfl.client import ClientUpdate
from zkfl.commitments import poseidon
from zkfl.errors import ConfigError, LinkError
from zkfl.fixedpoint import FixedArray, dequantize
from zkfl.prover import CircuitKeys, Proof, prove


class SlotUpdate(Protocol):
    """What FedAvg consumes from a slot: the update vector and the hash the chain accepted for it
    (a `ClientUpdate` fresh from the prover, or an `AcceptedVector` fetched from the store)."""

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

    @property
    def slot_hashes(self) -> tuple[int, ...]:
        return self.proof.instances[:-1]

    @property
    def global_hash(self) -> int:
        return self.proof.instances[-1]


def empty_slot(spec: FedAvgSpec) -> FixedArray:
    """The vector that fills a slot no client submitted to: zero weights, zero samples."""
    return np.zeros(spec.update_len, dtype=np.int64)


def empty_slot_hash(spec: FedAvgSpec) -> int:
    return poseidon(empty_slot(spec))


def slot_vectors(spec: FedAvgSpec, slots: Sequence[SlotUpdate | None]) -> list[FixedArray]:
    """The K FedAvg inputs: each accepted update in its slot, the empty vector elsewhere."""
    if len(slots) != spec.slots:
        raise ConfigError(f"the FedAvg circuit has {spec.slots} slots, got {len(slots)} entries (use None for a missing client)")
    if all(s is None for s in slots):
        raise ConfigError("no client update to aggregate: at least one slot must be filled")
    vectors = []
    for i, update in enumerate(slots):
        if update is None:
            vectors.append(empty_slot(spec))
            continue
        if update.vector.shape != (spec.update_len,):
            raise ConfigError(f"slot {i}: update has {update.vector.shape[0]} elements, expected {spec.update_len}")
        if poseidon(update.vector) != update.update_hash:
            raise LinkError(f"slot {i}: the update's weights do not hash to its proof's output hash {update.update_hash:#x}")
        vectors.append(update.vector)
    return vectors


def aggregate_and_prove(
    keys: CircuitKeys,
    spec: FedAvgSpec,
    slots: Sequence[SlotUpdate | None],
    proof_path: str | os.PathLike[str],
) -> AggregateResult:
    """Prove the sample-weighted FedAvg of the filled slots (missing slots: weight 0)."""
    vectors = slot_vectors(spec, slots)
    run = prove(keys, vectors, Path(proof_path))
    result = AggregateResult(run.outputs[0], run.proof)
    expected = tuple(poseidon(v) for v in vectors) + (poseidon(result.weights),)
    if result.proof.instances != expected:
        raise LinkError(
            "the aggregation proof's public instances are not the Poseidon hashes of its slots and "
            f"output: expected {expected}, proof has {result.proof.instances}"
        )
    return result


def fedavg_float(updates: Sequence[ClientUpdate]) -> np.ndarray:
    """Float FedAvg (sample-weighted mean) of client updates, for comparison with the proof."""
    counts = np.array([u.sample_count for u in updates], dtype=np.float64)
    weights = np.stack([dequantize(u.weights) for u in updates])
    return counts @ weights / counts.sum()


def check_round_links(
    global_hash: int,
    slots: Sequence[ClientUpdate | None],
    aggregate: AggregateResult,
    spec: FedAvgSpec,
) -> None:
    """The hash links of one round, as the coordinator enforces them: every client started from
    the round's global model, and the aggregation consumed exactly the accepted updates, in slot
    order, with the empty-slot hash wherever no update was accepted."""
    empty = empty_slot_hash(spec)
    if len(aggregate.slot_hashes) != len(slots):
        raise LinkError(f"aggregation proof has {len(aggregate.slot_hashes)} slots, the round has {len(slots)}")
    for i, (update, consumed) in enumerate(zip(slots, aggregate.slot_hashes, strict=True)):
        if update is None:
            if consumed != empty:
                raise LinkError(f"slot {i} has no accepted update but the aggregation consumed hash {consumed:#x}")
            continue
        if update.global_hash != global_hash:
            raise LinkError(
                f"slot {i}: the client trained from model hash {update.global_hash:#x}, "
                f"the round's global model hash is {global_hash:#x}"
            )
        if consumed != update.update_hash:
            raise LinkError(
                f"slot {i}: the aggregation consumed hash {consumed:#x}, the accepted update's hash is {update.update_hash:#x}"
            )
    if poseidon(aggregate.weights) != aggregate.global_hash:
        raise LinkError("the published next global weights do not hash to the aggregation proof's output hash")
