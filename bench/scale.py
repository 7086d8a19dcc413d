"""Scale: one FedAvg proof over the chain's sum of update commitments, for any number of clients.

    python bench/scale.py --part run             # 64 digits clients, one optimistic round end to end on the devnet
    python bench/scale.py --part circuits --updates U.npy [--before DIR]   # the aggregation at K = 4, 8, 64, 1,024
    python bench/scale.py --part projection --from scale.json [--from gas.json]
    python bench/scale.py [--before DIR]          # all three; JSON on stdout, progress on stderr

run: the digits example's shape (logistic regression 64 -> 10, batch 16, one step, lr 1.5), 64
clients on IID shards of the digits training set, one round of an optimistic federation through
the library path of `zkfl run` (set-up, registration, 64 client proofs by --executor, optimistic
submissions, the challenge window, the aggregation proof over the sum of the 64 updates,
finalization), then an outside audit. Reported: each client's prove time, the gas of every
submission (what one pays for: `bench/gas.py --part optimistic`), the finalization (traced: the
aggregator's verifier returned true), the aggregation's prove time, the amortized gas per accepted
update, and the audit's verdict. The 64 updates (as stored, CIDs checked) go to the circuits part.

circuits: the one-input FedAvg circuit of that shape, compiled as a federation compiles it (at the
client's logrows), proven over the sum of K real updates for K = 4, 8 and 64 (the run's first K)
and 1,024 (the 64 repeated 16 times): prove seconds (median of --repeats proofs, each verified, in
a child process), proving-key size, peak memory, and the verifier's gas for one of those proofs (a
bare call that must return true). With `--before DIR` (a checkout of the commit before this design),
today's K = 4 FedAvg circuit is built and proven there over the same four updates, in the same run
(bench/fedavg_before.py), for the ratios.

projection: per N in (8, 64, 1,000, 10,000): gas per round and amortized per accepted update, eager
and optimistic, from the measured submission and finalization gas (finalization does not depend on
N: one proof of one circuit over one point); proofs per round; blocks of gas; the aggregator's
seconds: checking each of N stored updates against its commitment (timed per update in the
circuits part) and the one FedAvg proof. Eager figures need a `bench/gas.py --part federations`
report (`--from`).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from eth_account import Account

from zkfl.chain.deploy import deploy_circuit_verifier
from zkfl.chain.devnet import DEV_MNEMONIC, start_devnet, stop_devnet
from zkfl.chain.rpc import connect
from zkfl.circuits import LogisticRegression, TrainingStepSpec
from zkfl.fedavg import update_sum
from zkfl.zk.build import build_circuits
from zkfl.zk.prover import CircuitKeys, Proof, prove

sys.path.insert(0, str(Path(__file__).parent))
from gas import bare_verify, measured

DIGITS = TrainingStepSpec(LogisticRegression(64, 10), batch_size=16, local_steps=1, learning_rate=1.5)
CLIENTS = 64
SUMMED = (4, 8, 64, 1_024)


def log(message: str) -> None:
    print(f"[scale] {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------- run
def write_iid_shards(directory: Path, clients: int, seed: int = 0) -> list[Path]:
    """The digits training pool (as examples/digits.py prepares it) dealt out evenly: every client
    holds at least one batch."""
    from zkfl.data.datasets import write_digits

    files, _ = write_digits(directory / "pool", 1, alpha=1.0, seed=seed)
    pool = np.load(files[0])
    order = np.random.default_rng(seed).permutation(len(pool["y"]))
    shards = []
    for i, rows in enumerate(np.array_split(order, clients)):
        shards.append(directory / f"client-{i:02d}.npz")
        np.savez(shards[-1], x=pool["x"][rows], y=pool["y"][rows])
    return shards


def run_part(
    cache: Path, executor_name: str, cpus_per_client: int, keep: Path | None, rounds: int
) -> tuple[dict, np.ndarray]:
    """The federation's last round (`rounds`; a kept federation goes on from where it stopped),
    and its accepted updates."""
    from zkfl.audit.auditor import AuditOptions, audit_federation
    from zkfl.federation.terms import OPTIMISTIC, PUBLIC, FederationTerms
    from zkfl.pipeline import run_federation
    from zkfl.pipeline.executors import executor_named
    from zkfl.pipeline.workspace import Workspace, WorkspaceConfig
    from zkfl.store.artifacts import get_vector

    with tempfile.TemporaryDirectory() as tmp:
        root = keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        # registration and round 0 stay open while 64 clients register and submit, a block per
        # transaction on the devnet (with the default 50-block registration window, the last 14
        # clients' batches would only train from round 1)
        terms = FederationTerms(
            verification=OPTIMISTIC,
            submission_window=1_000,
            challenge_window=5,
            registration_window=1_000,
            updates=PUBLIC,
        )
        kept = (root / "ws" / "zkfl.toml").is_file()
        config = WorkspaceConfig(DIGITS, slots=CLIENTS, terms=terms)
        ws = Workspace.open(root / "ws") if kept else Workspace.init(root / "ws", config)[0]
        build = root / "ws" / "build"
        if not build.exists():
            cache.mkdir(parents=True, exist_ok=True)
            build.symlink_to(cache.resolve(), target_is_directory=True)
        try:
            files = write_iid_shards(root / "data", CLIENTS)
            outcome = run_federation(
                ws, files, rounds=rounds, seed=0, progress=log, executor=executor_named(executor_name, cpus_per_client)
            )
            report = outcome.rounds[-1]
            coordinator = ws.coordinator()
            chain = ws.chain
            accepted = coordinator.accepted_updates(report.round)
            # round 0 writes some storage words for the first time; later rounds rewrite them
            rounds_gas = [round_gas(chain, coordinator, closed) for closed in coordinator.finalized_rounds()]
            every_round = [entry for entry, _ in rounds_gas]
            last, finalization = rounds_gas[-1]
            updates = np.stack([get_vector(ws.store, u.cid) for u in sorted(accepted, key=lambda u: u.slot)])
            if last["accepted"] != CLIENTS or len(updates) != CLIENTS:
                raise RuntimeError(f"the round finalized {last['accepted']} updates, not {CLIENTS}")
            with open_proof(ws, report.round) as proof:
                bare = bare_verify(chain, ws.signer("owner"), coordinator.aggregator_verifier, proof)
            audit = audit_federation(chain.rpc_url, coordinator.address, ws.store.root, AuditOptions())
            result = {
                "shape": "digits",
                "verification": OPTIMISTIC,
                "clients": CLIENTS,
                "executor": executor_name,
                "client_logrows": outcome.client_logrows,
                "aggregator_logrows": outcome.aggregator_logrows,
                "round": report.round,
                "round_wall_seconds": report.wall_seconds,
                "client_prove_seconds_median": round(statistics.median(report.prove_seconds.values()), 2),
                "aggregation_seconds": report.aggregate_seconds,
                "submission_gas": last["submission_gas"],
                "finalization": finalization,
                "bare_aggregator_verify": bare,
                "coordinator_overhead_per_finalization": finalization["gas"] - bare["gas"],
                "amortized_per_accepted_update": last["amortized_per_accepted_update"],
                "every_round": every_round,
                "audit_passed": audit.ok,
                "audit_checks": len(audit.checks),
                "audit_failures": [f"{f.check} {f.scope}: {f.detail}" for f in audit.failures][:5],
            }
            return result, updates
        finally:
            ws.stop_devnet()


def open_proof(ws: Any, round_no: int) -> Any:
    from zkfl.pipeline.round_model import stored_proof

    record = ws.read_record(ws.round_record_path(round_no))
    return stored_proof(ws.store, record["proof_cid"])


# ------------------------------------------------------------------------------------- circuits
def _prove_in_child(keys: CircuitKeys, inputs: list[np.ndarray], repeats: int, queue: Any) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        seconds = []
        for i in range(repeats):
            start = time.perf_counter()
            run = prove(keys, inputs, Path(tmp) / f"proof-{i}.json")  # verified before it is written
            seconds.append(time.perf_counter() - start)
        queue.put(
            {
                "seconds": seconds,
                "proof": run.proof.data,
                "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            }
        )


def measure(keys: CircuitKeys, inputs: list[np.ndarray], repeats: int, chain: Any, owner: Any, cache: Path) -> dict:
    """Rows, key sizes, prove times (each proof verified) and peak memory, and verifier gas."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_prove_in_child, args=(keys, inputs, repeats, queue))
    child.start()
    result = queue.get()
    child.join()
    verifier = deploy_circuit_verifier(chain, owner, keys, cache)
    gas = bare_verify(chain, owner, verifier.address, Proof(Path("in-memory"), result["proof"]))
    return {
        "rows": keys.circuit.num_rows,
        "logrows": keys.circuit.logrows,
        "pk_bytes": keys.pk_path.stat().st_size,
        "vk_bytes": keys.vk_path.stat().st_size,
        "prove_seconds": [round(s, 2) for s in result["seconds"]],
        "prove_median_seconds": round(statistics.median(result["seconds"]), 2),
        "peak_rss_bytes": result["peak_rss_bytes"],
        "verify_gas": gas["gas"],
        "proof_bytes": len(result["proof"]),
    }


