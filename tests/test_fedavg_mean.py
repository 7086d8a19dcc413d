"""The FedAvg circuit: the next model from the sum of the accepted updates, on ezkl's own witness.
It equals `zkfl.fedavg.fixed_point_fedavg` bit for bit, and the exact mean of
the summed vector to one unit at scale 12, for 1 to 10,000 clients, with negative entries and
entries far past the 2^24 that ezkl's float inputs carry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from zkfl.circuits.aggregation import FedAvgSpec
from zkfl.circuits.export import export_onnx
from zkfl.fedavg import SUM_LIMIT, fixed_point_fedavg
from zkfl.fixedpoint import SCALE, quantize
from zkfl.zk.build import fedavg_config
from zkfl.zk.prover import CompiledCircuit, ProverConfig, compile_circuit, run_witness

P = 22


@pytest.fixture(scope="module")
def fedavg(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> CompiledCircuit:
    spec = FedAvgSpec(P)
    calibration = spec.calibration_inputs()
    onnx = export_onnx(
        spec.module(),
        [torch.tensor(v, dtype=torch.float32) for v in calibration],
        tmp_path_factory.mktemp("fedavg") / "fedavg.onnx",
        ["total"],
        ["theta"],
    )
    inputs = [quantize(v) for v in calibration]
    return compile_circuit("fedavg", onnx, inputs, cache_dir, fedavg_config(ProverConfig()))


def _total(filled: int, rng: np.random.Generator, mean_bound: int = 1 << 15) -> np.ndarray:
    """A sum of `filled` updates: weights around a mean within ±mean_bound units, then the count."""
    mean = rng.integers(-mean_bound, mean_bound, size=P)
    weights = mean * filled + rng.integers(-filled, filled + 1, size=P)
    return np.append(weights, filled << SCALE).astype(np.int64)


@pytest.mark.parametrize("filled", [1, 3, 7, 100, 1_000, 10_000])
def test_the_mean_of_the_sum_is_exact_to_one_unit_and_replayed_bit_for_bit(
    fedavg: CompiledCircuit, filled: int
) -> None:
    total = _total(filled, np.random.default_rng(filled))
    (theta,) = run_witness(fedavg, [total])
    np.testing.assert_array_equal(theta, fixed_point_fedavg(total))
    exact = total[:P] / filled
    assert np.max(np.abs(theta - exact)) <= 1.0, np.max(np.abs(theta - exact))
    if filled >= 1_000:
        assert np.max(np.abs(total[:P])) > 1 << 24  # past what a float input would carry


def test_the_mean_stays_exact_with_sums_near_the_limit(fedavg: CompiledCircuit) -> None:
    total = _total(10_000, np.random.default_rng(5), mean_bound=1 << 24)  # |sum| near 2^37.3
    assert np.max(np.abs(total[:P])) < SUM_LIMIT
    (theta,) = run_witness(fedavg, [total])
    np.testing.assert_array_equal(theta, fixed_point_fedavg(total))
    assert np.max(np.abs(theta - total[:P] / 10_000)) <= 1.0
