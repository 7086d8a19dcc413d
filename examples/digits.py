"""Verifiable federated learning on scikit-learn's bundled digits (no download), end to end on a
local chain the workspace starts itself, with a report.

The training set is split non-IID across the clients (a Dirichlet(alpha) draw per class, fixed
seed). Every round each client proves its local SGD steps from the published global model on one
of the data batches it committed to at registration, and submits the proof on-chain; the
aggregator proves FedAvg of the accepted updates and finalizes the round. The report compares the
proven global model's test accuracy with float FedAvg trained on the very same batches, plots both,
and tabulates prove time, aggregation time and gas per round. Finally `zkfl audit` replays the
whole federation in a fresh process that has only the RPC URL, the coordinator address and the
store (reports/audit/); the script exits 1 if the audit fails.

    python examples/digits.py [--rounds 10] [--clients 4] [--family logreg|mlp] [--workspace DIR]
                              [--verification eager|optimistic] [--updates private|public]
                              [--ipfs-api URL]

Updates are private by default (secure aggregation, docs/privacy.md): each client uploads only
its masked update, and the aggregator unmasks their sum alone; `--updates public` stores each
update in the clear, as before.

With `--verification optimistic` the coordinator accepts each update with its proof's commitments
and SHA-256 only, and a watchtower (`zkfl watch`, its own process and key) verifies every proof
from the store beside the federation, ready to challenge; each round is finalized after its
challenge window. The watchtower's report is reports/watchtower.jsonl.

With `--ipfs-api URL` every artifact (models, updates, proofs, the manifest and SRS, the report)
goes to that IPFS node instead of the workspace's store/, and the watchtower and the auditor read
them from there; `make demo STORE=ipfs` starts a local node (scripts/ipfs.sh) for it.

Re-running continues an interrupted run. Afterwards: `zkfl status -w DIR`, `zkfl verify -w DIR --round 0`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from eth_account import Account

from zkfl.chain.devnet import DEV_MNEMONIC
from zkfl.circuits import LogisticRegression, Mlp, TrainingStepSpec
from zkfl.data.datasets import write_digits
from zkfl.federation.terms import EAGER, OPTIMISTIC, PRIVATE, PUBLIC, FederationTerms
from zkfl.pipeline import run_federation, setup_federation
from zkfl.pipeline.run_report import write_run_report
from zkfl.pipeline.workspace import Workspace, WorkspaceConfig

WATCHTOWER_ACCOUNT = 9  # devnet account index: 0 owner, 1 aggregator, 2.. clients
WATCHTOWER_REPORT = "watchtower.jsonl"  # under the workspace's reports/


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workspace", type=Path, default=Path("runs/digits"))
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--family", choices=["logreg", "mlp"], default="logreg")
    parser.add_argument("--hidden", type=int, default=16, help="hidden units of the MLP")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=1, help="local SGD steps per round")
    parser.add_argument("--lr", type=float, default=1.5)
    parser.add_argument("--alpha", type=float, default=0.5, help="Dirichlet concentration (smaller: less IID)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verification", choices=[EAGER, OPTIMISTIC], default=EAGER)
    parser.add_argument("--updates", choices=[PRIVATE, PUBLIC], default=PRIVATE, help="masked uploads or clear ones")
    parser.add_argument("--ipfs-api", default="", help="IPFS HTTP API URL for artifacts (default: the workspace store)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("ezkl").setLevel(logging.ERROR)  # calibration's fidelity tables

    if args.verification == OPTIMISTIC and args.clients >= WATCHTOWER_ACCOUNT - 1:
        parser.error(
            f"the example's watchtower uses devnet account {WATCHTOWER_ACCOUNT}: at most "
            f"{WATCHTOWER_ACCOUNT - 2} clients with --verification optimistic"
        )
    model = Mlp(features=64, hidden=args.hidden, classes=10) if args.family == "mlp" else LogisticRegression(64, 10)
    config = WorkspaceConfig(
        TrainingStepSpec(model, batch_size=args.batch, local_steps=args.steps, learning_rate=args.lr),
        slots=args.clients,
        terms=FederationTerms(verification=args.verification, updates=args.updates),
        ipfs_api=args.ipfs_api,
    )
    ws, _ = Workspace.init(args.workspace, config)
    data_files, test_file = write_digits(ws.root / "data", args.clients, args.alpha, args.seed)
    watchtower = None
    try:
        if config.terms.optimistic:
            watchtower = start_watchtower(ws, args.rounds)
        outcome = run_federation(
            ws,
            data_files,
            args.rounds,
            eval_file=test_file,
            seed=args.seed,
            progress=lambda step: print(step, flush=True),
        )
        watched = finish_watchtower(watchtower, ws.reports_dir / WATCHTOWER_REPORT) if watchtower else None
        title = f"digits, {args.family}, {args.clients} clients, Dirichlet alpha={args.alpha}"
        cids = write_run_report(outcome, ws.reports_dir, ws.store, title)
        audit = audit_as_outsider(ws, test_file)
    finally:
        if watchtower is not None and watchtower.poll() is None:
            watchtower.kill()
        ws.stop_devnet()  # its state is saved; any zkfl command restarts it
    last = outcome.rounds[-1]
    print(
        json.dumps(
            {
                "report": str(ws.reports_dir / "report.md"),
                "report_cids": cids,
                "rounds": len(outcome.rounds),
                "proven_accuracy": last.proven_accuracy,
                "float_accuracy": last.float_accuracy,
                "audit": {
                    "ok": audit["ok"],
                    "reason": audit["reason"],
                    "seconds": audit["timing"]["total_seconds"],
                    "report": str(ws.reports_dir / "audit" / "audit.md"),
                },
                **({"watchtower": watched} if watched is not None else {}),
            },
            indent=2,
        )
    )
    if not audit["ok"] or (watched is not None and watched["exit_code"] != 0):
        sys.exit(1)


def start_watchtower(ws: Workspace, rounds: int) -> subprocess.Popen:
    """`zkfl watch` beside the federation, in its own process with its own key (a public devnet
    account: devnet only), until the federation's open round reaches `rounds`."""
    setup_federation(ws)  # the watchtower needs the coordinator (run_federation reuses this set-up)
    Account.enable_unaudited_hdwallet_features()
    key = Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{WATCHTOWER_ACCOUNT}").key.hex()
    command = [
        str(Path(sys.executable).with_name("zkfl")),
        "watch",
        "--rpc-url",
        ws.chain.rpc_url,
        "--coordinator",
        ws.deployment()["coordinator"],
        "--store",
        store_location(ws),
        "--until-round",
        str(rounds),
        "--json",
    ]
    ws.reports_dir.mkdir(parents=True, exist_ok=True)
    print(f"watchtower: watching every submission (reports/{WATCHTOWER_REPORT})", flush=True)
    with (ws.reports_dir / WATCHTOWER_REPORT).open("w") as report:  # the child keeps its own handle
        return subprocess.Popen(
            command,
            stdout=report,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "ZKFL_WATCHTOWER_KEY": "0x" + key.removeprefix("0x")},
        )


