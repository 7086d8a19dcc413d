"""A federation of a user's own torch model (a tiny CNN named "file.py:function"): its owner exports
and deploys it; a client on another machine joins from the chain and the store alone, compiling
the published graph (the model's file is gone by then, so no Python of the model can run there),
proves a round whose update is accepted on-chain and aggregated; an outsider's audit rebuilds the
circuits from the published graphs and settings and passes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import PUBLIC_TERMS
from helpers import use_session_cache, write_data
from typer.testing import CliRunner

from zkfl.audit import AuditOptions, audit_federation
from zkfl.circuits import TrainingStepSpec, user_models
from zkfl.circuits.kinds import CircuitKind
from zkfl.circuits.user_models import torch_model
from zkfl.cli.app import app
from zkfl.errors import ConfigError
from zkfl.federation.manifest import load_manifest
from zkfl.pipeline import (
    aggregate_round,
    join_federation,
    prove_update,
    register_client,
    setup_federation,
    submit_update,
)
from zkfl.pipeline.workspace import Workspace, WorkspaceConfig

pytestmark = pytest.mark.prover

MODEL_FILE = '''
from torch import nn


def tiny_cnn():
    """1x4x4 images as rows of 16 features -> a 3x3 convolution -> pooling -> 3 classes."""
    return nn.Sequential(
        nn.Unflatten(1, (1, 4, 4)), nn.Conv2d(1, 2, 3), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(2, 3)
    )


def with_sigmoid():
    return nn.Sequential(nn.Linear(16, 3), nn.Sigmoid())
'''


def _never_imported(source: str) -> None:
    raise AssertionError(f"a participant or an auditor imported the model's Python {source}")


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("owner-files") / "models.py"
    path.write_text(MODEL_FILE)
    return path


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path, model_file: Path) -> Iterator[Workspace]:
    """The owner's deployed federation; afterwards the model's file is moved away."""
    spec = TrainingStepSpec(torch_model(f"{model_file}:tiny_cnn", features=16), batch_size=4, local_steps=1)
    ws, _ = Workspace.init(
        tmp_path_factory.mktemp("user-model") / "owner", WorkspaceConfig(spec, 2, terms=PUBLIC_TERMS)
    )
    use_session_cache(ws.root, cache_dir)
    setup_federation(ws)
    model_file.rename(model_file.with_suffix(".moved"))
    yield ws
    ws.stop_devnet()


def test_a_joined_client_proves_a_user_model_from_its_published_graph_and_the_audit_rebuilds_it(
    federation: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    coordinator = federation.deployment()["coordinator"]
    store = str(federation.root / "store")
    manifest = load_manifest(federation.store, federation.coordinator().circuits_digest)
    assert manifest.model["model"]["family"] == "torch"
    assert [name for name, _ in manifest.model["model"]["parameters"]] == ["1.weight", "1.bias", "5.weight", "5.bias"]

    monkeypatch.setattr(user_models, "_call", _never_imported)  # from here on, as on another machine
    joined = Workspace.open(
        join_federation(tmp_path / "client", federation.chain.rpc_url, coordinator, store).workspace
    )
    graph = joined.published_paths[CircuitKind.CLIENT][0]
    assert graph.read_bytes() == federation.circuits.client.circuit.graph_path.read_bytes()
    assert joined.circuits.client.vk_path.read_bytes() == federation.circuits.client.vk_path.read_bytes()

    with pytest.raises(ConfigError, match="joined a federation someone else deployed"):
        setup_federation(joined)  # which would make genesis weights with the model's Python

    monkeypatch.setenv("ZKFL_CLIENT_KEY", federation.signer("client", 0).key.hex())
    register_client(joined, "alice", write_data(tmp_path / "alice.npz", 7, features=16), batches=1, seed=3)
    prove_update(joined, "alice")
    submit_update(joined, "alice")
    aggregate_round(federation)
    assert federation.coordinator().current_round == 1  # the update was accepted and aggregated

    report = audit_federation(federation.chain.rpc_url, coordinator, store, AuditOptions(rebuild=True))
    rebuild = [f for f in report.checks if f.check == "rebuild"]
    assert report.ok and len(rebuild) == 1 and rebuild[0].ok, report.reason


def test_init_records_a_user_model_and_refuses_an_unsupported_one(tmp_path: Path) -> None:
    source = tmp_path / "models.py"
    source.write_text(MODEL_FILE)
    runner = CliRunner()
    options = ["--features", "16", "--slots", "2", "--updates", "public"]
    ok = runner.invoke(app, ["init", str(tmp_path / "a"), "--model", f"{source}:tiny_cnn", *options])
    assert ok.exit_code == 0, ok.output
    config = Workspace.open(tmp_path / "a").config
    assert config.training.model.classes == 3 and config.training.num_params == 2 * 9 + 2 + 3 * 2 + 3
    refused = runner.invoke(app, ["init", str(tmp_path / "b"), "--model", f"{source}:with_sigmoid", *options])
    assert refused.exit_code == 2 and "layer '1' (Sigmoid) is not supported" in refused.output
    with pytest.raises(ConfigError, match="does not take rows of 15 features"):
        torch_model(f"{source}:tiny_cnn", features=15)
    assert not (tmp_path / "b").exists()
