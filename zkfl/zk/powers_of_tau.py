"""The KZG SRS as points: read halo2's raw `ParamsKZG` file, check with py-ecc that it is a
consistent powers-of-tau structure, and cut the few points a verifier needs.

File layout (halo2 `SerdeFormat::RawBytes`, what ezkl reads and writes):

    u32 LE k | 2^k G1 points s^i·G | 2^k G1 Lagrange points L_i(s)·G | G2 generator | s·G2

Every coordinate is a BN254 base-field element in Montgomery form (x·2^256 mod p), 32 bytes
little-endian; a G1 point is x then y, a G2 coordinate is c0 then c1.

A structure check cannot prove that nobody knows s (only a ceremony can): it proves the file is
*one* s, used consistently, so the keys, proofs and verifiers made with it agree.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from py_ecc import optimized_bn128 as bn

from zkfl.errors import ArtifactError
from zkfl.zk.srs import raw_srs_size, srs_logrows

_P = bn.field_modulus
_R = pow(2, 256, _P)
_R_INV = pow(_R, -1, _P)
_G1_BYTES, _G2_BYTES = 64, 128

VERIFIER_LOGROWS = 1
"""ezkl verifies SHPLONK proofs with the SRS downsized to k = 1 (`reduced_srs`): only s^0·G, G2 and
s·G2 matter. A k = 1 file is 516 bytes, so the federation can publish it and auditors verify
without the multi-MB prover SRS."""


@dataclass(frozen=True)
class SrsFile:
    """A raw SRS file's bytes, parsed on demand."""

    raw: bytes

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> SrsFile:
        srs_logrows(Path(path))  # validates header and size
        return cls(Path(path).read_bytes())

    @classmethod
    def from_bytes(cls, raw: bytes, what: str = "SRS") -> SrsFile:
        if len(raw) < 4:
            raise ArtifactError(f"{what}: {len(raw)} bytes, shorter than the 4-byte header")
        k = int.from_bytes(raw[:4], "little")
        if not 1 <= k <= 28 or len(raw) != raw_srs_size(k):
            raise ArtifactError(f"{what}: not a halo2 raw KZG SRS (header k={k}, {len(raw)} bytes)")
        return cls(raw)

    @property
    def logrows(self) -> int:
        return int.from_bytes(self.raw[:4], "little")

    @property
    def size(self) -> int:
        return 1 << self.logrows

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()

    def power(self, i: int) -> tuple[int, int]:
        """s^i·G as affine integers."""
        return _g1(self.raw, 4 + i * _G1_BYTES)

    def lagrange(self, i: int) -> tuple[int, int]:
        return _g1(self.raw, 4 + (self.size + i) * _G1_BYTES)

    @property
    def g2(self) -> tuple[tuple[int, int], tuple[int, int]]:
        return _g2(self.raw, 4 + 2 * self.size * _G1_BYTES)

    @property
    def s_g2(self) -> tuple[tuple[int, int], tuple[int, int]]:
        return _g2(self.raw, 4 + 2 * self.size * _G1_BYTES + _G2_BYTES)


def verifier_srs(srs: SrsFile) -> bytes:
    """The k = 1 SRS of the same s: powers s^0·G, s^1·G, their Lagrange points for n = 2
    ((g0 + g1)/2 and (g0 - g1)/2, as halo2 computes them for the domain {1, -1}), G2 and s·G2."""
    g0, g1 = (_point(srs.power(0)), _point(srs.power(1)))
    half = pow(2, -1, bn.curve_order)
    lagrange = [bn.multiply(bn.add(g0, g1), half), bn.multiply(bn.add(g0, bn.neg(g1)), half)]
    tail = 4 + 2 * srs.size * _G1_BYTES
    return (
        VERIFIER_LOGROWS.to_bytes(4, "little")
        + srs.raw[4 : 4 + 2 * _G1_BYTES]
        + b"".join(_encode_g1(p) for p in lagrange)
        + srs.raw[tail : tail + 2 * _G2_BYTES]
    )


