"""The IPFS store against a real IPFS node: js-ipfs (npm `ipfs`, installed in tools/ipfs/ by `make
setup`), started offline by scripts/ipfs.sh once for the session. It stores every artifact under the
CID a local store gives it, answers a missing CID within the timeout, is caught when its blocks
are tampered with, and carries a whole federation round, SRS included."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from conftest import LOGREG, PUBLIC_TERMS, SLOTS
from helpers import use_session_cache, write_data

from zkfl.errors import ContentMismatchError, StoreError
from zkfl.federation.manifest import load_manifest
from zkfl.pipeline import aggregate_round, prove_update, register_client, setup_federation, submit_update, verify_round
from zkfl.pipeline.workspace import Workspace, WorkspaceConfig
from zkfl.store.artifacts import MAX_BLOCK_BYTES, IpfsStore, LocalStore, get_json, get_vector, put_json, put_vector
from zkfl.store.cid import content_id
from zkfl.store.ipfs import _multipart

ROOT = Path(__file__).resolve().parents[1]
IPFS_SH = ROOT / "scripts" / "ipfs.sh"
JSIPFS = ROOT / "tools" / "ipfs" / "node_modules" / ".bin" / "jsipfs"


@dataclass(frozen=True)
class Node:
    url: str
    repo: Path  # the node's IPFS repository; its blocks are files under blocks/


@pytest.fixture(scope="session")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """One js-ipfs node for the session, on a free port, stopped at the end."""
    if not JSIPFS.exists():
        pytest.skip(f"js-ipfs is not installed ({JSIPFS} is missing): run `make setup`")
    directory = tmp_path_factory.mktemp("ipfs")
    started = subprocess.run(
        [IPFS_SH, "start", "--dir", directory, "--port", "0"], capture_output=True, text=True, timeout=120, check=False
    )
    assert started.returncode == 0, started.stderr
    try:
        yield Node(started.stdout.strip(), directory / "repo")
    finally:
        subprocess.run([IPFS_SH, "stop", "--dir", directory], capture_output=True, timeout=60, check=False)


@pytest.fixture
def store(node: Node) -> IpfsStore:
    return IpfsStore(node.url, timeout=2)


def test_artifacts_round_trip_under_the_cids_of_a_local_store(store: IpfsStore, tmp_path: Path) -> None:
    local = LocalStore(tmp_path)
    vector = np.array([1, -2, 3 << 40], dtype=np.int64)
    assert put_vector(store, vector) == put_vector(local, vector)
    assert np.array_equal(get_vector(store, put_vector(store, vector)), vector)
    assert put_json(store, {"round": 1}) == put_json(local, {"round": 1})
    assert get_json(store, put_json(store, {"round": 1})) == {"round": 1}
    cid = store.put(b"hello world")
    assert cid == local.put(b"hello world") == "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"
    assert store.get(cid) == b"hello world" and store.has(cid)
    assert store.put(b"hello world") == cid  # putting it again is a no-op under the same CID


def test_artifacts_past_the_nodes_request_limit_are_one_block_under_their_cid(store: IpfsStore, tmp_path: Path) -> None:
    """js-ipfs refuses requests over 1 MiB: the largest block/put and the smallest CAR import on
    either side of that limit, and an SRS-sized artifact, all round trip under the local CID."""
    framing = len(_multipart(b"")[0])
    for size in (MAX_BLOCK_BYTES - framing, MAX_BLOCK_BYTES - framing + 1, (4 << 20) + 260):
        data = np.random.default_rng(size).bytes(size)
        cid = store.put(data)
        assert cid == LocalStore(tmp_path).put(data)
        assert store.get(cid) == data


def test_a_missing_cid_is_a_store_error_within_the_timeout(store: IpfsStore) -> None:
    missing = content_id(b"never stored anywhere")
    started = time.monotonic()
    with pytest.raises(StoreError, match=f"{missing} is not on the IPFS node at {store.api_url} .*timed out"):
        store.get(missing)
    assert store.has(missing) is False
    assert time.monotonic() - started < 10  # two lookups of 2 s each, not js-ipfs's endless search


def test_a_block_changed_in_the_nodes_repository_is_refused(store: IpfsStore, node: Node) -> None:
    original = b"the aggregator's proof, byte for byte"
    cid = store.put(original)
    [block] = [path for path in (node.repo / "blocks").rglob("*.data") if path.read_bytes() == original]
    block.write_bytes(original.replace(b"proof", b"pro0f"))  # js-ipfs serves it without checking its hash
    with pytest.raises(ContentMismatchError, match=f"content under {cid} in {node.url} does not match its CID"):
        store.get(cid)


@pytest.mark.prover
def test_a_federation_round_runs_and_verifies_through_the_ipfs_node(
    node: Node, tmp_path: Path, cache_dir: Path, logreg_circuits
) -> None:
    """Setup (manifest, keys' settings, the SRS, genesis), a client's update and proof, and the
    aggregation all go to the node and are read back from it by the round's verification. (One
    client: each proof takes tens of seconds here, and a second adds nothing the store sees.)"""
    ws, _ = Workspace.init(
        tmp_path / "fed", WorkspaceConfig(LOGREG, slots=SLOTS, terms=PUBLIC_TERMS, ipfs_api=node.url)
    )
    use_session_cache(ws.root, cache_dir)
    assert isinstance(ws.store, IpfsStore)
    try:
        setup_federation(ws)
        register_client(ws, "alice", write_data(tmp_path / "alice.npz", 0), batches=2, seed=0)
        proved = prove_update(ws, "alice")
        submit_update(ws, "alice")
        aggregate_round(ws)
        verification = verify_round(ws, 0)
        coordinator = ws.coordinator()
        assert coordinator.current_round == 1 and coordinator.round(0).finalized
        manifest = load_manifest(ws.store, coordinator.circuits_digest)
    finally:
        ws.stop_devnet()
    assert verification.ok, [check for check in verification.checks if not check.ok]
    assert not (ws.root / "store").exists()  # nothing went to a local store
    aggregation = verification.report.aggregation
    assert aggregation is not None and ws.store.has(aggregation.next_model_cid)
    assert ws.store.has(proved.update_cid) and ws.store.has(proved.proof_cid)
    srs = ws.store.get(manifest.commitment_srs_cid)  # megabytes: imported as one raw block
    assert len(srs) > MAX_BLOCK_BYTES and srs == ws.circuits.client.srs.path.read_bytes()
