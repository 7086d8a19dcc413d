"""The client's commands: `register` (commit to data batches), `prove` (the round's local step),
`submit` (send the proof on-chain); and `client_responder`, with which a client answers requests
on its own update from the proof and vector it keeps locally (when the store lost them)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from web3 import Web3

from zkfl.atomic import write_atomic
from zkfl.chain.coordinator import Coordinator
from zkfl.data.batches import ClientData, load_batches, load_dataset, make_batches, save_batches
from zkfl.errors import ConfigError, ZkflError
from zkfl.fixedpoint import dequantize
from zkfl.pipeline.aggregation import can_close, devnet_hint, finalizable_after
from zkfl.pipeline.masking import (
    ensure_channel_key,
    mask_round_update,
    masking_record_path,
    reveal_round,
    share_round_keys,
)
from zkfl.pipeline.progress import Progress, silent
from zkfl.pipeline.round_model import RoundModel, open_round_model, stored_proof
from zkfl.pipeline.workspace import Workspace
from zkfl.protocol import checked_vector
from zkfl.roles.client import train_and_prove
from zkfl.roles.responder import Answer, Held, answer_requests
from zkfl.store.artifacts import put_vector
from zkfl.store.cid import vector_bytes
from zkfl.verification.masking import summed_clients
from zkfl.zk.prover import Proof
from zkfl.zk.prover_process import IN_PROCESS, Prover
from zkfl.zk.ranges import Batch, CircuitRange, check_batch, check_features
from zkfl.zk.srs import file_sha256


@dataclass(frozen=True)
class RegisterOutcome:
    client: str
    address: str
    slot: int
    batches: int
    registered_now: bool
    gas_used: int | None
    committed_now: int = 0  # fresh batches committed by this call, once the earlier ones were all used


@dataclass(frozen=True)
class CommitOutcome:
    """Fresh batches a registered client committed (`commitData`); they train from `usable_from` on."""

    client: str
    committed: int
    usable_from: int
    gas_used: int | None


@dataclass(frozen=True)
class ProveOutcome:
    client: str
    round: int
    batch: int
    global_hash: str
    update_hash: str
    update_cid: str
    proof_cid: str
    prove_seconds: float
    proved_now: bool


@dataclass(frozen=True)
class SubmitOutcome:
    client: str
    round: int
    update_hash: str
    update_cid: str
    submitted_now: bool
    gas_used: int | None


class NoUsableBatch(ConfigError):
    """A client has no committed, unused batch that may train in the open round; `usable_from`
    names the round its next batch becomes usable in (None: every batch is used)."""

    def __init__(self, message: str, usable_from: int | None):
        super().__init__(message)
        self.usable_from = usable_from


def register_client(
    ws: Workspace,
    name: str,
    data_file: str | Path,
    batches: int = 10,
    seed: int | None = None,
    account_index: int | None = None,
    progress: Progress = silent,
) -> RegisterOutcome:
    """Split the client's data file into `batches` salted round batches, keep them privately in the
    workspace, and register on-chain with their commitments (stake included).

    `account_index` picks the client's account (on the devnet, dev account 2 + index); by default
    the next one. Clients that register concurrently in one workspace must each name theirs.
    The batches are written before the transaction and never regenerated, so a re-run after a
    crash registers exactly the commitments already kept. A registered client that has used every
    batch commits `batches` fresh ones from the same data file instead (`commit_fresh_batches`)."""
    _check_batch_count(ws, batches)
    spec = ws.config.training
    record = ws.read_record(ws.client_record_path(name))
    x, y = load_dataset(data_file, spec)
    data_sha = file_sha256(Path(data_file))
    coordinator = ws.coordinator()
    if record is None:
        index = _free_account_index(ws, account_index)
        source = f"data file {data_file}"
        progress(f"{name}: checking {batches} batch(es) of {data_file} against the circuit's range")
        check_features(_circuit_range(ws), x, source)
        rng = np.random.default_rng(secrets.randbits(64) if seed is None else seed)
        kept = make_batches(spec, x, y, batches, rng)
        model = open_round_model(ws, coordinator)
        for batch in kept:  # nothing is kept or sent for data the circuit could not prove
            _check_batch_range(ws, model, batch, source)
        save_batches(ws.client_batches_path(name), kept)
        record = {
            "name": name,
            "account_index": index,
            "address": ws.signer("client", index).address,
            "data_file": str(Path(data_file).resolve()),
            "data_sha256": data_sha,
            "commitments": [hex(b.commitment_hash(ws.circuits.commitments, spec)) for b in kept],
        }
        ws.write_record(ws.client_record_path(name), record)
    elif record["data_sha256"] != data_sha:
        raise ConfigError(
            f"client {name!r} already committed to a data file with SHA-256 {record['data_sha256']}, "
            f"not {data_file} ({data_sha}); use another client name for other data"
        )
    signer = ws.signer("client", record["account_index"])
    state = coordinator.client(signer.address)
    gas, committed = None, 0
    if not state.registered:
        progress(f"{name}: registering on-chain with the stake (sending the transaction, waiting for its receipt)")
        receipt = coordinator.register(signer, [int(c, 16) for c in record["commitments"]])
        gas = receipt["gasUsed"]
        state = coordinator.client(signer.address)
    elif state.open_batches == 0 or _uncommitted(coordinator, signer.address, record):
        committed = commit_fresh_batches(ws, name, batches, seed, data_file).committed
        record = _client_record(ws, name)
    if ws.config.terms.private:
        ensure_channel_key(ws, name, signer, progress)
    return RegisterOutcome(
        name, signer.address, state.slot, len(record["commitments"]), gas is not None, gas, committed
    )


def commit_fresh_batches(
    ws: Workspace, name: str, batches: int, seed: int | None = None, data_file: str | Path | None = None
) -> CommitOutcome:
    """Commit `batches` fresh salted batches from the client's registered data file (or `data_file`,
    a copy of it) on-chain
    (`commitData`), at most as many as the federation's `max_open_batches` leaves room for. They
    train from the round after the open one (from round 0 inside the registration window).

    As at registration, the batches are kept before the transaction and never regenerated: a
    re-run after a crash first sends the commitments it kept and did not send."""
    _check_batch_count(ws, batches)
    record = _client_record(ws, name)
    coordinator = ws.coordinator()
    signer = ws.signer("client", record["account_index"])
    state = coordinator.client(signer.address)
    if not state.registered:
        raise ConfigError(
            f"client {name!r} is not registered on-chain; run `zkfl register -w {ws.root} --client {name} "
            f"--data {record['data_file']}` first"
        )
    pending = _uncommitted(coordinator, signer.address, record)
    if not pending:
        room = ws.config.terms.max_open_batches - state.open_batches
        if room < 1:
            raise ConfigError(
                f"client {name!r} already holds {state.open_batches} committed, unused batches, the "
                f"federation's maximum (max_open_batches); it commits more once it has used some"
            )
        source = Path(data_file if data_file is not None else record["data_file"])
        pending = _keep_fresh_batches(ws, name, record, source, min(batches, room), seed)
    receipt = coordinator.commit_data(signer, pending)
    usable_from = coordinator.data_batch(signer.address, pending[0])[2]
    return CommitOutcome(name, len(pending), usable_from, receipt["gasUsed"])


def ensure_next_batch(ws: Workspace, name: str, batches: int, seed: int | None = None) -> CommitOutcome | None:
    """Keep the client able to train in the next round: once it has no committed, unused batch
    left, commit `batches` fresh ones (`commit_fresh_batches`); None when it still has one. Called
    while a round is open, the fresh batches train from the next round on."""
    record = _client_record(ws, name)
    coordinator = ws.coordinator()
    address = ws.signer("client", record["account_index"]).address
    if coordinator.client(address).open_batches > 0 and not _uncommitted(coordinator, address, record):
        return None
    return commit_fresh_batches(ws, name, batches, seed)


def _keep_fresh_batches(
    ws: Workspace, name: str, record: dict[str, Any], data_file: Path, count: int, seed: int | None
) -> list[int]:
    """Make `count` batches from the client's data file, append them to its kept batches and its
    record (in that order), and return their commitments."""
    if not data_file.is_file() or file_sha256(data_file) != record["data_sha256"]:
        raise ConfigError(
            f"client {name!r} registered with data file {data_file} (SHA-256 {record['data_sha256']}), which is "
            f"{'gone' if not data_file.is_file() else 'changed'}; its fresh batches come from that data: restore "
            "the file, or register other data under a new client name"
        )
    spec = ws.config.training
    x, y = load_dataset(data_file, spec)
    kept = load_batches(ws.client_batches_path(name))[: len(record["commitments"])]  # drops a crashed attempt's
    rng = np.random.default_rng(secrets.randbits(64) if seed is None else [seed, len(kept)])
    fresh = make_batches(spec, x, y, count, rng)
    model = open_round_model(ws, ws.coordinator())
    for batch in fresh:
        _check_batch_range(ws, model, batch, f"data file {data_file}")
    save_batches(ws.client_batches_path(name), [*kept, *fresh])
    commitments = [b.commitment_hash(ws.circuits.commitments, spec) for b in fresh]
    ws.write_record(
        ws.client_record_path(name), {**record, "commitments": record["commitments"] + [hex(c) for c in commitments]}
    )
    return commitments


def _uncommitted(coordinator: Coordinator, address: str, record: dict[str, Any]) -> list[int]:
    """The client's kept commitments the chain does not hold (a crash between keeping and sending)."""
    return [c for h in record["commitments"] if not coordinator.data_batch(address, c := int(h, 16))[0]]


