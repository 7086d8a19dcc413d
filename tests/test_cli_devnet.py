"""The CLI on a workspace's devnet without proving: `status` naming where the chain is, `verify`
of a round still open, `devnet mine` letting a round's deadline pass (and refused elsewhere), and
a chain that stops answering named as such. The workspace reuses the session's compiled circuits
and keys; its federation is set up and has no client."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import init_options, use_session_cache

from zkfl.chain.devnet import start_devnet, stop_devnet
from zkfl.chain.rpc import connect
from zkfl.errors import ChainError
from zkfl.pipeline.workspace import Workspace

ZKFL = str(Path(sys.executable).with_name("zkfl"))


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> dict:
        return json.loads(self.stdout)


def zkfl(*args: str | Path | int) -> Result:
    done = subprocess.run([ZKFL, *map(str, args)], capture_output=True, text=True, timeout=600)
    return Result(done.returncode, done.stdout, done.stderr)


def ok(*args: str | Path | int) -> dict:
    result = zkfl(*args, "--json")
    assert result.code == 0, result.stderr[-3000:]
    return result.json


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path, logreg_circuits) -> Iterator[Path]:
    """A set-up federation on its own devnet, round 0 open, nobody registered."""
    workspace = tmp_path_factory.mktemp("devnet") / "fed"
    ok("init", workspace, *init_options())
    use_session_cache(workspace, cache_dir)
    try:
        ok("setup", "-w", workspace)
        yield workspace
    finally:
        zkfl("devnet", "stop", "-w", workspace)


def test_status_names_the_rpc_url_and_the_coordinator(federation: Path) -> None:
    ws = Workspace.open(federation)
    coordinator = ws.deployment()["coordinator"]
    status = ok("status", "-w", federation)
    assert status["rpc_url"] == ws.chain.rpc_url and status["rpc_url"].startswith("http://127.0.0.1:")
    assert status["coordinator"] == coordinator
    human = zkfl("status", "-w", federation)
    assert human.code == 0, human.stderr
    assert f"coordinator {coordinator} on chain 31337 at {ws.chain.rpc_url} (block " in human.stdout


def test_verify_says_a_round_that_is_still_open_is_open(federation: Path) -> None:
    checked = ok("verify", "-w", federation, "--round", 0)
    assert checked["ok"] is True and checked["state"] == "open"
    assert checked["report"]["finalized"] is False and checked["report"]["aggregation"] is None
    human = zkfl("verify", "-w", federation, "--round", 0)
    assert human.code == 0, human.stderr
    said = " ".join(human.stdout.split())  # the notice may wrap
    assert "round 0 is still open (not finalized)" in said and "its FedAvg is checked once it is finalized" in said


def test_mining_lets_an_empty_round_be_skipped(federation: Path) -> None:
    ws = Workspace.open(federation)
    refused = zkfl("aggregate", "-w", federation, "--json")
    assert refused.code == 2, refused.stderr
    message = refused.json["message"]
    assert message.startswith("round 0 has no accepted update yet")
    assert f"mine the blocks with `zkfl devnet mine --to-deadline -w {federation}`" in message

    block = ws.chain.w3.eth.block_number
    mined = ok("devnet", "mine", "-w", federation, "--blocks", 3)
    assert mined["mined"] == 3 and mined["block"] == block + 3 == ws.chain.w3.eth.block_number
    assert mined["round"] == 0 and mined["aggregate_after"] > mined["deadline"]  # an empty round waits its window

    mined = ok("devnet", "mine", "-w", federation, "--to-deadline")
    assert mined["block"] == mined["aggregate_after"] + 1 == ws.chain.w3.eth.block_number
    assert ok("devnet", "mine", "-w", federation, "--to-deadline")["mined"] == 0  # already there

    skipped = ok("aggregate", "-w", federation)
    assert skipped["round"] == 0 and skipped["skipped"] is True
    assert ws.coordinator().current_round == 1
    assert ok("verify", "-w", federation, "--round", 0)["state"] == "skipped"


def test_mining_is_refused_on_a_chain_that_is_not_the_workspace_devnet(federation: Path, tmp_path: Path) -> None:
    """A workspace that reaches the very same anvil by its URL does not own it: no mining."""
    ws = Workspace.open(federation)
    ok("init", tmp_path / "remote", "--rpc-url", ws.chain.rpc_url)
    block = ws.chain.w3.eth.block_number
    refused = zkfl("devnet", "mine", "-w", tmp_path / "remote", "--blocks", 1, "--json")
    assert refused.code == 2 and refused.json["error"] == "ConfigError"
    assert f"runs on {ws.chain.rpc_url}, not on its own devnet" in refused.json["message"]
    assert ws.chain.w3.eth.block_number == block
    usage = zkfl("devnet", "mine", "-w", federation, "--json")
    assert usage.code == 2 and usage.json["message"] == "give either --blocks N or --to-deadline"


def test_a_chain_that_stops_answering_is_a_chain_error_naming_its_url(tmp_path: Path) -> None:
    """The transport maps a lost connection to ChainError (exit 2 in every command), with the URL
    and what to do, wherever in a command it happens."""
    devnet = start_devnet(tmp_path)
    chain = connect(devnet.rpc_url, hint="start it again")
    assert chain.w3.eth.block_number >= 0
    stop_devnet(tmp_path)
    with pytest.raises(ChainError) as lost:
        chain.w3.eth.get_balance("0x" + "11" * 20)
    assert str(lost.value) == (
        f"cannot reach a JSON-RPC node at {devnet.rpc_url} (eth_getBalance: Connection refused); start it again"
    )
