"""Poseidon commitments over fixed-point vectors, recomputed in Python exactly as the circuits
compute them (ezkl's `hashed/public` visibility hashes the flattened input or output felts)."""

from __future__ import annotations

import secrets

import ezkl
import numpy as np
import numpy.typing as npt

from zkfl.circuits.training import SALT_LEN
from zkfl.fixedpoint import SCALE, FixedArray, check_range, felt_to_uint, int_to_felt, to_felts

SALT_BITS = 23
"""Salt elements are uniform in (-2**23, 2**23): 8 x ~24 bits, and exact through float32 inputs."""


def poseidon(fixed: npt.ArrayLike) -> int:
    """Poseidon hash of a flat vector of fixed-point integers, as a uint256 (what the chain stores)."""
    flat = np.asarray(fixed, dtype=np.int64).reshape(-1)
    check_range(flat)
    (digest,) = ezkl.poseidon_hash(to_felts(flat))
    return felt_to_uint(digest)


def hash_to_felt(digest: int) -> str:
    """A uint256 hash in ezkl's felt encoding, to compare with a proof's instances."""
    return int_to_felt(digest)


def new_salt(rng: secrets.SystemRandom | None = None) -> FixedArray:
    """Fresh salt for a data commitment, from the OS's CSPRNG (never a seeded generator)."""
    rng = rng or secrets.SystemRandom()
    bound = (1 << SALT_BITS) - 1
    return np.array([rng.randint(-bound, bound) for _ in range(SALT_LEN)], dtype=np.int64)


__all__ = ["SCALE", "hash_to_felt", "new_salt", "poseidon"]