def _check_batch_count(ws: Workspace, batches: int) -> None:
    limit = ws.config.terms.max_open_batches
    if not 1 <= batches <= limit:
        raise ConfigError(
            f"batches must be between 1 and the federation's max_open_batches ({limit}), got {batches}; "
            "a client commits more once it has used them"
        )


def prove_update(ws: Workspace, name: str, progress: Progress = silent, prover: Prover = IN_PROCESS) -> ProveOutcome:
    """Prove the client's local step for the open round on its next unused committed batch, by
    `prover` (here, or a `ProverProcess` that Ctrl-C can stop). A proof already made for this round
    (from the same global model) is returned as is."""
    record = _client_record(ws, name)
    progress(f"{name}: loading the circuits and the open round's model")
    coordinator = ws.coordinator()
    model = open_round_model(ws, coordinator)
    round_path = ws.client_round_path(name, model.round)
    done = ws.read_record(round_path)
    if done is not None and done["global_hash"] == hex(model.model_hash) and ws.store.has(done["proof_cid"]):
        return ProveOutcome(
            **{k: v for k, v in done.items() if k in ProveOutcome.__dataclass_fields__}, proved_now=False
        )
    commitments = [int(c, 16) for c in record["commitments"]]
    signer = ws.signer("client", record["account_index"])
    batch = usable_batch(coordinator, signer.address, commitments, model.round, name)
    data = load_batches(ws.client_batches_path(name))[batch]
    _check_batch_range(
        ws,
        model,
        data,
        f"client {name!r}'s committed batch {batch} (data file {record.get('data_file', 'not recorded')})",
    )
    progress(f"{name}: proving round {model.round} on batch {batch} (witness, proof, self-verification)")
    proof_path = ws.client_proof_path(name, model.round)
    start = time.perf_counter()
    update = prover.prove_to(
        proof_path,
        train_and_prove,
        ws.circuits.client,
        ws.config.training,
        model.weights,
        data,
        coordinator.context(signer.address),
    )
    seconds = round(time.perf_counter() - start, 2)
    progress(f"{name}: storing the update and its proof")
    # kept if the store loses it, and private (a private federation never stores it anywhere else)
    write_atomic(_held_vector_path(ws, name, model.round), vector_bytes(update.vector), mode=0o600)
    result: dict[str, Any] = {
        "client": name,
        "round": model.round,
        "batch": batch,
        "global_hash": hex(model.model_hash),
        "update_hash": hex(update.update_hash),
        # a private update never goes to the store: its masked upload does, at submission
        "update_cid": "" if ws.config.terms.private else put_vector(ws.store, update.vector),
        "proof_cid": ws.store.put(proof_path.read_bytes()),
        "prove_seconds": seconds,
    }
    ws.write_record(round_path, result)
    return ProveOutcome(**result, proved_now=True)


