"""KZG commitments to fixed-point vectors, as ezkl makes them (`polycommit` columns): the point of
a vector, its hash (what the chain stores), and the Lagrange basis with which anyone recomputes a
canonical commitment (an on-chain opening). Which commitments a proof carries, and how they link,
is `zkfl.protocol`."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import ezkl
import numpy as np
from eth_utils import keccak
from py_ecc.bn128 import FQ, add, b, curve_order, field_modulus, is_on_curve, multiply

from zkfl.circuits.training import CONTEXT_LEN
from zkfl.errors import ConfigError
from zkfl.fixedpoint import FixedArray, check_range, to_felts
from zkfl.zk.powers_of_tau import SrsFile
from zkfl.zk.prover import CircuitKeys
from zkfl.zk.srs import srs_logrows

POINT_BYTES = 64


def point_hash(point: bytes) -> int:
    """What the chain stores for a commitment: keccak256 of its 64 bytes (x, y big-endian)."""
    return int.from_bytes(keccak(point), "big")


@dataclass(frozen=True)
class CommitmentKey:
    """What computing the federation's commitments takes: a circuit's settings and verification key
    (they fix logrows and the blinding rows that every commitment includes) and the SRS its keys
    were made with, at exactly that logrows."""

    settings_path: Path
    vk_path: Path
    srs_path: Path

    def point(self, vector: FixedArray) -> bytes:
        """C(vector) as 64 bytes: x then y, big-endian (as in proof bytes)."""
        flat = np.asarray(vector, dtype=np.int64).reshape(-1)
        check_range(flat)
        points = ezkl.kzg_commit(to_felts(flat), str(self.vk_path), str(self.settings_path), str(self.srs_path))
        if len(points) != 1:
            raise ConfigError(f"a vector of {flat.size} elements does not fit in one column of the circuit")
        return _point_bytes(points[0])

    def field_point(self, values: Sequence[int]) -> bytes:
        """C(values) of field elements in [0, r) (a masked vector, a mask), as 64 bytes."""
        if any(not 0 <= int(v) < curve_order for v in values):
            raise ConfigError("a field vector's elements are in [0, r) (BN254's scalar field)")
        felts = [int(v).to_bytes(32, "little").hex() for v in values]
        points = ezkl.kzg_commit(felts, str(self.vk_path), str(self.settings_path), str(self.srs_path))
        if len(points) != 1:
            raise ConfigError(f"a vector of {len(values)} elements does not fit in one column of the circuit")
        return _point_bytes(points[0])

    def commitment_hash(self, vector: FixedArray) -> int:
        """The hash of C(vector) (`point_hash`): the value proofs link by and the chain stores."""
        return point_hash(self.point(vector))

    def context_basis(self) -> tuple[bytes, list[bytes]]:
        """(C(0), [C(e_j) - C(0) for each context element j]): with these the coordinator computes
        C(context) = C(0) + sum_j context_j * (C(e_j) - C(0)) for any sender, with the EC
        precompiles (a commitment is affine in the vector: the blinding rows add C(0))."""
        return self.zero_point(), self.vector_basis(CONTEXT_LEN)

    def zero_point(self) -> bytes:
        """C(0): the same point for a zero vector of any length (only the unusable rows, 1 each)."""
        return self.point(np.zeros(1, dtype=np.int64))

    def vector_basis(self, length: int) -> list[bytes]:
        """[C(e_j) - C(0) for j < length]: the Lagrange basis points of rows 0..length-1, with which
        anyone recomputes the canonical C(v) = C(0) + sum_j v_j * L_j (an on-chain opening)."""
        return list(_vector_basis(self, length))

    def canonical_point(self, vector: FixedArray) -> bytes:
        """C(vector) from the basis, as the coordinator's `openVector` computes it (py-ecc)."""
        flat = [int(v) for v in np.asarray(vector, dtype=np.int64).reshape(-1)]
        acc = _from_bytes(self.zero_point())
        for value, point in zip(flat, _vector_basis(self, len(flat)), strict=True):
            if value:
                acc = add(acc, multiply(_from_bytes(point), value % curve_order))
        return _to_bytes(acc)


