"""The content-addressed store: CIDs computed locally, content checked on every read, two transports."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from helpers import FakeKubo, fake_kubo
from multiformats import CID

from zkfl.cli.render import exit_code
from zkfl.errors import ConfigError, ContentMismatchError, IntegrityError, LinkError, ProofError, StoreError
from zkfl.store.artifacts import (
    MAX_BLOCK_BYTES,
    IpfsStore,
    LocalStore,
    get_json,
    get_vector,
    open_store,
    put_json,
    put_vector,
)
from zkfl.store.cid import content_id


def test_local_store_round_trips_by_cid(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    cid = store.put(b"weights")
    assert CID.decode(cid).version == 1 and CID.decode(cid).codec.name == "raw"
    assert store.get(cid) == b"weights" and store.has(cid)
    vector = np.array([1, -2, 3 << 40], dtype=np.int64)
    assert np.array_equal(get_vector(store, put_vector(store, vector)), vector)
    assert get_json(store, put_json(store, {"a": 1})) == {"a": 1}


def test_local_store_detects_changed_bytes(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    cid = store.put(b"original")
    (tmp_path / "blocks" / cid).write_bytes(b"tampered")
    with pytest.raises(StoreError, match=f"content under {cid} .* does not match its CID"):
        store.get(cid)


def test_missing_and_malformed_cids_are_named(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    with pytest.raises(StoreError, match="is not in the store"):
        store.get(LocalStore(tmp_path / "other").put(b"elsewhere"))
    with pytest.raises(StoreError, match="not a CIDv1"):
        store.get("../../etc/passwd")
    with pytest.raises(StoreError, match="not a fixed-point vector"):
        get_vector(store, store.put(b"odd"))


@pytest.mark.parametrize(
    ("data", "kubo_cid"),
    [
        (b"", "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"),
        (b"hello world", "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"),
    ],
)
def test_cids_are_the_ones_kubo_publishes(data: bytes, kubo_cid: str) -> None:
    """Pinned to the CIDs Kubo gives these bytes (`ipfs block put --cid-codec=raw`), and rebuilt by
    hand from the spec (multibase b, CIDv1 0x01, raw 0x55, sha2-256 0x12, 32 bytes) without the
    multiformats library, so neither a library change nor a codec mix-up goes unnoticed."""
    by_hand = "b" + base64.b32encode(bytes([0x01, 0x55, 0x12, 0x20]) + hashlib.sha256(data).digest()).decode()
    assert content_id(data) == by_hand.lower().rstrip("=") == kubo_cid


@pytest.fixture
def kubo() -> Iterator[FakeKubo]:
    with fake_kubo() as node:
        yield node


def test_ipfs_store_speaks_the_block_api_with_the_same_cids(kubo: FakeKubo, tmp_path: Path) -> None:
    store = open_store(kubo.url)
    assert isinstance(store, IpfsStore)
    cid = store.put(b"\x00\x01 weights")
    assert cid == LocalStore(tmp_path).put(b"\x00\x01 weights")
    assert store.get(cid) == b"\x00\x01 weights" and store.has(cid) and cid in kubo.pins
    # the options js-ipfs needs as well: format=raw beside cid-codec=raw, base32 CIDs, a timeout on every read
    assert kubo.options("block/put")[0] == {
        "format": "raw",
        "cid-codec": "raw",
        "mhtype": "sha2-256",
        "pin": "true",
        "cid-base": "base32",
    }
    assert kubo.options("block/get")[0]["timeout"] == kubo.options("block/stat")[0]["timeout"] == "30000ms"
    kubo.blocks[cid] = b"swapped"
    with pytest.raises(ContentMismatchError, match=f"content under {cid} in {kubo.url} does not match its CID"):
        store.get(cid)


def test_artifacts_over_the_request_limit_are_imported_as_one_raw_block(kubo: FakeKubo, tmp_path: Path) -> None:
    """An SRS is megabytes: it is imported as a one-block CAR (past js-ipfs's 1 MiB request limit and
    Kubo's 2 MiB block limit) and is still one raw block under the CID of its bytes."""
    store = IpfsStore(kubo.url)
    for size in (MAX_BLOCK_BYTES - 200, MAX_BLOCK_BYTES, 3 << 20):
        data = np.random.default_rng(size).bytes(size)
        cid = store.put(data)
        assert cid == LocalStore(tmp_path).put(data) and kubo.blocks[cid] == data and cid in kubo.pins
        assert store.get(cid) == data
    assert [len(kubo.options(endpoint)) for endpoint in ("block/put", "dag/import")] == [1, 2]
    assert all(options["allow-big-block"] == "true" for options in kubo.options("dag/import"))


def test_a_node_that_names_the_bytes_otherwise_is_refused_naming_both_cids(kubo: FakeKubo) -> None:
    store, honest = IpfsStore(kubo.url), kubo.answer
    expected = content_id(b"weights")
    kubo.answer = lambda endpoint, options, body: honest(endpoint, options | {"format": "v0", "cid-codec": "raw"}, body)
    with pytest.raises(
        StoreError, match=f"stored the artifact as Qm\\w+ \\(CIDv0, dag-pb, sha2-256\\) where its CID is {expected}"
    ):
        store.put(b"weights")
    kubo.answer = lambda endpoint, options, body: honest(endpoint, options, body + b"!")
    with pytest.raises(
        ContentMismatchError, match=f"stored the artifact as {content_id(b'weights!')}, but its bytes are {expected}"
    ):
        store.put(b"weights")


def test_a_cid_the_node_lacks_is_a_store_error_and_not_held(kubo: FakeKubo) -> None:
    store, missing = IpfsStore(kubo.url, timeout=2), content_id(b"never stored")
    with pytest.raises(StoreError, match=f"{missing} is not on the IPFS node at {kubo.url} .*could not find {missing}"):
        store.get(missing)
    assert store.has(missing) is False
    assert kubo.options("block/get")[0]["timeout"] == "2000ms"


def test_unreachable_ipfs_api_is_named() -> None:
    store = IpfsStore("http://127.0.0.1:9", timeout=2)
    with pytest.raises(StoreError, match=r"cannot reach the IPFS API at http://127\.0\.0\.1:9"):
        store.put(b"x")
    with pytest.raises(StoreError, match="cannot reach"):  # not "the node lacks it"
        store.has(content_id(b"x"))


def test_content_that_does_not_match_its_cid_is_an_integrity_failure_that_exits_1(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    cid = store.put(b"the update")
    (tmp_path / "blocks" / cid).write_bytes(b"the updatf")
    with pytest.raises(ContentMismatchError) as mismatch:
        store.get(cid)
    assert isinstance(mismatch.value, IntegrityError) and isinstance(mismatch.value, StoreError)
    assert exit_code(mismatch.value) == exit_code(LinkError("a link")) == exit_code(ProofError("a proof")) == 1
    assert exit_code(StoreError("unreachable")) == exit_code(ConfigError("bad input")) == 2