def finish_watchtower(watchtower: subprocess.Popen, report: Path) -> dict:
    """Wait for the watchtower to check the last round's submissions; what it saw."""
    _, stderr = watchtower.communicate(timeout=600)
    lines = [json.loads(line) for line in report.read_text().splitlines() if line.startswith("{")]
    last = {s["submission_tx"]: s for s in lines if "submission_tx" in s}  # a later line updates a submission
    return {
        "exit_code": watchtower.returncode,
        "checked": len(last),
        "valid": sum(s["verdict"] == "valid" for s in last.values()),
        "challenged": sum(1 for s in last.values() if s.get("challenge_tx")),
        "stderr": stderr[-500:] if stderr else "",
    }


def store_location(ws: Workspace) -> str:
    """Where the federation's artifacts are, for another process: the IPFS API, or the store directory."""
    return ws.config.ipfs_api or str(ws.root / "store")


def audit_as_outsider(ws: Workspace, eval_file: Path) -> dict:
    """`zkfl audit` in a fresh process given only the RPC URL, the coordinator address and the store."""
    command = [
        str(Path(sys.executable).with_name("zkfl")),
        "audit",
        "--rpc-url",
        ws.chain.rpc_url,
        "--coordinator",
        ws.deployment()["coordinator"],
        "--store",
        store_location(ws),
        "--eval",
        str(eval_file),
        "--out",
        str(ws.reports_dir / "audit"),
        "--json",
    ]
    print("auditing the federation from the chain and the store alone", flush=True)
    return json.loads(subprocess.run(command, capture_output=True, text=True, check=False).stdout)


if __name__ == "__main__":
    main()
