"""`run`: N clients and the aggregator in one workspace, R rounds end to end, with a per-round
record of proving time, gas and (given held-out data) accuracy against float FedAvg. While the
aggregator waits to close a round, it and each client answer the round's open requests (the
clients from the proof and vector they keep locally); a round that ends without accepted updates
is skipped, and the next starts from the same model."""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zkfl.chain.coordinator import ROUND_SKIPPED
from zkfl.data.batches import load_batches, load_dataset
from zkfl.data.evaluation import accuracy, float_fedavg_round
from zkfl.errors import ConfigError, MaskingError, RevealAgain
from zkfl.fixedpoint import dequantize
from zkfl.pipeline.aggregation import AggregateOutcome, aggregate_round, wait_until_finalizable
from zkfl.pipeline.blocks import reach_block
from zkfl.pipeline.devnet_clock import driving_clock
from zkfl.pipeline.executors import ProofExecutor, SerialExecutor
from zkfl.pipeline.inspection import verify_round
from zkfl.pipeline.participant import (
    NoUsableBatch,
    ProveOutcome,
    client_responder,
    client_round_record,
    commit_fresh_batches,
    ensure_next_batch,
    prove_update,
    register_client,
    reveal_for_unmasking,
    share_keys,
    submit_update,
)
from zkfl.pipeline.progress import Progress, silent
from zkfl.pipeline.round_model import round_model
from zkfl.pipeline.setup import setup_federation
from zkfl.pipeline.workspace import Workspace
from zkfl.zk.prover_process import Prover


@dataclass(frozen=True)
class RoundReport:
    round: int
    clients: list[str]
    prove_seconds: dict[str, float]
    submit_gas: dict[str, int]
    aggregate_seconds: float
    finalize_gas: int
    wall_seconds: float | None  # None for a round finished by an earlier, interrupted run
    model_hash: str  # the global model this round produced
    proven_accuracy: float | None = None
    float_accuracy: float | None = None
    skipped: bool = False  # closed without aggregation: its model is the one it started from


@dataclass(frozen=True)
class RoundVerdict:
    """The round checker's verdict on one round (`zkfl verify`'s, from the chain and the store)."""

    round: int
    ok: bool
    checks: int
    failures: list[str]


@dataclass(frozen=True)
class RunOutcome:
    rounds: list[RoundReport]
    coordinator: str
    client_logrows: int
    aggregator_logrows: int
    genesis_accuracy: float | None = None
    extra: dict[str, object] = field(default_factory=dict)
    float_curve: list[float] | None = None  # float FedAvg's accuracy after each round, past the proven ones
    config: dict[str, Any] = field(default_factory=dict)  # what was trained and how (`run_config`), as JSON
    dev_srs: bool = False  # the keys come from an insecure dev SRS
    verification: list[RoundVerdict] | None = None  # None: the rounds were not re-checked


