"""The `zkfl` command line end to end, through the installed entry point, on a real anvil with
real proofs: two clients, two rounds (one command at a time, then `zkfl run`), and bad input
for every command. The workspace reuses the session's compiled circuits and keys."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import typer
from conftest import LOGREG
from helpers import init_options, use_session_cache, write_data

from zkfl.cli.app import app
from zkfl.errors import IntegrityError
from zkfl.pipeline.workspace import Workspace
from zkfl.store.artifacts import get_vector

ZKFL = str(Path(sys.executable).with_name("zkfl"))
PROGRESS_LINE = re.compile(r"^ *\d+\.\d s  ")
"""A progress step on stderr (human mode): seconds since the command started, then the step."""
pytestmark = pytest.mark.prover


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> dict:
        return json.loads(self.stdout)


def zkfl(*args: str | Path, cwd: Path | None = None) -> Result:
    done = subprocess.run([ZKFL, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=600)
    return Result(done.returncode, done.stdout, done.stderr)


def ok(*args: str | Path) -> dict:
    result = zkfl(*args, "--json")
    assert result.code == 0, result.stderr[-3000:]
    return result.json


@dataclass(frozen=True)
class CliRun:
    workspace: Path
    data: dict[str, Path]
    eval: Path
    setup: dict
    round0: dict
    run: dict


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path, logreg_circuits) -> Iterator[CliRun]:
    root = tmp_path_factory.mktemp("cli")
    workspace = root / "fed"
    created = ok(
        "init",
        workspace,
        *init_options(),
    )
    assert created["created"] is True
    use_session_cache(workspace, cache_dir)
    data = {name: write_data(root / f"{name}.npz", seed) for seed, name in enumerate(["alice", "bob"])}
    evaluation = write_data(root / "eval.npz", 7, samples=60)
    try:
        setup = ok("setup", "-w", workspace)
        for name, path in data.items():
            ok("register", "-w", workspace, "--client", name, "--data", path, "--batches", 3)
        # round 0 one command at a time; alice's first prove is killed mid-way and re-run
        _kill_midway([ZKFL, "prove", "-w", str(workspace), "--client", "alice"], after_s=4.0)
        assert not (workspace / "clients" / "alice" / "rounds" / "0.json").exists()
        for name in data:
            ok("prove", "-w", workspace, "--client", name)
            ok("submit", "-w", workspace, "--client", name)
        round0 = ok("aggregate", "-w", workspace)
        run = ok(
            "run", "-w", workspace, "--data", data["alice"], "--data", data["bob"], "--rounds", 2, "--eval", evaluation
        )
        yield CliRun(workspace, data, evaluation, setup, round0, run)
    finally:
        zkfl("devnet", "stop", "-w", workspace)


def _kill_midway(command: list[str], after_s: float) -> None:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(after_s)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def test_two_clients_two_rounds_through_the_cli_are_final_on_chain(cli_run: CliRun) -> None:
    ws = Workspace.open(cli_run.workspace)
    coordinator = ws.coordinator()
    assert coordinator.current_round == 2
    assert coordinator.round(0).finalized and coordinator.round(1).finalized
    assert coordinator.round(0).accepted == coordinator.round(1).accepted == 2
    # the next global model is in the store under the CID the chain published, and commits to the chain's value
    published = coordinator.opened_rounds()[-1]
    assert (
        published.model_hash
        == coordinator.round(2).model_hash
        == ws.circuits.commitments.commitment_hash(get_vector(ws.store, published.model_cid))
    )
    assert cli_run.round0["next_model_hash"] == hex(coordinator.round(1).model_hash)
    status = ok("status", "-w", cli_run.workspace)
    assert status["current_round"] == 2
    assert status["rpc_url"] == ws.chain.rpc_url and status["coordinator"] == cli_run.setup["coordinator"]
    assert [(c["name"], c["accepted_updates"]) for c in status["clients"]] == [("alice", 2), ("bob", 2)]


def test_run_writes_a_report_with_accuracy_and_costs(cli_run: CliRun) -> None:
    report = cli_run.workspace / "reports"
    rounds = cli_run.run["rounds"]
    assert [r["round"] for r in rounds] == [0, 1]
    for r in rounds:
        assert sorted(r["prove_seconds"]) == ["alice", "bob"] and all(v > 0 for v in r["prove_seconds"].values())
        assert all(g > 100_000 for g in r["submit_gas"].values()) and r["finalize_gas"] > 100_000
        assert 0.0 <= r["proven_accuracy"] <= 1.0
        assert abs(r["proven_accuracy"] - r["float_accuracy"]) <= 0.05  # same batches, float vs fixed point
    assert rounds[0]["wall_seconds"] is None and rounds[1]["wall_seconds"] > 0  # round 0 ran before `run`
    markdown = (report / "report.md").read_text()
    assert "| 1 | 2 |" in markdown and "float FedAvg" in markdown
    assert (report / "accuracy.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ws = Workspace.open(cli_run.workspace)
    for name, cid in cli_run.run["report_cids"].items():
        assert ws.store.get(cid) == (report / name).read_bytes()


def test_every_round_verifies_from_the_chain_and_store(cli_run: CliRun) -> None:
    for round_no in (0, 1):
        result = ok("verify", "-w", cli_run.workspace, "--round", round_no)
        assert result["ok"] is True and result["failures"] == []
        checks = [c["check"] for c in result["checks"]]
        assert checks.count("client-proof-onchain") == 2 and checks.count("aggregator-proof-onchain") == 1
        assert {
            "client-links",
            "data-commitment",
            "update-hash",
            "aggregation-links",
            "fedavg",
            "verifier-rejects-invalid",
        } <= set(checks)  # the audit's checks, under the audit's ids
        assert result["report"]["aggregation"]["fedavg_exact"] is True


def test_commands_rerun_after_completion_change_nothing(cli_run: CliRun) -> None:
    before = ok("status", "-w", cli_run.workspace)
    assert ok("setup", "-w", cli_run.workspace)["deployed_now"] is False
    assert (
        ok("register", "-w", cli_run.workspace, "--client", "alice", "--data", cli_run.data["alice"])["registered_now"]
        is False
    )
    again = ok(
        "run", "-w", cli_run.workspace, "--data", cli_run.data["alice"], "--data", cli_run.data["bob"], "--rounds", 2
    )
    assert [r["model_hash"] for r in again["rounds"]] == [r["model_hash"] for r in cli_run.run["rounds"]]
    assert ok("status", "-w", cli_run.workspace)["rounds"] == before["rounds"]


def test_a_tampered_stored_update_fails_round_verification(cli_run: CliRun) -> None:
    ws = Workspace.open(cli_run.workspace)
    cid = ws.coordinator().accepted_updates(0)[0].cid
    block = cli_run.workspace / "store" / "blocks" / cid
    original = block.read_bytes()
    try:
        block.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
        result = zkfl("verify", "-w", cli_run.workspace, "--round", 0, "--json")
        assert result.code == 1
        assert result.json["message"].startswith("round 0 does not verify: round 0 slot 0: update-stored: ")
        failed = {c["check"]: c["detail"] for c in result.json["checks"] if not c["ok"]}
        assert list(failed) == ["update-stored", "sum-exact"]  # the changed block, and the sum it makes unverifiable
        assert cid in failed["update-stored"] and "does not match its CID" in failed["update-stored"]
    finally:
        block.write_bytes(original)


def test_a_tampered_proof_file_fails_verification(cli_run: CliRun, tmp_path: Path) -> None:
    proof = json.loads((cli_run.workspace / "clients" / "alice" / "proofs" / "round-0.json").read_text())
    proof["proof"][200] ^= 1
    path = tmp_path / "tampered.json"
    path.write_text(json.dumps(proof))
    result = zkfl("verify", "-w", cli_run.workspace, path, "--json")
    assert result.code == 1, result.stderr
    assert result.json["error"] == "ProofError"


def test_stored_content_that_does_not_match_its_cid_exits_1(cli_run: CliRun) -> None:
    ws = Workspace.open(cli_run.workspace)
    cid = ws.coordinator().opened_rounds()[-1].model_cid
    block = cli_run.workspace / "store" / "blocks" / cid
    original = block.read_bytes()
    try:
        block.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
        result = zkfl("prove", "-w", cli_run.workspace, "--client", "bob", "--json")
        assert result.code == 1 and result.json["error"] == "ContentMismatchError"
        assert f"content under {cid}" in result.json["message"] and "does not match its CID" in result.json["message"]
    finally:
        block.write_bytes(original)


def test_an_update_record_naming_other_content_exits_1_before_anything_is_sent(cli_run: CliRun) -> None:
    ws = Workspace.open(cli_run.workspace)
    proved = ok("prove", "-w", cli_run.workspace, "--client", "bob")
    record = cli_run.workspace / "clients" / "bob" / "rounds" / f"{proved['round']}.json"
    original = record.read_text()
    model_cid = ws.coordinator().opened_rounds()[-1].model_cid  # intact content, but not bob's update
    try:
        record.write_text(json.dumps({**json.loads(original), "update_cid": model_cid}))
        result = zkfl("submit", "-w", cli_run.workspace, "--client", "bob", "--json")
        assert result.code == 1 and result.json["error"] == "LinkError"
        assert result.json["message"].startswith(
            f"client 'bob''s update for round {proved['round']} {model_cid} commits to 0x"
        )
        assert result.json["message"].endswith(f"not to {proved['update_hash']}")
        assert ws.coordinator().round(proved["round"]).accepted == 0
    finally:
        record.write_text(original)


def test_error_messages_are_printed_verbatim_and_whole(tmp_path: Path) -> None:
    (tmp_path / "zkfl.toml").write_text("[foo]\nx = 1\n")
    result = zkfl("status", "-w", tmp_path)  # stderr is a pipe here, not a terminal
    assert result.code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip() and not PROGRESS_LINE.match(line)]
    assert len(lines) == 1, lines  # not wrapped at 80 columns
    assert lines[0].endswith(
        f"{tmp_path / 'zkfl.toml'}: unknown section [foo]; expected model, training, federation, chain, store, prover"
    )


# -------------------------------------------------------------------- bad input, one per command


def _fails(expected_code: int, message: str, *args: str | Path) -> Result:
    result = zkfl(*args, "--json")
    assert result.code == expected_code, (result.stdout, result.stderr[-2000:])
    assert message in result.json["message"], result.json["message"]
    return result


def test_unknown_workspace_is_a_user_error(tmp_path: Path) -> None:
    for command in (
        ["status"],
        ["setup"],
        ["export"],
        ["aggregate"],
        ["prove", "--client", "a"],
        ["submit", "--client", "a"],
        ["verify", "--round", "0"],
    ):
        _fails(2, "no zkFL workspace", *command, "-w", tmp_path / "nowhere")


def test_init_refuses_a_different_config_and_an_invalid_one(cli_run: CliRun, tmp_path: Path) -> None:
    _fails(2, "different config", "init", cli_run.workspace, "--features", 7)
    _fails(2, "unknown model family 'cnn'", "init", tmp_path / "new", "--model", "cnn")
    assert not (tmp_path / "new").exists()


def test_corrupt_config_is_named(tmp_path: Path) -> None:
    (tmp_path / "zkfl.toml").write_text("[model]\nfamily = \n")
    _fails(2, "zkfl.toml is not valid TOML", "status", "-w", tmp_path)


def test_register_rejects_bad_data_files_and_keeps_nothing(cli_run: CliRun, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not an archive")
    _fails(
        2, "is not a readable .npz archive", "register", "-w", cli_run.workspace, "--client", "carol", "--data", garbage
    )
    wrong = write_data(tmp_path / "wrong.npz", 3, features=LOGREG.features + 1)
    _fails(
        2,
        f"x has shape (24, {LOGREG.features + 1}), the model takes (n, {LOGREG.features})",
        "register",
        "-w",
        cli_run.workspace,
        "--client",
        "carol",
        "--data",
        wrong,
    )
    _fails(
        2,
        "data file not found",
        "register",
        "-w",
        cli_run.workspace,
        "--client",
        "carol",
        "--data",
        tmp_path / "missing.npz",
    )
    _fails(
        2,
        "already committed to a data file",
        "register",
        "-w",
        cli_run.workspace,
        "--client",
        "alice",
        "--data",
        cli_run.data["bob"],
    )
    assert not (cli_run.workspace / "clients" / "carol").exists()


def test_register_refuses_data_the_circuit_cannot_train_on_and_keeps_nothing(cli_run: CliRun, tmp_path: Path) -> None:
    path = write_data(tmp_path / "raw.npz", 5)
    with np.load(path) as archive:
        x, y = archive["x"], archive["y"]
    x[:, 1] = 3000.0 + 1000.0 * x[:, 1]  # one feature left unscaled, in the thousands
    np.savez(path, x=x, y=y)
    result = _fails(
        2,
        "is outside the range this circuit accepts for its batch, |x| <= ",
        "register",
        "-w",
        cli_run.workspace,
        "--client",
        "carol",
        "--data",
        path,
    )
    message = result.json["message"]
    assert result.json["error"] == "DataRangeError"
    assert re.match(rf"data file {re.escape(str(path))}: x\[(\d+), 1\] = [0-9.]+ \(sample \1, feature 1\)", message)
    assert "(from the round-2 global model)" in message and "Rescale the features" in message
    assert not (cli_run.workspace / "clients" / "carol").exists()


def test_prove_and_submit_name_the_problem(cli_run: CliRun) -> None:
    _fails(2, "unknown client 'mallory'", "prove", "-w", cli_run.workspace, "--client", "mallory")
    _fails(
        2,
        "has no proven update for the open round 2 (its latest proof is for round 1)",
        "submit",
        "-w",
        cli_run.workspace,
        "--client",
        "alice",
    )


def test_aggregate_without_submissions_is_refused(cli_run: CliRun) -> None:
    _fails(2, "round 2 has no accepted update yet", "aggregate", "-w", cli_run.workspace)


def test_verify_usage_errors(cli_run: CliRun) -> None:
    _fails(2, "give either a proof file or --round N", "verify", "-w", cli_run.workspace)
    _fails(2, "round 9 does not exist", "verify", "-w", cli_run.workspace, "--round", 9)
    _fails(2, "proof file not found", "verify", "-w", cli_run.workspace, "missing-proof.json")


def test_a_chain_that_is_not_running_is_named(tmp_path: Path) -> None:
    ok("init", tmp_path / "remote", "--rpc-url", "http://127.0.0.1:9")
    result = _fails(2, "cannot reach a JSON-RPC node at http://127.0.0.1:9", "status", "-w", tmp_path / "remote")
    assert result.json["error"] == "ChainError"
    assert "Start the node" in result.json["message"] and "`zkfl devnet start -w" in result.json["message"]
    human = zkfl("status", "-w", tmp_path / "remote")
    assert human.code == 2 and "Traceback" not in human.stderr
    assert human.stderr.splitlines()[-1] == f"error (ChainError): {result.json['message']}"


def test_join_names_an_unreachable_chain_and_leaves_no_workspace(tmp_path: Path) -> None:
    _fails(
        2,
        "cannot reach a JSON-RPC node at http://127.0.0.1:9",
        "join",
        tmp_path / "client",
        "--rpc-url",
        "http://127.0.0.1:9",
        "--coordinator",
        "0x" + "11" * 20,
        "--store",
        tmp_path / "store",
    )
    assert not (tmp_path / "client").exists()


def test_watch_refuses_an_eager_federation_and_a_bad_key(cli_run: CliRun, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ZKFL_WATCHTOWER_KEY", raising=False)
    ws = Workspace.open(cli_run.workspace)
    federation = (
        "--rpc-url",
        ws.chain.rpc_url,
        "--coordinator",
        cli_run.setup["coordinator"],
        "--store",
        cli_run.workspace / "store",
        "--once",
    )
    _fails(
        2,
        "verifies every proof on submission (eager): there is nothing for a watchtower to watch",
        "watch",
        *federation,
    )
    monkeypatch.setenv("ZKFL_WATCHTOWER_KEY", "0x1234")
    _fails(2, "invalid private key", "watch", *federation)


def test_setup_refuses_a_federation_deployed_with_other_circuits(
    cli_run: CliRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A workspace set up by another zkFL version (its coordinator holds another circuits digest)
    is refused, not reused with verifiers its proofs would fail."""
    import zkfl.pipeline.setup as setup

    ws = Workspace.open(cli_run.workspace)
    deployed = ws.coordinator().circuits_digest
    setup.setup_federation(ws)  # this zkFL's own federation: reused
    monkeypatch.setattr(setup, "circuits_digest", lambda *args: bytes(a ^ 1 for a in deployed))
    with pytest.raises(IntegrityError, match="deployed with other circuits than this zkFL builds"):
        setup.setup_federation(ws)