def summed(updates: np.ndarray, k: int) -> np.ndarray:
    """The sum of K updates: the first K of the real ones, repeated when K exceeds them."""
    return update_sum([updates[i % len(updates)] for i in range(k)])


def before_part(updates: np.ndarray, before: Path, cache: Path, repeats: int) -> dict:
    """Today's K-input FedAvg, built and proven by the checkout at `before` (its own code)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "updates.npy"
        np.save(path, updates)
        env = os.environ | {"PYTHONPATH": str(before.resolve())}
        script = Path(__file__).parent / "fedavg_before.py"
        done = subprocess.run(
            [sys.executable, str(script), str(path), str(cache / "before"), str(repeats)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"today's FedAvg at {before} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if Path(result["zkfl_from"]).resolve() != before.resolve():
        raise RuntimeError(f"the before run imported zkfl from {result['zkfl_from']}, not {before}")
    return result


def round_gas(chain: Any, coordinator: Any, closed: Any) -> tuple[dict[str, Any], dict[str, int]]:
    """A finalized round's gas: its submissions (median, min, max), its finalization (traced: the
    verifier returned true) and the two per accepted update; and the finalization's full figures."""
    gas = [
        chain.w3.eth.get_transaction_receipt(u.tx_hash)["gasUsed"] for u in coordinator.accepted_updates(closed.round)
    ]
    final = measured(chain, chain.w3.eth.get_transaction_receipt(closed.tx_hash), coordinator.aggregator_verifier)
    median = int(statistics.median(gas))
    entry = {
        "round": closed.round,
        "accepted": closed.accepted_updates,
        "submission_gas": {"median": median, "min": min(gas), "max": max(gas)},
        "finalization_gas": final["gas"],
        "amortized_per_accepted_update": round(median + final["gas"] / closed.accepted_updates),
    }
    return entry, final


