"""`zkfl run` goes on where it stopped: a client that has used its committed batches commits fresh
salted ones on-chain (`commitData`) while a round is open, so a later run with more rounds trains
from the next round on; `--batches` sets how many it commits at a time; a client that used every
batch outside `run` is told what to do, and that works. The run's report gives its config, the
dev-SRS warning and the round checker's verdict; `zkfl run` says where the report is."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import LOGREG, PUBLIC_TERMS, SLOTS
from helpers import use_session_cache, write_data

from zkfl.errors import ConfigError
from zkfl.pipeline import prove_update, register_client, run_federation, setup_federation, submit_update
from zkfl.pipeline.participant import NoUsableBatch
from zkfl.pipeline.workspace import Workspace, WorkspaceConfig
from zkfl.zk.srs import DEV_SRS_WARNING

ZKFL = str(Path(sys.executable).with_name("zkfl"))


def _commitments(ws: Workspace, name: str) -> list[str]:
    return (ws.read_record(ws.client_record_path(name)) or {})["commitments"]


def _open_batches(ws: Workspace, name: str) -> int:
    return ws.coordinator().client(ws.read_record(ws.client_record_path(name))["address"]).open_batches


@pytest.mark.prover
def test_a_run_goes_on_with_more_rounds_and_a_spent_client_is_told_what_works(
    tmp_path: Path, cache_dir: Path, logreg_circuits
) -> None:
    ws, _ = Workspace.init(tmp_path / "fed", WorkspaceConfig(LOGREG, slots=SLOTS, terms=PUBLIC_TERMS))
    use_session_cache(ws.root, cache_dir)
    alice, bob = write_data(tmp_path / "alice.npz", 3), write_data(tmp_path / "bob.npz", 4)
    try:
        setup_federation(ws)
        register_client(ws, "bob", bob, batches=1, seed=9)  # bob trains outside `run`, on his one batch
        prove_update(ws, "bob")
        submit_update(ws, "bob")

        run_federation(ws, [alice], 2, seed=1)
        assert ws.coordinator().current_round == 2
        assert len(_commitments(ws, "alice")) == 3  # the 2 it registered, and 1 kept ready for a next round
        assert _open_batches(ws, "alice") == 1

        with pytest.raises(NoUsableBatch, match=r"used all 1 committed batches; commit fresh ones .*zkfl register"):
            prove_update(ws, "bob")
        topped_up = register_client(ws, "bob", bob, batches=2)  # what the message says to do
        assert topped_up.committed_now == 2 and topped_up.batches == 3 and not topped_up.registered_now
        with pytest.raises(NoUsableBatch, match="prove once round 3 is open"):
            prove_update(ws, "bob")  # committed while round 2 is open: they train from round 3 on

        second = run_federation(ws, [alice], 3, batches=2, seed=1)
        coordinator = ws.coordinator()
        assert coordinator.current_round == 3
        assert all(coordinator.round(r).finalized for r in range(3))
        assert [r.clients for r in second.rounds] == [["alice"], ["alice"], ["alice"]]
        assert len(_commitments(ws, "alice")) == 5 and _open_batches(ws, "alice") == 2  # --batches honoured
        assert second.config["batches_per_commit"] == 2 and second.dev_srs

        done = subprocess.run(
            [ZKFL, "run", "-w", str(ws.root), "--data", str(alice), "--rounds", "3"],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        report = ws.reports_dir / "report.md"
        assert f"report written to {report}" in done.stdout
        markdown = report.read_text()
        assert "**PASSED**: all 3 rounds verify" in markdown
        assert "| verification mode | eager |" in markdown and "| batch size | 4 |" in markdown
        assert DEV_SRS_WARNING in markdown
    finally:
        ws.stop_devnet()


def test_run_refuses_more_batches_than_a_client_may_hold_before_deploying(tmp_path: Path) -> None:
    ws, _ = Workspace.init(tmp_path / "fed", WorkspaceConfig(LOGREG, slots=SLOTS, terms=PUBLIC_TERMS))
    alice = write_data(tmp_path / "alice.npz", 3)
    limit = ws.config.terms.max_open_batches
    with pytest.raises(
        ConfigError, match=rf"batches must be between 1 and the federation's max_open_batches \({limit}\)"
    ):
        run_federation(ws, [alice], 2, batches=limit + 1)
    assert not ws.state_dir.exists() and not ws.devnet_dir.exists()