def usable_batch(coordinator: Coordinator, address: str, commitments: list[int], round_no: int, name: str) -> int:
    """The first of the client's committed batches that is unused and may train in `round_no` (a
    batch committed after the registration window trains only from the round after the one open
    when it was committed). Raises NoUsableBatch naming when one becomes usable."""
    later = []
    for index, commitment in enumerate(commitments):
        committed, used, usable_from = coordinator.data_batch(address, commitment)
        if committed and not used:
            if usable_from <= round_no:
                return index
            later.append(usable_from)
    if later:
        raise NoUsableBatch(
            f"client {name!r}'s {len(later)} unused committed batch(es) were committed after the "
            f"registration window and train from round {min(later)} on, not in the open round "
            f"{round_no}; prove once round {min(later)} is open",
            min(later),
        )
    raise NoUsableBatch(
        f"client {name!r} has used all {len(commitments)} committed batches; commit fresh ones from its data "
        f"with `zkfl register --client {name} --data FILE --batches N` (they train from round {round_no + 1} "
        "on; `zkfl run` commits them itself)",
        None,
    )


def submit_update(ws: Workspace, name: str, progress: Progress = silent) -> SubmitOutcome:
    """Submit the client's proven update for the open round (a no-op if the chain already has it)."""
    record = _client_record(ws, name)
    coordinator = ws.coordinator()
    current = coordinator.current_round
    proved = ws.read_record(ws.client_round_path(name, current))
    if proved is None:
        latest = _latest_round(ws, name)
        hint = f" (its latest proof is for round {latest})" if latest is not None else ""
        raise ConfigError(
            f"client {name!r} has no proven update for the open round {current}{hint}; "
            f"run `zkfl prove -w {ws.root} --client {name}` first"
        )
    if int(proved["global_hash"], 16) != coordinator.round(current).model_hash:
        raise ConfigError(
            f"client {name!r}'s update for round {current} was trained from another global model; prove again"
        )
    signer = ws.signer("client", record["account_index"])
    slot = coordinator.client(signer.address).slot
    accepted = coordinator.accepted_update_hash(current, slot)
    if accepted == int(proved["update_hash"], 16):
        return SubmitOutcome(name, current, proved["update_hash"], proved["update_cid"], False, None)
    if ws.config.terms.private:  # the CID on-chain names the masked upload, never the update
        progress(f"{name}: masking its update for round {current}")
        held = np.frombuffer(_held_vector_path(ws, name, current).read_bytes(), dtype="<i8").astype(np.int64)
        proved = {**proved, "update_cid": mask_round_update(ws, name, signer, held)}
    else:  # the CID goes on-chain for the aggregator to fetch: it must hold exactly the proven update
        progress(f"{name}: checking the stored update against its commitment")
        checked_vector(
            ws.circuits.commitments,
            ws.store,
            proved["update_cid"],
            int(proved["update_hash"], 16),
            f"client {name!r}'s update for round {current}",
        )
    progress(
        f"{name}: submitting round {current}'s update with its proof (sending the transaction, waiting for its "
        "receipt; the coordinator verifies the proof on-chain)"
    )
    with stored_proof(ws.store, proved["proof_cid"]) as proof:
        if ws.config.terms.optimistic:  # the chain gets the commitments and SHA-256; challengers the bytes
            ws.store.put(proof.data)  # under CIDv1 raw sha2-256 of them, which the chain's SHA-256 names
            receipt = coordinator.submit_update_optimistic(signer, current, proof, proved["update_cid"])
        else:
            receipt = coordinator.submit_update(signer, current, proof, proved["update_cid"])
    ws.write_record(
        ws.client_round_path(name, current),
        {**proved, "submit_gas": receipt["gasUsed"], "submit_tx": Web3.to_hex(receipt["transactionHash"])},
    )
    return SubmitOutcome(name, current, proved["update_hash"], proved["update_cid"], True, receipt["gasUsed"])


