"""Content-addressed artifact stores. Every artifact (weights, proofs, keys, the SRS, reports) is
addressed by its IPFS-compatible CIDv1 (raw codec, sha2-256), computed locally; every read checks
the bytes against the CID, so a store can lose data but never hand back the wrong data unnoticed.

Two transports behind one interface, as web3.py separates providers from what runs over them:
a directory (`LocalStore`, the default: a workspace's `store/`), or an IPFS node's HTTP RPC API
(`IpfsStore` in zkfl/store/ipfs.py: Kubo, or the js-ipfs node that `scripts/ipfs.sh start` runs),
which holds each artifact as one raw block under the same CID. `open_store` picks by location:
an http(s) URL is an IPFS API, anything else a directory.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from zkfl.atomic import write_atomic
from zkfl.errors import StoreError
from zkfl.fixedpoint import FixedArray
from zkfl.store.cid import check_cid, content_id, vector_bytes, verified
from zkfl.store.ipfs import MAX_BLOCK_BYTES, IpfsStore

__all__ = [
    "MAX_BLOCK_BYTES",
    "ArtifactStore",
    "IpfsStore",
    "LocalStore",
    "get_json",
    "get_vector",
    "open_store",
    "put_json",
    "put_vector",
]


class ArtifactStore(Protocol):
    """Where artifacts live, by CID."""

    def put(self, data: bytes) -> str: ...

    def get(self, cid: str) -> bytes: ...

    def has(self, cid: str) -> bool: ...


class LocalStore:
    """A directory of blocks, one file per CID, written atomically."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    def put(self, data: bytes) -> str:
        cid = content_id(data)
        path = self._path(cid)
        if not path.is_file():
            write_atomic(path, data)
        return cid

    def get(self, cid: str) -> bytes:
        path = self._path(cid)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise StoreError(f"{cid} is not in the store at {self.root}") from None
        return verified(cid, data, str(self.root))

    def has(self, cid: str) -> bool:
        return self._path(cid).is_file()

    def _path(self, cid: str) -> Path:
        check_cid(cid)
        return self.root / "blocks" / cid


def open_store(location: str | os.PathLike[str]) -> ArtifactStore:
    """`http(s)://...` is an IPFS HTTP API endpoint; anything else a local store directory."""
    text = str(location)
    if text.startswith(("http://", "https://")):
        return IpfsStore(text)
    return LocalStore(text)


# typed helpers ---------------------------------------------------------------------------------


def put_vector(store: ArtifactStore, vector: FixedArray) -> str:
    return store.put(vector_bytes(vector))


def get_vector(store: ArtifactStore, cid: str) -> FixedArray:
    data = store.get(cid)
    if len(data) % 8:
        raise StoreError(f"{cid} is not a fixed-point vector: {len(data)} bytes is not a multiple of 8")
    return np.frombuffer(data, dtype="<i8").astype(np.int64)


def put_json(store: ArtifactStore, value: Any) -> str:
    return store.put(json.dumps(value, sort_keys=True, separators=(",", ":")).encode())


def get_json(store: ArtifactStore, cid: str) -> Any:
    try:
        return json.loads(store.get(cid))
    except ValueError as exc:
        raise StoreError(f"{cid} is not a JSON artifact: {exc}") from exc
