"""Answering the coordinator's open requests: the honest side of every dispute.

A request (`requestProof` of an optimistic update, `requestOpening` of an update or of a round's
model) is settled against the update or the model unless someone answers it within the reveal
window; anyone may answer, and whoever does is credited the requester's bond. So every honest role
answers what it can: the aggregator and the watchtower from the store, a client from what it
holds locally (the store may have lost its bytes). `answer_requests` answers each open request of
a round with the caller's key, and only with content that the chain will accept: a proof whose
SHA-256 is the submitted one and that starts with the submitted commitments, a vector whose
canonical commitment is the one the round holds. What it cannot fetch, or what does not match,
is reported and not sent; one failure never stops the others.

An opened vector is read back from the chain with `Coordinator.opened_vector` (it is in the
opening's calldata), by an aggregator whose store lost an update that someone opened.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from eth_account.signers.local import LocalAccount
from web3 import Web3

from zkfl.chain.coordinator import MODEL_SLOT, PROOF_REQUEST, Coordinator, OpenRequest, PendingProof
from zkfl.errors import ChainError, StoreError, ZkflError
from zkfl.fixedpoint import FixedArray
from zkfl.protocol import opening_values, starts_with_claim
from zkfl.store.artifacts import ArtifactStore, get_vector
from zkfl.store.cid import raw_cid
from zkfl.zk.commitments import CommitmentKey

PROOF, OPENING = "proof", "opening"
STORE, HELD = "store", "held"


@dataclass(frozen=True, eq=False)
class Held:
    """What a party holds besides the store: proof bytes and vectors, matched to a request by
    content (a proof by its SHA-256, a vector by its canonical commitment), so no bookkeeping of
    which slot they belong to is needed."""

    proofs: tuple[bytes, ...] = ()
    vectors: tuple[FixedArray, ...] = ()


NOTHING_HELD = Held()


@dataclass(frozen=True)
class Answer:
    """What was done about one open request: answered (with the transaction), or skipped and why."""

    round: int
    slot: int  # MODEL_SLOT: the round's model
    kind: str  # proof / opening
    requester: str
    reveal_by: int
    answered: bool
    detail: str
    source: str | None = None  # store / held: where the answer's content came from
    tx_hash: str | None = None
    block: int | None = None

    @property
    def target(self) -> str:
        return slot_name(self.slot)


def slot_name(slot: int) -> str:
    """How a request's target reads: "the model" or "slot s"."""
    return "the model" if slot == MODEL_SLOT else f"slot {slot}"


def answer_requests(
    coordinator: Coordinator,
    store: ArtifactStore,
    key: CommitmentKey | None,
    signer: LocalAccount,
    round_no: int,
    held: Held = NOTHING_HELD,
) -> list[Answer]:
    """Answer every open request of round `round_no` that the store or `held` can answer (without
    `key`, proof requests only: an opening needs the federation's commitment key)."""
    return [
        answer_request(coordinator, store, key, signer, request, held)
        for request in coordinator.open_requests(round_no)
    ]


def answer_request(
    coordinator: Coordinator,
    store: ArtifactStore,
    key: CommitmentKey | None,
    signer: LocalAccount,
    request: OpenRequest,
    held: Held = NOTHING_HELD,
) -> Answer:
    """Answer one request, or say why not (a ZkflError on the way is reported, not raised)."""
    kind = PROOF if request.kind == PROOF_REQUEST else OPENING
    base = Answer(request.round, request.slot, kind, request.requester, request.reveal_by, False, "")
    try:
        if kind == PROOF:
            return _reveal(coordinator, store, signer, request, held, base)
        if key is None:
            return _skipped(base, "no commitment key to open a vector with")
        return _open(coordinator, store, key, signer, request, held, base)
    except ZkflError as exc:
        return _skipped(base, str(exc))


# ---------------------------------------------------------------- proofs


def _reveal(
    coordinator: Coordinator, store: ArtifactStore, signer: LocalAccount, request: OpenRequest, held: Held, base: Answer
) -> Answer:
    pending = _proof_pending(coordinator, request.round, request.slot)
    proof, source = _fetch_proof(store, pending.proof_sha256, held)
    if not starts_with_claim(proof, pending.commitments):
        return _skipped(
            base, "the proof with the submitted SHA-256 does not start with the submitted commitments", source
        )
    receipt = coordinator.reveal_proof(signer, request.round, request.slot, pending.commitments, proof)
    return _sent(base, receipt, f"revealed the proof ({len(proof)} bytes)", source)


