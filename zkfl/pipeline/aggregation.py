"""The aggregator's command: FedAvg of the open round's accepted updates, proven from their sum and
finalized; the sum is published next to the next model. The proof is recorded in the workspace,
so a run that stops is resumed without proving again.

The aggregator is also an honest party of the round's disputes: while it waits for the round to
become finalizable it answers every open request it can (`zkfl.roles.responder`, from the store) and
settles the ones nobody answered in time, since a round with a request open cannot close. An
accepted update it cannot fetch (or whose stored vector is not the committed one) is taken from
its on-chain opening if there is one, else its opening is requested while the round's window is
open. A round that ends with no accepted update is skipped, and the next starts from its model.
Payments are pulled: after closing a round the aggregator withdraws what it was credited (the
model bond of the round before, bonds of requests it answered).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from eth_account.signers.local import LocalAccount
from web3 import Web3

from zkfl.chain.coordinator import AcceptedUpdate, Coordinator, OpenRequest, RoundState
from zkfl.errors import ConfigError, ZkflError
from zkfl.fixedpoint import FixedArray
from zkfl.pipeline.masking import revealed, unmask_round
from zkfl.pipeline.progress import Progress, silent
from zkfl.pipeline.round_model import stored_proof
from zkfl.pipeline.workspace import AGGREGATOR, DEVNET, Workspace
from zkfl.protocol import check_commitment, checked_vector
from zkfl.roles.aggregator import AcceptedVector, SlotUpdate, aggregate_and_prove, prove_fedavg
from zkfl.roles.responder import NOTHING_HELD, Answer, Held, answer_requests, slot_name
from zkfl.store.artifacts import ArtifactStore, put_vector
from zkfl.zk.commitments import CommitmentKey
from zkfl.zk.prover_process import IN_PROCESS, Prover

Responder = Callable[[int], list[Answer]]
"""Another party answering a round's open requests (e.g. a client, from what it holds)."""


@dataclass(frozen=True)
class AggregateOutcome:
    round: int
    accepted: int
    next_model_hash: str
    next_model_cid: str
    proof_cid: str
    prove_seconds: float
    finalized_now: bool
    gas_used: int | None
    sum_cid: str = ""  # the accepted updates' sum, FedAvg's input
    skipped: bool = False  # closed without aggregation (no accepted update): the next round has the same model
    withdrawn_wei: int = 0  # credited to the aggregator and withdrawn after closing the round


def accepted_slots(
    key: CommitmentKey,
    store: ArtifactStore,
    coordinator: Coordinator,
    round_no: int,
    slots: int,
    requester: LocalAccount | None = None,
) -> list[SlotUpdate | None]:
    """The round's accepted updates in slot order, fetched by CID and checked against the commitment
    the chain accepted (None where no update was accepted). The chain's storage decides: an update
    accepted and then slashed (a challenge, an unanswered request) is no longer in its slot.

    An update missing from the store, or stored with another commitment, is read from its
    on-chain opening; without one, `requester` requests the opening (or settles an unanswered
    request, which removes the update) and ConfigError says when to run again."""
    filled: list[SlotUpdate | None] = [None] * slots
    waiting = []
    for event in coordinator.accepted_updates(round_no):
        if coordinator.accepted_update_hash(round_no, event.slot) != event.update_hash:
            continue
        try:
            vector = _slot_vector(key, store, coordinator, event, requester)
        except _Disputed as pending:
            waiting.append(str(pending))
            continue
        if vector is not None:
            filled[event.slot] = AcceptedVector(vector, event.update_hash)
    if waiting:
        raise ConfigError("; ".join(waiting))
    return filled


class _Disputed(ConfigError):
    """An accepted update that cannot be aggregated yet: its opening is requested, or it cannot be."""


