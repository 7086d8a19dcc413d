"""The auditor's independent fixed-point FedAvg equals ezkl's circuit arithmetic bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SLOTS

from zkfl.errors import ConfigError
from zkfl.fedavg import fixed_point_fedavg
from zkfl.zk.build import CircuitSet
from zkfl.zk.prover import run_witness

pytestmark = pytest.mark.prover


@pytest.mark.parametrize("seed", range(6))
def test_fixed_point_fedavg_matches_the_circuit_witness(logreg_circuits: CircuitSet, seed: int) -> None:
    rng = np.random.default_rng(seed)
    spec = logreg_circuits.fedavg
    filled = rng.random(SLOTS) < 0.7
    filled[seed % SLOTS] = True
    updates = []
    for is_filled in filled:  # weights up to ±30 (scale 12) with the circuits' sample count, or an empty slot
        weights = rng.integers(-120_000, 120_000, spec.num_params)
        count = spec.sample_count << 12
        updates.append(np.append(weights, count) if is_filled else np.zeros(spec.update_len, dtype=np.int64))
    (circuit_output,) = run_witness(logreg_circuits.aggregator.circuit, updates)
    np.testing.assert_array_equal(fixed_point_fedavg(updates, spec.num_params, spec.sample_count), circuit_output)


def test_fixed_point_fedavg_refuses_wrong_shapes_and_all_empty_rounds() -> None:
    with pytest.raises(ConfigError, match="expected 4"):
        fixed_point_fedavg([np.zeros(5, dtype=np.int64)], 3, 8)
    with pytest.raises(ConfigError, match="every slot is empty"):
        fixed_point_fedavg([np.zeros(4, dtype=np.int64)] * 2, 3, 8)
