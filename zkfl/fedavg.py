"""FedAvg as pure arithmetic, below every role and every check: the fixed-point sum and mean the
circuits compute, recomputed bit for bit without the prover, and the float64 references the proven
run is compared with.

Fixed point:
This is the arithmetic ezkl 23 lays out for `zkfl/circuits/aggregation.py` at scale 12 (read from its
source, `tensor::ops::nonlinearities::recip` and `RebaseScale`, and checked against its witness in
the tests):

    T      = Σ_i u_i                                 the slots summed, weights and counts (exact)
    f      = T[P] / n                                filled slots, scale 12 (exact: each count is n or 0)
    r      = round(2^12 · (1 / (f / 2^12)))          Recip, f64, output scale 12
    θ'[j]  = round(T[j] · r / 2^12)                  Mul, rebased from scale 24 to 12

`round` is Rust's f64::round (half away from zero) and every division is done in f64, as ezkl
does (exact here: every operand is far below 2^53).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from zkfl.errors import AggregationRangeError, ConfigError
from zkfl.fixedpoint import MAX_ABS_INT, SCALE, FixedArray, dequantize

_ONE = float(1 << SCALE)


def round_half_away(values: np.ndarray | float) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64)
    return (np.sign(x) * np.floor(np.abs(x) + 0.5)).astype(np.int64)


def fixed_point_fedavg(updates: Sequence[FixedArray], num_params: int, sample_count: int) -> FixedArray:
    """The next global model from K update vectors (weights then sample count; the all-zero
    vector for an empty slot), exactly as the FedAvg circuit computes it."""
    stacked = np.stack([np.asarray(u, dtype=np.int64) for u in updates])
    if stacked.shape[1] != num_params + 1:
        raise ConfigError(f"update vectors have {stacked.shape[1]} elements, expected {num_params + 1}")
    total = stacked.sum(axis=0)
    filled = float(total[num_params]) / sample_count
    if filled == 0:
        raise ConfigError("every slot is empty: FedAvg of no update is undefined")
    reciprocal = round_half_away(_ONE * (1.0 / (filled / _ONE)))
    return round_half_away((total[:num_params] * reciprocal).astype(np.float64) / _ONE)


def fixed_point_partial_sum(updates: Sequence[FixedArray], update_len: int) -> FixedArray:
    """A tree leaf's output: the exact sum of its G update vectors (empty slots are zeros)."""
    stacked = np.stack([np.asarray(u, dtype=np.int64) for u in updates])
    if stacked.shape[1] != update_len:
        raise ConfigError(f"update vectors have {stacked.shape[1]} elements, expected {update_len}")
    return stacked.sum(axis=0)


def fixed_point_tree_fedavg(
    updates: Sequence[FixedArray], leaf_slots: int, num_params: int, sample_count: int
) -> FixedArray:
    """The next model through a depth-2 tree: leaves of `leaf_slots` updates each summed exactly,
    then the root's FedAvg over the partial sums. Equal to the flat FedAvg, bit for bit."""
    leaves = [
        fixed_point_partial_sum(updates[i : i + leaf_slots], num_params + 1) for i in range(0, len(updates), leaf_slots)
    ]
    return fixed_point_fedavg(leaves, num_params, sample_count)


RECIPROCAL_LIMIT = 2 * (1 << SCALE)
"""The most filled slots FedAvg averages: past 2^(SCALE+1), Recip's round(2^SCALE / f) is 0. Its
relative rounding error, at most f / 2^(SCALE+1), grows long before: up to about 0.8 % for f near
64 (none at powers of two, which it divides exactly)."""


def tree_range_problems(slots: int, leaf_slots: int, sample_count: int) -> list[str]:
    """Why a federation of this shape could not aggregate a full round inside its circuits' range
    (empty: it can). A partial sum is a FedAvg input, exact through ezkl's f32 inputs only up to
    MAX_ABS_INT: its count element, G * n at scale SCALE, must stay under it."""
    problems = []
    count = max(leaf_slots, 1) * sample_count << SCALE
    if count > MAX_ABS_INT:
        problems.append(
            f"a full leaf of {leaf_slots} updates counts {leaf_slots * sample_count} samples, "
            f"{count} at scale {SCALE}, past the circuits' input range {MAX_ABS_INT}: at most "
            f"{MAX_ABS_INT // (sample_count << SCALE)} slots a leaf for {sample_count} samples an update"
        )
    if slots > RECIPROCAL_LIMIT:
        problems.append(f"{slots} slots: FedAvg's reciprocal of the filled count rounds to 0 past {RECIPROCAL_LIMIT}")
    return problems


def check_partial_sum(partial: FixedArray, leaf: int, leaf_slots: int) -> None:
    """Refuse, before proving, a leaf whose partial sum leaves the circuits' input range (the root
    could not take it exactly): AggregationRangeError naming the leaf and what to do."""
    worst = int(np.max(np.abs(partial))) if partial.size else 0
    if worst > MAX_ABS_INT:
        at = int(np.argmax(np.abs(partial)))
        raise AggregationRangeError(
            f"leaf {leaf}'s partial sum leaves the circuits' range: element {at} is {partial[at]} (scale {SCALE}), "
            f"past ±{MAX_ABS_INT}; the sum of {leaf_slots} updates must stay within ±{MAX_ABS_INT / (1 << SCALE):g}. "
            "Use smaller leaves (leaf_slots), or keep the model's weights smaller"
        )


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