def test_run_needs_data(cli_run: CliRun) -> None:
    result = zkfl("run", "-w", cli_run.workspace)
    assert result.code == 2 and "--data" in result.stderr


def _listed_commands(help_text: str) -> list[str]:
    """The names in the Commands panel of `--help` (the first word of each row; continued lines
    start with spaces)."""
    panel = help_text.split("─ Commands ─", 1)[1].split("╰", 1)[0]
    return [found.group(1) for line in panel.splitlines() if (found := re.match(r"│ (\S+) ", line))]


def test_help_documents_every_command() -> None:
    """`zkfl --help` and `zkfl devnet --help` list exactly the commands the app registers."""
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    devnet = group.commands["devnet"]
    assert isinstance(devnet, typer.core.TyperGroup)
    listed = _listed_commands(zkfl("--help").stdout)
    assert sorted(listed) == sorted(group.commands) and len(listed) == len(set(listed))
    assert {"init", "setup", "register", "prove", "submit", "aggregate", "verify", "audit", "devnet"} <= set(listed)
    listed_devnet = _listed_commands(zkfl("devnet", "--help").stdout)
    assert sorted(listed_devnet) == sorted(devnet.commands) == ["mine", "start", "stop"]


# -------------------------------------------------------------------- Ctrl-C


def _status(pid: int) -> dict[str, str]:
    """A process's /proc status fields (Linux); empty once it is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    return {key: value.strip() for key, value in (line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)}


def _prover_processes(pid: int) -> list[int]:
    """The children of `pid` that multiprocessing spawned to prove (not its resource tracker)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            spawned = b"spawn_main" in (entry / "cmdline").read_bytes()
        except OSError:  # it exited meanwhile
            continue
        if spawned and _status(int(entry.name)).get("PPid") == str(pid):
            found.append(int(entry.name))
    return found


