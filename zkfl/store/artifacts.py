"""Content-addressed artifact stores. Every artifact (weights, proofs, reports) is addressed by its
IPFS-compatible CIDv1 (raw codec, sha2-256), computed locally; every read checks the bytes
against the CID, so a store can lose data but never hand back the wrong data unnoticed.

Two transports behind one interface, as web3.py separates providers from what runs over them:
a directory (`LocalStore`), or the block API of an IPFS node (`IpfsStore`, e.g. Kubo's
`/api/v0/block/put`), which stores each artifact as one raw block under the same CID.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from zkfl.atomic import write_atomic
from zkfl.errors import ContentMismatchError, StoreError
from zkfl.fixedpoint import FixedArray
from zkfl.store.cid import content_id, vector_bytes

MAX_BLOCK_BYTES = 1 << 20
"""IPFS nodes refuse raw blocks above 1 MiB by default; artifacts stay one block so the CID of
the bytes is the CID of the artifact."""


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
        return _checked(cid, data, str(self.root))

    def has(self, cid: str) -> bool:
        return self._path(cid).is_file()

    def _path(self, cid: str) -> Path:
        _check_cid(cid)
        return self.root / "blocks" / cid


class IpfsStore:
    """An IPFS node's HTTP RPC API (Kubo): raw blocks with sha2-256, CIDv1."""

    def __init__(self, api_url: str, timeout: float = 30.0):
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"IpfsStore({self.api_url!r})"

    def put(self, data: bytes) -> str:
        if len(data) > MAX_BLOCK_BYTES:
            raise StoreError(f"artifact of {len(data)} bytes is over the {MAX_BLOCK_BYTES}-byte IPFS block limit")
        boundary = uuid.uuid4().hex
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="blob"\r\n'
                f"Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
            + data
            + f"\r\n--{boundary}--\r\n".encode()
        )
        reply = json.loads(
            self._call(
                "block/put",
                {"cid-codec": "raw", "mhtype": "sha2-256"},
                body,
                f"multipart/form-data; boundary={boundary}",
            )
        )
        cid = content_id(data)
        if reply.get("Key") != cid:
            raise StoreError(f"the IPFS node stored the block as {reply.get('Key')!r}, expected {cid}")
        return cid

    def get(self, cid: str) -> bytes:
        _check_cid(cid)
        return _checked(cid, self._call("block/get", {"arg": cid}), self.api_url)

    def has(self, cid: str) -> bool:
        try:
            self.get(cid)
        except StoreError:
            return False
        return True

    def _call(self, endpoint: str, params: dict[str, str], body: bytes = b"", content_type: str | None = None) -> bytes:
        url = f"{self.api_url}/api/v0/{endpoint}?{urllib.parse.urlencode(params)}"
        request = urllib.request.Request(url, data=body, method="POST")
        if content_type:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.read()
        except urllib.error.HTTPError as exc:
            raise StoreError(
                f"IPFS node at {self.api_url} refused {endpoint}: HTTP {exc.code} {exc.read()[:200]!r}"
            ) from exc
        except (urllib.error.URLError, OSError) as exc:
            raise StoreError(f"cannot reach the IPFS API at {self.api_url}: {exc}") from exc


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


def _check_cid(cid: str) -> None:
    if not isinstance(cid, str) or not cid.startswith("b") or not cid.isalnum():
        raise StoreError(f"not a CIDv1 in base32: {cid!r}")


def _checked(cid: str, data: bytes, where: str) -> bytes:
    actual = content_id(data)
    if actual != cid:
        raise ContentMismatchError(
            f"content under {cid} in {where} does not match its CID (it hashes to "
            f"{actual}): the store is corrupted or was tampered with"
        )
    return data