def _slot_vector(
    key: CommitmentKey,
    store: ArtifactStore,
    coordinator: Coordinator,
    event: AcceptedUpdate,
    requester: LocalAccount | None,
) -> FixedArray | None:
    """The update's vector from the store, else as opened on-chain; None once an unanswered request
    on it was settled (the update left the round)."""
    what = f"round {event.round}, slot {event.slot}: update"
    try:
        return checked_vector(key, store, event.cid, event.update_hash, what)
    except ZkflError as exc:
        problem = str(exc)
    if coordinator.dispute(event.round, event.slot).opened:
        vector = coordinator.opened_vector(event.round, event.slot)
        if vector is not None:
            check_commitment(key, vector, event.update_hash, f"{what} opened on-chain")
            return vector
    _dispute_missing(coordinator, event, requester, problem)  # raises unless the update left the round
    return None


def _dispute_missing(
    coordinator: Coordinator, event: AcceptedUpdate, requester: LocalAccount | None, problem: str
) -> None:
    """Settle an unanswered request on an update the aggregator cannot fetch (None: it left the
    round), or request its opening; raise _Disputed saying what happens next."""
    round_no, slot = event.round, event.slot
    what = f"round {round_no} slot {slot}'s update cannot be aggregated ({problem})"
    block = coordinator.chain.w3.eth.block_number
    dispute = coordinator.dispute(round_no, slot)
    if dispute.pending and block > dispute.reveal_by and requester is not None:
        coordinator.settle_unanswered(requester, round_no, slot)  # its client is slashed, the update leaves
        return None
    if dispute.pending:
        raise _Disputed(
            f"{what}: a request on it can be answered until block {dispute.reveal_by}; run aggregate "
            "again after that block (it is then opened on-chain, or settled and left out)"
        )
    terms = coordinator.terms
    closes = coordinator.round(round_no).deadline + terms.challenge_window
    if block > closes:
        raise _Disputed(
            f"{what}, it was not opened on-chain and the round's window for requests closed at block "
            f"{closes} (now {block}): round {round_no} cannot be aggregated; anyone may skip it "
            f"(skipRound) after block {closes + terms.finalization_grace}"
        )
    if requester is None:
        raise _Disputed(f"{what}: request its opening (requestOpening) until block {closes}")
    coordinator.request_opening(requester, round_no, slot)
    reveal_by = coordinator.dispute(round_no, slot).reveal_by
    raise _Disputed(
        f"{what}: its opening was requested on-chain; run aggregate again after block {reveal_by}: by "
        "then it is opened (and aggregated from the chain) or can be settled (its client slashed, the "
        "update left out)"
    )


def finalizable_after(ws: Workspace, state: RoundState) -> int:
    """The last block before the round can be closed without waiting for anyone: its submission
    deadline; the end of its challenge window in an optimistic federation (challenges may still
    remove updates) or for a round without updates (it can only be skipped after that)."""
    terms = ws.config.terms
    waits_window = terms.optimistic or state.accepted == 0
    return state.deadline + (terms.challenge_window if waits_window else 0)


class RoundClock(Protocol):
    """How time passes while `wait_until_finalizable` waits for a round's deadlines."""

    def wait(self, state: RoundState, requests_open: bool) -> None:
        """Let time pass towards the round's next deadline (with `requests_open`, a request's)."""


@dataclass(frozen=True)
class PollingClock:
    """A chain whose blocks come from its own producers: look again every `poll_seconds`."""

    poll_seconds: float = 2.0

    def wait(self, state: RoundState, requests_open: bool) -> None:
        time.sleep(self.poll_seconds)


def devnet_hint(ws: Workspace) -> str:
    """How to let a deadline pass on the workspace's devnet, which makes blocks only for
    transactions; nothing for another chain (its blocks come by themselves)."""
    if ws.config.rpc_url != DEVNET:
        return ""
    return f"; on the devnet, mine the blocks with `zkfl devnet mine --to-deadline -w {ws.root}`"


def respond(
    ws: Workspace,
    round_no: int,
    held: Held = NOTHING_HELD,
    responders: Sequence[Responder] = (),
    progress: Progress = silent,
) -> list[Answer]:
    """Answer the round's open requests as the aggregator (from the store and `held`), then let each
    other responder answer what is left; settle the requests nobody answered by their deadline."""
    coordinator = ws.coordinator()
    if not coordinator.open_requests(round_no):
        return []
    signer = ws.signer(AGGREGATOR)
    answers = answer_requests(coordinator, ws.store, ws.circuits.commitments, signer, round_no, held)
    for responder in responders:
        answers += responder(round_no)
    for answer in answers:
        if answer.answered:
            progress(
                f"round {round_no} {answer.target}: answered the {answer.kind} request of {answer.requester} "
                f"({answer.source})"
            )
    for request in settle_overdue(coordinator, signer, round_no):
        progress(f"round {round_no} {slot_name(request.slot)}: settled the unanswered request of {request.requester}")
    return answers


