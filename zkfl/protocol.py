"""The protocol's facts, in one place: how a vector is committed to, where each proof carries its
commitments, what binds a client proof to its sender and federation, how the commitments of a
round's updates sum to the one its aggregation must consume, and how a stored vector is checked
against the commitment the chain holds.

The client and aggregator roles, the pipeline, the round checker behind `zkfl verify --round` and
`zkfl audit`, and the tests all use these functions; `zkfl/contracts/Coordinator.sol` enforces the same
rules on-chain (`register`, `submitUpdate`, `finalizeRound`).

A commitment is ezkl's KZG commitment to a vector (its `polycommit` column), a BN254 G1 point. A
proof has no public instances: the commitments of its inputs, then of its outputs, are the first
64-byte points of the proof bytes, and the verifier checks the proof against exactly those points.

    client proof       [C(model), C(data), C(context), C(update)]        (CLIENT_POINTS)
    aggregation proof  [C(sum of the accepted updates), C(next model)]

The sum rule (`summed_commitment`): a commitment is affine in its vector, so the commitments of a
round's accepted updates add up to the commitment of their sum, less C(0) once per extra update.
The coordinator keeps that running sum on-chain as it accepts (and removes) updates, and the
aggregation must consume exactly it: one FedAvg proof for any number of clients.

The chain stores keccak256 of a point (its hash, one word); Python compares hashes too.
Links: a client's C(model) is its round's model; C(context) is the sender's context commitment
(`context`); an aggregation's input is the sum of the round's accepted updates; its output is the
next round's model. Both circuits share logrows and SRS, so one vector has one commitment in
either circuit (`zkfl.zk.build` checks it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from eth_abi import encode
from eth_utils import keccak
from py_ecc.bn128 import curve_order

from zkfl.circuits.training import CONTEXT_BITS, CONTEXT_LEN
from zkfl.errors import LinkError
from zkfl.fixedpoint import FixedArray
from zkfl.store.artifacts import ArtifactStore, get_vector
from zkfl.zk.commitments import POINT_BYTES, CommitmentKey, add_points, negate_point, point_hash

CLIENT_POINTS = 4
AGGREGATION_POINTS = 2


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
    """A FedAvg proof's commitments (hashes): its one input, the sum, and its output."""

    update_sum: int
    next_model: int

    @classmethod
    def from_proof(cls, proof: bytes) -> AggregationCommitments:
        return cls(*(point_hash(p) for p in proof_points(proof, AGGREGATION_POINTS, "an aggregation proof")))

    @classmethod
    def of(cls, key: CommitmentKey, update_sum: FixedArray, next_model: FixedArray) -> AggregationCommitments:
        return cls(key.commitment_hash(update_sum), key.commitment_hash(next_model))

    def as_tuple(self) -> tuple[int, ...]:
        return self.update_sum, self.next_model


def summed_commitment(update_points: Sequence[bytes], zero: bytes) -> bytes:
    """The sum rule: the commitment of the sum of the updates, from their commitments alone.
    A commitment is affine in its vector (its unusable rows add C(0), which is not the identity),
    so C(u_1 + ... + u_k) = C(0) + sum_i (C(u_i) - C(0)). The coordinator keeps this running sum
    as it accepts updates; the aggregation proves FedAvg of the vector it commits."""
    if not update_points:
        raise LinkError("a sum of no update: an aggregation needs at least one accepted update")
    return signed_sum_commitment(update_points, [1] * len(update_points), zero)


def signed_sum_commitment(points: Sequence[bytes], signs: Sequence[int], zero: bytes) -> bytes:
    """The same affine rule with signs (each 1 or -1): C(sum_i s_i v_i) = C(0) + sum_i s_i (C(v_i) - C(0)).
    A masked upload's commitment is its update's plus its masks' this way (`zkfl.privacy.checks`)."""
    minus_zero = negate_point(zero)
    terms = []
    for point, sign in zip(points, signs, strict=True):
        if sign not in (1, -1):
            raise ValueError(f"a sign is 1 or -1, got {sign}")
        term = add_points(point, minus_zero)
        terms.append(term if sign == 1 else negate_point(term))
    return add_points(zero, *terms)


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


def aggregation_link_problem(proof: AggregationCommitments, update_sum: int, next_model: int) -> str | None:
    """Why an aggregation proof does not link into its round (None if it does): it must consume the
    sum of the round's accepted updates (`summed_commitment`, hashed) and output the next model."""
    if proof.update_sum != update_sum:
        return (
            f"the aggregation consumed {proof.update_sum:#x}, the sum of the round's accepted updates commits to "
            f"{update_sum:#x}"
        )
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
