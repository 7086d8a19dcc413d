"""Round-time benchmark: one federation on the digits data (examples/digits.py's split), set up
untimed, then R full rounds timed end to end (N proofs, N submissions, the aggregation proof,
finalize), printed as JSON with medians. Run it alone: proving uses every core.

    python bench/round.py [--clients 4] [--rounds 3] [--batch 16] [--steps 1] [--lr 1.5] [--workspace DIR]
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import time
from pathlib import Path

from zkfl.circuits import TrainingStepSpec
from zkfl.data.datasets import write_digits
from zkfl.federation.terms import PUBLIC, FederationTerms
from zkfl.pipeline import run_federation, setup_federation
from zkfl.pipeline.workspace import Workspace, WorkspaceConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workspace", type=Path, default=Path("runs/bench-round"))
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=1)
    parser.add_argument("--lr", type=float, default=1.5)
    args = parser.parse_args()
    logging.getLogger("ezkl").setLevel(logging.ERROR)
    config = WorkspaceConfig(
        TrainingStepSpec(batch_size=args.batch, local_steps=args.steps, learning_rate=args.lr),
        slots=args.clients,
        terms=FederationTerms(updates=PUBLIC),  # the round of public updates; bench/privacy.py measures masking
    )
    ws, _ = Workspace.init(args.workspace, config)
    files, _ = write_digits(ws.root / "data", args.clients, alpha=0.5, seed=0)
    start = time.perf_counter()
    setup = setup_federation(ws)
    setup_s = time.perf_counter() - start
    try:
        outcome = run_federation(ws, files, args.rounds, seed=0)
    finally:
        ws.stop_devnet()
    timed = [r for r in outcome.rounds if r.wall_seconds is not None]
    # A real federation's clients prove in parallel on their own machines: its round takes the
    # slowest client proof, the aggregation proof and everything else the round did (chain, store).
    critical = [max(r.prove_seconds.values()) + r.wall_seconds - sum(r.prove_seconds.values()) for r in timed]
    print(
        json.dumps(
            {
                "config": {"clients": args.clients, "batch": args.batch, "local_steps": args.steps, "lr": args.lr},
                "client_logrows": setup.client_logrows,
                "aggregator_logrows": setup.aggregator_logrows,
                "setup_seconds": round(setup_s, 1),
                "rounds_timed": len(timed),
                "round_wall_seconds": [r.wall_seconds for r in timed],
                "round_wall_median_s": statistics.median(r.wall_seconds for r in timed) if timed else None,
                "critical_path_median_s": round(statistics.median(critical), 2) if timed else None,
                "client_prove_median_s": statistics.median(s for r in timed for s in r.prove_seconds.values())
                if timed
                else None,
                "aggregate_prove_median_s": statistics.median(r.aggregate_seconds for r in timed) if timed else None,
                "submit_gas_median": statistics.median(g for r in timed for g in r.submit_gas.values())
                if timed
                else None,
                "finalize_gas_median": statistics.median(r.finalize_gas for r in timed) if timed else None,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
