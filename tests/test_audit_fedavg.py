"""The auditor's independent fixed-point FedAvg equals ezkl's circuit arithmetic bit for bit, on the
federation's own FedAvg circuit; and it refuses sums it cannot average exactly."""

from __future__ import annotations

import numpy as np
import pytest

from zkfl.errors import AggregationRangeError, ConfigError
from zkfl.fedavg import SUM_LIMIT, fixed_point_fedavg, update_sum
from zkfl.fixedpoint import SCALE
from zkfl.zk.build import CircuitSet
from zkfl.zk.prover import run_witness

pytestmark = pytest.mark.prover


@pytest.mark.parametrize("clients", [1, 2, 3, 5, 16, 100])
def test_fixed_point_fedavg_matches_the_circuit_witness(logreg_circuits: CircuitSet, clients: int) -> None:
    rng = np.random.default_rng(clients)
    spec = logreg_circuits.fedavg
    # weights up to ±30 (scale 12), each update ending with 1
    updates = [np.append(rng.integers(-120_000, 120_000, spec.num_params), 1 << SCALE) for _ in range(clients)]
    total = update_sum(updates)
    (circuit_output,) = run_witness(logreg_circuits.aggregator.circuit, [total])
    np.testing.assert_array_equal(fixed_point_fedavg(total), circuit_output)


def test_fixed_point_fedavg_refuses_what_it_cannot_average_exactly() -> None:
    with pytest.raises(ConfigError, match="count element is 0"):
        fixed_point_fedavg(np.zeros(4, dtype=np.int64))
    with pytest.raises(ConfigError, match="positive multiple of 4096"):
        fixed_point_fedavg(np.array([5, 5, 5, 4097]))
    with pytest.raises(AggregationRangeError, match="past ±"):
        fixed_point_fedavg(np.array([SUM_LIMIT, 0, 0, 2 << SCALE]))
    with pytest.raises(ConfigError, match="different lengths"):
        update_sum([np.zeros(4, dtype=np.int64), np.zeros(5, dtype=np.int64)])
