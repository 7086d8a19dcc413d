"""Checks of the federation's event log (`zkfl.chain.history`): that it is the coordinator's own
(an RPC node or indexer could serve another contract's logs, or drop some), that it agrees with the
contract's state, and that its rounds form one chain of models from genesis."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from zkfl.chain.coordinator import Coordinator
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
    findings.add("event-origin", "federation", not foreign,
                 f"{log.count} events, all emitted by {address}" if not foreign else
                 f"the event log is not the coordinator {address}'s own: {detail}")
    findings.add("federation-created", "federation", log.creation_tx is not None,
                 "" if log.creation_tx else f"expected one FederationCreated event, found {len(log.raw['FederationCreated'])}")


def check_against_state(log: FederationLog, coordinator: Coordinator, findings: Findings) -> None:
    """The events must tell the same story as the contract's storage (read with eth_call)."""
    current = coordinator.current_round
    problems = []
    if max(log.opened, default=-1) != current:
        problems.append(f"the contract's open round is {current}, the events' last opened round is "
                        f"{max(log.opened, default=None)}")
    for r in range(current + 1):
        state = coordinator.round(r)
        opened = log.opened.get(r)
        if opened is None:
            problems.append(f"round {r} is on-chain (model {state.model_hash:#x}) but has no RoundOpened event")
            continue
        if opened.model_hash != state.model_hash:
            problems.append(f"round {r}: event model hash {opened.model_hash:#x}, contract {state.model_hash:#x}")
        if len(log.accepted.get(r, [])) != state.accepted:
            problems.append(f"round {r}: {len(log.accepted.get(r, []))} UpdateAccepted events, contract counts "
                            f"{state.accepted}")
        if (r in log.finalized) != state.finalized:
            problems.append(f"round {r}: finalized is {state.finalized} on-chain, {r in log.finalized} in the events")
        for update in log.accepted.get(r, []):
            held = coordinator.accepted_update_hash(r, update.slot)
            if held != update.update_hash:
                problems.append(f"round {r} slot {update.slot}: event update hash {update.update_hash:#x}, "
                                f"contract {held:#x}")
    findings.add("events-match-state", "federation", not problems,
                 "; ".join(problems) if problems else f"rounds 0..{current} agree with the contract's storage")


def check_round_sequence(log: FederationLog, findings: Findings) -> list[int]:
    """Rounds must run 0, 1, 2, ... with no gap, every round but the last finalized, and each
    round's model the previous round's aggregation output. Returns the rounds present."""
    rounds = sorted(log.opened)
    missing = sorted(set(range(max(rounds, default=-1) + 1)) - set(rounds))
    findings.add("round-sequence", "federation", bool(rounds) and not missing,
                 (f"round(s) {', '.join(map(str, missing))} missing from the event log (rounds seen: "
                  f"{', '.join(map(str, rounds))})") if missing else
                 ("no RoundOpened event at all" if not rounds else f"rounds 0..{rounds[-1]} all present"))
    for r in rounds[:-1]:
        if r not in log.finalized:
            findings.add("round-sequence", f"round {r}", False, f"round {r} was never finalized but round {r + 1} exists")
    breaks = []
    for r in rounds[1:]:
        previous = log.finalized.get(r - 1)
        if previous is None:
            breaks.append(f"round {r} starts from {log.opened[r].model_hash:#x}, but round {r - 1} has no "
                          "finalized aggregation to come from")
        elif (previous.next_model_hash, previous.next_model_cid) != (log.opened[r].model_hash, log.opened[r].model_cid):
            breaks.append(f"round {r} starts from {log.opened[r].model_hash:#x} ({log.opened[r].model_cid}), round "
                          f"{r - 1} aggregated to {previous.next_model_hash:#x} ({previous.next_model_cid})")
    findings.add("model-chain", "federation", not breaks and bool(rounds),
                 "; ".join(breaks) if breaks else f"genesis -> round {rounds[-1] if rounds else '?'}: every round "
                 "starts from the previous aggregation's output")
    return rounds
