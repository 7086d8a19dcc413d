"""Where `zkfl run` proves a round's clients: one after another here, or all at once as Ray tasks
on a local Ray. Both finalize the same bytes (the proofs run elsewhere, the workspace stays the
source of truth), and an outside audit of the Ray run passes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import LOGREG, PUBLIC_TERMS
from helpers import use_session_cache, write_data

from zkfl.audit.audit_report import AuditReport
from zkfl.audit.auditor import AuditOptions, audit_federation
from zkfl.errors import ConfigError
from zkfl.pipeline import run_federation
from zkfl.pipeline.executors import RayExecutor, SerialExecutor, executor_named
from zkfl.pipeline.workspace import Workspace, WorkspaceConfig
from zkfl.store.artifacts import get_vector

pytestmark = pytest.mark.prover
CLIENTS = 2


@dataclass(frozen=True)
class Runs:
    serial: Workspace
    ray: Workspace
    audit: AuditReport


def _workspace(root: Path, cache_dir: Path) -> Workspace:
    ws, _ = Workspace.init(root, WorkspaceConfig(LOGREG, slots=CLIENTS, terms=PUBLIC_TERMS))
    use_session_cache(root, cache_dir)
    return ws


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> Iterator[Runs]:
    root = tmp_path_factory.mktemp("executors")
    files = [write_data(root / f"client-{i}.npz", 40 + i) for i in range(CLIENTS)]
    serial, ray = _workspace(root / "serial", cache_dir), _workspace(root / "ray", cache_dir)
    try:
        run_federation(serial, files, 1, batches=2, seed=5, executor=SerialExecutor())
        run_federation(ray, files, 1, batches=2, seed=5, executor=RayExecutor(cpus_per_client=1))
        deployment = ray.deployment()
        audit = audit_federation(ray.chain.rpc_url, deployment["coordinator"], ray.store.root, AuditOptions())
        yield Runs(serial, ray, audit)
    finally:
        serial.stop_devnet()
        ray.stop_devnet()


def test_clients_proven_as_ray_tasks_finalize_the_same_model_as_proven_here(runs: Runs) -> None:
    models = []
    for ws in (runs.serial, runs.ray):
        coordinator = ws.coordinator()
        assert coordinator.current_round == 1 and coordinator.round(0).accepted == CLIENTS
        models.append(get_vector(ws.store, coordinator.finalized_rounds()[0].next_model_cid).tolist())
    assert models[0] == models[1]
    report = runs.audit
    assert report.ok, [f"{f.check} {f.scope}: {f.detail}" for f in report.failures]
    assert {"update-sum", "sum-exact", "fedavg"} <= {f.check for f in report.checks}


def test_an_unknown_executor_or_cpu_count_is_named() -> None:
    with pytest.raises(ConfigError, match="unknown executor 'gpu': expected one of serial, ray"):
        executor_named("gpu")
    with pytest.raises(ConfigError, match="cpus per client must be at least 1, got 0"):
        executor_named("ray", 0)
