"""A tree federation through the pipeline: `zkfl run`'s library call with its leaves proven one
after another, and again as Ray tasks on a local Ray; both finalize the same bytes, and an outside
audit from the chain and the store passes, replaying the tree."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from conftest import LOGREG
from helpers import use_session_cache, write_data

from zkfl.audit.audit_report import AuditReport
from zkfl.audit.auditor import AuditOptions, audit_federation
from zkfl.fedavg import fixed_point_fedavg
from zkfl.pipeline import prove_update, run_federation, submit_update
from zkfl.pipeline.aggregation import aggregate_round, wait_until_finalizable
from zkfl.pipeline.devnet_clock import DevnetClock
from zkfl.pipeline.executors import LeafJob, RayExecutor, SerialExecutor
from zkfl.pipeline.workspace import Workspace, WorkspaceConfig
from zkfl.roles.aggregator import LeafResult
from zkfl.store.artifacts import get_vector

pytestmark = pytest.mark.prover
CLIENTS = 3  # leaf 0 full, leaf 1 half (its slot 3 empty)


@dataclass(frozen=True)
class TreeRuns:
    serial: Workspace
    ray: Workspace
    audit: AuditReport


def _workspace(root: Path, cache_dir: Path) -> Workspace:
    ws, _ = Workspace.init(root, WorkspaceConfig(LOGREG, slots=4, leaf_slots=2))
    use_session_cache(root, cache_dir)
    return ws


@pytest.fixture(scope="module")
def tree_runs(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> Iterator[TreeRuns]:
    root = tmp_path_factory.mktemp("tree")
    files = [write_data(root / f"client-{i}.npz", 30 + i) for i in range(CLIENTS)]
    serial, ray = _workspace(root / "serial", cache_dir), _workspace(root / "ray", cache_dir)
    try:
        run_federation(serial, files, 1, batches=2, seed=5)
        run_federation(ray, files, 1, batches=2, seed=5, executor=RayExecutor(cpus_per_leaf=1))
        deployment = serial.deployment()
        audit = audit_federation(serial.chain.rpc_url, deployment["coordinator"], serial.store.root, AuditOptions())
        yield TreeRuns(serial, ray, audit)
    finally:
        serial.stop_devnet()
        ray.stop_devnet()


def _leaf_records(ws: Workspace) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((ws.state_dir / "rounds").glob("0-leaf-*.json"))]


def test_a_tree_round_equals_the_flat_fedavg_and_its_audit_passes(tree_runs: TreeRuns) -> None:
    ws = tree_runs.serial
    coordinator = ws.coordinator()
    assert coordinator.current_round == 1 and coordinator.leaf_slots == 2
    events = coordinator.aggregated_leaves(0)
    assert sorted((e.leaf, e.accepted_updates) for e in events) == [(0, 2), (1, 1)]
    updates = [get_vector(ws.store, u.cid) for u in sorted(coordinator.accepted_updates(0), key=lambda u: u.slot)]
    flat = fixed_point_fedavg(updates, LOGREG.num_params, LOGREG.sample_count)
    np.testing.assert_array_equal(get_vector(ws.store, coordinator.finalized_rounds()[0].next_model_cid), flat)
    report = tree_runs.audit
    assert report.ok, [f"{f.check} {f.scope}: {f.detail}" for f in report.failures]
    checks = {f.check for f in report.checks}
    assert {"leaf-links", "leaf-proof-offchain", "leaf-proof-onchain", "partial-sum", "fedavg"} <= checks
    assert [(row.leaf, row.sum_exact, row.proof.offchain) for row in report.rounds[0].leaves] == [
        (0, True, True),
        (1, True, True),
    ]


def test_the_ray_executor_runs_the_same_tree_with_the_same_bytes_out(tree_runs: TreeRuns) -> None:
    serial, ray = tree_runs.serial.coordinator(), tree_runs.ray.coordinator()
    assert ray.current_round == 1
    assert [r.next_model_cid for r in ray.finalized_rounds()] == [r.next_model_cid for r in serial.finalized_rounds()]
    assert [(r["leaf"], r["partial_cid"]) for r in _leaf_records(tree_runs.ray)] == [
        (r["leaf"], r["partial_cid"]) for r in _leaf_records(tree_runs.serial)
    ]


class _StopsAfterOneLeaf(SerialExecutor):
    """Proves the first leaf, then dies as a killed aggregator would."""

    def run(self, jobs: Sequence[LeafJob]) -> Iterator[LeafResult]:
        yield from super().run(jobs[:1])
        raise KeyboardInterrupt("the aggregator was stopped")


class _Counting(SerialExecutor):
    def __init__(self) -> None:
        self.proven: list[int] = []

    def run(self, jobs: Sequence[LeafJob]) -> Iterator[LeafResult]:
        self.proven += [job.leaf for job in jobs]
        yield from super().run(jobs)


def test_an_aggregation_stopped_midway_resumes_without_proving_a_finished_leaf_again(tree_runs: TreeRuns) -> None:
    ws = tree_runs.serial
    for name in ws.client_names():
        prove_update(ws, name)
        submit_update(ws, name)
    wait_until_finalizable(ws, 1, clock=DevnetClock(ws.chain))
    with pytest.raises(KeyboardInterrupt):
        aggregate_round(ws, executor=_StopsAfterOneLeaf())
    assert ws.coordinator().current_round == 1 and len(list((ws.state_dir / "rounds").glob("1-leaf-*.json"))) == 1
    counting = _Counting()
    outcome = aggregate_round(ws, executor=counting)
    assert counting.proven == [1] and outcome.round == 1 and ws.coordinator().current_round == 2
    assert sorted(e.leaf for e in ws.coordinator().aggregated_leaves(1)) == [0, 1]