def circuits_part(updates: np.ndarray, cache: Path, repeats: int, before: Path | None) -> dict[str, Any]:
    Account.enable_unaudited_hdwallet_features()
    owner = Account.from_mnemonic(DEV_MNEMONIC, account_path="m/44'/60'/0'/0/0")
    circuits = build_circuits(DIGITS, CLIENTS, cache)
    report: dict[str, Any] = {"shape": "digits", "real_updates": len(updates), "summed": []}
    with tempfile.TemporaryDirectory() as devnet_dir:
        devnet = start_devnet(devnet_dir)
        try:
            chain = connect(devnet.rpc_url, devnet.chain_id)
            for k in SUMMED:
                log(f"FedAvg over the sum of K = {k} updates")
                figures = measure(circuits.aggregator, [summed(updates, k)], repeats, chain, owner, cache)
                report["summed"].append({"K": k} | figures)
                log(json.dumps(report["summed"][-1]))
        finally:
            stop_devnet(devnet_dir)
    # the aggregator checks every update it sums against the commitment the chain accepted for it
    key = circuits.commitments
    start = time.perf_counter()
    for update in updates:
        key.commitment_hash(update)
    report["commitment_check_seconds_per_update"] = round((time.perf_counter() - start) / len(updates), 3)
    start = time.perf_counter()
    summed(updates, 10_000)
    report["sum_of_10000_updates_seconds"] = round(time.perf_counter() - start, 3)
    by_k = {row["K"]: row for row in report["summed"]}
    report["k1024_over_k4"] = round(by_k[1_024]["prove_median_seconds"] / by_k[4]["prove_median_seconds"], 3)
    if before is not None:
        log(f"today's K = 4 FedAvg, from {before}")
        report["before_k4"] = before_part(updates[:4], before, cache, repeats)
        report["k1024_over_before_k4"] = round(
            by_k[1_024]["prove_median_seconds"] / report["before_k4"]["prove_median_seconds"], 3
        )
        log(json.dumps(report["before_k4"]))
    return report


