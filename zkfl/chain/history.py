"""A federation's history as its coordinator's events recorded it: read once, typed, in chain order.
What a round checker or an auditor needs to know about rounds, updates and data commitments comes
from here (and is checked against the contract's storage by the audit)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from zkfl.chain.coordinator import AcceptedUpdate, AggregatedLeaf, Coordinator, FinalizedRound, OpenedRound

EVENTS = ("FederationCreated", "RoundOpened", "ClientRegistered", "DataCommitted", "ClientWithdrawn",
          "UpdateAccepted", "RoundFinalized", "AggregatorChanged", "ProofPending", "UpdateSlashed", "ChallengeFailed",
          "LeafAggregated")


@dataclass
class FederationLog:
    """Every event of one coordinator, typed, in chain order."""

    coordinator: str
    raw: dict[str, list[Any]]
    opened: dict[int, OpenedRound] = field(default_factory=dict)
    accepted: dict[int, list[AcceptedUpdate]] = field(default_factory=lambda: defaultdict(list))  # still in the round
    slashed: dict[int, list[AcceptedUpdate]] = field(default_factory=lambda: defaultdict(list))  # challenged out
    finalized: dict[int, FinalizedRound] = field(default_factory=dict)
    leaves: dict[int, dict[int, AggregatedLeaf]] = field(default_factory=lambda: defaultdict(dict))  # the last per leaf
    commitments: set[tuple[str, int]] = field(default_factory=set)  # (client, data commitment) committed

    @classmethod
    def read(cls, coordinator: Coordinator) -> FederationLog:
        events = coordinator.contract.events
        raw = {name: list(getattr(events, name).get_logs(from_block=0)) for name in EVENTS}
        log = cls(coordinator.address, raw)
        for e in raw["RoundOpened"]:
            log.opened[e.args.round] = OpenedRound.from_event(e)
        for e in raw["UpdateAccepted"]:
            log.accepted[e.args.round].append(AcceptedUpdate.from_event(e))
        for e in raw["UpdateSlashed"]:  # an optimistic update whose proof a challenge showed invalid
            out = [u for u in log.accepted[e.args.round] if u.slot == e.args.slot and u.client == e.args.client][:1]
            for update in out:
                log.accepted[e.args.round].remove(update)
                log.slashed[e.args.round].append(update)
        for e in raw["LeafAggregated"]:  # a leaf proven again after its updates changed replaces its earlier proof
            log.leaves[e.args.round][e.args.leaf] = AggregatedLeaf.from_event(e)
        for e in raw["RoundFinalized"]:
            log.finalized[e.args.round] = FinalizedRound.from_event(e)
        for e in raw["DataCommitted"]:
            for commitment in e.args.dataCommitments:
                log.commitments.add((e.args.client, commitment))
        return log

    def updates(self, round_no: int) -> list[AcceptedUpdate]:
        """The round's accepted updates in slot order."""
        return sorted(self.accepted.get(round_no, []), key=lambda u: u.slot)

    @property
    def count(self) -> int:
        return sum(len(v) for v in self.raw.values())

    @property
    def creation_tx(self) -> str | None:
        created = self.raw["FederationCreated"]
        return created[0].transactionHash.to_0x_hex() if len(created) == 1 else None
