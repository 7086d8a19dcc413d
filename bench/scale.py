"""Scale: what an aggregation tree costs, measured, and projected to 1,000 and 10,000 clients.

    python bench/scale.py --part circuits     # leaf and root circuits at the digits shape, G = 4, 8, 16
    python bench/scale.py --part run          # a 64-client tree federation end to end on the devnet
    python bench/scale.py --part projection --from circuits.json --from run.json [--times prove_times.json]
    python bench/scale.py                     # all three; JSON on stdout, progress on stderr

circuits: for each G, the 64-client tree of the digits example (examples/digits.py: logistic
regression 64 -> 10, batch 16, one step): leaves of G slots and a FedAvg root over 64 / G leaves,
compiled at the client circuit's logrows (linked circuits share one). Per circuit: rows, logrows,
proving-key size, prove time (median of --repeats proofs, each verified) and its peak memory (in a
child process), and the verifier's gas for one of those proofs (a bare call that must return true).
Beside them, today's flat K = 8 FedAvg, with and without input range checks (the tree's circuits
skip them), proven the same way. `--export DIR` also writes each circuit with its SRS and input,
for `bench/prove_times.py` to time on another machine (ezkl alone, no zkFL).

run: a federation of 64 clients at the smallest shape (logistic regression 4 -> 2, batch 2), in 8
leaves of 8, on the workspace's devnet: round 0 with all 64 clients, round 1 with 32 (4 leaves),
round 2 with 8 (1 leaf). Leaves run on --executor (serial, or Ray tasks). Per round: wall time,
leaf and root prove times, gas of each leaf and the root (receipts), and an outside audit. The gas
slope per leaf is a least-squares fit over the three rounds.

projection: from those figures, per N in (64, 1,000, 10,000) and G: proofs per round, prover-seconds,
aggregation wall time on P machines, gas per round and per client, key sizes, and the wall. With
`--times`, the prove times are the ones bench/prove_times.py measured on another machine.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import resource
import shutil
import statistics
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
from zkfl.circuits import FedAvgSpec, LogisticRegression, TrainingStepSpec, export_onnx
from zkfl.circuits.aggregation import TreeShape
from zkfl.fixedpoint import quantize
from zkfl.zk.build import CircuitSet, build_circuits
from zkfl.zk.prover import CircuitKeys, Proof, ProverConfig, compile_circuit, prove, setup_keys
from zkfl.zk.srs import DevSrsSource

sys.path.insert(0, str(Path(__file__).parent))
from gas import bare_verify, measured

DIGITS = TrainingStepSpec(LogisticRegression(64, 10), batch_size=16, local_steps=1, learning_rate=1.5)
SMALLEST = TrainingStepSpec(LogisticRegression(4, 2), batch_size=2, local_steps=1, learning_rate=0.5)
FEDERATION = 64
LEAF_SIZES = (4, 8, 16)


def log(message: str) -> None:
    print(f"[scale] {message}", file=sys.stderr, flush=True)


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


def measure(
    keys: CircuitKeys, inputs: list[np.ndarray], repeats: int, chain: Any, owner: Any, cache: Path
) -> dict[str, Any]:
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
        "verifier": verifier.kind,
        "verify_gas": gas["gas"],
        "proof_bytes": len(result["proof"]),
    }


def full_updates(spec: TrainingStepSpec, count: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [quantize(np.append(rng.uniform(-1, 1, spec.num_params), spec.sample_count)) for _ in range(count)]


def export_for_device(directory: Path, name: str, keys: CircuitKeys, inputs: list[np.ndarray]) -> None:
    """The circuit, its SRS and an input, for bench/prove_times.py on another machine."""
    out = directory / name
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy(keys.circuit.compiled_path, out / "circuit.ezkl")
    shutil.copy(keys.circuit.settings_path, out / "settings.json")
    (out / "input.json").write_text(json.dumps({"input_data": [(np.asarray(v) / 4096).tolist() for v in inputs]}))
    srs = directory / f"k{keys.circuit.logrows}.srs"
    if not srs.exists():
        shutil.copy(keys.srs.path, srs)


def flat_today(spec: TrainingStepSpec, slots: int, logrows: int, cache: Path) -> CircuitKeys:
    """Today's flat FedAvg circuit (before the tree): inputs and outputs range-checked."""
    fedavg = FedAvgSpec(spec.num_params, slots, spec.sample_count)
    calibration = fedavg.calibration_inputs()
    import torch

    onnx = export_onnx(
        fedavg.module(),
        [torch.tensor(u, dtype=torch.float32) for u in calibration],
        cache / "onnx" / f"fedavg-today-{slots}.onnx",
        [f"update_{i}" for i in range(slots)],
        ["theta"],
    )
    circuit = compile_circuit("fedavg_today", onnx, [quantize(u) for u in calibration], cache, ProverConfig(), logrows)
    return setup_keys(circuit, DevSrsSource(cache / "srs"), cache)


