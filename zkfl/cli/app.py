"""`zkfl`: verifiable federated learning from the command line. Each command parses its options,
calls the library function that does its work (one `zkfl.pipeline` function for a workspace's
commands; `zkfl.audit` and the watchtower role for the third-party `audit` and `watch`; `verify`
calls one of two, for a proof file or a round) and renders the result: rich text and progress on
stderr for people, `--json` for scripts and CI. The library is imported by the command that runs,
so `--help` and `version` answer without loading torch or ezkl.

Exit codes: 0 success, 1 a proof, a commitment link or stored content does not verify, 2 bad input
or a refused action (unknown workspace, corrupt data, data outside the circuit's range, wrong shapes,
wrong round, chain not reachable), 3 internal error.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from zkfl import __version__
from zkfl.cli.render import (
    EXIT_VERIFICATION_FAILED,
    emit,
    fail,
    progress_reporter,
    run,
    run_with_progress,
    to_json,
)
from zkfl.federation.terms import MIN_COHORT

if TYPE_CHECKING:  # the commands import what they run when they run it
    from zkfl.audit.audit_report import AuditReport
    from zkfl.pipeline import (
        AggregateOutcome,
        ExportOutcome,
        JoinOutcome,
        ProveOutcome,
        RegisterOutcome,
        RevealOutcome,
        RoundVerification,
        SetupOutcome,
        ShareOutcome,
        SubmitOutcome,
    )
    from zkfl.pipeline.devnet_clock import MineOutcome
    from zkfl.pipeline.inspection import FederationStatus
    from zkfl.pipeline.progress import Progress
    from zkfl.pipeline.workspace import Workspace
    from zkfl.roles.responder import Answer
    from zkfl.roles.watchtower import WatchedUpdate
    from zkfl.verification.findings import Finding

app = typer.Typer(
    help="zkFL: verifiable federated learning. Every local SGD step and every FedAvg is proven with "
    "ezkl and checked on-chain.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    epilog="Quick start: zkfl init fed && zkfl setup -w fed && "
    "zkfl run -w fed --data a.npz --data b.npz --data c.npz --rounds 2",
)
devnet_app = typer.Typer(help="Start, stop or mine the workspace's local anvil chain.", no_args_is_help=True)
app.add_typer(devnet_app, name="devnet")
out = Console()
DEVNET = "devnet"  # zkfl.pipeline.workspace.DEVNET
INIT_DEFAULTS: dict[str, Any] = {
    "families": ("logreg", "mlp"),
    "family": "logreg",
    "features": 64,
    "classes": 10,
    "hidden": 16,
    "batch_size": 8,
    "local_steps": 1,
    "learning_rate": 0.5,
    "slots": 4,
    "updates": "private",
}
"""What the `init` options' help quotes: zkFL's config defaults (`WorkspaceConfig`, the model
families), written out so that `--help` loads no torch; tests/test_cli_startup.py holds them equal."""

WorkspaceOpt = Annotated[Path, typer.Option("--workspace", "-w", help="The federation workspace directory.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
ClientOpt = Annotated[str, typer.Option("--client", "-c", help="The client's name in the workspace.")]


def _open(workspace: Path) -> Workspace:
    from zkfl.pipeline.workspace import Workspace

    return Workspace.open(workspace)


def _kv(title: str) -> Callable[[Any], None]:
    def show(value: Any) -> None:
        table = Table(title=title, show_header=False, title_justify="left")
        for key, item in to_json(value).items():
            table.add_row(key, escape(str(item)))
        out.print(table)

    return show


def _init_model(model: str | None, features: int | None, classes: int | None, hidden: int | None) -> dict[str, Any]:
    """The [model] section `init` was given: a built-in family's options, or a user's module, loaded
    here from the user's file and recorded (its parameters and classes)."""
    if model is None or ":" not in model:
        return {"family": model, "features": features, "classes": classes, "hidden": hidden}
    from zkfl.circuits.user_models import torch_model
    from zkfl.errors import ConfigError

    if hidden is not None:
        raise ConfigError("--hidden is the mlp family's option; a torch module's layers are its own")
    named = torch_model(model, features or INIT_DEFAULTS["features"]).to_json()
    if classes is not None and classes != named["classes"]:
        raise ConfigError(f"--classes {classes}, but the model {model} returns {named['classes']} logits")
    return named


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Directory to create the workspace in (new or empty).")],
    model: Annotated[
        str | None,
        typer.Option(
            help=f"The model: a built-in family, {' or '.join(INIT_DEFAULTS['families'])} (default "
            f"{INIT_DEFAULTS['family']}), or your own torch module as 'file.py:function' (a function returning it; "
            "it takes rows of --features and its classes are read from its output)."
        ),
    ] = None,
    features: Annotated[
        int | None, typer.Option(help=f"Input features D (default {INIT_DEFAULTS['features']}).")
    ] = None,
    classes: Annotated[int | None, typer.Option(help=f"Classes C (default {INIT_DEFAULTS['classes']}).")] = None,
    hidden: Annotated[
        int | None, typer.Option(help=f"Hidden units (mlp only; default {INIT_DEFAULTS['hidden']}).")
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option(help=f"Samples per local SGD step B (default {INIT_DEFAULTS['batch_size']}).")
    ] = None,
    local_steps: Annotated[
        int | None,
        typer.Option(
            help=f"Local SGD steps k per round, each on its own B samples (default {INIT_DEFAULTS['local_steps']})."
        ),
    ] = None,
    lr: Annotated[float | None, typer.Option(help=f"Learning rate (default {INIT_DEFAULTS['learning_rate']}).")] = None,
    slots: Annotated[int | None, typer.Option(help=f"Client slots K (default {INIT_DEFAULTS['slots']}).")] = None,
    updates: Annotated[
        str | None,
        typer.Option(
            help=f"'private' (masked uploads, secure aggregation; at least {MIN_COHORT} slots) or 'public' "
            f"(default {INIT_DEFAULTS['updates']})."
        ),
    ] = None,
    rpc_url: Annotated[
        str, typer.Option(help=f"'{DEVNET}' (a local anvil the workspace runs) or an RPC URL.")
    ] = DEVNET,
    chain_id: Annotated[int, typer.Option(help="Expected chain id (0: accept the node's).")] = 0,
    ipfs_api: Annotated[str, typer.Option(help="IPFS HTTP API URL for artifacts (default: the workspace store).")] = "",
    srs: Annotated[str, typer.Option(help="'dev' (INSECURE, generated) or a ceremony SRS file.")] = "dev",
    as_json: JsonOpt = False,
) -> None:
    """Create a federation workspace from a config (written to DIRECTORY/zkfl.toml); options left
    out take zkFL's defaults, and every other setting can be edited in zkfl.toml before setup."""

    def action() -> dict[str, Any]:
        from zkfl.pipeline.workspace import Workspace, WorkspaceConfig

        document: dict[str, dict[str, Any]] = {
            "model": _init_model(model, features, classes, hidden),
            "training": {"batch_size": batch_size, "local_steps": local_steps, "learning_rate": lr},
            "federation": {"slots": slots, "updates": updates},
            "chain": {"rpc_url": rpc_url, "chain_id": chain_id},
            "store": {"ipfs_api": ipfs_api},
            "prover": {"srs": srs if srs == "dev" else str(Path(srs).resolve())},
        }
        given = {section: {k: v for k, v in values.items() if v is not None} for section, values in document.items()}
        config = WorkspaceConfig.from_document(given, "the init options")
        ws, created = Workspace.init(directory, config)
        return {"workspace": str(ws.root), "created": created, "config": str(ws.config_path)}

    emit(run(action, as_json), as_json, _kv("workspace"))


