"""The protocol's facts, in one place: how a vector is committed to, where each proof carries its
commitments, what binds a client proof to its sender and federation, what an empty FedAvg slot
carries, which slot commitments an aggregation must consume, and how a stored vector is checked
against the commitment the chain holds.

The client and aggregator roles, the pipeline, the round checker behind `zkfl verify --round` and
`zkfl audit`, and the tests all use these functions; `zkfl/contracts/Coordinator.sol` enforces the same
rules on-chain (`register`, `submitUpdate`, `finalizeRound`).

A commitment is ezkl's KZG commitment to a vector (its `polycommit` column), a BN254 G1 point. A
proof has no public instances: the commitments of its inputs, then of its outputs, are the first
64-byte points of the proof bytes, and the verifier checks the proof against exactly those points.

    client proof       [C(model), C(data), C(context), C(update)]        (CLIENT_POINTS)
    aggregation proof  [C(input_0) .. C(input_{R-1}), C(next model)]
    leaf proof         [C(slot_{lG}) .. C(slot_{lG+G-1}), C(partial sum)]

Aggregation is a tree (`TreeShape`). Flat, the FedAvg proof's R inputs are the K client slots.
As a tree, slot s belongs to leaf s // G; a leaf proof sums its G slots exactly, and the FedAvg
(root) proof's R = K / G inputs are the leaves' partial sums. An empty leaf's partial sum is the
empty slot's vector, so it carries the same commitment and needs no proof.

The chain stores keccak256 of a point (its `digest`, one word); Python compares digests too.
Links: a client's C(model) is its round's model; C(context) is the sender's context commitment
(`context`); an aggregation's slot i is the update accepted in slot i, or C(empty slot) where none
was; its output is the next round's model. Both circuits share logrows and SRS, so one vector has
one commitment in either circuit (`zkfl.zk.build` checks it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from eth_abi import encode
from eth_utils import keccak
from py_ecc.bn128 import curve_order

from zkfl.circuits import FedAvgSpec, PartialSumSpec
from zkfl.circuits.aggregation import TreeShape
from zkfl.circuits.training import CONTEXT_BITS, CONTEXT_LEN
from zkfl.errors import LinkError
from zkfl.fixedpoint import FixedArray
from zkfl.store.artifacts import ArtifactStore, get_vector
from zkfl.zk.commitments import POINT_BYTES, CommitmentKey, point_hash

CLIENT_POINTS = 4


def opening_values(vector: FixedArray) -> list[int]:
    """A vector as the field elements an on-chain opening takes (negative x as p - |x|)."""
    return [int(v) % curve_order for v in np.asarray(vector, dtype=np.int64).reshape(-1)]


def vector_from_opening(values: Sequence[int]) -> FixedArray:
    """The fixed-point vector whose opening values these are (`opening_values` inverted: an element
    above half the field is negative); refuses what no zkFL vector holds."""
    signed = [int(v) - curve_order if int(v) > curve_order // 2 else int(v) for v in values]
    bound = np.iinfo(np.int64)
    if any(not bound.min <= v <= bound.max for v in signed):
        raise LinkError("an opened element is outside the fixed-point (int64) range: not a zkFL vector")
    return np.asarray(signed, dtype=np.int64)


def federation_id(deployer: str, salt: bytes) -> bytes:
    """The coordinator's `federationId`: keccak256(abi.encode(deployer, salt)). Only the deployer
    of a federation can make another coordinator with its id, so a third party cannot re-use a
    client's proofs in a copy of the federation."""
    return keccak(encode(["address", "bytes32"], [deployer, salt]))


def context(chain_id: int, federation_id: bytes, sender: str) -> FixedArray:
    """The client proof's context input: keccak256(abi.encode(chainId, federationId, sender)), its
    top CONTEXT_LEN x CONTEXT_BITS bits cut into CONTEXT_LEN field elements. A proof commits to it,
    so it is valid only from `sender`, in this federation on this chain (Coordinator.contextHashOf).
    `federation_id` is the coordinator's (`federation_id(deployer, salt)`)."""
    word = keccak(encode(["uint256", "bytes32", "address"], [chain_id, federation_id, sender]))
    bits = int.from_bytes(word, "big") >> (256 - CONTEXT_LEN * CONTEXT_BITS)
    mask = (1 << CONTEXT_BITS) - 1
    return np.array(
        [(bits >> (CONTEXT_BITS * (CONTEXT_LEN - 1 - j))) & mask for j in range(CONTEXT_LEN)], dtype=np.int64
    )


def proof_points(proof: bytes, count: int, what: str) -> list[bytes]:
    """The first `count` commitments of a proof's bytes."""
    if len(proof) < count * POINT_BYTES:
        raise LinkError(f"{what} of {len(proof)} bytes cannot hold its {count} commitments")
    return [proof[i * POINT_BYTES : (i + 1) * POINT_BYTES] for i in range(count)]


def optimistic_claim(proof: bytes) -> tuple[bytes, bytes]:
    """What an optimistic submission carries in place of a client proof: the proof's leading
    commitments (the links the coordinator checks at once) and the SHA-256 of its bytes (which go
    to the store, addressed by CIDv1 raw sha2-256 of them, for anyone to challenge with)."""
    return b"".join(proof_points(proof, CLIENT_POINTS, "a client proof")), hashlib.sha256(proof).digest()


