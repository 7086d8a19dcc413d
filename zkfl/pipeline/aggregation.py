"""The aggregator's command: FedAvg of the open round's accepted updates, proven and finalized;
in a tree federation, first every leaf with accepted updates (by an executor: serial, or Ray),
then the root over the leaves' partial sums. Every step is recorded in the workspace, so a run
that stops is resumed: a leaf proven on-chain, or whose proof is recorded, is not proven again."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from web3 import Web3

from zkfl.aggregator import AcceptedVector, SlotUpdate, aggregate_and_prove
from zkfl.chain.coordinator import Coordinator, RoundState
from zkfl.chain.devnet import mine_blocks
from zkfl.errors import ConfigError
from zkfl.pipeline.executors import LeafExecutor, LeafJob, SerialExecutor
from zkfl.pipeline.progress import Progress, silent
from zkfl.pipeline.rounds import stored_proof
from zkfl.protocol import CommitmentKey, checked_vector, empty_slot
from zkfl.verification.fedavg import check_partial_sum, fixed_point_partial_sum
from zkfl.store import ArtifactStore, put_vector
from zkfl.workspace import AGGREGATOR, DEVNET, Workspace


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
    leaves: list[dict] = field(default_factory=list)  # a tree's: per leaf with updates, its proof and gas


def accepted_slots(key: CommitmentKey, store: ArtifactStore, coordinator: Coordinator, round_no: int,
                   slots: int) -> list[SlotUpdate | None]:
    """The round's accepted updates in slot order, fetched by CID and checked against the commitment
    the chain accepted (None where no update was accepted). The chain's storage decides: an update
    accepted and then slashed by a challenge (optimistic federations) is no longer in its slot."""
    filled: list[SlotUpdate | None] = [None] * slots
    for event in coordinator.accepted_updates(round_no):
        if coordinator.accepted_update_hash(round_no, event.slot) != event.update_hash:
            continue
        vector = checked_vector(key, store, event.cid, event.update_hash, f"round {round_no}, slot {event.slot}: update")
        filled[event.slot] = AcceptedVector(vector, event.update_hash)
    return filled


def finalizable_after(ws: Workspace, state: RoundState) -> int:
    """The last block before the round can be finalized without waiting for anyone: its
    submission deadline, and in an optimistic federation the end of its challenge window."""
    terms = ws.config.terms
    return state.deadline + (terms.challenge_window if terms.optimistic else 0)


DEVNET_WINDOW_BLOCK_SECONDS = 0.25
"""On the devnet, the pace at which a challenge window's blocks are mined: a watchtower process
polling the chain gets wall time to see each submission and challenge it inside the window."""


def wait_until_finalizable(ws: Workspace, round_no: int, poll_seconds: float = 2.0) -> None:
    """Return once round `round_no` can be finalized: at once in an eager federation whose every
    registered client submitted; else once its deadline has passed (without the clients that never
    submitted) and, in an optimistic federation, its challenge window has closed (no challenge can
    remove an update any more). The workspace's own devnet makes blocks only for transactions, so
    there the blocks up to the deadline are mined at once and the challenge window's one by one
    (`DEVNET_WINDOW_BLOCK_SECONDS`); a real chain is waited for."""
    coordinator = ws.coordinator()
    state = coordinator.round(round_no)
    if not ws.config.terms.optimistic and state.accepted >= coordinator.registered_clients:
        return
    finalizable = finalizable_after(ws, state)
    if ws.config.rpc_url == DEVNET:
        mine_blocks(ws.chain, state.deadline + 1 - ws.chain.w3.eth.block_number)
        while ws.chain.w3.eth.block_number <= finalizable:
            time.sleep(DEVNET_WINDOW_BLOCK_SECONDS)
            mine_blocks(ws.chain, 1)
    while ws.chain.w3.eth.block_number <= finalizable:
        time.sleep(poll_seconds)


def prove_leaves(ws: Workspace, round_no: int, slots: list[SlotUpdate | None], executor: LeafExecutor,
                 progress: Progress = silent) -> tuple[list[SlotUpdate | None], list[dict]]:
    """Prove and submit every leaf of the round that holds accepted updates and is not proven
    on-chain for them yet, each as soon as its proof is back; returns the root's inputs (each
    leaf's partial sum, None for an empty leaf) and each leaf's record. Every partial sum is
    range-checked before any proof starts."""
    circuits, coordinator, shape = ws.circuits, ws.coordinator(), ws.config.shape
    key, spec = circuits.commitments, circuits.partial_sum
    inputs: list[SlotUpdate | None] = [None] * shape.leaves
    records: dict[int, dict] = {}
    jobs: list[LeafJob] = []
    for leaf in range(shape.leaves):
        members = tuple(slots[s] for s in shape.leaf_slot_range(leaf))
        if all(m is None for m in members):
            continue
        partial = fixed_point_partial_sum([m.vector if m else empty_slot(spec) for m in members], spec.update_len)
        check_partial_sum(partial, leaf, spec.slots)
        inputs[leaf] = AcceptedVector(partial, key.commit(partial))
        path = _leaf_record_path(ws, round_no, leaf)
        slot_hashes = [hex(m.update_hash) if m else None for m in members]
        record = ws.read_record(path)
        if record is None or record["slot_hashes"] != slot_hashes or not ws.store.has(record["proof_cid"]):
            record = {"round": round_no, "leaf": leaf, "slot_hashes": slot_hashes}
            jobs.append(LeafJob(leaf, circuits.leaf, spec, members,
                                ws.state_dir / "proofs" / f"leaf-{round_no}-{leaf}.json"))
        records[leaf] = record
    if jobs:
        progress(f"aggregator: proving {len(jobs)} leaf partial sum(s) of round {round_no}")
    proving = {job.leaf for job in jobs}

    def submit(leaf: int) -> None:
        """Submit a recorded leaf proof, unless the chain has its output (from this run before a
        stop, or from another aggregator)."""
        if coordinator.leaf_output_hash(round_no, leaf) == inputs[leaf].update_hash:
            return
        with stored_proof(ws.store, records[leaf]["proof_cid"]) as proof:
            receipt = coordinator.aggregate_leaf(ws.signer(AGGREGATOR), round_no, leaf, proof,
                                                 records[leaf]["partial_cid"])
        records[leaf] |= {"gas": receipt["gasUsed"], "tx": Web3.to_hex(receipt["transactionHash"])}
        ws.write_record(_leaf_record_path(ws, round_no, leaf), records[leaf])

    for leaf in sorted(records.keys() - proving):
        submit(leaf)
    start = time.perf_counter()
    for result in executor.run(jobs):
        records[result.leaf] |= {"partial_hash": hex(result.partial_hash),
                                 "partial_cid": put_vector(ws.store, result.partial),
                                 "proof_cid": ws.store.put(result.proof.path.read_bytes()),
                                 "done_after_seconds": round(time.perf_counter() - start, 2)}
        ws.write_record(_leaf_record_path(ws, round_no, result.leaf), records[result.leaf])
        submit(result.leaf)
    return inputs, [records[leaf] for leaf in sorted(records)]


def _leaf_record_path(ws: Workspace, round_no: int, leaf: int) -> Path:
    return ws.state_dir / "rounds" / f"{round_no}-leaf-{leaf}.json"


def aggregate_round(ws: Workspace, progress: Progress = silent, executor: LeafExecutor | None = None) -> AggregateOutcome:
    """Prove FedAvg of the open round's accepted updates and finalize it (the output becomes the
    next round's global model); in a tree federation, over the leaves' partial sums, proven first
    by `executor` (default: one after another here). A proof made before a crash is reused if it
    covers the same inputs."""
    coordinator = ws.coordinator()
    round_no = coordinator.current_round
    state = coordinator.round(round_no)
    if state.accepted == 0:
        raise ConfigError(f"round {round_no} has no accepted update yet; clients must `zkfl submit` first")
    registered = coordinator.registered_clients
    block = ws.chain.w3.eth.block_number
    if ws.config.terms.optimistic and block <= (closes := finalizable_after(ws, state)):
        raise ConfigError(f"round {round_no}'s updates can be challenged until block {closes} (now {block}); "
                          "aggregate after the challenge window (challenges may still remove updates)")
    if state.accepted < registered and block <= state.deadline:
        raise ConfigError(f"round {round_no} is open until block {state.deadline} (now {block}) and only "
                          f"{state.accepted} of {registered} clients submitted; aggregate after the deadline")
    circuits = ws.circuits
    slots = accepted_slots(circuits.commitments, ws.store, coordinator, round_no, ws.config.slots)
    leaves: list[dict] = []
    if ws.config.shape.is_tree:
        slots, leaves = prove_leaves(ws, round_no, slots, executor or SerialExecutor(), progress)
    record_path = ws.state_dir / "rounds" / f"{round_no}.json"
    record = ws.read_record(record_path)
    slot_hashes = [hex(s.update_hash) if s else None for s in slots]
    if record is None or record["slot_hashes"] != slot_hashes or not ws.store.has(record["proof_cid"]):
        progress(f"aggregator: proving FedAvg of round {round_no} ({state.accepted} updates)")
        proof_path = ws.state_dir / "proofs" / f"fedavg-{round_no}.json"
        start = time.perf_counter()
        result = aggregate_and_prove(circuits.aggregator, circuits.fedavg, slots, proof_path)
        record = {"round": round_no, "slot_hashes": slot_hashes, "accepted": state.accepted,
                  "next_model_hash": hex(result.global_hash), "next_model_cid": put_vector(ws.store, result.weights),
                  "proof_cid": ws.store.put(proof_path.read_bytes()),
                  "prove_seconds": round(time.perf_counter() - start, 2)}
        ws.write_record(record_path, record)
    with stored_proof(ws.store, record["proof_cid"]) as proof:
        receipt = coordinator.finalize_round(ws.signer(AGGREGATOR), round_no, proof, record["next_model_cid"])
    ws.write_record(record_path, {**record, "finalize_gas": receipt["gasUsed"],
                                  "finalize_tx": Web3.to_hex(receipt["transactionHash"])})
    return AggregateOutcome(round_no, state.accepted, record["next_model_hash"], record["next_model_cid"],
                            record["proof_cid"], record["prove_seconds"], True, receipt["gasUsed"], leaves)
