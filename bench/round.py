"""Round-time benchmark: one federation on the digits data (examples/digits.py's split), set up
untimed, then R full rounds timed end to end (N proofs, N submissions, the aggregation proof,
finalize), printed as JSON with medians. Run it alone: proving uses every core.

    python bench/round.py [--clients 4] [--rounds 3] [--batch 8] [--steps 2] [--workspace DIR]
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

from digits import write_data  # noqa: E402

from zkfl.circuits import TrainingStepSpec  # noqa: E402
from zkfl.pipeline import run_federation, setup_federation  # noqa: E402
from zkfl.workspace import Workspace, WorkspaceConfig  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workspace", type=Path, default=Path("runs/bench-round"))
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--lr", type=float, default=0.5)
    args = parser.parse_args()
    logging.getLogger("ezkl").setLevel(logging.ERROR)
    config = WorkspaceConfig(TrainingStepSpec(batch_size=args.batch, local_steps=args.steps, learning_rate=args.lr),
                             slots=args.clients)
    ws, _ = Workspace.init(args.workspace, config)
    files, _ = write_data(ws.root / "data", args.clients, alpha=0.5, seed=0)
    start = time.perf_counter()
    setup = setup_federation(ws)
    setup_s = time.perf_counter() - start
    try:
        outcome = run_federation(ws, files, args.rounds, seed=0)
    finally:
        ws.stop_devnet()
    timed = [r for r in outcome.rounds if r.wall_seconds is not None]
    print(json.dumps({
        "config": {"clients": args.clients, "batch": args.batch, "local_steps": args.steps},
        "client_logrows": setup.client_logrows, "aggregator_logrows": setup.aggregator_logrows,
        "setup_seconds": round(setup_s, 1), "rounds_timed": len(timed),
        "round_wall_seconds": [r.wall_seconds for r in timed],
        "round_wall_median_s": statistics.median(r.wall_seconds for r in timed) if timed else None,
        "client_prove_median_s": statistics.median(s for r in timed for s in r.prove_seconds.values()) if timed else None,
        "aggregate_prove_median_s": statistics.median(r.aggregate_seconds for r in timed) if timed else None,
        "submit_gas_median": statistics.median(g for r in timed for g in r.submit_gas.values()) if timed else None,
        "finalize_gas_median": statistics.median(r.finalize_gas for r in timed) if timed else None,
    }, indent=2))


if __name__ == "__main__":
    main()
