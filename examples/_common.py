"""What the example federations share: their common flags, the workspace, the proven run, its
report, an optional watchtower, and the outsider's audit. An example says only what it trains on
(its data writer, its model and hyperparameters); this module runs it end to end, the same way
for every dataset, and exits 1 if the audit (or the watchtower) fails."""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from eth_account import Account

from zkfl.chain.devnet import DEV_MNEMONIC
from zkfl.circuits import ModelFamily, TrainingStepSpec
from zkfl.data.evaluation import float_fedavg_curve
from zkfl.federation.terms import EAGER, OPTIMISTIC, PRIVATE, PUBLIC, FederationTerms
from zkfl.pipeline import RunOutcome, run_federation, setup_federation
from zkfl.pipeline.run_report import write_run_report
from zkfl.pipeline.workspace import Workspace, WorkspaceConfig
from zkfl.zk.prover import ProverConfig

WATCHTOWER_ACCOUNT = 9  # devnet account index: 0 owner, 1 aggregator, 2.. clients
WATCHTOWER_REPORT = "watchtower.jsonl"  # under the workspace's reports/

DataWriter = Callable[[Path], tuple[list[Path], Path]]
"""Writes the clients' .npz files and the test set into a directory; returns (client files, test file)."""


def example_parser(
    doc: str | None, workspace: Path, clients: int, batch: int, steps: int, lr: float
) -> argparse.ArgumentParser:
    """The flags every example takes, with that example's defaults."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workspace", type=Path, default=workspace)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--clients", type=int, default=clients)
    parser.add_argument("--batch", type=int, default=batch)
    parser.add_argument("--steps", type=int, default=steps, help="local SGD steps per round")
    parser.add_argument("--lr", type=float, default=lr)
    parser.add_argument("--alpha", type=float, default=0.5, help="Dirichlet concentration (smaller: less IID)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verification", choices=[EAGER, OPTIMISTIC], default=EAGER)
    parser.add_argument("--updates", choices=[PRIVATE, PUBLIC], default=PRIVATE, help="masked uploads or clear ones")
    parser.add_argument("--ipfs-api", default="", help="IPFS HTTP API URL for artifacts (default: the workspace store)")
    parser.add_argument(
        "--float-rounds", type=int, default=0, help="also report float FedAvg's accuracy curve to this many rounds"
    )
    parser.add_argument(
        "--inner-cols",
        type=int,
        default=ProverConfig().num_inner_cols,
        help="ezkl's inner columns for the circuits ([prover] inner_cols; bench/settings.py measures the choice)",
    )
    return parser


def parse_arguments(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """Parsed flags, with quiet logging; refuses more clients than the watchtower's account leaves room for."""
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("ezkl").setLevel(logging.ERROR)  # calibration's fidelity tables
    if args.verification == OPTIMISTIC and args.clients >= WATCHTOWER_ACCOUNT - 1:
        parser.error(
            f"the example's watchtower uses devnet account {WATCHTOWER_ACCOUNT}: at most "
            f"{WATCHTOWER_ACCOUNT - 2} clients with --verification optimistic"
        )
    return args


def training_spec(args: argparse.Namespace, model: ModelFamily) -> TrainingStepSpec:
    """The training step the flags ask for."""
    return TrainingStepSpec(model, batch_size=args.batch, local_steps=args.steps, learning_rate=args.lr)


def run_example(args: argparse.Namespace, spec: TrainingStepSpec, write_data: DataWriter, title: str) -> None:
    """Init the workspace, write the data, run the proven federation (with a watchtower when
    optimistic), write the report and audit it as an outsider; prints a JSON summary and exits 1
    if the audit or the watchtower failed."""
    config = WorkspaceConfig(
        spec,
        slots=args.clients,
        terms=FederationTerms(verification=args.verification, updates=args.updates),
        ipfs_api=args.ipfs_api,
        prover=ProverConfig(num_inner_cols=args.inner_cols),
    )
    ws, _ = Workspace.init(args.workspace, config)
    data_files, test_file = write_data(ws.root / "data")
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
        if args.float_rounds:
            print(f"float FedAvg to {args.float_rounds} rounds, for the report", flush=True)
            curve = float_fedavg_curve(spec, data_files, test_file, args.float_rounds, args.seed, config.genesis_seed)
            outcome = replace(outcome, float_curve=curve)
        cids = write_run_report(outcome, ws.reports_dir, ws.store, title)
        audit = audit_as_outsider(ws, test_file)
    finally:
        if watchtower is not None and watchtower.poll() is None:
            watchtower.kill()
        ws.stop_devnet()  # its state is saved; any zkfl command restarts it
    print(json.dumps(summary(ws, outcome, cids, audit, watched), indent=2))
    if not audit["ok"] or (watched is not None and watched["exit_code"] != 0):
        sys.exit(1)


def summary(ws: Workspace, outcome: RunOutcome, cids: dict[str, str], audit: dict, watched: dict | None) -> dict:
    """Where the report is, the last round's accuracies, the audit's verdict (and the watchtower's)."""
    last = outcome.rounds[-1]
    return {
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
    }


def start_watchtower(ws: Workspace, rounds: int) -> subprocess.Popen:
    """`zkfl watch` beside the federation, in its own process with its own key (a public devnet
    account: devnet only), until the federation's open round reaches `rounds`."""
    setup_federation(ws)  # the watchtower needs the coordinator (run_federation reuses this set-up)
    Account.enable_unaudited_hdwallet_features()
    key = Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{WATCHTOWER_ACCOUNT}").key.hex()
    command = outsider_command(ws, "watch", "--until-round", str(rounds), "--json")
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


def outsider_command(ws: Workspace, verb: str, *options: str) -> list[str]:
    """A `zkfl` command given only what an outsider has: the RPC URL, the coordinator and the store."""
    public = ["--rpc-url", ws.chain.rpc_url, "--coordinator", ws.deployment()["coordinator"]]
    return [str(Path(sys.executable).with_name("zkfl")), verb, *public, "--store", store_location(ws), *options]


def store_location(ws: Workspace) -> str:
    """Where the federation's artifacts are, for another process: the IPFS API, or the store directory."""
    return ws.config.ipfs_api or str(ws.root / "store")


def audit_as_outsider(ws: Workspace, eval_file: Path) -> dict:
    """`zkfl audit` in a fresh process given only the RPC URL, the coordinator address and the store."""
    command = outsider_command(ws, "audit", "--eval", str(eval_file), "--out", str(ws.reports_dir / "audit"), "--json")
    print("auditing the federation from the chain and the store alone", flush=True)
    return json.loads(subprocess.run(command, capture_output=True, text=True, check=False).stdout)
