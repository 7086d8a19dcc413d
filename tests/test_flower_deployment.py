"""Smoke test of Flower's deployment runtime, as `scripts/flower-deployment.sh` runs it: a
SuperLink and 3 SuperNodes as separate processes, each client in its own workspace joined from the
chain and the store (`zkfl join`), `flwr run` against the SuperLink, and the script's own audit of
the run. The federation is private (the default): the masking keys, the masked uploads and the
reveals travel between separate workspaces through Flower's messages, the chain and the store
alone. Small shapes (the digits app at batch 2), one round, real proofs, real anvil."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path

import pytest

from zkfl.pipeline.workspace import Workspace

pytestmark = pytest.mark.prover
REPO = Path(__file__).resolve().parents[1]
CLIENTS = 3  # a private round's masking needs three


def _free_port_block(size: int = 16) -> int:
    """A port whose next `size` ports are free too (the SuperLink's, then one per SuperNode)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + size < 65535 and all(_free(base + i) for i in range(size)):
            return base
    raise RuntimeError("no block of free ports")


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_the_deployment_script_finalizes_a_round_with_separate_supernodes(tmp_path: Path) -> None:
    root = tmp_path / "deployment"
    env = {
        **os.environ,
        "ZKFL_DEPLOYMENT_ROOT": str(root),
        "ZKFL_CLIENTS": str(CLIENTS),
        "ZKFL_SUPERLINK_PORT": str(_free_port_block()),
        "ZKFL_RUN_CONFIG": "batch-size=2",
    }
    done = subprocess.run(
        ["bash", "scripts/flower-deployment.sh", "1"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, (done.stdout[-4000:], done.stderr[-4000:])
    assert "OK: 1 rounds finalized on-chain" in done.stdout and "audit: ok" in done.stdout
    summary = json.loads((root / "server" / "reports" / "flower.json").read_text())
    metrics = summary["train_metrics"]["1"]
    assert metrics["accepted"] == CLIENTS and metrics["replies-kept"] == CLIENTS and metrics["replies-dropped"] == 0
    server = Workspace.open(root / "server")
    assert server.config.terms.private and server.coordinator().round(0).finalized
    for i in range(CLIENTS):  # each client proved in its own workspace, with keys it made itself
        client = Workspace.open(root / f"client-{i}")
        assert not (client.root / "build").is_symlink() and (client.root / "published").is_dir()
        assert (client.client_dir(f"client-{i}") / "rounds" / "0.json").is_file()
        assert (client.client_dir(f"client-{i}") / "secagg" / "round-0-record.json").is_file()  # shared, revealed
    assert not any(_alive(int(p.read_text())) for p in (root / "pids").iterdir())  # the script stopped them all


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
