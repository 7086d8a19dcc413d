"""The one fixed-point convention used on both sides of every proof link.

Weights, data and updates are exchanged as *integers at a fixed scale* (value = int / 2**SCALE),
never as floats. A float is quantized once, at the edge (the client's data, the genesis model),
with ezkl's rounding (half away from zero); after that, every party hashes and proves the same
integers, so `client out-hash == aggregator in-hash` holds exactly.

Field elements are ezkl's encoding: the BN254 scalar reduced mod p, as 32-byte little-endian hex.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

from zkfl.errors import ConfigError

SCALE = 12
"""Fixed-point scale (bits after the binary point) of every input, parameter and output."""

FIELD_MODULUS = 21888242871839275222246405745257275088548364400416034343698204186575808495617
"""Order of BN254's scalar field, the field halo2/KZG proofs work over."""

MAX_ABS_INT = (1 << 24) - 1
"""Largest |fixed-point integer| that survives ezkl's float32 inputs exactly (24-bit mantissa)."""

FixedArray = npt.NDArray[np.int64]


def quantize(values: npt.ArrayLike, scale: int = SCALE) -> FixedArray:
    """Floats -> fixed-point integers, rounding half away from zero like ezkl does."""
    x = np.asarray(values, dtype=np.float64) * float(1 << scale)
    if not np.all(np.isfinite(x)):
        raise ConfigError("cannot quantize NaN or infinite values; check the model or data for divergence")
    fixed = (np.sign(x) * np.floor(np.abs(x) + 0.5)).astype(np.int64)
    check_range(fixed)
    return fixed


def dequantize(fixed: npt.ArrayLike, scale: int = SCALE) -> npt.NDArray[np.float64]:
    """Fixed-point integers -> floats (exact: every integer in range is a dyadic float)."""
    return np.asarray(fixed, dtype=np.float64) / float(1 << scale)


def check_range(fixed: npt.ArrayLike, what: str = "value") -> None:
    """Refuse integers that ezkl's float32 inputs could not carry exactly."""
    arr = np.asarray(fixed)
    if arr.size and int(np.max(np.abs(arr))) > MAX_ABS_INT:
        worst = float(np.max(np.abs(arr))) / (1 << SCALE)
        raise ConfigError(
            f"{what} out of range: |x| = {worst:g} exceeds {MAX_ABS_INT / (1 << SCALE):g} at scale {SCALE}; "
            "lower the learning rate or rescale the data"
        )


def int_to_felt(value: int) -> str:
    """A signed integer as ezkl's field-element string (little-endian hex, reduced mod p)."""
    return (int(value) % FIELD_MODULUS).to_bytes(32, "little").hex()


def felt_to_int(felt: str) -> int:
    """ezkl's field-element string -> signed integer (elements above p/2 are negative)."""
    value = felt_to_uint(felt)
    return value - FIELD_MODULUS if value > FIELD_MODULUS // 2 else value


def felt_to_uint(felt: str) -> int:
    """ezkl's field-element string -> the canonical unsigned integer in [0, p)."""
    raw = felt[2:] if felt.startswith("0x") else felt
    if len(raw) != 64:
        raise ConfigError(f"not a field element: expected 64 hex digits, got {len(raw)} in {felt[:20]!r}")
    value = int.from_bytes(bytes.fromhex(raw), "little")
    if value >= FIELD_MODULUS:
        raise ConfigError(f"not a field element: {value} is not below the BN254 modulus")
    return value


def to_felts(fixed: Iterable[int]) -> list[str]:
    return [int_to_felt(int(v)) for v in fixed]


def from_felts(felts: Sequence[str]) -> FixedArray:
    return np.array([felt_to_int(f) for f in felts], dtype=np.int64)