@app.command()
def export(workspace: WorkspaceOpt = Path("."), as_json: JsonOpt = False) -> None:
    """Export the training-step and FedAvg graphs (ONNX) of the workspace's model."""

    def action(progress: Progress) -> ExportOutcome:
        from zkfl.pipeline import export_graphs

        progress("exporting the graphs")
        return export_graphs(_open(workspace))

    emit(run_with_progress(action, as_json), as_json, _kv("exported graphs"))


@app.command()
def setup(workspace: WorkspaceOpt = Path("."), as_json: JsonOpt = False) -> None:
    """Compile circuits, make keys, build verifiers and deploy the federation (reused when done)."""

    def action(progress: Progress) -> SetupOutcome:
        from zkfl.pipeline import setup_federation

        return setup_federation(_open(workspace), progress)

    result = run_with_progress(action, as_json)
    if any(s["dev"] for s in result.srs):
        from zkfl.zk.srs import DEV_SRS_WARNING

        if not as_json:
            out.print(f"[bold yellow]WARNING[/bold yellow]: {DEV_SRS_WARNING}")
    emit(result, as_json, _kv("federation"))


@app.command()
def join(
    workspace: Annotated[Path, typer.Argument(help="The new client workspace directory.")],
    rpc_url: Annotated[str, typer.Option(help="The federation's JSON-RPC URL.")],
    coordinator: Annotated[str, typer.Option(help="The federation's coordinator address.")],
    store: Annotated[str, typer.Option(help="The federation's store: an IPFS API URL or a shared store directory.")],
    as_json: JsonOpt = False,
) -> None:
    """Join a federation deployed elsewhere: a client workspace built from the chain and the store,
    with circuits and keys made here and checked against the coordinator's circuits digest."""

    def action(progress: Progress) -> JoinOutcome:
        from zkfl.pipeline import join_federation

        return join_federation(workspace, rpc_url, coordinator, store, progress)

    emit(run_with_progress(action, as_json), as_json, _kv("joined"))