@dataclass(frozen=True)
class SrsCheck:
    """What the structure check of one SRS file found (`ok` only if every check passed)."""

    sha256: str
    logrows: int
    pairs_checked: int
    checks: dict[str, bool] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(self.checks.values())

    @property
    def failures(self) -> list[str]:
        return [name for name, ok in self.checks.items() if not ok]


def check_powers_of_tau(srs: SrsFile, samples: int = 32, rng: secrets.SystemRandom | None = None) -> SrsCheck:
    """Pairing checks that `srs` is s^0·G .. s^(n-1)·G with G2 and s·G2 of the same s.

    For sampled consecutive pairs (always the first and the last) and fresh random 128-bit
    scalars r_i, one pairing equation e(Σ r_i·g[i+1], G2) = e(Σ r_i·g[i], s·G2) holds for all of
    them at once unless some g[i+1] ≠ s·g[i] (except with probability ~2^-128). Also: g[0] and
    G2 are the standard generators, sampled points lie on the curve, and the Lagrange points sum
    to G (the Lagrange basis sums to 1)."""
    rng = rng or secrets.SystemRandom()
    n = srs.size
    indices = sorted({0, n - 2, *(rng.randrange(0, n - 1) for _ in range(max(0, samples - 2)))}) if n > 1 else []
    checks: dict[str, bool] = {}
    checks["g[0] is the G1 generator"] = srs.power(0) == (1, 2)
    g2, s_g2 = _point2(srs.g2), _point2(srs.s_g2)
    checks["G2 point is the G2 generator"] = bn.eq(g2, bn.G2)
    checks["G2 points lie on the curve"] = bn.is_on_curve(g2, bn.b2) and bn.is_on_curve(s_g2, bn.b2)
    sampled = {i: _point(srs.power(i)) for i in {j for i in indices for j in (i, i + 1)}}
    checks["sampled G1 powers lie on the curve"] = all(bn.is_on_curve(p, bn.b) for p in sampled.values())
    if checks["sampled G1 powers lie on the curve"] and indices:
        left, right = bn.Z1, bn.Z1
        for i in indices:
            r = rng.getrandbits(128) | 1
            left = bn.add(left, bn.multiply(sampled[i + 1], r))
            right = bn.add(right, bn.multiply(sampled[i], r))
        checks["consecutive powers share one s (pairing check)"] = bn.pairing(g2, left) == bn.pairing(s_g2, right)
    total = bn.Z1
    for i in range(n):
        total = bn.add(total, _point(srs.lagrange(i)))
    checks["Lagrange points sum to G"] = bn.eq(total, bn.G1)
    return SrsCheck(srs.sha256, srs.logrows, len(indices), checks)


def _fq(raw: bytes, offset: int) -> int:
    value = int.from_bytes(raw[offset : offset + 32], "little")
    if value >= _P:
        raise ArtifactError(f"SRS coordinate at byte {offset} is not a field element")
    return value * _R_INV % _P


def _g1(raw: bytes, offset: int) -> tuple[int, int]:
    return _fq(raw, offset), _fq(raw, offset + 32)


def _g2(raw: bytes, offset: int) -> tuple[tuple[int, int], tuple[int, int]]:
    return (_fq(raw, offset), _fq(raw, offset + 32)), (_fq(raw, offset + 64), _fq(raw, offset + 96))


def _point(xy: tuple[int, int]) -> tuple[bn.FQ, bn.FQ, bn.FQ]:
    x, y = xy
    return (bn.FQ(x), bn.FQ(y), bn.FQ.one()) if (x, y) != (0, 0) else bn.Z1


def _point2(xy: tuple[tuple[int, int], tuple[int, int]]) -> tuple[bn.FQ2, bn.FQ2, bn.FQ2]:
    x, y = xy
    return bn.FQ2(list(x)), bn.FQ2(list(y)), bn.FQ2.one()


def _encode_g1(point: tuple[bn.FQ, bn.FQ, bn.FQ]) -> bytes:
    x, y = bn.normalize(point)
    return b"".join((int(c) * _R % _P).to_bytes(32, "little") for c in (x, y))
