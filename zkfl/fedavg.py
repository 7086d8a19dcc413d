"""FedAvg as pure arithmetic, below every role and every check: the sum of a round's accepted
updates, the fixed-point mean the FedAvg circuit computes from it, recomputed bit for bit without
the prover, and the float64 references the proven run is compared with.

Fixed point:
This is the arithmetic ezkl 23 lays out for `zkfl/circuits/aggregation.py` at scale 12 (read from its
source, `tensor::ops::nonlinearities::recip`, `const_div` and `RebaseScale`, and checked against its
witness in the tests):

    T      = Σ_i u_i                                       the accepted updates summed (exact integers)
    c      = T[P] = f · 2^12                               the count: each update ends with 1
    r      = round(2^(12+K) · (1 / (c / 2^(12+K))))        Recip at scale 12 + K, in f64
    θ[j]   = round(f64(T[j] · r) / 2^(12+2K))              Mul, rebased from 48 + 2K to 36, in f64

`round` is Rust's f64::round (half away from zero). Dividing by a power of two is only a change of
scale in ezkl (the values stay), which is how the count reaches the reciprocal at a high scale.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from zkfl.errors import AggregationRangeError, ConfigError
from zkfl.fixedpoint import SCALE, FixedArray, dequantize

MEAN_BITS = 13
"""K: the count enters FedAvg's reciprocal at scale 12 + K, so the reciprocal is round(2^(12+2K) / f)
(at most 2^38, inside a 4-leg decomposition of base 2^10), and the mean errs by at most
|T[j]| / 2^(13+2K) + 1/2 units: within one unit while the summed weights stay under SUM_LIMIT."""

MEAN_REBASE = 1 << (SCALE + 2 * MEAN_BITS)
"""The divisor of ezkl's rebase of T[j] · r (from scale 48 + 2K down to 36)."""

SUM_LIMIT = 1 << 38
"""The largest |summed weight| (units at scale 12) the mean stays exact to one unit for: 2^26 real,
a mean weight of 6,710 at 10,000 clients. FedAvg refuses a larger sum before proving."""


def round_half_away(values: np.ndarray | float) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64)
    return (np.sign(x) * np.floor(np.abs(x) + 0.5)).astype(np.int64)


def update_sum(updates: Sequence[FixedArray]) -> FixedArray:
    """The exact sum of update vectors (weights, then 1 each): FedAvg's one input."""
    if not updates:
        raise ConfigError("no update to sum: FedAvg needs at least one accepted update")
    lengths = {len(u) for u in updates}
    if len(lengths) != 1:
        raise ConfigError(f"update vectors of different lengths {sorted(lengths)}")
    return np.sum([np.asarray(u, dtype=np.int64) for u in updates], axis=0)


def check_sum(total: FixedArray) -> None:
    """Refuse, before proving, a sum FedAvg cannot average exactly: no update counted, a count that
    is not a whole number of updates, or a summed weight past SUM_LIMIT (AggregationRangeError)."""
    count = int(total[-1])
    if count <= 0 or count % (1 << SCALE):
        raise ConfigError(
            f"the sum's count element is {count}: it must be a positive multiple of {1 << SCALE} "
            "(each accepted update counts 1 at scale 12)"
        )
    weights = np.asarray(total[:-1], dtype=np.int64)
    worst = int(np.max(np.abs(weights))) if weights.size else 0
    if worst >= SUM_LIMIT:
        at = int(np.argmax(np.abs(weights)))
        raise AggregationRangeError(
            f"the summed weight {at} is {weights[at]} (scale {SCALE}), past ±{SUM_LIMIT} where FedAvg's mean "
            f"stays exact to one unit (a mean of {SUM_LIMIT / (1 << SCALE) / (count >> SCALE):g} over "
            f"{count >> SCALE} updates); keep the model's weights smaller"
        )


def fixed_point_fedavg(total: FixedArray) -> FixedArray:
    """The next global model from the sum of the accepted updates, exactly as the FedAvg circuit
    computes it (the module docstring). T[j] · r is an exact integer; like ezkl (i128 as f64), it is
    rounded to the nearest f64 before the division."""
    total = np.asarray(total, dtype=np.int64)
    check_sum(total)
    unit = float(1 << (SCALE + MEAN_BITS))
    reciprocal = int(round_half_away(unit * (1.0 / (int(total[-1]) / unit))))
    products = np.array([float(int(t) * reciprocal) for t in total[:-1]], dtype=np.float64)
    return round_half_away(products / float(MEAN_REBASE))


def weighted_mean(models: Sequence[np.ndarray], counts: Sequence[float] | np.ndarray) -> np.ndarray:
    """Float64 FedAvg: the mean of float models weighted by their sample counts."""
    weights = np.asarray(counts, dtype=np.float64)
    return weights @ np.stack([np.asarray(m, dtype=np.float64) for m in models]) / weights.sum()


def float_fedavg(updates: Sequence[FixedArray], num_params: int) -> np.ndarray:
    """Float64 FedAvg of fixed-point update vectors (weights then sample count), for comparison with
    the proven aggregation."""
    stacked = np.stack([dequantize(u) for u in updates])
    return weighted_mean(list(stacked[:, :num_params]), stacked[:, num_params])


def fedavg_float_gap(updates: Sequence[FixedArray], published: FixedArray, num_params: int) -> np.ndarray:
    """Published model minus float64 FedAvg of the same updates (both as floats): the aggregation's
    own rounding, for the report."""
    return dequantize(published) - float_fedavg(updates, num_params)