@dataclass(frozen=True)
class ShareOutcome:
    client: str
    round: int
    bundle_cid: str | None  # None: not in the round's cohort, sitting it out
    gas_used: int | None
    shared_now: bool


@dataclass(frozen=True)
class RevealOutcome:
    client: str
    round: int
    reveal_cid: str
    revealed_now: bool


def share_keys(ws: Workspace, name: str, progress: Progress = silent) -> ShareOutcome:
    """A private federation's client shares its masking keys for the open round, inside its share
    window (`zkfl share-keys`); a client outside the round's cohort sits it out. Recorded, so a
    re-run shares nothing twice."""
    if not ws.config.terms.private:
        raise ConfigError("this federation's updates are public: it has no masking keys to share")
    record = _client_record(ws, name)
    signer = ws.signer("client", record["account_index"])
    round_no = ws.coordinator().current_round
    path = masking_record_path(ws, name, round_no)
    done = ws.read_record(path)
    if done is not None and "bundle_cid" in done:
        return ShareOutcome(name, round_no, done["bundle_cid"], done.get("share_gas"), False)
    shared = share_round_keys(ws, name, signer, progress)
    if shared is None:
        return ShareOutcome(name, round_no, None, None, False)
    ws.write_record(path, {"round": round_no, **shared})
    return ShareOutcome(name, round_no, shared["bundle_cid"], shared["share_gas"], True)