def _proof_pending(coordinator: Coordinator, round_no: int, slot: int) -> PendingProof:
    """The ProofPending event of the update now in a slot (a slot freed by a slashing may be
    taken and submitted to again in the same round: the last one is the current one)."""
    events = [p for p in coordinator.pending_proofs() if p.round == round_no and p.slot == slot]
    if not events:
        raise ChainError(f"round {round_no} slot {slot} has no optimistic submission (ProofPending) to reveal")
    return events[-1]


def _fetch_proof(store: ArtifactStore, sha256: bytes, held: Held) -> tuple[bytes, str]:
    cid = raw_cid(sha256)
    try:
        return store.get(cid), STORE
    except ZkflError as exc:
        for proof in held.proofs:
            if hashlib.sha256(proof).digest() == sha256:
                return proof, HELD
        raise StoreError(f"the proof {cid} is not in the store ({exc}) and none is held") from exc


# ---------------------------------------------------------------- openings


def _open(
    coordinator: Coordinator,
    store: ArtifactStore,
    key: CommitmentKey,
    signer: LocalAccount,
    request: OpenRequest,
    held: Held,
    base: Answer,
) -> Answer:
    length = coordinator.update_length
    if request.slot == MODEL_SLOT:
        expected, cid, length = (
            _round_model(coordinator, request.round),
            _model_cid(coordinator, request.round),
            length - 1,
        )
    else:
        expected = coordinator.accepted_update_hash(request.round, request.slot)
        cid = _update_cid(coordinator, request.round, request.slot, expected)
    vector, source = _fetch_vector(store, key, cid, expected, length, held)
    receipt = coordinator.open_vector(
        signer, request.round, request.slot, opening_values(vector), key.vector_basis(coordinator.update_length)
    )
    return _sent(base, receipt, f"opened the vector ({len(vector)} elements)", source)


def _round_model(coordinator: Coordinator, round_no: int) -> int:
    return coordinator.round(round_no).model_hash


def _model_cid(coordinator: Coordinator, round_no: int) -> str | None:
    opened = [r for r in coordinator.opened_rounds() if r.round == round_no]
    return opened[-1].model_cid if opened and opened[-1].model_cid else None


def _update_cid(coordinator: Coordinator, round_no: int, slot: int, expected: int) -> str | None:
    events = [u for u in coordinator.accepted_updates(round_no) if u.slot == slot and u.update_hash == expected]
    return events[-1].cid if events else None


def _fetch_vector(
    store: ArtifactStore, key: CommitmentKey, cid: str | None, expected: int, length: int, held: Held
) -> tuple[FixedArray, str]:
    """The stored vector, else a held one, whose canonical commitment is `expected`."""
    problems = []
    if cid is None:
        problems.append("the chain names no CID for it")
    else:
        try:
            vector = get_vector(store, cid)
            if _opens(key, vector, expected, length):
                return vector, STORE
            problems.append(f"the stored vector {cid} does not open to {expected:#x}")
        except ZkflError as exc:
            problems.append(f"the vector {cid} cannot be fetched: {exc}")
    for vector in held.vectors:
        if _opens(key, vector, expected, length):
            return vector, HELD
    held_note = f"none of the {len(held.vectors)} held vector(s) opens to it" if held.vectors else "none is held"
    raise StoreError(f"{'; '.join(problems)}; {held_note}")


def _opens(key: CommitmentKey, vector: FixedArray, expected: int, length: int) -> bool:
    """Whether the coordinator would accept `vector` as the opening of `expected`."""
    flat = np.asarray(vector, dtype=np.int64).reshape(-1)
    return flat.size == length and key.commitment_hash(flat) == expected  # kzg_commit's is the canonical commitment


# ---------------------------------------------------------------- records


def _skipped(base: Answer, detail: str, source: str | None = None) -> Answer:
    return replace(base, detail=f"not answered: {detail}", source=source)


def _sent(base: Answer, receipt: dict, detail: str, source: str) -> Answer:
    return replace(
        base,
        answered=True,
        detail=detail,
        source=source,
        tx_hash=Web3.to_hex(receipt["transactionHash"]),
        block=receipt["blockNumber"],
    )


def answered(answers: Sequence[Answer]) -> list[Answer]:
    return [a for a in answers if a.answered]