# ------------------------------------------------------------------------------------- projection
BLOCK_GAS = 30_000_000
PROJECTED = (8, 64, 1_000, 10_000)


def projection(run: dict[str, Any], circuits: dict[str, Any] | None, gas: dict[str, Any] | None) -> dict[str, Any]:
    """Per N: gas per round and per accepted update, from measured submissions and finalizations."""
    optimistic_submit = run["submission_gas"]["median"]
    optimistic_final = run["finalization"]["gas"]
    eager = gas["federations"][0] if gas and gas.get("federations") else None
    rows = []
    for n in PROJECTED:
        row: dict[str, Any] = {"clients": n, "proofs_per_round": n + 1}
        round_gas = n * optimistic_submit + optimistic_final
        row["optimistic"] = {
            "gas_per_round": round_gas,
            "amortized_per_accepted_update": round(round_gas / n),
            "blocks_of_gas_per_round": round(round_gas / BLOCK_GAS, 2),
        }
        if eager:
            round_gas = n * eager["submission"]["gas_median"] + eager["finalization"]["gas"]
            row["eager"] = {
                "gas_per_round": round_gas,
                "amortized_per_accepted_update": round(round_gas / n),
                "blocks_of_gas_per_round": round(round_gas / BLOCK_GAS, 2),
            }
        if circuits:
            prove_seconds = circuits["summed"][-1]["prove_median_seconds"]
            checks = n * circuits["commitment_check_seconds_per_update"]
            row["aggregator_seconds"] = {
                "check_each_update_against_its_commitment": round(checks, 1),
                "prove_fedavg": prove_seconds,
                "total_one_process": round(checks + prove_seconds, 1),
            }
        rows.append(row)
    return {
        "from": {
            "optimistic_submission_gas": optimistic_submit,
            "optimistic_finalization_gas": optimistic_final,
            "eager_submission_gas": eager["submission"]["gas_median"] if eager else None,
            "eager_finalization_gas": eager["finalization"]["gas"] if eager else None,
            "client_prove_seconds": run["client_prove_seconds_median"],
        },
        "rows": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["all", "run", "circuits", "projection"], default="all")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=1, help="run part: rounds; the last one is reported")
    parser.add_argument("--executor", choices=["serial", "ray"], default="serial")
    parser.add_argument("--cpus-per-client", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="run part: keep the federation (workspace, data) in this directory")
    parser.add_argument("--updates", type=Path, help="circuits part: the run's updates (.npy), when run apart")
    parser.add_argument("--save-updates", type=Path, help="run part: also write the updates (.npy) here")
    parser.add_argument("--before", type=Path, help="circuits part: a checkout of the commit before, for today's K = 4")
    parser.add_argument("--from", dest="inputs", type=Path, action="append", default=[], help="reports written earlier")
    parser.add_argument("--cache", type=Path, default=Path(".zkfl-cache/bench"))
    args = parser.parse_args()
    report: dict[str, Any] = {}
    for path in args.inputs:
        report |= json.loads(path.read_text())
    updates = np.load(args.updates) if args.updates else None
    if args.part in ("all", "run"):
        report["run"], updates = run_part(args.cache, args.executor, args.cpus_per_client, args.keep, args.rounds)
        if args.save_updates:
            np.save(args.save_updates, updates)
    if args.part in ("all", "circuits"):
        if updates is None:
            parser.error("the circuits part needs the run's updates: --part all, or --updates FILE from --save-updates")
        report["circuits"] = circuits_part(updates, args.cache, args.repeats, args.before)
    if args.part in ("all", "projection"):
        report["projection"] = projection(report["run"], report.get("circuits"), report)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
