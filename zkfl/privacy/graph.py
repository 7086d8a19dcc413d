"""The neighbour graph of a round's masking (SecAgg+, Bell et al. 2020): each client masks with,
and shares its secrets among, `degree` neighbours instead of every other client, so a client's cost
grows with log K, not K. The graph is a ring of `degree / 2` neighbours on each side (a Harary
graph) over a public shuffle of the cohort, so anyone derives the same graph from the round's
domain and the cohort, and nobody picks their neighbours."""

from __future__ import annotations

import math
from collections.abc import Sequence

from eth_utils import keccak


def default_degree(cohort_size: int) -> int:
    """2·ceil(2·log2 K) neighbours, capped at K - 1 (everyone): 7 at K = 8, 24 at 64, 40 at 1,000."""
    if cohort_size < 2:
        return 0
    return min(cohort_size - 1, 2 * math.ceil(2 * math.log2(cohort_size)))


def default_threshold(degree: int) -> int:
    """t = floor(degree / 3), at least 1: t colluding neighbours learn nothing of a secret, and any
    t + 1 of the degree rebuild it, so a round survives a third of its clients dropping out after
    they submitted (with the default degree, a client then keeps too few live neighbours with
    probability below 1e-5 at K = 64 and 7e-6 at 1,000, hypergeometric)."""
    return max(1, degree // 3)


def neighbour_graph(cohort: Sequence[str], degree: int, domain: bytes) -> dict[str, tuple[str, ...]]:
    """Each client's neighbours (sorted). `degree` is rounded up to even unless it reaches K - 1."""
    members = sorted({c.lower() for c in cohort})
    if len(members) != len(cohort):
        raise ValueError("a cohort lists each client once")
    k = len(members)
    if degree >= k - 1:
        return {c: tuple(m for m in members if m != c) for c in members}
    half = (degree + 1) // 2
    ring = sorted(members, key=lambda c: keccak(domain + bytes.fromhex(c.removeprefix("0x"))))
    return {c: tuple(sorted({ring[(p + s) % k] for s in range(-half, half + 1) if s})) for p, c in enumerate(ring)}