def settle_overdue(coordinator: Coordinator, signer: LocalAccount, round_no: int) -> list[OpenRequest]:
    """Settle every request of the round that nobody answered by its deadline (the round cannot
    close while one is open); returns those this call settled."""
    block = coordinator.chain.w3.eth.block_number
    settled = []
    for request in coordinator.open_requests(round_no):
        if block <= request.reveal_by:
            continue
        try:
            coordinator.settle_unanswered(signer, round_no, request.slot)
            settled.append(request)
        except ZkflError:  # someone settled it first, or the round closed
            continue
    return settled


def wait_until_finalizable(
    ws: Workspace,
    round_no: int,
    poll_seconds: float = 2.0,
    held: Held = NOTHING_HELD,
    responders: Sequence[Responder] = (),
    progress: Progress = silent,
    clock: RoundClock | None = None,
) -> RoundState:
    """Return once round `round_no` can be closed, answering its open requests meanwhile (`respond`)
    and waiting until none is open (the coordinator refuses to close a round with one): at once in
    an eager federation whose every registered client submitted; else once its deadline has passed
    (without the clients that never submitted) and, in an optimistic federation or for a round
    without updates, its challenge window has closed. Returns the round's state (`closed`: a
    settled model request skipped it). Time passes by `clock`: by default the chain's blocks are
    waited for, looking every `poll_seconds`; a caller that drives a simulated federation on the
    workspace's devnet (which makes blocks only for transactions) passes a clock that mines them
    (`zkfl.pipeline.devnet_clock.DevnetClock`)."""
    clock = clock or PollingClock(poll_seconds)
    coordinator = ws.coordinator()
    announced = None
    while True:
        state = coordinator.round(round_no)
        if not state.closed:
            respond(ws, round_no, held, responders, progress)
            state = coordinator.round(round_no)
        if state.closed:
            return state
        requests = coordinator.open_requests(round_no)
        if not requests and can_close(ws, coordinator, state):
            return state
        if announced != (target := finalizable_after(ws, state) + 1, len(requests)):
            announced = (target, len(requests))
            waiting = f"{len(requests)} open request(s) and " if requests else ""
            progress(f"round {round_no}: waiting for {waiting}block {target} (now {ws.chain.w3.eth.block_number})")
        clock.wait(state, bool(requests))


def can_close(ws: Workspace, coordinator: Coordinator, state: RoundState) -> bool:
    """Whether the round's accepted updates are final: past its deadline (and, optimistic or empty, its
    challenge window), or an eager round every registered client submitted to."""
    if ws.chain.w3.eth.block_number > finalizable_after(ws, state):
        return True
    return not ws.config.terms.optimistic and state.accepted > 0 and state.accepted >= coordinator.registered_clients


