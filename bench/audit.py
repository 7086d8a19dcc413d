"""Audit benchmark: `zkfl audit` of a finished federation (by default the example federation of
`make demo`, 10 rounds x 4 clients), each repetition in a fresh process that is given only the RPC
URL, the coordinator address and the store. Prints JSON: wall seconds per run and their median, the
audit's own total, per-proof off-chain verify times (client and aggregation) and the check count.
Run it alone on the machine.

    python bench/audit.py [--workspace runs/digits] [--repeat 3] [--offchain-only]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from zkfl.pipeline.workspace import Workspace

ZKFL = str(Path(sys.executable).with_name("zkfl"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workspace", type=Path, default=Path("runs/digits"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--offchain-only", action="store_true")
    args = parser.parse_args()
    ws = Workspace.open(args.workspace)
    rpc_url = ws.chain.rpc_url  # starts the workspace's devnet from its saved state
    coordinator = ws.deployment()["coordinator"]
    command = [
        ZKFL,
        "audit",
        "--rpc-url",
        rpc_url,
        "--coordinator",
        coordinator,
        "--store",
        str(ws.root / "store"),
        "--json",
        *(["--offchain-only"] if args.offchain_only else []),
    ]
    runs = []
    try:
        for _ in range(args.repeat):
            start = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=False)
            wall = time.perf_counter() - start
            report = json.loads(done.stdout)
            runs.append({"exit_code": done.returncode, "wall_seconds": round(wall, 2), "report": report})
    finally:
        ws.stop_devnet()
    last = runs[-1]["report"]
    client, aggregator = last["timing"]["client_verify_seconds"], last["timing"]["aggregator_verify_seconds"]
    print(
        json.dumps(
            {
                "federation": {
                    k: last["federation"][k]
                    for k in ("coordinator", "rounds_finalized", "rounds_skipped", "slots", "events")
                },
                "ok": [r["report"]["ok"] for r in runs],
                "exit_codes": [r["exit_code"] for r in runs],
                "wall_seconds": [r["wall_seconds"] for r in runs],
                "wall_seconds_median": statistics.median(r["wall_seconds"] for r in runs),
                "audit_total_seconds": [r["report"]["timing"]["total_seconds"] for r in runs],
                "proofs_verified": {"client": len(client), "aggregator": len(aggregator)},
                "client_verify_seconds": {"median": statistics.median(client), "max": max(client)} if client else None,
                "aggregator_verify_seconds": {"median": statistics.median(aggregator), "max": max(aggregator)}
                if aggregator
                else None,
                "checks": len(last["checks"]),
                "failed_checks": len(last["failures"]),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
