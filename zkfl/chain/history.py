"""A federation's history as its coordinator's events recorded it: read once, typed, in chain order.
What a round checker or an auditor needs to know about rounds, updates and data commitments comes
from here (and is checked against the contract's storage by the audit)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from zkfl.chain.coordinator import (
    AcceptedUpdate,
    Coordinator,
    FinalizedRound,
    OpenedRound,
    SkippedRound,
    resolve_model_cids,
)

EVENTS = (
    "FederationCreated",
    "RoundOpened",
    "RoundSkipped",
    "ClientRegistered",
    "DataCommitted",
    "ClientWithdrawn",
    "UpdateAccepted",
    "RoundFinalized",
    "AggregatorChanged",
    "ProofPending",
    "UpdateSlashed",
    "UpdateExcluded",
    "ChallengeFailed",
    "VectorOpened",
    "ModelSlashed",
)


@dataclass
class FederationLog:
    """Every event of one coordinator, typed, in chain order."""

    coordinator: str
    raw: dict[str, list[Any]]
    opened: dict[int, OpenedRound] = field(default_factory=dict)  # a skip's empty CID resolved
    accepted: dict[int, list[AcceptedUpdate]] = field(default_factory=lambda: defaultdict(list))  # still in the round
    slashed: dict[int, list[AcceptedUpdate]] = field(default_factory=lambda: defaultdict(list))  # disputed out
    excluded: dict[int, list[tuple[AcceptedUpdate, str]]] = field(
        default_factory=lambda: defaultdict(list)
    )  # private: named by the masking checks, with the evidence's CID
    finalized: dict[int, FinalizedRound] = field(default_factory=dict)
    skipped: dict[int, SkippedRound] = field(default_factory=dict)
    commitments: dict[tuple[str, int], int] = field(default_factory=dict)  # (client, data commitment) -> usable from
    openings: dict[tuple[int, int], str] = field(default_factory=dict)  # (round, slot or MODEL_SLOT) -> opening tx

    @classmethod
    def read(cls, coordinator: Coordinator) -> FederationLog:
        events = coordinator.contract.events
        raw = {name: list(getattr(events, name).get_logs(from_block=0)) for name in EVENTS}
        log = cls(coordinator.address, raw)
        log.opened = {e.round: e for e in resolve_model_cids([OpenedRound.from_event(e) for e in raw["RoundOpened"]])}
        for e in raw["UpdateAccepted"]:
            log.accepted[e.args.round].append(AcceptedUpdate.from_event(e))
        for e in raw["UpdateSlashed"]:  # a challenge showed its proof invalid, or a request went unanswered
            log._slash(e.args.round, e.args.slot, e.args.client)
        for e in raw["UpdateExcluded"]:  # private: the masking checks named it
            for update in [u for u in log.accepted[e.args.round] if u.slot == e.args.slot][:1]:
                log.accepted[e.args.round].remove(update)
                log.excluded[e.args.round].append((update, e.args.evidenceCid))
        log.finalized = {e.args.round: FinalizedRound.from_event(e) for e in raw["RoundFinalized"]}
        log.skipped = {e.args.round: SkippedRound.from_event(e) for e in raw["RoundSkipped"]}
        log.openings = {(e.args.round, e.args.slot): e.transactionHash.to_0x_hex() for e in raw["VectorOpened"]}
        for e in raw["DataCommitted"]:
            for commitment in e.args.dataCommitments:
                log.commitments[(e.args.client, commitment)] = e.args.usableFrom
        return log

    def _slash(self, round_no: int, slot: int, client: str) -> None:
        """Move a slashed update out of its round (it is in no aggregation)."""
        for update in [u for u in self.accepted[round_no] if u.slot == slot and u.client == client][:1]:
            self.accepted[round_no].remove(update)
            self.slashed[round_no].append(update)

    def updates(self, round_no: int) -> list[AcceptedUpdate]:
        """The round's accepted updates in slot order."""
        return sorted(self.accepted.get(round_no, []), key=lambda u: u.slot)

    def closed(self, round_no: int) -> bool:
        """Finalized or skipped: no longer open."""
        return round_no in self.finalized or round_no in self.skipped

    def rolled_back(self, round_no: int) -> bool:
        """Round `round_no`'s model could not be opened: the round was skipped back to the model before."""
        skip = self.skipped.get(round_no)
        return skip is not None and skip.model_rolled_back

    @property
    def count(self) -> int:
        return sum(len(v) for v in self.raw.values())

    @property
    def creation_tx(self) -> str | None:
        created = self.raw["FederationCreated"]
        return created[0].transactionHash.to_0x_hex() if len(created) == 1 else None