def circuits_part(cache: Path, repeats: int, export: Path | None) -> dict[str, Any]:
    Account.enable_unaudited_hdwallet_features()
    owner = Account.from_mnemonic(DEV_MNEMONIC, account_path="m/44'/60'/0'/0/0")
    report: dict[str, Any] = {"shape": "digits", "clients": FEDERATION, "trees": [], "flat": {}}
    with tempfile.TemporaryDirectory() as devnet_dir:
        devnet = start_devnet(devnet_dir)
        try:
            chain = connect(devnet.rpc_url, devnet.chain_id)
            logrows = None
            for g in LEAF_SIZES:
                log(f"G = {g}: building the leaf and root circuits")
                circuits: CircuitSet = build_circuits(DIGITS, TreeShape(FEDERATION, g), cache)
                logrows = circuits.client.circuit.logrows
                updates = full_updates(DIGITS, g, g)
                partial = np.sum(updates, axis=0)
                roots = [partial] * circuits.fedavg.slots
                leaf = measure(circuits.leaf, updates, repeats, chain, owner, cache)
                root = measure(circuits.aggregator, roots, repeats, chain, owner, cache)
                report["trees"].append(
                    {"leaf_slots": g, "leaves": FEDERATION // g, "logrows": logrows, "leaf": leaf, "root": root}
                )
                if "client" not in report:
                    client_inputs = [quantize(v) for v in DIGITS.calibration_inputs()]
                    report["client"] = measure(circuits.client, client_inputs, repeats, chain, owner, cache)
                    if export:
                        export_for_device(export, "client", circuits.client, client_inputs)
                log(json.dumps(report["trees"][-1]))
                if export:
                    export_for_device(export, f"leaf-G{g}", circuits.leaf, updates)
                    export_for_device(export, f"root-R{FEDERATION // g}", circuits.aggregator, roots)
            log("flat K = 8, today's and the tree's root circuit")
            flat = build_circuits(DIGITS, 8, cache)
            updates = full_updates(DIGITS, 8, 8)
            report["flat"]["k8_without_range_checks"] = measure(flat.aggregator, updates, repeats, chain, owner, cache)
            today = flat_today(DIGITS, 8, logrows, cache)
            report["flat"]["k8_today"] = measure(today, updates, repeats, chain, owner, cache)
            log(json.dumps(report["flat"]))
            if export:
                export_for_device(export, "flat-K8-today", today, updates)
        finally:
            stop_devnet(devnet_dir)
    return report


# ------------------------------------------------------------------------------------- run
def write_client_data(directory: Path, count: int) -> list[Path]:
    files = []
    for i in range(count):
        rng = np.random.default_rng(100 + i)
        y = rng.integers(0, SMALLEST.classes, size=8)
        x = rng.uniform(0.0, 0.5, size=(8, SMALLEST.features))
        x[np.arange(8), y] += 0.5
        files.append(directory / f"client-{i:02d}.npz")
        np.savez(files[-1], x=x, y=y)
    return files


def run_part(cache: Path, executor_name: str, cpus_per_leaf: int, keep: Path | None) -> dict[str, Any]:
    from zkfl.audit.auditor import AuditOptions, audit_federation
    from zkfl.federation.terms import FederationTerms
    from zkfl.pipeline import prove_update, register_client, setup_federation, submit_update
    from zkfl.pipeline.aggregation import aggregate_round, wait_until_finalizable
    from zkfl.pipeline.devnet_clock import driving_clock
    from zkfl.pipeline.executors import executor_named
    from zkfl.pipeline.workspace import Workspace, WorkspaceConfig

    executor = executor_named(executor_name, cpus_per_leaf)
    rounds_plan = [64, 32, 8]  # clients taking part: 8, 4 and 1 leaves
    with tempfile.TemporaryDirectory() as tmp:
        root = keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        # a round stays open while 64 clients register and submit, one block per transaction on the devnet
        terms = FederationTerms(submission_window=1_000)
        ws, _ = Workspace.init(root / "ws", WorkspaceConfig(SMALLEST, slots=FEDERATION, leaf_slots=8, terms=terms))
        if not (root / "ws" / "build").exists():
            (root / "ws" / "build").symlink_to(cache.resolve(), target_is_directory=True)
        try:
            files = write_client_data(root, FEDERATION)
            start = time.perf_counter()
            setup = setup_federation(ws, log)
            names = [f.stem for f in files]
            for i, (name, path) in enumerate(zip(names, files, strict=True)):
                register_client(ws, name, path, len(rounds_plan), seed=i)
            setup_seconds = time.perf_counter() - start
            rounds = []
            for round_no, taking_part in enumerate(rounds_plan):
                start = time.perf_counter()
                for name in names[:taking_part]:
                    prove_update(ws, name)
                    submit_update(ws, name)
                clients_seconds = time.perf_counter() - start
                wait_until_finalizable(ws, round_no, clock=driving_clock(ws))
                start = time.perf_counter()
                outcome = aggregate_round(ws, log, executor)
                coordinator = ws.coordinator()
                leaf_gas = [_accepted_gas(ws, leaf["tx"], coordinator.leaf_verifier) for leaf in outcome.leaves]
                root_tx = coordinator.finalized_rounds()[-1].tx_hash
                root_gas = _accepted_gas(ws, root_tx, coordinator.aggregator_verifier)
                rounds.append(
                    {
                        "round": round_no,
                        "clients": taking_part,
                        "leaves": len(outcome.leaves),
                        "clients_seconds": round(clients_seconds, 1),
                        "aggregation_seconds": round(time.perf_counter() - start, 1),
                        "leaf_done_after_seconds": [leaf.get("done_after_seconds") for leaf in outcome.leaves],
                        "root_prove_seconds": outcome.prove_seconds,
                        "leaf_gas": leaf_gas,
                        "root_gas": root_gas,
                        "round_gas": sum(leaf_gas) + root_gas,
                    }
                )
                if round_no == 0:  # the coordinator's own part: the same proofs straight to their verifiers
                    owner = ws.signer("owner")
                    bare_leaf = _bare(ws, owner, outcome.leaves[0]["proof_cid"], coordinator.leaf_verifier)
                    bare_root = _bare(ws, owner, outcome.proof_cid, coordinator.aggregator_verifier)
                    overhead = {
                        "leaf_tx": leaf_gas[0] - bare_leaf,
                        "root_tx": root_gas - bare_root,
                        "bare_leaf_verify": bare_leaf,
                        "bare_root_verify": bare_root,
                    }
                log(json.dumps(rounds[-1]))
            submissions = [r["gasUsed"] for r in _submission_receipts(ws)]
            coordinator = ws.coordinator()
            audit = audit_federation(ws.chain.rpc_url, coordinator.address, ws.store.root, AuditOptions())
            slope, intercept = np.polyfit([r["leaves"] for r in rounds], [r["round_gas"] for r in rounds], 1)
            return {
                "shape": "smallest",
                "clients": FEDERATION,
                "leaf_slots": 8,
                "executor": executor_name,
                "logrows": setup.client_logrows,
                "setup_seconds": round(setup_seconds, 1),
                "rounds": rounds,
                "submission_gas_median": int(statistics.median(submissions)),
                "round_gas_per_leaf": int(slope),
                "round_gas_intercept": int(intercept),
                "coordinator_overhead_gas": overhead,
                "audit_passed": audit.ok,
                "audit_checks": len(audit.checks),
                "audit_failures": [f"{f.check} {f.scope}: {f.detail}" for f in audit.failures][:5],
            }
        finally:
            ws.stop_devnet()


def _accepted_gas(ws: Any, tx_hash: str, verifier: str) -> int:
    """Gas of a transaction whose call to `verifier` returned true (else the bench stops)."""
    return measured(ws.chain, ws.chain.w3.eth.get_transaction_receipt(tx_hash), verifier)["gas"]


def _bare(ws: Any, signer: Any, proof_cid: str, verifier: str) -> int:
    from zkfl.pipeline.round_model import stored_proof

    with stored_proof(ws.store, proof_cid) as proof:
        return bare_verify(ws.chain, signer, verifier, proof)["gas"]


def _submission_receipts(ws: Any) -> list[dict]:
    coordinator = ws.coordinator()
    return [ws.chain.w3.eth.get_transaction_receipt(u.tx_hash) for u in coordinator.accepted_updates()]


# ------------------------------------------------------------------------------------- projection
BLOCK_GAS = 30_000_000
CLIENTS = (64, 1_000, 10_000)
MACHINES = (1, 8, 64)


def _fit(points: list[tuple[float, float]]) -> tuple[float, float]:
    """Least-squares (slope, intercept) of y over x."""
    slope, intercept = np.polyfit([p[0] for p in points], [p[1] for p in points], 1)
    return float(slope), float(intercept)


def projection(circuits: dict[str, Any], run: dict[str, Any] | None, client_seconds: float | None) -> dict[str, Any]:
    """Per N and G: leaves of G slots, then (past what one root holds) levels of inner nodes, each
    the leaf circuit again over G partial sums, under one root. Root figures are lines through the
    measured roots (R = 64 / G inputs) at the shared logrows; the largest root that fits there,
    R_max, sets where depth 2 ends. This code base implements depth 2 (leaves and root); deeper
    rows are the cost model of inner nodes, which need no new circuit."""
    trees = circuits["trees"]
    logrows = trees[0]["logrows"]
    root_fit = {
        key: _fit([(t["leaves"], t["root"][key]) for t in trees])
        for key in ("rows", "prove_median_seconds", "pk_bytes", "verify_gas")
    }
    rows_slope, rows_intercept = root_fit["rows"]
    root_max = int((2**logrows - rows_intercept) / rows_slope)  # inputs of the largest root at the shared logrows
    overhead = run["coordinator_overhead_gas"] if run else None
    submission = run["submission_gas_median"] if run else None

    def root(key: str, inputs: int) -> float:
        slope, intercept = root_fit[key]
        return slope * inputs + intercept

    out = []
    for n in CLIENTS:
        for tree in trees:
            g, leaf = tree["leaf_slots"], tree["leaf"]
            levels = [math.ceil(n / g)]  # sum nodes per level: leaves, then inner nodes
            while levels[-1] > root_max:
                levels.append(math.ceil(levels[-1] / g))
            inputs, sums = levels[-1], sum(levels)
            row = {
                "clients": n,
                "leaf_slots": g,
                "depth": len(levels) + 1,
                "sum_nodes_per_level": levels,
                "root_inputs": inputs,
                "implemented": len(levels) == 1,
                "proofs_per_round": n + sums + 1,
                "keys_pk_bytes": int(leaf["pk_bytes"] + root("pk_bytes", inputs)),
                "aggregation_prover_seconds": round(
                    sums * leaf["prove_median_seconds"] + root("prove_median_seconds", inputs), 1
                ),
            }
            if client_seconds is not None:
                row["prover_seconds_with_clients"] = round(row["aggregation_prover_seconds"] + n * client_seconds, 1)
            row["aggregation_wall_seconds"] = {
                p: round(
                    sum(math.ceil(nodes / p) for nodes in levels) * leaf["prove_median_seconds"]
                    + root("prove_median_seconds", inputs),
                    1,
                )
                for p in MACHINES
            }
            if overhead is not None:
                node_tx = leaf["verify_gas"] + overhead["leaf_tx"]
                root_tx = root("verify_gas", inputs) + overhead["root_tx"]
                round_gas = sums * node_tx + root_tx + n * submission
                row |= {
                    "gas_per_round": int(round_gas),
                    "gas_per_client": int(round_gas / n),
                    "blocks_of_gas_per_round": round(round_gas / BLOCK_GAS, 2),
                }
            out.append(row)
    return {
        "shared_logrows": logrows,
        "root_max_inputs": root_max,
        "root_fit": root_fit,
        "coordinator_overhead_gas": overhead,
        "submission_gas": submission,
        "client_prove_seconds": client_seconds,
        "rows": out,
    }


def use_times(circuits: dict[str, Any], times: dict[str, Any]) -> None:
    """Replace the circuits' prove times with those of bench/prove_times.py (by exported name)."""
    medians = {c["circuit"]: c["prove_median_seconds"] for c in times["circuits"]}
    for tree in circuits["trees"]:
        tree["leaf"]["prove_median_seconds"] = medians[f"leaf-G{tree['leaf_slots']}"]
        tree["root"]["prove_median_seconds"] = medians[f"root-R{tree['leaves']}"]
    circuits["client"]["prove_median_seconds"] = medians["client"]
    circuits["flat"]["k8_today"]["prove_median_seconds"] = medians["flat-K8-today"]
    circuits["times_from"] = f"bench/prove_times.py on {times['cpus']} CPUs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["all", "circuits", "run", "projection"], default="all")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--executor", choices=["serial", "ray"], default="ray")
    parser.add_argument("--cpus-per-leaf", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="run part: keep the federation (workspace, data) in this directory")
    parser.add_argument("--export", type=Path, help="circuits part: also export circuits for bench/prove_times.py")
    parser.add_argument(
        "--from",
        dest="inputs",
        type=Path,
        action="append",
        default=[],
        help="projection part: a circuits and a run report written earlier",
    )
    parser.add_argument("--client-seconds", type=float, help="projection: one digits client proof, seconds")
    parser.add_argument("--times", type=Path, help="projection: prove times from bench/prove_times.py")
    parser.add_argument("--cache", type=Path, default=Path(".zkfl-cache/bench"))
    args = parser.parse_args()
    report: dict[str, Any] = {}
    for path in args.inputs:
        report |= json.loads(path.read_text())
    if args.part in ("all", "circuits"):
        report["circuits"] = circuits_part(args.cache, args.repeats, args.export)
    if args.part in ("all", "run"):
        report["run"] = run_part(args.cache, args.executor, args.cpus_per_leaf, args.keep)
    if args.times:
        use_times(report["circuits"], json.loads(args.times.read_text()))
    if args.part in ("all", "projection"):
        client = report["circuits"].get("client", {}).get("prove_median_seconds")
        report["projection"] = projection(report["circuits"], report.get("run"), args.client_seconds or client)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
