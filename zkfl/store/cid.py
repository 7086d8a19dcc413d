"""IPFS-compatible content identifiers (CIDv1, raw codec, sha2-256, base32) computed locally."""

from __future__ import annotations

import numpy as np
from multiformats import CID, multihash

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