def starts_with_claim(proof: bytes, commitments: bytes) -> bool:
    """Whether `proof` starts with exactly the commitments its optimistic submission claimed, as
    the coordinator checks before it runs the verifier on a challenged proof."""
    return proof[: CLIENT_POINTS * POINT_BYTES] == commitments


@dataclass(frozen=True)
class ClientCommitments:
    """A training-step proof's commitments (digests)."""

    model: int  # the global model it trained from
    data: int  # the salted data batch it trained on
    context: int  # who may submit it, and where
    update: int  # the update it produced

    @classmethod
    def from_proof(cls, proof: bytes) -> ClientCommitments:
        return cls(*(point_hash(p) for p in proof_points(proof, CLIENT_POINTS, "a client proof")))

    @classmethod
    def of(
        cls, key: CommitmentKey, model: FixedArray, data: FixedArray, context_: FixedArray, update: FixedArray
    ) -> ClientCommitments:
        """The commitments a proof over these vectors must carry."""
        return cls(
            key.commitment_hash(model),
            key.commitment_hash(data),
            key.commitment_hash(context_),
            key.commitment_hash(update),
        )

    def as_tuple(self) -> tuple[int, ...]:
        return self.model, self.data, self.context, self.update


@dataclass(frozen=True)
class AggregationCommitments:
    """A FedAvg proof's commitments (digests)."""

    slots: tuple[int, ...]  # what each slot consumed
    next_model: int

    @classmethod
    def from_proof(cls, proof: bytes, slots: int) -> AggregationCommitments:
        digests = [point_hash(p) for p in proof_points(proof, slots + 1, f"an aggregation proof over {slots} slots")]
        return cls(tuple(digests[:-1]), digests[-1])

    @classmethod
    def of(cls, key: CommitmentKey, slots: Sequence[FixedArray], next_model: FixedArray) -> AggregationCommitments:
        return cls(tuple(key.commitment_hash(v) for v in slots), key.commitment_hash(next_model))

    def as_tuple(self) -> tuple[int, ...]:
        return (*self.slots, self.next_model)


def expected_leaf_inputs(accepted: Mapping[int, int], shape: TreeShape, leaf: int, empty: int) -> tuple[int, ...]:
    """The slot commitments a leaf proof must consume: its slots' accepted updates, else `empty`."""
    return tuple(accepted.get(i, empty) for i in shape.leaf_slot_range(leaf))


def expected_root_inputs(
    accepted: Mapping[int, int], leaf_outputs: Mapping[int, int], shape: TreeShape, empty: int
) -> tuple[int, ...]:
    """The commitments the FedAvg (root) proof must consume: the slots of a flat federation; a
    tree's leaf outputs, `empty` for a leaf without accepted updates. Raises LinkError for a leaf
    with accepted updates and no proven output (the coordinator's LeafNotAggregated)."""
    if not shape.is_tree:
        return expected_slots(accepted, shape.slots, empty)
    inputs = []
    for leaf in range(shape.leaves):
        filled = any(slot in accepted for slot in shape.leaf_slot_range(leaf))
        if filled and leaf not in leaf_outputs:
            raise LinkError(f"leaf {leaf} holds accepted updates but no proven partial sum")
        inputs.append(leaf_outputs[leaf] if filled else empty)
    return tuple(inputs)


def empty_slot(spec: FedAvgSpec | PartialSumSpec) -> FixedArray:
    """What fills a slot no client submitted to: zero weights, zero samples (so FedAvg leaves it
    out). The coordinator holds its commitment as `emptySlotHash`."""
    return np.zeros(spec.update_len, dtype=np.int64)


def empty_slot_commitment(key: CommitmentKey, spec: FedAvgSpec) -> int:
    return key.commitment_hash(empty_slot(spec))


def expected_slots(accepted: Mapping[int, int], slots: int, empty: int) -> tuple[int, ...]:
    """The slot commitments an aggregation must consume: slot i's accepted update, else `empty`."""
    return tuple(accepted.get(i, empty) for i in range(slots))


def client_link_problem(
    proof: ClientCommitments, round_model: int, accepted_update: int, sender_context: int | None = None
) -> str | None:
    """Why a client proof does not link into its round (None if it does). With `sender_context`
    (the digest of C(context) of the account that submitted it), also its binding to that sender."""
    if proof.model != round_model:
        return f"the client trained from model {proof.model:#x}, the round's global model is {round_model:#x}"
    if sender_context is not None and proof.context != sender_context:
        return (
            f"the proof is bound to context {proof.context:#x}, not to its sender's {sender_context:#x} in this "
            "federation: it was made for another account or federation"
        )
    if proof.update != accepted_update:
        return f"the proof outputs update {proof.update:#x}, the chain accepted {accepted_update:#x}"
    return None


def aggregation_link_problem(proof: AggregationCommitments, expected: Sequence[int], next_model: int) -> str | None:
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


def check_commitment(key: CommitmentKey, vector: FixedArray, expected: int, what: str) -> None:
    """Raise LinkError unless `vector` commits to `expected` (the chain's or a proof's record)."""
    problem = commitment_mismatch(key.commitment_hash(vector), expected, what)
    if problem:
        raise LinkError(problem)


def checked_vector(key: CommitmentKey, store: ArtifactStore, cid: str, expected: int, what: str) -> FixedArray:
    """The vector stored under `cid`: intact (its bytes match the CID, else ContentMismatchError)
    and committing to `expected` (else LinkError)."""
    vector = get_vector(store, cid)
    check_commitment(key, vector, expected, f"{what} {cid}")
    return vector