def aggregate_round(
    ws: Workspace, progress: Progress = silent, prover: Prover = IN_PROCESS, reveals: list[str] | None = None
) -> AggregateOutcome:
    """Prove FedAvg of the open round's accepted updates from their sum and finalize it (the output
    becomes the next round's global model), proving by `prover` (here, or a `ProverProcess` that
    Ctrl-C can stop). A proof made before a crash is reused if it covers the same updates. A round
    left without accepted updates once its window is over is skipped instead. Afterwards the
    aggregator withdraws what it was credited.

    A private round is unmasked from `reveals`, the CIDs of the clients' stored reveals (by default
    those the workspace's own clients made; a Flower strategy passes those its clients replied with)."""
    coordinator = ws.coordinator()
    round_no = coordinator.current_round
    state = coordinator.round(round_no)
    if state.accepted == 0:
        return skip_empty_round(ws, state, progress)
    registered = coordinator.registered_clients
    block = ws.chain.w3.eth.block_number
    if ws.config.terms.optimistic and block <= (closes := finalizable_after(ws, state)):
        raise ConfigError(
            f"round {round_no}'s updates can be challenged until block {closes} (now {block}); "
            f"aggregate after the challenge window (challenges may still remove updates){devnet_hint(ws)}"
        )
    if state.accepted < registered and block <= state.deadline:
        raise ConfigError(
            f"round {round_no} is open until block {state.deadline} (now {block}) and only "
            f"{state.accepted} of {registered} clients submitted; aggregate after the deadline{devnet_hint(ws)}"
        )
    _refuse_open_requests(ws, round_no, progress)
    if ws.config.terms.private:
        return _aggregate_private_round(ws, round_no, progress, prover, reveals)
    circuits = ws.circuits
    slots = accepted_slots(
        circuits.commitments, ws.store, coordinator, round_no, ws.config.slots, ws.signer(AGGREGATOR)
    )
    accepted = sum(s is not None for s in slots)
    if accepted == 0:  # every update left the round while its requests were settled
        return skip_empty_round(ws, coordinator.round(round_no), progress)
    record_path = ws.round_record_path(round_no)
    record = ws.read_record(record_path)
    slot_hashes = [hex(s.update_hash) if s else None for s in slots]
    if record is None or record["slot_hashes"] != slot_hashes or not ws.store.has(record["proof_cid"]):
        progress(f"aggregator: proving FedAvg of round {round_no} ({accepted} updates)")
        proof_path = ws.fedavg_proof_path(round_no)
        start = time.perf_counter()
        result = prover.prove_to(proof_path, aggregate_and_prove, circuits.aggregator, circuits.fedavg, slots)
        record = {
            "round": round_no,
            "slot_hashes": slot_hashes,
            "accepted": accepted,
            "sum_hash": hex(result.sum_hash),
            "sum_cid": put_vector(ws.store, result.update_sum),
            "next_model_hash": hex(result.global_hash),
            "next_model_cid": put_vector(ws.store, result.weights),
            "proof_cid": ws.store.put(proof_path.read_bytes()),
            "prove_seconds": round(time.perf_counter() - start, 2),
        }
        ws.write_record(record_path, record)
    return _finalize(ws, coordinator, round_no, record, accepted, progress)


def _aggregate_private_round(
    ws: Workspace, round_no: int, progress: Progress, prover: Prover, reveals: list[str] | None
) -> AggregateOutcome:
    """A private round: unmask the sum from the clients' reveals (excluding the clients the masking
    checks name), prove FedAvg of it and finalize, naming the unmasking record as the sum's CID."""
    coordinator = ws.coordinator()
    circuits = ws.circuits
    record_path = ws.round_record_path(round_no)
    record = ws.read_record(record_path)
    if (
        record is None
        or not ws.store.has(record["proof_cid"])
        or record["sum_hash"] != hex(coordinator.accepted_sum_hash())
    ):
        reveals = revealed(ws, round_no) if reveals is None else reveals
        progress(f"aggregator: unmasking round {round_no}'s sum from {len(reveals)} reveal(s)")
        unmasked = unmask_round(ws, round_no, reveals, ws.signer(AGGREGATOR), progress)
        if not unmasked.summed:
            return skip_empty_round(ws, coordinator.round(round_no), progress)
        progress(f"aggregator: proving FedAvg of round {round_no} ({len(unmasked.summed)} updates, from their sum)")
        proof_path = ws.fedavg_proof_path(round_no)
        start = time.perf_counter()
        result = prover.prove_to(proof_path, prove_fedavg, circuits.aggregator, circuits.fedavg, unmasked.total)
        record = {
            "round": round_no,
            "summed": unmasked.summed,
            "accepted": len(unmasked.summed),
            "sum_hash": hex(result.sum_hash),
            "sum_cid": unmasked.record_cid,
            "next_model_hash": hex(result.global_hash),
            "next_model_cid": put_vector(ws.store, result.weights),
            "proof_cid": ws.store.put(proof_path.read_bytes()),
            "prove_seconds": round(time.perf_counter() - start, 2),
        }
        ws.write_record(record_path, record)
    return _finalize(ws, coordinator, round_no, record, record["accepted"], progress)


