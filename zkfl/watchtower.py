"""The watchtower: the role that makes optimistic verification safe.

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
them within the challenge window's length, and the coordinator verifies them; if nobody does, the
watchtower slashes the client (`slashUnrevealed`). Each change is reported again, so the last
report of a (round, slot) is its state.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3

from zkfl.chain.coordinator import Coordinator
from zkfl.chain.rpc import connect
from zkfl.cid import raw_cid
from zkfl.errors import ConfigError, ZkflError
from zkfl.manifest import load_manifest, verifier_keys
from zkfl.protocol import starts_with_claim
from zkfl.prover import VerifierKeys
from zkfl.store import ArtifactStore, open_store
from zkfl.verification.proofs import verify_offchain

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
    challenge_tx: str | None = None
    challenge_block: int | None = None
    outcome: str | None = None  # slashed / defended / not challenged: why

    @property
    def survived(self) -> bool:
        """An update whose proof is not known valid and that is still in its round."""
        return self.verdict != VALID and self.outcome != "slashed"


class Watchtower:
    """Checks every optimistic submission of one coordinator once, in chain order."""

    def __init__(self, coordinator: Coordinator, store: ArtifactStore, keys: VerifierKeys,
                 signer: LocalAccount | None):
        if not coordinator.terms.optimistic:
            raise ConfigError(f"the coordinator at {coordinator.address} verifies every proof on submission (eager): "
                              "there is nothing for a watchtower to watch")
        self.coordinator, self.store, self.keys, self.signer = coordinator, store, keys, signer
        self.next_block = 0
        self.requested: dict[tuple[int, int], WatchedUpdate] = {}  # proofs requested, not yet resolved

    def poll(self) -> list[WatchedUpdate]:
        """Check the submissions made since the last poll (challenging the bad ones, requesting the
        missing ones), then follow up the open requests."""
        latest = self.coordinator.chain.w3.eth.block_number
        reports = []
        if latest >= self.next_block:
            events = self.coordinator.contract.events.ProofPending.get_logs(from_block=self.next_block, to_block=latest)
            self.next_block = latest + 1
            reports = [self.check(event) for event in events]
        return reports + [r for r in map(self._follow_up, list(self.requested)) if r is not None]

    def check(self, event: Any) -> WatchedUpdate:
        w3 = self.coordinator.chain.w3
        tx_hash = event.transactionHash.to_0x_hex()
        tx = w3.eth.get_transaction(tx_hash)
        _, args = self.coordinator.contract.decode_function_input(tx["input"])
        commitments, cid = bytes(args["commitments"]), raw_cid(bytes(event.args.proofSha256))
        seen = dict(round=event.args.round, slot=event.args.slot, client=tx["from"], submission_tx=tx_hash,
                    submission_block=event.blockNumber, proof_cid=cid)
        try:
            proof = self.store.get(cid)
        except ZkflError as exc:
            return self._request(WatchedUpdate(**seen, verdict=UNAVAILABLE,
                                               detail=f"the proof is not in the store: {exc}"))
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
        slashed = self.coordinator.contract.events.UpdateSlashed().process_receipt(receipt)
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

    def _follow_up(self, key: tuple[int, int]) -> WatchedUpdate | None:
        """A requested proof: revealed (the coordinator verified it), or slashed once its reveal
        deadline passed; None while it can still be revealed."""
        seen, coordinator = self.requested[key], self.coordinator
        request = coordinator.proof_request(*key)
        if request is None:  # revealed: the coordinator ran the verifier on it
            del self.requested[key]
            kept = coordinator.accepted_update_hash(*key) != 0
            return _with(seen, verdict=VALID if kept else INVALID,
                         outcome="revealed and verified on-chain" if kept else "slashed")
        if coordinator.chain.w3.eth.block_number <= request[1]:
            return None
        try:
            receipt = coordinator.slash_unrevealed(self.signer, *key)
        except ZkflError as exc:
            return _with(seen, outcome=f"not slashed yet: {exc}")
        del self.requested[key]
        return _acted(seen, receipt, "slashed")


def _with(seen: WatchedUpdate, **changes: Any) -> WatchedUpdate:
    return WatchedUpdate(**{**seen.__dict__, **changes})


def _acted(seen: WatchedUpdate, receipt: Any, outcome: str) -> WatchedUpdate:
    """`seen` after the watchtower's transaction (a challenge, a request or a slashing)."""
    return _with(seen, challenge_tx=Web3.to_hex(receipt["transactionHash"]), challenge_block=receipt["blockNumber"],
                 outcome=outcome)


@contextmanager
def watchtower_for(rpc_url: str, coordinator_address: str, store_location: str,
                   signer: LocalAccount | None) -> Iterator[Watchtower]:
    """A watchtower of the federation at `coordinator_address`, with the federation's client
    verification key fetched from its manifest in the store."""
    chain = connect(rpc_url)
    coordinator = Coordinator(chain, coordinator_address)
    store = open_store(store_location)
    manifest = load_manifest(store, coordinator.circuits_digest)
    with verifier_keys(store, manifest.client, "client") as keys:
        yield Watchtower(coordinator, store, keys, signer)


def watch(tower: Watchtower, on_update: Callable[[WatchedUpdate], None], interval: float = 1.0,
          until_round: int | None = None, once: bool = False) -> list[WatchedUpdate]:
    """Poll every `interval` seconds, reporting each checked submission (and each later change) to
    `on_update`; stop after one poll (`once`), or once the federation's open round reaches
    `until_round`. Returns the last report of each (round, slot) submission."""
    watched: dict[str, WatchedUpdate] = {}  # by submission transaction
    while True:
        for update in tower.poll():
            watched[update.submission_tx] = update
            on_update(update)
        if once or (until_round is not None and tower.coordinator.current_round >= until_round):
            return list(watched.values())
        time.sleep(interval)