def run_federation(
    ws: Workspace,
    data_files: list[Path],
    rounds: int,
    batches: int | None = None,
    eval_file: Path | None = None,
    seed: int | None = None,
    progress: Progress = silent,
    executor: ProofExecutor | None = None,
    verify: bool = False,
) -> RunOutcome:
    """Set up, register one client per data file (named after the file: `alice.npz` is `alice`), then prove, submit and
    aggregate until `rounds` rounds are closed: finalized, or skipped when none of their updates could be aggregated.
    Each round's client proofs run by `executor` (default: one after another here; `RayExecutor`: in parallel).
    Re-running continues where a killed run stopped, and a later run with more
    rounds goes on from there.

    Each client commits `batches` salted batches at a time: when it registers (default: `rounds`), and again,
    on-chain (`commitData`), whenever it has used them (default: the rounds still to run, at least one), so a
    client always holds a batch for the next round. With `verify`, every round is re-checked afterwards with
    the round checker of `zkfl verify` (proofs off-chain and on-chain, links, stored vectors, FedAvg)."""
    if not data_files:
        raise ConfigError("run needs at least one client data file")
    if len(data_files) > ws.config.slots:
        raise ConfigError(f"{len(data_files)} data files for a federation of {ws.config.slots} client slots")
    if rounds < 1:
        raise ConfigError(f"rounds must be at least 1, got {rounds}")
    limit = ws.config.terms.max_open_batches
    if batches is not None and not 1 <= batches <= limit:
        raise ConfigError(
            f"batches must be between 1 and the federation's max_open_batches ({limit}), got {batches}; "
            "clients commit more whenever they have used them"
        )
    names = [Path(f).stem for f in data_files]
    if len(set(names)) != len(names):
        raise ConfigError(f"clients are named after their data files, and these repeat a name: {names}")
    for data in data_files:  # every data fault is named before anything is deployed
        load_dataset(data, ws.config.training)
    evaluation = load_dataset(eval_file, ws.config.training) if eval_file else None
    setup = setup_federation(ws, progress)
    seeds = {name: None if seed is None else seed + i for i, name in enumerate(names)}
    for name, data in zip(names, data_files, strict=True):
        registered = register_client(ws, name, data, batches or min(rounds, limit), seeds[name])
        if registered.committed_now:
            progress(f"{name}: had used every committed batch; committed {registered.committed_now} fresh ones")
    coordinator = ws.coordinator()
    fresh: dict[int, float] = {}
    while coordinator.current_round < rounds:
        start = time.perf_counter()
        round_no = coordinator.current_round
        refill = batches or max(1, min(rounds - round_no - 1, limit))
        taking_part = _take_part(ws, names, round_no, refill, seeds, progress, executor or SerialExecutor())
        # optimistic: no finalization while updates can be challenged; any federation: none while a request is open
        state = wait_until_finalizable(
            ws,
            round_no,
            responders=[client_responder(ws, n) for n in taking_part],
            progress=progress,
            clock=driving_clock(ws),  # on the devnet, this run makes the blocks
        )
        skipped = state.skipped if state.closed else _aggregate(ws, round_no, taking_part, progress).skipped
        fresh[round_no] = round(time.perf_counter() - start, 2)
        progress(f"round {round_no} {'skipped' if skipped else 'finalized'} in {fresh[round_no]:.1f} s")
    verdicts = None
    if verify:
        progress(f"re-checking rounds 0..{rounds - 1} from the chain and the store (as `zkfl verify` does)")
        verdicts = [_verdict(ws, r) for r in range(rounds)]
    return RunOutcome(
        _round_reports(ws, names, rounds, fresh, evaluation),
        setup.coordinator,
        setup.client_logrows,
        setup.aggregator_logrows,
        _accuracy(ws, ws.config.genesis_weights(), evaluation),
        config=run_config(ws, names, rounds, batches),
        dev_srs=any(s["dev"] for s in setup.srs),
        verification=verdicts,
    )


def run_config(ws: Workspace, names: list[str], rounds: int, batches: int | None) -> dict[str, Any]:
    """What a run trained and how, for its report."""
    config, spec = ws.config, ws.config.training
    return {
        "model": spec.model.to_json(),
        "batch_size": spec.batch_size,
        "local_steps": spec.local_steps,
        "learning_rate": spec.learning_rate,
        "slots": config.slots,
        "clients": names,
        "rounds": rounds,
        "batches_per_commit": batches,  # None: the rounds still to run
        "verification": config.terms.verification,
        "chain": config.rpc_url,
        "srs": config.srs,
    }


def _verdict(ws: Workspace, round_no: int) -> RoundVerdict:
    checked = verify_round(ws, round_no)
    return RoundVerdict(round_no, checked.ok, len(checked.checks), [str(f) for f in checked.failures])


def _take_part(
    ws: Workspace,
    names: list[str],
    round_no: int,
    refill: int,
    seeds: dict[str, int | None],
    progress: Progress,
    executor: ProofExecutor,
) -> list[str]:
    """Prove (by `executor`, all clients at once) and submit the clients' updates for the open round;
    returns the clients that took part. A client sits out when the round takes no more submissions
    or none of its batches may train in this round. Once a client's committed batches are used up,
    it commits `refill` fresh ones for the rounds after this one."""
    coordinator = ws.coordinator()
    deadline = coordinator.round(round_no).deadline
    eligible = []
    for name in names:
        submitted = "submit_gas" in (client_round_record(ws, name, round_no) or {})
        if not submitted and ws.chain.w3.eth.block_number > deadline:
            progress(f"{name}: round {round_no} takes no more submissions; sitting it out")
        else:
            eligible.append(name)
    ws.circuits  # noqa: B018 - built once here, before the jobs share the workspace
    if ws.config.terms.private:  # masking keys first, in the share window; masked submissions after it
        eligible = _share_keys(ws, eligible, round_no, progress)
    results = executor.run([functools.partial(_prove_job, ws, name, progress) for name in eligible])
    taking_part = []
    for name, result in zip(eligible, results, strict=True):
        if isinstance(result, NoUsableBatch):
            if result.usable_from is None:  # every batch used and none kept ready (an interrupted run)
                fresh = commit_fresh_batches(ws, name, refill, seeds[name])
                progress(
                    f"{name}: had used every committed batch; committed {fresh.committed} fresh one(s), which "
                    f"train from round {fresh.usable_from} on: sitting out round {round_no}"
                )
            else:
                progress(f"{name}: sitting out round {round_no}: {result}")
            continue
        if isinstance(result, Exception):
            raise result
        submit_update(ws, name)
        if (refilled := ensure_next_batch(ws, name, refill, seeds[name])) is not None:
            progress(f"{name}: committed {refilled.committed} fresh batch(es) for round {refilled.usable_from} on")
        taking_part.append(name)
    return taking_part