@app.command()
def register(
    client: ClientOpt,
    data: Annotated[Path, typer.Option(help="The client's private data: .npz with x (n x D) and y (n).")],
    batches: Annotated[int, typer.Option(help="Round batches to commit to (one is used per round).")] = 10,
    seed: Annotated[int | None, typer.Option(help="Shuffle seed (default: random).")] = None,
    workspace: WorkspaceOpt = Path("."),
    as_json: JsonOpt = False,
) -> None:
    """Commit a client's data batches and register it on-chain (with the stake)."""

    def action(progress: Progress) -> RegisterOutcome:
        from zkfl.pipeline import register_client

        return register_client(_open(workspace), client, data, batches, seed, progress=progress)

    emit(run_with_progress(action, as_json), as_json, _kv(f"client {client}"))


@app.command()
def prove(client: ClientOpt, workspace: WorkspaceOpt = Path("."), as_json: JsonOpt = False) -> None:
    """Prove the client's local training step for the open round on its next committed batch.
    Ctrl-C stops the proof at once (exit 130) and leaves no proof file."""

    def action(progress: Progress) -> ProveOutcome:
        from zkfl.zk.prover_process import ProverProcess

        with ProverProcess(preload=["zkfl.roles.client"]) as prover:  # loads the prover while we read the chain
            from zkfl.pipeline import prove_update

            return prove_update(_open(workspace), client, progress, prover)

    emit(run_with_progress(action, as_json), as_json, _kv(f"update of {client}"))


@app.command()
def submit(client: ClientOpt, workspace: WorkspaceOpt = Path("."), as_json: JsonOpt = False) -> None:
    """Submit the client's proven update for the open round to the coordinator."""

    def action(progress: Progress) -> SubmitOutcome:
        from zkfl.pipeline import submit_update

        return submit_update(_open(workspace), client, progress)

    emit(run_with_progress(action, as_json), as_json, _kv(f"submission of {client}"))


@app.command("share-keys")
def share_keys_command(client: ClientOpt, workspace: WorkspaceOpt = Path("."), as_json: JsonOpt = False) -> None:
    """Private federations: share the client's masking keys for the open round, in its share window
    (before it submits)."""

    def action(progress: Progress) -> ShareOutcome:
        from zkfl.pipeline import share_keys

        return share_keys(_open(workspace), client, progress)

    emit(run_with_progress(action, as_json), as_json, _kv(f"masking keys of {client}"))


