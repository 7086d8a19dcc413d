"""IPFS-compatible content identifiers (CIDv1, raw codec, sha2-256, base32) computed locally, and
the check every store runs on what it reads: the bytes must hash to the CID they were asked for."""

from __future__ import annotations

import numpy as np
from multiformats import CID, multihash

from zkfl.errors import ContentMismatchError, StoreError
from zkfl.fixedpoint import FixedArray


def content_id(data: bytes) -> str:
    return str(CID("base32", 1, "raw", multihash.digest(data, "sha2-256")))


def raw_cid(sha256: bytes) -> str:
    """The CID of the bytes whose SHA-256 is `sha256` (what the chain holds of a manifest or an
    optimistically submitted proof)."""
    return str(CID("base32", 1, "raw", multihash.wrap(sha256, "sha2-256")))


def vector_bytes(vector: FixedArray) -> bytes:
    """The canonical bytes of a fixed-point vector: little-endian int64, no header."""
    return np.asarray(vector, dtype="<i8").tobytes()


def check_cid(cid: str) -> None:
    """Refuse what is not a base32 CIDv1 before it reaches a path or a URL."""
    if not isinstance(cid, str) or not cid.startswith("b") or not cid.isalnum():
        raise StoreError(f"not a CIDv1 in base32: {cid!r}")


def verified(cid: str, data: bytes, where: str) -> bytes:
    """`data` if it hashes to `cid`; else ContentMismatchError naming both CIDs and `where` it came from."""
    actual = content_id(data)
    if actual != cid:
        raise ContentMismatchError(
            f"content under {cid} in {where} does not match its CID (it hashes to "
            f"{actual}): the store is corrupted or was tampered with"
        )
    return data