def _aggregate(ws: Workspace, round_no: int, taking_part: list[str], progress: Progress) -> AggregateOutcome:
    """Aggregate the round; in a private federation the live clients answer the unmasking first, and
    again whenever the masking checks excluded an update (the sum they answered for changed)."""
    for _ in range(len(taking_part) + 1):
        if ws.config.terms.private and ws.coordinator().round(round_no).accepted:
            for name in taking_part:
                reveal_for_unmasking(ws, name, round_no, progress)
        try:
            return aggregate_round(ws, progress)
        except RevealAgain as again:
            progress(str(again))
    raise MaskingError(f"round {round_no} could not be unmasked: every client was excluded in turn")


def _share_keys(ws: Workspace, names: list[str], round_no: int, progress: Progress) -> list[str]:
    """Each client shares its masking keys in the round's share window (reached first, on the devnet
    by mining); returns those that did. Then the window is let pass, so every key is known."""
    coordinator = ws.coordinator()
    opens, closes = coordinator.share_window(round_no)
    reach_block(ws, opens, progress)
    shared = [name for name in names if share_keys(ws, name, progress).bundle_cid is not None]
    reach_block(ws, closes + 1, progress)
    return shared


def _prove_job(ws: Workspace, name: str, progress: Progress, prover: Prover) -> ProveOutcome:
    return prove_update(ws, name, progress, prover)


def _round_reports(
    ws: Workspace,
    names: list[str],
    rounds: int,
    fresh: dict[int, float],
    evaluation: tuple[np.ndarray, np.ndarray] | None,
) -> list[RoundReport]:
    """Per-round figures from the workspace records; with held-out data also the accuracy of the
    proven model and of float FedAvg trained on the very batches the proofs used."""
    spec = ws.config.training
    batches = {name: load_batches(ws.client_batches_path(name)) for name in names} if evaluation else {}
    coordinator = ws.coordinator()
    float_model = dequantize(ws.config.genesis_weights())
    reports = []
    for r in range(rounds):
        records = {n: rec for n in names if (rec := client_round_record(ws, n, r)) and "submit_gas" in rec}
        skipped = coordinator.round_status(r) == ROUND_SKIPPED  # the status alone: no event reads
        agg = {} if skipped else ws.read_record(ws.round_record_path(r)) or {}
        proven = round_model(ws.circuits.commitments, ws.store, coordinator, r + 1)
        if evaluation is not None and not skipped:  # the float reference is only worth its training when evaluated
            float_model = float_fedavg_round(
                spec, float_model, [batches[n][rec["batch"]] for n, rec in records.items()]
            )
        reports.append(
            RoundReport(
                round=r,
                clients=list(records),
                prove_seconds={n: rec["prove_seconds"] for n, rec in records.items()},
                submit_gas={n: rec["submit_gas"] for n, rec in records.items()},
                aggregate_seconds=agg.get("prove_seconds", 0.0),
                finalize_gas=agg.get("finalize_gas", 0),
                wall_seconds=fresh.get(r),
                model_hash=hex(proven.model_hash),
                proven_accuracy=_accuracy(ws, proven.weights, evaluation),
                float_accuracy=None if evaluation is None else accuracy(spec, float_model, *evaluation),
                skipped=skipped,
            )
        )
    return reports


def _accuracy(ws: Workspace, weights: np.ndarray, evaluation: tuple[np.ndarray, np.ndarray] | None) -> float | None:
    return None if evaluation is None else accuracy(ws.config.training, dequantize(weights), *evaluation)