@app.command()
def reveal(
    client: ClientOpt,
    round_no: Annotated[int | None, typer.Option("--round", help="The round (default: the open one).")] = None,
    workspace: WorkspaceOpt = Path("."),
    as_json: JsonOpt = False,
) -> None:
    """Private federations: answer a round's unmasking once it takes no more submissions (the
    client's shares for its neighbours); reveals nothing if too many clients dropped out. Prints the
    reveal's CID: an aggregator in another workspace (`zkfl join`) takes it as `aggregate --reveal`."""

    def action(progress: Progress) -> RevealOutcome:
        from zkfl.pipeline import reveal_for_unmasking

        return reveal_for_unmasking(_open(workspace), client, round_no, progress)

    emit(run_with_progress(action, as_json), as_json, _kv(f"reveal of {client}"))


@app.command()
def aggregate(
    reveal_cids: Annotated[
        list[str] | None,
        typer.Option(
            "--reveal",
            help="Private federations: the CID of a client's reveal (`zkfl reveal` prints it), once per "
            "client; default: the reveals of this workspace's own clients.",
        ),
    ] = None,
    workspace: WorkspaceOpt = Path("."),
    as_json: JsonOpt = False,
) -> None:
    """Prove FedAvg of the open round's accepted updates, from their sum, and finalize the round.
    Ctrl-C stops the FedAvg proof at once (exit 130)."""

    def action(progress: Progress) -> AggregateOutcome:
        from zkfl.pipeline import aggregate_round
        from zkfl.zk.prover_process import ProverProcess

        with ProverProcess(preload=["zkfl.roles.aggregator"], start=False) as prover:  # started if it proves
            return aggregate_round(_open(workspace), progress, prover, reveal_cids or None)

    emit(run_with_progress(action, as_json), as_json, _kv("aggregation"))


@app.command()
def verify(
    proof: Annotated[Path | None, typer.Argument(help="A proof file to verify (omit with --round).")] = None,
    circuit: Annotated[str, typer.Option(help="The proof's circuit: client or aggregator.")] = "client",
    round_no: Annotated[int | None, typer.Option("--round", help="Verify a whole round from the chain.")] = None,
    offchain_only: Annotated[bool, typer.Option(help="Skip the on-chain verifier calls.")] = False,
    workspace: WorkspaceOpt = Path("."),
    as_json: JsonOpt = False,
) -> None:
    """Verify a proof file, or every proof and hash link of a round (exit 1 if anything fails). A
    round still open is checked as far as it goes (its updates so far; no FedAvg yet), and says so."""
    if (proof is None) == (round_no is None):
        fail("give either a proof file or --round N", 2, as_json, "UsageError")
    if round_no is None:  # a proof file, then

        def check_file(progress: Progress) -> list[Finding]:
            from zkfl.pipeline import verify_proof_file

            return verify_proof_file(_open(workspace), str(proof), circuit, not offchain_only, progress)

        checks = run_with_progress(check_file, as_json)
        emit({"ok": True, "checks": checks}, as_json, lambda v: _checks_table(f"proof {proof}", v["checks"]))
        return

    def check_round(progress: Progress) -> RoundVerification:
        from zkfl.pipeline import verify_round

        return verify_round(_open(workspace), round_no, not offchain_only, progress)

    result = run_with_progress(check_round, as_json)
    state = "finalized" if result.report.finalized else "skipped" if result.report.skipped else "open"
    payload = {
        "ok": result.ok,
        "round": result.round,
        "state": state,  # open: not finalized yet, so only its updates so far are checked, and no FedAvg
        "checks": result.checks,
        "failures": result.failures,
        "report": result.report,
    }
    if result.ok:
        emit(payload, as_json, lambda v: _round_checks(round_no, state, v["checks"]))
        return
    if not as_json:
        _round_checks(round_no, state, result.checks)
    first = f"{result.failures[0]}" if result.failures else "nothing to check in this round"
    more = f" (and {len(result.failures) - 1} more failed check(s))" if len(result.failures) > 1 else ""
    fail(f"round {round_no} does not verify: {first}{more}", EXIT_VERIFICATION_FAILED, as_json, details=payload)