def reveal_for_unmasking(
    ws: Workspace, name: str, round_no: int | None = None, progress: Progress = silent
) -> RevealOutcome:
    """A private federation's client answers its round's unmasking (`zkfl reveal`): once the round
    takes no more submissions, its shares for its neighbours (and its own seeds), stored. Reveals
    nothing when the round may not be unmasked (too many dropouts)."""
    if not ws.config.terms.private:
        raise ConfigError("this federation's updates are public: there is nothing to unmask")
    record = _client_record(ws, name)
    coordinator = ws.coordinator()
    round_no = coordinator.current_round if round_no is None else round_no
    path = masking_record_path(ws, name, round_no)
    done = ws.read_record(path) or {"round": round_no}
    if "reveal_cid" in done and done.get("summed") == summed_clients(coordinator, round_no):
        return RevealOutcome(name, round_no, done["reveal_cid"], False)
    state = coordinator.round(round_no)
    if not state.closed and not can_close(ws, coordinator, state):  # who is summed may still change
        raise ConfigError(
            f"round {round_no}'s accepted updates are not final until block {finalizable_after(ws, state) + 1} (now "
            f"{ws.chain.w3.eth.block_number}): reveal after it, or a share revealed now could expose a client that "
            f"submits later{devnet_hint(ws)}"
        )
    progress(f"{name}: revealing its shares for round {round_no}'s unmasking")
    done["reveal_cid"], done["summed"] = reveal_round(ws, name, ws.signer("client", record["account_index"]), round_no)
    ws.write_record(path, done)
    return RevealOutcome(name, round_no, done["reveal_cid"], True)