def _finalize(
    ws: Workspace, coordinator: Coordinator, round_no: int, record: dict[str, Any], accepted: int, progress: Progress
) -> AggregateOutcome:
    """Send the round's recorded FedAvg proof (`finalizeRound`), record the receipt, and withdraw
    what the aggregator was credited: the last step of a public and a private round alike."""
    progress(
        f"aggregator: finalizing round {round_no} (sending the transaction with the FedAvg proof, waiting for its "
        "receipt; the coordinator verifies the proof on-chain)"
    )
    with stored_proof(ws.store, record["proof_cid"]) as proof:
        receipt = coordinator.finalize_round(
            ws.signer(AGGREGATOR), round_no, proof, record["next_model_cid"], record["sum_cid"]
        )
    ws.write_record(
        ws.round_record_path(round_no),
        {**record, "finalize_gas": receipt["gasUsed"], "finalize_tx": Web3.to_hex(receipt["transactionHash"])},
    )
    return AggregateOutcome(
        round_no,
        accepted,
        record["next_model_hash"],
        record["next_model_cid"],
        record["proof_cid"],
        record["prove_seconds"],
        True,
        receipt["gasUsed"],
        record["sum_cid"],
        withdrawn_wei=withdraw_credited(ws, progress),
    )


def _refuse_open_requests(ws: Workspace, round_no: int, progress: Progress) -> None:
    """Answer the round's open requests; refuse (before any proving) while one stays open, since the
    coordinator would refuse the finalization."""
    respond(ws, round_no, progress=progress)
    requests = ws.coordinator().open_requests(round_no)
    if requests:
        listed = ", ".join(f"{slot_name(r.slot)} (until block {r.reveal_by})" for r in requests)
        raise ConfigError(
            f"round {round_no} has request(s) nobody answered yet: {listed}; the round closes only "
            "after them: run aggregate again once they are answered or past their block (they are "
            "then settled)"
        )


def skip_empty_round(ws: Workspace, state: RoundState, progress: Progress = silent) -> AggregateOutcome:
    """Skip a round without accepted updates once its window is over (the next round starts from
    the same model); refuse while it can still receive submissions or be disputed."""
    coordinator, round_no = ws.coordinator(), state.round
    block, closes = ws.chain.w3.eth.block_number, finalizable_after(ws, state)
    if block <= state.deadline:
        raise ConfigError(
            f"round {round_no} has no accepted update yet; clients must `zkfl submit` first (it takes "
            f"submissions until block {state.deadline}, now {block}); without any, it can be skipped after "
            f"block {closes}{devnet_hint(ws)}"
        )
    if block <= closes:
        raise ConfigError(
            f"round {round_no} has no accepted update and takes no more submissions; it can be "
            f"skipped after block {closes} (now {block}): run aggregate again then (the next round "
            f"starts from the same model){devnet_hint(ws)}"
        )
    _refuse_open_requests(ws, round_no, progress)  # a request on its model would keep it open
    progress(f"aggregator: skipping round {round_no}, which has no accepted update (sending the transaction)")
    receipt = coordinator.skip_round(ws.signer(AGGREGATOR), round_no)
    following = [r for r in coordinator.opened_rounds() if r.round == round_no + 1][-1]
    return AggregateOutcome(
        round_no,
        0,
        hex(following.model_hash),
        following.model_cid,
        "",
        0.0,
        False,
        receipt["gasUsed"],
        skipped=True,
        withdrawn_wei=withdraw_credited(ws, progress),
    )


def withdraw_credited(ws: Workspace, progress: Progress = silent) -> int:
    """Withdraw what the coordinator credited the aggregator (it pays nothing out on its own: model
    bonds come back, and answered requests' bonds are earned, as credits); returns the wei."""
    coordinator, signer = ws.coordinator(), ws.signer(AGGREGATOR)
    credited = coordinator.payments(signer.address)
    if credited:
        coordinator.withdraw_payments(signer)
        progress(f"aggregator: withdrew {credited} wei credited by the coordinator")
    return credited
