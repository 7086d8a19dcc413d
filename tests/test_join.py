"""`zkfl join`: a client on another machine builds its workspace from the chain and the store alone
(no copy of the server's build), makes exactly the federation's keys, and its proof is accepted
on-chain and aggregated into the next global model."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import LOGREG
from helpers import use_session_cache, write_data

from zkfl.errors import ChainError, ConfigError, ContentMismatchError, IntegrityError, StoreError
from zkfl.fedavg import fixed_point_fedavg, update_sum
from zkfl.federation.manifest import load_manifest
from zkfl.federation.terms import PUBLIC, FederationTerms
from zkfl.pipeline import (
    aggregate_round,
    join_federation,
    prove_update,
    register_client,
    setup_federation,
    submit_update,
)
from zkfl.pipeline.round_model import round_model
from zkfl.pipeline.workspace import Workspace, WorkspaceConfig
from zkfl.store.artifacts import LocalStore, get_vector

pytestmark = pytest.mark.prover
SLOTS = 2
TERMS = FederationTerms(
    reward_wei=7,
    finalization_grace=30,
    challenge_window=9,
    challenge_bond_wei=3 * 10**15,
    challenger_share_bps=2_500,
    registration_window=40,
    reveal_window=11,
    max_open_batches=5,
    bond_gas_price_wei=1,
    updates=PUBLIC,
)
"""Every term off its default (but `share_window`, which a public federation has not), so that a join
that lost one would show."""


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path, logreg_circuits) -> Iterator[Workspace]:
    """A deployed federation on its own devnet (the server's side)."""
    config = WorkspaceConfig(LOGREG, slots=SLOTS, terms=TERMS)
    ws, _ = Workspace.init(tmp_path_factory.mktemp("join") / "server", config)
    use_session_cache(ws.root, cache_dir)
    setup_federation(ws)
    yield ws
    ws.stop_devnet()


def _join(federation: Workspace, root: Path):
    return join_federation(
        root, federation.chain.rpc_url, federation.deployment()["coordinator"], str(federation.root / "store")
    )


def test_a_joined_client_has_the_federations_keys_and_its_update_is_aggregated(
    federation: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outcome = _join(federation, tmp_path / "client")
    assert outcome.joined_now and outcome.dev_srs
    joined = Workspace.open(outcome.workspace)
    assert joined.config.terms == federation.config.terms == TERMS  # every term read back from the chain
    assert joined.coordinator().federation_id == federation.coordinator().federation_id
    assert not (joined.build_dir / "srs").exists()  # keys made with the federation's SRS, fetched from the store
    for mine, theirs in (
        (joined.circuits.client, federation.circuits.client),
        (joined.circuits.aggregator, federation.circuits.aggregator),
    ):
        assert mine.vk_path.read_bytes() == theirs.vk_path.read_bytes()
        assert mine.circuit.settings_path.read_bytes() == theirs.circuit.settings_path.read_bytes()
    assert _join(federation, tmp_path / "client").joined_now is False  # a second join confirms, changes nothing

    monkeypatch.setenv("ZKFL_CLIENT_KEY", federation.signer("client", 0).key.hex())  # not a devnet workspace
    register_client(joined, "alice", write_data(tmp_path / "alice.npz", 31), batches=2, seed=5)
    proved = prove_update(joined, "alice")
    submit_update(joined, "alice")
    aggregate_round(federation)
    assert federation.coordinator().current_round == 1
    update = get_vector(joined.store, proved.update_cid)
    model = round_model(federation.circuits.commitments, federation.store, federation.coordinator(), 1).weights
    np.testing.assert_array_equal(model, fixed_point_fedavg(update_sum([update])))


def test_a_workspace_whose_circuits_are_not_the_federations_is_refused(federation: Workspace, tmp_path: Path) -> None:
    _join(federation, tmp_path / "client")
    settings = tmp_path / "client" / "published" / "training_step.json"
    body = json.loads(settings.read_text())
    body["timestamp"] += 1  # any other settings: another manifest, so another circuits digest
    settings.write_text(json.dumps(body))
    with pytest.raises(IntegrityError, match="do not match its on-chain digest"):
        _join(federation, tmp_path / "client")


def test_join_names_a_wrong_rpc_url_or_coordinator(federation: Workspace, tmp_path: Path) -> None:
    coordinator = federation.deployment()["coordinator"]
    with pytest.raises(ConfigError, match="--rpc-url must be"):
        join_federation(tmp_path / "a", "localhost:8545", coordinator, str(federation.root / "store"))
    with pytest.raises(ChainError, match="no contract at"):
        join_federation(tmp_path / "b", federation.chain.rpc_url, "0x" + "11" * 20, str(federation.root / "store"))
    with pytest.raises(StoreError):
        join_federation(tmp_path / "c", federation.chain.rpc_url, coordinator, str(tmp_path / "empty-store"))
    assert not any((tmp_path / name).exists() for name in "abc")  # nothing half-made


def _altered_store(federation: Workspace, tmp_path: Path, altered: str) -> Path:
    """A copy of the federation's store that serves other bytes under one CID of its manifest:
    the SRS ("srs"), the client circuit's settings ("settings") or its published graph ("graph")."""
    store = tmp_path / "altered-store"
    shutil.copytree(federation.root / "store", store)
    manifest = load_manifest(LocalStore(store), federation.coordinator().circuits_digest)
    cid = {
        "srs": manifest.commitment_srs_cid,
        "settings": manifest.client.settings_cid,
        "graph": manifest.client.graph_cid,
    }[altered]
    block = store / "blocks" / cid
    body = bytearray(block.read_bytes())
    body[len(body) // 2] ^= 0x01
    block.write_bytes(bytes(body))
    return store


@pytest.mark.parametrize("altered", ["srs", "settings", "graph"])
def test_a_join_refused_for_altered_content_leaves_nothing_behind(
    federation: Workspace, tmp_path: Path, altered: str
) -> None:
    store = _altered_store(federation, tmp_path, altered)
    rpc_url, coordinator = federation.chain.rpc_url, federation.deployment()["coordinator"]
    with pytest.raises(ContentMismatchError):
        join_federation(tmp_path / "new", rpc_url, coordinator, str(store))
    assert not (tmp_path / "new").exists()  # no zkfl.toml, build/, SRS or settings left behind

    (tmp_path / "empty").mkdir()  # a folder the user made for it stays, empty
    with pytest.raises(ContentMismatchError):
        join_federation(tmp_path / "empty", rpc_url, coordinator, str(store))
    assert (tmp_path / "empty").is_dir() and not any((tmp_path / "empty").iterdir())