def client_held(ws: Workspace, name: str, round_no: int) -> Held:
    """The proof and update vector the client keeps locally for a round (what it answers requests
    on its update with when the store lost them); empty where it kept none."""
    proofs, vectors = [], []
    proof_path = ws.client_proof_path(name, round_no)
    if proof_path.exists():
        proofs.append(Proof.load(proof_path).data)
    vector_path = _held_vector_path(ws, name, round_no)
    if vector_path.exists():
        vectors.append(np.frombuffer(vector_path.read_bytes(), dtype="<i8").astype(np.int64))
    return Held(tuple(proofs), tuple(vectors))


def answer_as_client(ws: Workspace, name: str, round_no: int) -> list[Answer]:
    """The client answers the round's open requests it can with what it holds (its own update's
    proof and vector), with its own key; what it cannot answer is reported, never raised."""
    record = _client_record(ws, name)
    held = client_held(ws, name, round_no)
    if not held.proofs and not held.vectors:
        return []
    try:
        return answer_requests(
            ws.coordinator(),
            ws.store,
            ws.circuits.commitments,
            ws.signer("client", record["account_index"]),
            round_no,
            held,
        )
    except ZkflError:  # the requests could not even be listed: the aggregator and watchtowers still answer
        return []


def client_responder(ws: Workspace, name: str) -> Callable[[int], list[Answer]]:
    """`answer_as_client` for `wait_until_finalizable`'s responders."""
    return lambda round_no: answer_as_client(ws, name, round_no)


def _held_vector_path(ws: Workspace, name: str, round_no: int) -> Path:
    return ws.client_update_path(name, round_no)


def _free_account_index(ws: Workspace, wanted: int | None) -> int:
    taken = {_client_record(ws, n)["account_index"]: n for n in ws.client_names()}
    if wanted is None:
        free = sorted(set(range(ws.config.slots)) - set(taken))
        if not free:
            raise ConfigError(f"the federation has {ws.config.slots} client slots, all taken by {ws.client_names()}")
        wanted = free[0]
    if not 0 <= wanted < ws.config.slots:
        raise ConfigError(f"account index {wanted} is outside the federation's {ws.config.slots} client slots")
    if wanted in taken:
        raise ConfigError(f"account index {wanted} is already client {taken[wanted]!r}'s")
    return wanted


def _circuit_range(ws: Workspace) -> CircuitRange:
    return CircuitRange.from_settings(ws.circuits.client.circuit.settings)


def _check_batch_range(ws: Workspace, model: RoundModel, batch: ClientData, source: str) -> None:
    """Refuse a batch whose training step from the round's model would leave the circuit's range."""
    rows = batch.rows if batch.rows is not None else np.arange(len(batch.labels))
    check_batch(
        ws.config.training,
        _circuit_range(ws),
        dequantize(model.weights),
        Batch(dequantize(batch.features), batch.labels, rows, source),
        f"the round-{model.round} global model",
        ws.circuits.client.circuit.graph_path,
    )


def client_round_record(ws: Workspace, name: str, round_no: int) -> dict[str, Any] | None:
    return ws.read_record(ws.client_round_path(name, round_no))


def _client_record(ws: Workspace, name: str) -> dict[str, Any]:
    record = ws.read_record(ws.client_record_path(name))
    if record is None:
        known = ", ".join(ws.client_names()) or "none yet"
        raise ConfigError(
            f"unknown client {name!r} in {ws.root} (registered: {known}); "
            f"run `zkfl register -w {ws.root} --client {name} --data FILE` first"
        )
    return record


def _latest_round(ws: Workspace, name: str) -> int | None:
    rounds = ws.client_dir(name) / "rounds"
    numbers = [int(p.stem) for p in rounds.glob("*.json")] if rounds.is_dir() else []
    return max(numbers) if numbers else None
