"""The content-addressed store: CIDs computed locally, content checked on every read, two transports."""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from multiformats import CID

from zkfl.cli.render import exit_code
from zkfl.errors import ConfigError, ContentMismatchError, IntegrityError, LinkError, ProofError, StoreError
from zkfl.store.artifacts import IpfsStore, LocalStore, get_json, get_vector, open_store, put_json, put_vector


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


class _FakeKubo(BaseHTTPRequestHandler):
    """The two endpoints of Kubo's RPC API that IpfsStore uses, over a dict (no IPFS node here)."""

    blocks: dict[str, bytes] = {}

    def do_POST(self) -> None:
        url = urllib.parse.urlparse(self.path)
        query = urllib.parse.parse_qs(url.query)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if url.path == "/api/v0/block/put":
            assert query == {"cid-codec": ["raw"], "mhtype": ["sha2-256"]}
            data = body.split(b"\r\n\r\n", 1)[1].rsplit(b"\r\n--", 1)[0]
            from zkfl.store.cid import content_id

            cid = content_id(data)
            self.blocks[cid] = data
            self._reply(200, json.dumps({"Key": cid, "Size": len(data)}).encode())
        elif url.path == "/api/v0/block/get" and query["arg"][0] in self.blocks:
            self._reply(200, self.blocks[query["arg"][0]])
        else:
            self._reply(500, b'{"Message":"block not found"}')

    def _reply(self, code: int, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def kubo() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeKubo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_ipfs_store_speaks_the_block_api_with_the_same_cids(kubo: str, tmp_path: Path) -> None:
    store = open_store(kubo)
    assert isinstance(store, IpfsStore)
    cid = store.put(b"\x00\x01 weights")
    assert cid == LocalStore(tmp_path).put(b"\x00\x01 weights")
    assert store.get(cid) == b"\x00\x01 weights"
    _FakeKubo.blocks[cid] = b"swapped"
    with pytest.raises(StoreError, match="does not match its CID"):
        store.get(cid)


def test_unreachable_ipfs_api_is_named() -> None:
    with pytest.raises(StoreError, match="cannot reach the IPFS API at http://127.0.0.1:9"):
        IpfsStore("http://127.0.0.1:9", timeout=2).put(b"x")


def test_content_that_does_not_match_its_cid_is_an_integrity_failure_that_exits_1(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    cid = store.put(b"the update")
    (tmp_path / "blocks" / cid).write_bytes(b"the updatf")
    with pytest.raises(ContentMismatchError) as mismatch:
        store.get(cid)
    assert isinstance(mismatch.value, IntegrityError) and isinstance(mismatch.value, StoreError)
    assert exit_code(mismatch.value) == exit_code(LinkError("a link")) == exit_code(ProofError("a proof")) == 1
    assert exit_code(StoreError("unreachable")) == exit_code(ConfigError("bad input")) == 2
