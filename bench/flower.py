"""Flower vs `zkfl run`: the digits federation (the example's shapes, 4 clients) for R rounds with
`zkfl run` (clients proven one after another, every core each), then on Flower's simulation engine
(`scripts/flower-sim.sh`: `flwr run`, Ray backend) once per CPUS_PER_CLIENT value. Ray runs
floor(cores / CPUS_PER_CLIENT) client apps at once, each prover with CPUS_PER_CLIENT threads.

Each run has its own fresh workspace and devnet; all share one build directory, so set-up
(compile, keys) is paid once and never timed. Printed as JSON:

- round wall times and their medians, all rounds and from round 2 on (Flower's first round also
  starts the Ray workers and registers the clients, which `zkfl run` does before its rounds);
- for Flower, each round split into the client apps' train handlers (longest, sum) and the
  strategy's aggregation; with one client app at a time, what is left is Flower's and Ray's
  overhead (messages, scheduling): round - sum of handlers - aggregation;
- the ratio of each Flower median to `zkfl run`'s, and the parallel speed-up (the slowest CPUS
  value's median over each one's);
- whether every run finalized the same model (the chain's commitment after round R).

    python bench/flower.py [--rounds 3] [--cpus 2 --cpus 1] [--root runs/bench-flower]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import statistics
import subprocess
import tomllib
from pathlib import Path
from typing import Any

from zkfl.circuits import LogisticRegression, TrainingStepSpec
from zkfl.data.datasets import write_digits
from zkfl.federation.terms import PRIVATE, FederationTerms
from zkfl.pipeline import run_federation
from zkfl.pipeline.workspace import Workspace, WorkspaceConfig

APP = Path("examples/flower-digits")


def app_config() -> dict[str, Any]:
    return tomllib.loads((APP / "pyproject.toml").read_text())["tool"]["flwr"]["app"]["config"]


def fresh_workspace(root: Path, config: dict[str, Any]) -> Workspace:
    """The example's workspace (the config its ServerApp writes), on the shared build directory."""
    spec = TrainingStepSpec(
        LogisticRegression(64, 10),
        int(config["batch-size"]),
        int(config["local-steps"]),
        float(config["learning-rate"]),
    )
    shutil.rmtree(root, ignore_errors=True)
    terms = FederationTerms(updates=str(config.get("updates", PRIVATE)))
    ws, _ = Workspace.init(root, WorkspaceConfig(spec, slots=int(config["clients"]), terms=terms))
    shared = root.parent / "build"
    shared.mkdir(parents=True, exist_ok=True)
    (root / "build").symlink_to(shared.resolve(), target_is_directory=True)
    return ws


def final_model(ws: Workspace) -> str:
    coordinator = ws.coordinator()
    return hex(coordinator.round(coordinator.current_round).model_hash)


def median(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def bench_zkfl_run(root: Path, config: dict[str, Any], rounds: int) -> dict[str, Any]:
    ws = fresh_workspace(root / "zkfl-run", config)
    files, _ = write_digits(ws.root / "data", int(config["clients"]), float(config["alpha"]), int(config["seed"]))
    try:
        outcome = run_federation(ws, files, rounds, batches=rounds, seed=int(config["seed"]))
        model = final_model(ws)
    finally:
        ws.stop_devnet()
    walls = [r.wall_seconds for r in outcome.rounds if r.wall_seconds is not None]
    return {
        "round_wall_s": walls,
        "median_s": median(walls),
        "median_from_round_2_s": median(walls[1:]),
        "client_prove_median_s": median([s for r in outcome.rounds for s in r.prove_seconds.values()]),
        "aggregate_prove_median_s": median([r.aggregate_seconds for r in outcome.rounds]),
        "final_model": model,
    }


def bench_flower(root: Path, config: dict[str, Any], rounds: int, cpus: int) -> dict[str, Any]:
    ws = fresh_workspace(root / f"flower-cpus{cpus}", config)
    log = root / f"flower-cpus{cpus}.log"
    with log.open("w") as out:
        done = subprocess.run(
            ["bash", "scripts/flower-sim.sh", str(rounds), str(cpus)],
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
            env={**os.environ, "ZKFL_WORKSPACE": str(ws.root)},
        )
    if done.returncode != 0:
        raise SystemExit(f"flwr run failed (exit {done.returncode}); see {log}")
    report = json.loads((ws.reports_dir / "flower.json").read_text())
    metrics = [report["train_metrics"][str(r)] for r in range(1, rounds + 1)]
    walls = [m["round-seconds"] for m in metrics]
    # with one client app at a time, the round is its handlers + the aggregation + overhead
    serial = cpus >= (os.cpu_count() or 1)
    overhead = [round(m["round-seconds"] - m["client-seconds-sum"] - m["aggregate-seconds"], 2) for m in metrics]
    model = final_model(ws)
    ws.stop_devnet()
    return {
        "cpus_per_client": cpus,
        "round_wall_s": walls,
        "median_s": median(walls),
        "median_from_round_2_s": median(walls[1:]),
        "client_train_max_s": [m["client-seconds-max"] for m in metrics],
        "client_train_sum_s": [m["client-seconds-sum"] for m in metrics],
        "aggregate_s": [m["aggregate-seconds"] for m in metrics],
        "replies_kept": [m["replies-kept"] for m in metrics],
        "overhead_s": overhead if serial else None,
        "overhead_median_s": median(overhead) if serial else None,
        "final_model": model,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=Path("runs/bench-flower"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cpus", type=int, action="append", help="CPUs per client app (repeatable)")
    args = parser.parse_args()
    logging.getLogger("ezkl").setLevel(logging.ERROR)
    cpus = args.cpus or sorted({os.cpu_count() or 1, 1}, reverse=True)
    config = app_config()
    root = args.root.resolve()
    reference = bench_zkfl_run(root, config, args.rounds)
    flower = {f"cpus_per_client_{c}": bench_flower(root, config, args.rounds, c) for c in cpus}
    slowest = max(run["median_s"] for run in flower.values())
    print(
        json.dumps(
            {
                "config": {
                    "clients": int(config["clients"]),
                    "batch": int(config["batch-size"]),
                    "local_steps": int(config["local-steps"]),
                    "rounds": args.rounds,
                    "cores": os.cpu_count(),
                },
                "zkfl_run": reference,
                "flower": flower,
                "flower_over_zkfl_run": {
                    name: round(run["median_s"] / reference["median_s"], 3) for name, run in flower.items()
                },
                "flower_over_zkfl_run_from_round_2": {
                    name: round(run["median_from_round_2_s"] / reference["median_from_round_2_s"], 3)
                    for name, run in flower.items()
                    if len(run["round_wall_s"]) > 1
                },
                "parallel_speedup": {name: round(slowest / run["median_s"], 3) for name, run in flower.items()},
                "same_final_model": len({reference["final_model"], *(run["final_model"] for run in flower.values())})
                == 1,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