@functools.cache
def _vector_basis(key: CommitmentKey, length: int) -> tuple[bytes, ...]:
    """Row j's point is the SRS's Lagrange point L_j(s)·G (a column commits to sum_j v_j L_j, plus
    its unusable rows). Read from the SRS file, since one `kzg_commit` per row would take minutes at
    the digits shape; the first and last are checked against `kzg_commit` itself."""
    srs = SrsFile.read(key.srs_path)
    if length > srs.size:
        raise ConfigError(f"a vector of {length} elements does not fit the SRS's {srs.size} rows")
    basis = tuple(b"".join(c.to_bytes(32, "big") for c in srs.lagrange(j)) for j in range(length))
    zero = _from_bytes(key.zero_point())
    for j in sorted({0, length - 1}):
        unit = np.zeros(length, dtype=np.int64)
        unit[j] = 1
        if _to_bytes(add(_from_bytes(key.point(unit)), _negate(zero))) != basis[j]:
            raise ConfigError(
                f"row {j}'s commitment C(e_{j}) - C(0) is not the SRS's Lagrange point {j}: this ezkl "
                "lays a vector out in other rows, so on-chain openings would not match its commitments"
            )
    return basis


def add_points(*points: bytes) -> bytes:
    """The sum of 64-byte G1 points (py-ecc), refusing bytes that are not a point on the curve."""
    acc: Point = None
    for point in points:
        acc = add(acc, _checked(point))
    return _to_bytes(acc)


def negate_point(point: bytes) -> bytes:
    """-P of a 64-byte G1 point."""
    return _to_bytes(_negate(_checked(point)))


def _checked(point: bytes) -> Point:
    if len(point) != POINT_BYTES:
        raise ConfigError(f"a G1 point is {POINT_BYTES} bytes, got {len(point)}")
    parsed = _from_bytes(point)
    if parsed is not None and not is_on_curve(parsed, b):
        raise ConfigError(f"not a point on BN254's G1: {point.hex()[:32]}...")
    return parsed


def basis_hash(basis: Sequence[bytes]) -> bytes:
    """What the coordinator checks an opening's basis against (`vectorBasisHash`)."""
    return keccak(b"".join(basis))


def commitment_key(settings_path: Path, vk_path: Path, srs_path: Path) -> CommitmentKey:
    """A commitment key, refusing an SRS that is not of the circuit's logrows (kzg_commit would
    silently commit over another domain)."""
    logrows = json.loads(Path(settings_path).read_text())["run_args"]["logrows"]
    srs_k = srs_logrows(Path(srs_path))
    if srs_k != logrows:
        raise ConfigError(
            f"the SRS at {srs_path} has logrows {srs_k}; commitments of this federation need its "
            f"circuits' logrows {logrows}"
        )
    return CommitmentKey(Path(settings_path), Path(vk_path), Path(srs_path))


def keys_commitment(keys: CircuitKeys) -> CommitmentKey:
    """The commitment key of a keyed circuit (its settings, vk and the SRS its keys were made with)."""
    return commitment_key(keys.circuit.settings_path, keys.vk_path, keys.srs.path)


def _point_bytes(point: object) -> bytes:
    """ezkl's PyG1Affine (x, y as little-endian hex) -> 64 bytes big-endian."""
    return b"".join(bytes.fromhex(getattr(point, axis))[::-1] for axis in ("x", "y"))


Point = tuple[FQ, FQ] | None
"""A G1 point as py-ecc holds it: None is the point at infinity, which the EVM encodes as (0, 0)."""


def _from_bytes(point: bytes) -> Point:
    x, y = int.from_bytes(point[:32], "big"), int.from_bytes(point[32:], "big")
    return None if x == y == 0 else (FQ(x), FQ(y))


def _to_bytes(point: Point) -> bytes:
    return bytes(64) if point is None else b"".join(int(c).to_bytes(32, "big") for c in point)


def _negate(point: Point) -> Point:
    return None if point is None else (point[0], FQ(field_modulus - int(point[1])))
