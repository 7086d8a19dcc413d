"""The watchtower: the role that makes optimistic verification safe, and answers the federation's
requests.

An optimistic coordinator accepts a client update with its proof's commitments and SHA-256 only
(`ProofPending`). A watchtower follows those events, fetches each proof from the store (CIDv1 raw
sha2-256 of the on-chain hash), checks that it starts with the submitted commitments and verifies
it off-chain against the federation's verification key (from the manifest the coordinator's
`circuitsDigest` names). A proof that does not verify, or is not the one claimed, is challenged
with the watchtower's own key and bond while the round's challenge window is open: the coordinator
runs the verifier, slashes the client and removes the update. One honest watchtower online per
window is all a federation needs.

A proof missing from the store cannot be challenged (the chain has only its hash): the watchtower
requests it on-chain (`requestProof`, posting the same bond). Anyone holding the bytes must reveal
them within the reveal window, and the coordinator verifies them; if nobody does, the watchtower
settles the request after its deadline (`settleUnanswered`): the client is slashed and its update
leaves the round.

Every poll, the watchtower also answers ANY open request of the open round it can answer from the
store (`zkfl.roles.responder`), not only its own: a requested proof that is in the store is revealed (so
requesting a valid proof to get its update slashed fails, and the requester's bond is credited to
the watchtower), and a requested update or model vector is opened. An answer on a submission it
watches is reported as a change of that submission; each change is reported again, so the last
report of a (round, slot) is its state. Every answer, and the first skip of each request it could
not answer, is kept in `Watchtower.answers`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3

from zkfl.chain.coordinator import Coordinator, PendingProof
from zkfl.chain.rpc import connect
from zkfl.circuits.kinds import CircuitKind
from zkfl.errors import ConfigError, ZkflError
from zkfl.federation.manifest import commitment_key_of, load_manifest, verifier_keys
from zkfl.protocol import starts_with_claim
from zkfl.roles.responder import PROOF, Answer, answer_requests
from zkfl.store.artifacts import ArtifactStore, open_store
from zkfl.store.cid import raw_cid
from zkfl.verification.proofs import verify_offchain
from zkfl.zk.commitments import CommitmentKey
from zkfl.zk.prover import VerifierKeys

VALID, INVALID, UNAVAILABLE = "valid", "invalid", "unavailable"


@dataclass(frozen=True)
class WatchedUpdate:
    """One optimistic submission as the watchtower saw it, and what it did about it."""

    round: int
    slot: int
    client: str
    submission_tx: str
    submission_block: int
    proof_cid: str
    verdict: str  # valid / invalid / unavailable
    detail: str
    verify_seconds: float | None = None
    challenge_tx: str | None = None  # the watchtower's last transaction on it: challenge, request, settlement, answer
    challenge_block: int | None = None
    outcome: str | None = None  # slashed / defended / revealed or opened on a request / not challenged: why

    @property
    def survived(self) -> bool:
        """An update whose proof is not known valid and that is still in its round."""
        return self.verdict != VALID and self.outcome != "slashed"


class Watchtower:
    """Checks every optimistic submission of one coordinator once, in chain order, and answers the
    open requests it can (openings need the federation's commitment `key`)."""

    def __init__(
        self,
        coordinator: Coordinator,
        store: ArtifactStore,
        keys: VerifierKeys,
        signer: LocalAccount | None,
        key: CommitmentKey | None = None,
    ):
        if not coordinator.terms.optimistic:
            raise ConfigError(
                f"the coordinator at {coordinator.address} verifies every proof on submission (eager): "
                "there is nothing for a watchtower to watch"
            )
        self.coordinator, self.store, self.keys, self.signer, self.key = coordinator, store, keys, signer, key
        self.next_block = 0
        self.requested: dict[tuple[int, int], WatchedUpdate] = {}  # proofs requested, not yet resolved
        self.seen: dict[tuple[int, int], WatchedUpdate] = {}  # the last report of each (round, slot)
        self.answers: list[Answer] = []
        self._skips: set[tuple[int, int, str, int]] = set()

    def poll(self) -> list[WatchedUpdate]:
        """Check the submissions made since the last poll (challenging the bad ones, requesting the
        missing ones), answer the open requests, then follow up the watchtower's own requests."""
        latest = self.coordinator.chain.w3.eth.block_number
        reports = []
        if latest >= self.next_block:
            pending = self.coordinator.pending_proofs(self.next_block, latest)
            self.next_block = latest + 1
            reports = self._seen([self.check(p) for p in pending])
        reports += self._seen(self._answer_open_requests())
        return reports + self._seen([r for r in map(self._follow_up, list(self.requested)) if r is not None])

    def _seen(self, reports: list[WatchedUpdate]) -> list[WatchedUpdate]:
        for report in reports:
            self.seen[(report.round, report.slot)] = report
        return reports

    def check(self, pending: PendingProof) -> WatchedUpdate:
        commitments = pending.commitments
        cid = raw_cid(pending.proof_sha256)
        seen: dict[str, Any] = dict(  # the fields every report on this submission shares
            round=pending.round,
            slot=pending.slot,
            client=pending.client,
            submission_tx=pending.tx_hash,
            submission_block=pending.block,
            proof_cid=cid,
        )
        try:
            proof = self.store.get(cid)
        except ZkflError as exc:
            return self._request(
                WatchedUpdate(**seen, verdict=UNAVAILABLE, detail=f"the proof is not in the store: {exc}")
            )
        seconds = None
        if not starts_with_claim(proof, commitments):
            verdict, detail = INVALID, "the stored proof does not start with the submitted commitments"
        else:
            try:
                seconds = round(verify_offchain(self.keys, proof), 4)
                verdict, detail = VALID, "verified off-chain"
            except ZkflError as exc:
                verdict, detail = INVALID, str(exc)
        watched = WatchedUpdate(**seen, verdict=verdict, detail=detail, verify_seconds=seconds)
        return watched if verdict == VALID else self._challenge(watched, commitments, proof)

    def _challenge(self, seen: WatchedUpdate, commitments: bytes, proof: bytes) -> WatchedUpdate:
        if self.signer is None:
            return _with(seen, outcome="not challenged: the watchtower has no key (set ZKFL_WATCHTOWER_KEY)")
        try:
            receipt = self.coordinator.challenge(self.signer, seen.round, seen.slot, commitments, proof)
        except ZkflError as exc:
            return _with(seen, outcome=f"not challenged: {exc}")
        slashed = self.coordinator.slashed_in(receipt)
        return _acted(seen, receipt, "slashed" if slashed else "defended")

    def _request(self, seen: WatchedUpdate) -> WatchedUpdate:
        if self.signer is None:
            return _with(seen, outcome="not requested: the watchtower has no key (set ZKFL_WATCHTOWER_KEY)")
        try:
            receipt = self.coordinator.request_proof(self.signer, seen.round, seen.slot)
        except ZkflError as exc:
            return _with(seen, outcome=f"not requested: {exc}")
        _, reveal_by = self.coordinator.proof_request(seen.round, seen.slot) or (None, None)
        seen = _acted(seen, receipt, f"proof requested: to be revealed by block {reveal_by}")
        self.requested[(seen.round, seen.slot)] = seen
        return seen

    def _answer_open_requests(self) -> list[WatchedUpdate]:
        """Answer every open request of the open round that the store can answer, whoever made it;
        an answer on a watched submission is reported as its change."""
        if self.signer is None:
            return []
        round_no = self.coordinator.current_round
        answers = answer_requests(self.coordinator, self.store, self.key, self.signer, round_no)
        for answer in answers:
            skip = (answer.round, answer.slot, answer.kind, answer.reveal_by)
            if answer.answered or skip not in self._skips:
                self.answers.append(answer)
                self._skips.add(skip)
        return [self._answered(a) for a in answers if a.answered and (a.round, a.slot) in self.seen]

    def _answered(self, answer: Answer) -> WatchedUpdate:
        """A watched submission after the watchtower answered a request on it."""
        key = (answer.round, answer.slot)
        self.requested.pop(key, None)  # its own request, answered once the bytes reached the store
        seen = self.seen[key]
        if answer.kind != PROOF:
            return _with(
                seen,
                challenge_tx=answer.tx_hash,
                challenge_block=answer.block,
                outcome=f"vector opened on {answer.requester}'s request",
            )
        kept = self.coordinator.accepted_update_hash(*key) != 0
        return _with(
            seen,
            verdict=VALID if kept else INVALID,
            challenge_tx=answer.tx_hash,
            challenge_block=answer.block,
            outcome=(f"revealed on {answer.requester}'s request and verified on-chain" if kept else "slashed"),
        )

    def _follow_up(self, key: tuple[int, int]) -> WatchedUpdate | None:
        """A requested proof: revealed (the coordinator verified it), or slashed once its reveal
        deadline passed (`settleUnanswered`); None while it can still be revealed."""
        seen, coordinator = self.requested[key], self.coordinator
        request = coordinator.proof_request(*key)
        if request is None:  # revealed: the coordinator ran the verifier on it (or someone settled it)
            del self.requested[key]
            kept = coordinator.accepted_update_hash(*key) != 0
            return _with(
                seen,
                verdict=VALID if kept else INVALID,
                outcome="revealed and verified on-chain" if kept else "slashed",
            )
        if coordinator.chain.w3.eth.block_number <= request[1] or self.signer is None:
            return None  # still revealable (and only a watchtower with a key makes requests: `_request`)
        try:
            receipt = coordinator.settle_unanswered(self.signer, *key)
        except ZkflError as exc:
            return _with(seen, outcome=f"not slashed yet: {exc}")
        del self.requested[key]
        return _acted(seen, receipt, "slashed")


def _with(seen: WatchedUpdate, **changes: Any) -> WatchedUpdate:
    return WatchedUpdate(**{**seen.__dict__, **changes})


def _acted(seen: WatchedUpdate, receipt: Any, outcome: str) -> WatchedUpdate:
    """`seen` after the watchtower's transaction (a challenge, a request or a settlement)."""
    return _with(
        seen,
        challenge_tx=Web3.to_hex(receipt["transactionHash"]),
        challenge_block=receipt["blockNumber"],
        outcome=outcome,
    )


@contextmanager
def watchtower_for(
    rpc_url: str, coordinator_address: str, store_location: str, signer: LocalAccount | None
) -> Iterator[Watchtower]:
    """A watchtower of the federation at `coordinator_address`, with the federation's client
    verification key and commitment key fetched from its manifest in the store."""
    chain = connect(rpc_url)
    coordinator = Coordinator(chain, coordinator_address)
    store = open_store(store_location)
    manifest = load_manifest(store, coordinator.circuits_digest)
    with verifier_keys(store, manifest.client, CircuitKind.CLIENT) as keys, commitment_key_of(store, manifest) as key:
        yield Watchtower(coordinator, store, keys, signer, key)


def watch(
    tower: Watchtower,
    on_update: Callable[[WatchedUpdate], None],
    interval: float = 1.0,
    until_round: int | None = None,
    once: bool = False,
    on_answer: Callable[[Answer], None] | None = None,
) -> list[WatchedUpdate]:
    """Poll every `interval` seconds, reporting each checked submission (and each later change) to
    `on_update`, and each request answered (or first skipped) to `on_answer`; stop after one poll
    (`once`), or once the federation's open round reaches `until_round`. Returns the last report
    of each (round, slot) submission."""
    watched: dict[str, WatchedUpdate] = {}  # by submission transaction
    while True:
        known = len(tower.answers)
        for update in tower.poll():
            watched[update.submission_tx] = update
            on_update(update)
        if on_answer is not None:
            for answer in tower.answers[known:]:
                on_answer(answer)
        if once or (until_round is not None and tower.coordinator.current_round >= until_round):
            return list(watched.values())
        time.sleep(interval)
