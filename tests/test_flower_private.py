"""zkFL inside Flower with private updates (secure aggregation), real proofs on a real anvil: a
Flower simulation (Ray backend) of 3 clients x 1 round, in which `ZkFedAvg` and the client app run
the masking protocol over Message-API messages (`query.zkfl_keys`, `train`, `query.zkfl_reveal`),
ends on the very model `zkfl run` reaches in private mode on the same data. No reply carries an
update, the store holds none, and the round checker passes the round with no secret. Round 0 is
the round whose first key request comes before the share window opens: the nodes enrol, wait and
are asked again; later rounds share at once (`make flower-sim` runs ten)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import LOGREG
from flwr.app import Context, Message
from flwr.clientapp import ClientApp
from flwr.clientapp.typing import ClientAppCallable
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import FedAvg
from flwr.simulation import run_simulation
from helpers import use_session_cache, write_data

from zkfl.federation.terms import PRIVATE, FederationTerms
from zkfl.flower import ClientNode, ZkFedAvg, add_zk_handlers, weights_of
from zkfl.pipeline import run_federation, setup_federation
from zkfl.pipeline.inspection import verify_round
from zkfl.pipeline.round_model import round_model
from zkfl.pipeline.workspace import Workspace, WorkspaceConfig
from zkfl.store.cid import vector_bytes

pytestmark = pytest.mark.prover
CLIENTS, ROUNDS, SEED = 3, 1, 11
TERMS = FederationTerms(updates=PRIVATE, share_window=6, registration_window=14, submission_window=44)
"""On the devnet each transaction is a block: the share window holds one block per client, and more."""


@dataclass(frozen=True)
class PrivateFlowerRun:
    flower: Workspace
    reference: Workspace
    result: dict[str, Any]


def _workspace(root: Path, cache_dir: Path) -> Workspace:
    ws, _ = Workspace.init(root, WorkspaceConfig(LOGREG, slots=CLIENTS, terms=TERMS))
    use_session_cache(root, cache_dir)
    return ws


def _no_update_leaves(msg: Message, context: Context, call_next: ClientAppCallable) -> Message:
    """A Flower mod around every handler: a reply that carries an update fails (the strategy drops it)."""
    reply = call_next(msg, context)
    if not reply.has_error() and reply.content.array_records:
        raise AssertionError(f"a private {msg.metadata.message_type} reply carries {list(reply.content.array_records)}")
    return reply


@pytest.fixture(scope="module")
def private_flower_run(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path, logreg_circuits):
    root = tmp_path_factory.mktemp("flower-private")
    data_dir = root / "data"
    data_dir.mkdir()
    files = [write_data(data_dir / f"client-{i}.npz", 30 + i) for i in range(CLIENTS)]
    reference = _workspace(root / "reference", cache_dir)
    flower = _workspace(root / "flower", cache_dir)
    result: dict[str, Any] = {}
    try:
        run_federation(reference, files, ROUNDS, batches=ROUNDS + 1, seed=SEED)
        setup_federation(flower)
        server_app, client_app = ServerApp(), ClientApp(mods=[_no_update_leaves])

        @server_app.main()
        def main(grid: Grid, context: Context) -> None:
            try:
                strategy = ZkFedAvg(
                    flower,
                    FedAvg(
                        fraction_train=1.0, fraction_evaluate=0.0, min_train_nodes=CLIENTS, min_available_nodes=CLIENTS
                    ),
                )
                done = strategy.start(
                    grid=grid, initial_arrays=strategy.initial_arrays(), num_rounds=ROUNDS, timeout=600
                )
                result.update(arrays=done.arrays, metrics=done.train_metrics_clientapp, dropped=strategy.dropped)
            except BaseException as exc:  # the simulation only logs what its server thread raises
                result["error"] = exc

        flower_root = flower.root  # the client app travels to Ray workers: paths, not live connections

        def node(context: Context) -> ClientNode:
            config = {"workspace": str(flower_root), "data-dir": str(data_dir), "seed": SEED, "batches": ROUNDS + 1}
            return ClientNode.from_config({**config, "prover-threads": 1, **dict(context.node_config)})

        add_zk_handlers(client_app, node)

        environ = dict(os.environ)
        try:
            run_simulation(
                server_app=server_app,
                client_app=client_app,
                num_supernodes=CLIENTS,
                backend_config={"client_resources": {"num_cpus": 1}, "init_args": {"num_cpus": 2}},
            )
        finally:  # Flower's Ray backend sets PYTHONPATH (to this sys.path) in os.environ: keep it out of later tests
            os.environ.clear()
            os.environ.update(environ)
        yield PrivateFlowerRun(flower, reference, result)
    finally:
        reference.stop_devnet()
        flower.stop_devnet()


def test_a_private_flower_simulation_reaches_private_zkfl_runs_model_bit_for_bit(
    private_flower_run: PrivateFlowerRun,
) -> None:
    run = private_flower_run
    assert "error" not in run.result, repr(run.result.get("error"))
    assert run.result["dropped"] == {} or not any(run.result["dropped"].values()), run.result["dropped"]
    flower, reference = run.flower, run.reference
    assert flower.coordinator().current_round == reference.coordinator().current_round == ROUNDS
    final = weights_of(run.result["arrays"], "the final model")
    expected = round_model(reference.circuits.commitments, reference.store, reference.coordinator(), ROUNDS).weights
    np.testing.assert_array_equal(final, expected)
    onchain = round_model(flower.circuits.commitments, flower.store, flower.coordinator(), ROUNDS).weights
    np.testing.assert_array_equal(final, onchain)
    for metrics in run.result["metrics"].values():
        assert metrics["accepted"] == CLIENTS and metrics["replies-kept"] == CLIENTS and metrics["replies-dropped"] == 0


def test_the_store_holds_no_update_and_each_round_checks_out_with_no_secret(
    private_flower_run: PrivateFlowerRun,
) -> None:
    ws = private_flower_run.flower
    stored = [p.read_bytes() for p in (ws.root / "store").rglob("*") if p.is_file()]
    held = sorted((ws.root / "clients").glob("*/updates/round-*.bin"))
    assert len(held) == CLIENTS * ROUNDS
    for path in held:
        update = vector_bytes(np.frombuffer(path.read_bytes(), dtype="<i8"))
        assert not any(update in blob for blob in stored), f"{path} is in the store"
    for event in ws.coordinator().accepted_updates():
        assert json.loads(ws.store.get(event.cid))["format"] == "zkfl-secagg-v1"
    for r in range(ROUNDS):
        checked = verify_round(ws, r)
        assert checked.ok, [str(f) for f in checked.failures]
