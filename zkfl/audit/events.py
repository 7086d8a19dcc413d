"""Checks of the federation's event log (`zkfl.chain.history`): that it is the coordinator's own
(an RPC node or indexer could serve another contract's logs, or drop some), that it agrees with the
contract's state, and that its rounds form one chain of models from genesis."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from zkfl.chain.coordinator import ROUND_FINALIZED, ROUND_OPEN, ROUND_SKIPPED, Coordinator
from zkfl.chain.history import FederationLog
from zkfl.verification.findings import Findings


def check_origin(log: FederationLog, coordinator: Coordinator, findings: Findings) -> None:
    """Each event must have been emitted by the audited coordinator, in a transaction to it (or its
    creation), and appear in that transaction's receipt as served."""
    w3 = coordinator.chain.w3
    address = coordinator.address
    foreign: dict[str, int] = defaultdict(int)
    receipts: dict[bytes, Any] = {}
    for entries in log.raw.values():
        for event in entries:
            if event.address != address:
                foreign[event.address] += 1
                continue
            tx_hash = event.transactionHash
            if tx_hash not in receipts:
                receipts[tx_hash] = w3.eth.get_transaction_receipt(tx_hash)
            receipt = receipts[tx_hash]
            emitted_here = [raw for raw in receipt["logs"] if raw["logIndex"] == event.logIndex]
            target = receipt["to"] or receipt["contractAddress"]
            if not emitted_here or emitted_here[0]["address"] != address or target != address:
                where = emitted_here[0]["address"] if emitted_here else "no such log"
                foreign[f"{where} (transaction {tx_hash.to_0x_hex()} to {target})"] += 1
    detail = "; ".join(f"{n} event(s) from {origin}" for origin, n in foreign.items())
    findings.add(
        "event-origin",
        "federation",
        not foreign,
        f"{log.count} events, all emitted by {address}"
        if not foreign
        else f"the event log is not the coordinator {address}'s own: {detail}",
    )
    findings.add(
        "federation-created",
        "federation",
        log.creation_tx is not None,
        "" if log.creation_tx else f"expected one FederationCreated event, found {len(log.raw['FederationCreated'])}",
    )


def check_against_state(log: FederationLog, coordinator: Coordinator, findings: Findings) -> None:
    """The events must tell the same story as the contract's storage (read with eth_call)."""
    current = coordinator.current_round
    problems = []
    if max(log.opened, default=-1) != current:
        problems.append(
            f"the contract's open round is {current}, the events' last opened round is {max(log.opened, default=None)}"
        )
    for r in range(current + 1):
        problems += _round_against_state(log, coordinator, r)
    findings.add(
        "events-match-state",
        "federation",
        not problems,
        "; ".join(problems) if problems else f"rounds 0..{current} agree with the contract's storage",
    )


def _round_against_state(log: FederationLog, coordinator: Coordinator, r: int) -> list[str]:
    """Where round `r`'s events and its storage differ: how it closed (the contract keeps every
    round's status), the open round's model and accepted count (it keeps only the open round's
    record), and the accepted update hash of every slot (kept per round)."""
    opened = log.opened.get(r)
    if opened is None:
        return [f"round {r} is on-chain but has no RoundOpened event"]
    problems = []
    status = coordinator.round_status(r)
    if (status == ROUND_FINALIZED) != (r in log.finalized):
        problems.append(
            f"round {r}: finalized is {status == ROUND_FINALIZED} on-chain, {r in log.finalized} in the events"
        )
    if (status == ROUND_SKIPPED) != (r in log.skipped):
        problems.append(f"round {r}: skipped is {status == ROUND_SKIPPED} on-chain, {r in log.skipped} in the events")
    accepted = len(log.accepted.get(r, []))
    if status == ROUND_OPEN:
        state = coordinator.round(r)
        if opened.model_hash != state.model_hash:
            problems.append(f"round {r}: event model hash {opened.model_hash:#x}, contract {state.model_hash:#x}")
        if accepted != state.accepted:
            problems.append(
                f"round {r}: {accepted} UpdateAccepted events (less slashed), contract counts {state.accepted}"
            )
    else:
        counted = log.finalized[r].accepted_updates if r in log.finalized else None
        counted = log.skipped[r].dropped_updates if counted is None and r in log.skipped else counted
        if counted is not None and counted != accepted:
            problems.append(
                f"round {r}: {accepted} UpdateAccepted events (less slashed), its closing event counts {counted}"
            )
    for update in log.accepted.get(r, []):
        held = coordinator.accepted_update_hash(r, update.slot)
        if held != update.update_hash:
            problems.append(
                f"round {r} slot {update.slot}: event update hash {update.update_hash:#x}, contract {held:#x}"
            )
    return problems


