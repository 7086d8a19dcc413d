"""Masks: pseudorandom vectors in BN254's scalar field, expanded from a 32-byte seed with ChaCha20
(the `cryptography` package). Masking happens in the field that commitments live in, so a masked
vector's commitment is its update's commitment plus its masks' (`zkfl.privacy.checks`).

Never Flower's `pseudo_rand_gen`: it folds its seed to 32 bits and draws from MT19937, so its
masks can be brute-forced."""

from __future__ import annotations

from collections.abc import Iterable

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from py_ecc.bn128 import curve_order

FIELD = curve_order
"""The order r of BN254's G1: the field of circuit values, masks and masked vectors."""

SEED_BYTES = 32
ELEMENT_BYTES = 48
"""Each element is 384 keystream bits reduced mod r (a 254-bit prime): its bias is below 2^-130."""

_NONCE = bytes(16)
"""ChaCha20's counter and nonce start at zero: every seed is derived for exactly one mask."""

FieldVector = list[int]
"""A vector of field elements, each in [0, r)."""


def mask(seed: bytes, length: int) -> FieldVector:
    """The mask a seed expands to: `length` field elements."""
    if len(seed) != SEED_BYTES:
        raise ValueError(f"a mask seed is {SEED_BYTES} bytes, got {len(seed)}")
    stream = Cipher(algorithms.ChaCha20(seed, _NONCE), mode=None).encryptor().update(bytes(length * ELEMENT_BYTES))
    return [int.from_bytes(stream[i : i + ELEMENT_BYTES], "big") % FIELD for i in range(0, len(stream), ELEMENT_BYTES)]


def field_vector(values: Iterable[int]) -> FieldVector:
    """Signed integers (a fixed-point update) as field elements: negative x becomes r - |x|."""
    return [int(v) % FIELD for v in values]


def add(a: FieldVector, b: FieldVector, sign: int = 1) -> FieldVector:
    """a + sign * b in the field (sign is 1 or -1)."""
    if len(a) != len(b):
        raise ValueError(f"vectors of {len(a)} and {len(b)} elements do not add")
    return [(x + sign * y) % FIELD for x, y in zip(a, b, strict=True)]


def signed(vector: FieldVector) -> list[int]:
    """Field elements back to signed integers (an element above r/2 is negative)."""
    return [v - FIELD if v > FIELD // 2 else v for v in vector]