@app.command()
def status(workspace: WorkspaceOpt = Path("."), as_json: JsonOpt = False) -> None:
    """Rounds, submissions and model hashes of the federation, as the chain records them."""

    def action(progress: Progress) -> FederationStatus:
        from zkfl.pipeline import federation_status

        return federation_status(_open(workspace), progress)

    def human(s: FederationStatus) -> None:
        out.print(
            f"coordinator {s.coordinator} on chain {s.chain_id} at {escape(s.rpc_url)} (block {s.block}); "
            f"open round {s.current_round}; {s.registered_clients} registered clients",
            soft_wrap=True,
        )
        rounds = Table("round", "model hash", "model CID", "accepted", "status", title="rounds", title_justify="left")
        for r in s.rounds:
            rounds.add_row(
                str(r.round),
                r.model_hash[:18] + "…",
                r.model_cid[:20] + "…",
                str(r.accepted),
                "finalized" if r.finalized else "skipped" if r.skipped else "open",
            )
        out.print(rounds)
        clients = Table(
            "client", "address", "slot", "registered", "accepted updates", title="clients", title_justify="left"
        )
        for c in s.clients:
            clients.add_row(c.name, c.address, str(c.slot), str(c.registered), str(c.accepted_updates))
        out.print(clients)

    emit(run_with_progress(action, as_json), as_json, human)


@app.command("run")
def run_rounds(
    data: Annotated[list[Path], typer.Option(help="One client's .npz data file; repeat once per client.")],
    rounds: Annotated[
        int, typer.Option(help="Run until this many rounds are closed (finalized, or skipped without updates).")
    ] = 1,
    batches: Annotated[
        int | None,
        typer.Option(
            help="Batches each client commits at a time: on registering (default: rounds), and again on-chain "
            "whenever it has used them (default: the rounds still to run)."
        ),
    ] = None,
    eval_data: Annotated[Path | None, typer.Option("--eval", help="Held-out .npz for accuracy.")] = None,
    seed: Annotated[int | None, typer.Option(help="Batch shuffle seed (default: random).")] = None,
    executor: Annotated[
        str,
        typer.Option(
            help="Where each round's client proofs run: 'serial' (here, one after another) or 'ray' (in parallel, "
            "as Ray tasks on a local Ray or the cluster at RAY_ADDRESS)."
        ),
    ] = "serial",
    cpus_per_client: Annotated[int, typer.Option(help="CPUs (and prover threads) each Ray client task reserves.")] = 1,
    workspace: WorkspaceOpt = Path("."),
    as_json: JsonOpt = False,
) -> None:
    """Simulate one client per data file for R rounds end to end, re-check every round as `verify`
    does, and write a report. Run again with more --rounds to go on from where it stopped."""

    def action() -> dict[str, Any]:
        from zkfl.pipeline import run_federation
        from zkfl.pipeline.executors import executor_named
        from zkfl.pipeline.run_report import write_run_report

        provers = executor_named(executor, cpus_per_client)
        ws = _open(workspace)
        with progress_reporter(as_json) as progress:
            outcome = run_federation(ws, data, rounds, batches, eval_data, seed, progress, provers, verify=True)
        cids = write_run_report(outcome, ws.reports_dir, ws.store)
        return {"report": str(ws.reports_dir / "report.md"), "report_cids": cids, **to_json(outcome)}

    result = run(action, as_json)
    emit(result, as_json, lambda v: typer.echo(f"{Path(v['report']).read_text()}\nreport written to {v['report']}"))