def check_round_sequence(log: FederationLog, findings: Findings) -> list[int]:
    """Rounds must run 0, 1, 2, ... with no gap, every round but the last closed (finalized or
    skipped), and each round's model the one its predecessor hands on (`check_model_chain`).
    Returns the rounds present."""
    rounds = sorted(log.opened)
    missing = sorted(set(range(max(rounds, default=-1) + 1)) - set(rounds))
    findings.add(
        "round-sequence",
        "federation",
        bool(rounds) and not missing,
        (
            f"round(s) {', '.join(map(str, missing))} missing from the event log (rounds seen: "
            f"{', '.join(map(str, rounds))})"
        )
        if missing
        else ("no RoundOpened event at all" if not rounds else f"rounds 0..{rounds[-1]} all present"),
    )
    for r in rounds[:-1]:
        if not log.closed(r):
            findings.add(
                "round-sequence",
                f"round {r}",
                False,
                f"round {r} was never finalized nor skipped but round {r + 1} exists",
            )
        elif r in log.finalized and r in log.skipped:
            findings.add("round-sequence", f"round {r}", False, f"round {r} was both finalized and skipped")
    check_model_chain(log, rounds, findings)
    return rounds


def check_model_chain(log: FederationLog, rounds: list[int], findings: Findings) -> None:
    """Each round must start from the model its predecessor hands on: a finalized round's
    aggregation output; after a skip, the skipped round's own model, or (its model rolled back)
    the model the round before it started from. CIDs are compared as resolved (a skip's empty CID
    is the earlier CID of the same model)."""
    breaks = [problem for r in rounds[1:] if (problem := _model_break(log, r)) is not None]
    skipped = sorted(log.skipped)
    how = f"; after skipped round(s) {', '.join(map(str, skipped))} from the model the skip hands on" if skipped else ""
    findings.add(
        "model-chain",
        "federation",
        not breaks and bool(rounds),
        "; ".join(breaks)
        if breaks
        else f"genesis -> round {rounds[-1] if rounds else '?'}: every round "
        f"starts from the previous aggregation's output{how}",
    )


def _model_break(log: FederationLog, r: int) -> str | None:
    """Why round `r` does not start from the model round r - 1 hands on (None: it does)."""
    start = log.opened[r]
    handed = _handed_on(log, r - 1)
    if isinstance(handed, str):
        return f"round {r} starts from {start.model_hash:#x}, but {handed}"
    if not start.model_cid:
        return f"round {r} starts from {start.model_hash:#x} with no CID, and no earlier round published one for it"
    if (start.model_hash, start.model_cid) != handed[:2]:
        return (
            f"round {r} starts from {start.model_hash:#x} ({start.model_cid}), {handed[2]} {handed[0]:#x} ({handed[1]})"
        )
    return None


def _handed_on(log: FederationLog, r: int) -> tuple[int, str, str] | str:
    """(model hash, CID, how) round `r` hands on to round r + 1, or why it hands on none."""
    finalized = log.finalized.get(r)
    if finalized is not None:
        return finalized.next_model_hash, finalized.next_model_cid, f"round {r} aggregated to"
    if r not in log.skipped:
        return f"round {r} has no finalized aggregation (nor a skip) to come from"
    own = log.opened.get(r)
    if own is None:
        return f"round {r} was skipped and has no RoundOpened event"
    if not log.rolled_back(r):
        return own.model_hash, own.model_cid, f"round {r} was skipped with its model"
    before = log.opened.get(r - 1)
    if before is None:
        return f"round {r} was skipped back to the model before it, and round {r - 1} has no RoundOpened event"
    return before.model_hash, before.model_cid, f"round {r} was rolled back to round {r - 1}'s model"