def _running(pid: int) -> bool:
    state = _status(pid).get("State", "")
    return bool(state) and not state.startswith("Z")  # a zombie has stopped


def _take_sigint_as_a_terminal_does() -> None:
    """A shell without job control starts background commands with SIGINT ignored, and that
    inherits down to the suite and to zkfl (which then rightly ignores Ctrl-C, as under nohup):
    give the command a terminal's default disposition, whatever ran the suite."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_stops_a_proof_at_once_and_leaves_no_proof_file(cli_run: CliRun) -> None:
    """The proof runs in a child process, so Ctrl-C is taken at once (ezkl holds the GIL for the
    whole proof): exit 130, the prover process gone, no proof file, no round record."""
    client = cli_run.workspace / "clients" / "alice"
    before = sorted(p.name for p in (client / "proofs").iterdir())
    process = subprocess.Popen(
        [ZKFL, "prove", "-w", str(cli_run.workspace), "--client", "alice"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=_take_sigint_as_a_terminal_does,
    )
    assert process.stderr is not None
    try:
        seen = []
        for line in process.stderr:  # one progress line per step
            seen.append(line)
            if "proving round 2" in line:
                break
        else:
            pytest.fail(f"no proving step before exit {process.wait()}: {''.join(seen)[-2000:]}")
        provers = _prover_processes(process.pid)
        for _ in range(100):  # the prover child is spawned as the step starts; interrupt it while it runs
            if provers:
                break
            time.sleep(0.1)
            provers = _prover_processes(process.pid)
        assert len(provers) == 1, "the proof runs in a child process"
        interrupted = time.monotonic()
        os.killpg(process.pid, signal.SIGINT)  # a terminal's Ctrl-C: the whole foreground process group
        code = process.wait(timeout=120)
        took = time.monotonic() - interrupted
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    rest = process.stderr.read()
    assert code == 130, rest[-2000:]
    assert took < 10.0, f"exited {took:.1f} s after Ctrl-C"  # far less than loading ezkl and proving take
    assert "interrupted" in rest and "Traceback" not in rest
    assert not _running(provers[0]), "the prover process outlived zkfl"
    assert sorted(p.name for p in (client / "proofs").iterdir()) == before  # no proof, no staging folder
    assert not (client / "rounds" / "2.json").exists()