@app.command()
def audit(
    rpc_url: Annotated[str, typer.Option(help="JSON-RPC URL of the chain the federation runs on.")],
    coordinator: Annotated[str, typer.Option(help="Address of the federation's coordinator contract.")],
    store: Annotated[str, typer.Option(help="The artifact store: a directory, or an IPFS API URL (http://...).")],
    srs: Annotated[
        list[Path] | None,
        typer.Option(
            help="An SRS file to check (powers of tau, py-ecc) and match to the federation's keys; repeatable."
        ),
    ] = None,
    eval_set: Annotated[
        Path | None,
        typer.Option("--eval", help="An .npz (x, y) to score every round's global model on (adds an accuracy plot)."),
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Write audit.json, audit.md (and accuracy.png) to this directory.")
    ] = None,
    offchain_only: Annotated[
        bool, typer.Option(help="Skip the eth_call checks against the deployed verifiers.")
    ] = False,
    strict_srs: Annotated[bool, typer.Option(help="Fail the audit if the keys come from an insecure dev SRS.")] = False,
    rebuild: Annotated[
        bool,
        typer.Option(
            help="Also compile the published ONNX graphs with the published settings and make keys from the "
            "federation's SRS: they must give the manifest the chain holds (minutes for a large circuit)."
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Replay a whole federation from the chain and the store alone: every event, artifact, hash,
    proof (off-chain and on-chain) and FedAvg. Exit 0 only if every check passes, 1 with the first
    failed check otherwise (2: the chain, contract or store cannot be read)."""

    def action(progress: Progress) -> AuditReport:
        from zkfl.audit import AuditOptions, audit_federation

        options = AuditOptions(
            onchain=not offchain_only,
            srs_files=tuple(srs or ()),
            eval_set=eval_set,
            strict_srs=strict_srs,
            rebuild=rebuild,
        )
        return audit_federation(rpc_url, coordinator, store, options, progress)

    report = run_with_progress(action, as_json)
    if out_dir is not None:
        from zkfl.audit import accuracy_plot, write_audit_report

        plot = accuracy_plot(report.rounds) if any(r.accuracy is not None for r in report.rounds) else None
        run(lambda: write_audit_report(report, out_dir, plot), as_json)
    if not as_json:
        _audit_summary(report)
    if report.ok:
        if as_json:
            typer.echo(json.dumps(report.to_json(), indent=2))
        return
    fail(f"audit failed: {report.reason}", EXIT_VERIFICATION_FAILED, as_json, "AuditFailed", report.to_json())


@app.command()
def watch(
    rpc_url: Annotated[str, typer.Option(help="JSON-RPC URL of the chain the federation runs on.")],
    coordinator: Annotated[str, typer.Option(help="Address of the federation's (optimistic) coordinator.")],
    store: Annotated[str, typer.Option(help="The artifact store: a directory, or an IPFS API URL (http://...).")],
    interval: Annotated[float, typer.Option(help="Seconds between polls of the chain.")] = 1.0,
    until_round: Annotated[
        int | None,
        typer.Option(help="Stop once the federation's open round reaches this round (default: run until stopped)."),
    ] = None,
    once: Annotated[bool, typer.Option(help="Check what is on-chain now, then stop.")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per checked submission (JSON Lines).")
    ] = False,
) -> None:
    """Watch an optimistic federation: verify every submitted proof off-chain (from the store),
    challenge each one that does not verify and answer every open request from the store, with the
    key in ZKFL_WATCHTOWER_KEY (without it, only report). Exit 1 if an update whose proof is invalid
    or unavailable was left in its round."""
    import os

    def report(update: WatchedUpdate) -> None:
        if as_json:
            typer.echo(json.dumps(to_json(update)))
        else:
            style = "green" if update.verdict == "valid" else "red"
            out.print(
                f"round {update.round} slot {update.slot} ({update.client}): [{style}]{update.verdict}[/{style}]"
                f"{' -> ' + update.outcome if update.outcome else ''}  {escape(update.detail)[:200]}"
            )

    def answered(answer: Answer) -> None:  # JSON Lines stay one object per submission: an answer shows as its change
        if not as_json:
            style = "green" if answer.answered else "yellow"
            out.print(
                f"round {answer.round} {answer.target}: [{style}]{answer.kind} request of {answer.requester}"
                f"[/{style}] -> {escape(answer.detail)[:200]}"
            )

    def action() -> list[WatchedUpdate]:
        from zkfl.chain.rpc import signer_from_key
        from zkfl.roles.watchtower import watch as watch_federation
        from zkfl.roles.watchtower import watchtower_for

        key = os.environ.get("ZKFL_WATCHTOWER_KEY")
        signer = signer_from_key(key) if key else None
        with watchtower_for(rpc_url, coordinator, store, signer) as tower:
            return watch_federation(tower, report, interval, until_round, once, answered)

    watched = run(action, as_json)
    survivors = [u for u in watched if u.survived]
    if survivors:
        fail(
            f"{len(survivors)} update(s) with an invalid or unavailable proof left in their round",
            EXIT_VERIFICATION_FAILED,
            as_json,
            "InvalidUpdateSurvived",
            [to_json(u) for u in survivors],
        )


def _audit_summary(report: AuditReport) -> None:
    fed = report.federation
    table = Table(
        "round",
        "updates",
        "proofs off-chain",
        "proofs on-chain",
        "FedAvg exact",
        "accuracy",
        title=f"audit of {fed['coordinator']} (chain {fed['chain_id']})",
        title_justify="left",
    )
    for r in report.rounds:
        proofs = [u.proof for u in r.updates] + ([r.aggregation.proof] if r.aggregation else [])
        table.add_row(
            str(r.round),
            str(len(r.updates)),
            f"{sum(p.offchain for p in proofs)}/{len(proofs)}",
            f"{sum(bool(p.onchain) for p in proofs)}/{len(proofs)}",
            "-" if r.aggregation is None else ("yes" if r.aggregation.fedavg_exact else "NO"),
            "-" if r.accuracy is None else f"{r.accuracy:.4f}",
        )
    out.print(table)
    for warning in report.srs.get("warnings", []):
        out.print(f"[yellow]warning[/yellow]: {escape(warning)}")
    timing = report.timing
    out.print(
        f"{len(report.checks)} checks, {len(report.failures)} failed; {timing['total_seconds']} s "
        f"(off-chain verify median: client {timing['client_verify_median']} s, aggregation "
        f"{timing['aggregator_verify_median']} s)"
    )
    if report.ok:
        out.print(
            f"[bold green]audit passed[/bold green]: final model {fed['final_model_hash']} ({fed['final_model_cid']})"
        )


@devnet_app.command("start")
def devnet_start(workspace: WorkspaceOpt = Path("."), as_json: JsonOpt = False) -> None:
    """Start the workspace's anvil (its saved chain state is loaded)."""

    def action() -> dict[str, Any]:
        ws = _open(workspace)
        return {"rpc_url": ws.chain.rpc_url, "chain_id": ws.chain.chain_id}

    emit(run(action, as_json), as_json, _kv("devnet"))


@devnet_app.command("stop")
def devnet_stop(workspace: WorkspaceOpt = Path("."), as_json: JsonOpt = False) -> None:
    """Stop the workspace's anvil (its state is saved for the next start)."""
    emit({"stopped": run(lambda: _open(workspace).stop_devnet(), as_json)}, as_json, _kv("devnet"))


@devnet_app.command("mine")
def devnet_mine(
    blocks: Annotated[int | None, typer.Option(help="Mine this many blocks.")] = None,
    to_deadline: Annotated[
        bool,
        typer.Option(
            help="Mine until the open round can be aggregated: past its submission deadline, and past its challenge "
            "window where it waits for that (an optimistic federation, a round without updates)."
        ),
    ] = False,
    workspace: WorkspaceOpt = Path("."),
    as_json: JsonOpt = False,
) -> None:
    """Mine blocks on the workspace's devnet, which makes blocks only for transactions: how a
    round's deadline passes there (refused on any other chain)."""

    def action(progress: Progress) -> MineOutcome:
        from zkfl.pipeline.devnet_clock import mine_devnet

        return mine_devnet(_open(workspace), blocks, to_deadline, progress)

    emit(run_with_progress(action, as_json), as_json, _kv("devnet"))


@app.command()
def version() -> None:
    """Print zkFL's version and the ezkl version it runs."""
    from importlib.metadata import version as installed

    typer.echo(f"zkfl {__version__} (ezkl {installed('ezkl')})")


def _round_checks(round_no: int, state: str, checks: Sequence[Finding]) -> None:
    _checks_table(f"round {round_no} ({state})", checks)
    if state == "open":
        out.print(
            f"[yellow]round {round_no} is still open[/yellow] (not finalized): these checks cover the updates "
            "accepted so far; its FedAvg is checked once it is finalized (`zkfl aggregate`)",
            soft_wrap=True,
        )


def _checks_table(title: str, checks: Sequence[Finding]) -> None:
    table = Table("check", "scope", "result", "detail", title=title, title_justify="left")
    for c in checks:
        table.add_row(c.check, escape(c.scope), "[green]ok[/green]" if c.ok else "[red]FAILED[/red]", escape(c.detail))
    out.print(table)


def main() -> None:
    app()
