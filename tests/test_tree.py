"""The aggregation tree's arithmetic (issue 14, work in progress): a leaf circuit sums G updates
exactly, and today's FedAvg circuit over the leaves' partial sums gives the flat FedAvg of the same
updates, bit for bit, in ezkl's own witness and in the auditor's independent replay."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from zkfl.build import build_circuits
from zkfl.circuits import PartialSumSpec, export_onnx
from zkfl.fixedpoint import quantize
from zkfl.prover import compile_circuit, run_witness
from zkfl.verification.fedavg import fixed_point_fedavg, fixed_point_partial_sum, fixed_point_tree_fedavg

from conftest import LOGREG

pytestmark = pytest.mark.prover
LEAF_SLOTS, LEAVES = 2, 2


def _updates(seed: int, count: int, num_params: int, sample_count: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    filled = rng.random(count) < 0.7
    filled[0] = True
    return [np.append(rng.integers(-120_000, 120_000, num_params), sample_count << 12) if f
            else np.zeros(num_params + 1, dtype=np.int64) for f in filled]


@pytest.mark.parametrize("seed", range(3))
def test_leaves_then_fedavg_over_the_partials_is_the_flat_fedavg_in_the_circuits_witness(cache_dir, seed: int) -> None:
    root = build_circuits(LOGREG, LEAVES, cache_dir).aggregator.circuit  # today's FedAvg, over LEAVES slots
    leaf_spec = PartialSumSpec(LOGREG.num_params, LEAF_SLOTS, LOGREG.sample_count)
    calibration = leaf_spec.calibration_inputs()
    onnx = export_onnx(leaf_spec.module(), [torch.tensor(u, dtype=torch.float32) for u in calibration],
                       cache_dir / "onnx" / f"leaf-{LEAF_SLOTS}.onnx", [f"update_{i}" for i in range(LEAF_SLOTS)],
                       ["partial"])
    leaf = compile_circuit("partial_sum", onnx, [quantize(u) for u in calibration], cache_dir)
    updates = _updates(seed, LEAF_SLOTS * LEAVES, LOGREG.num_params, LOGREG.sample_count)
    partials = []
    for i in range(LEAVES):
        (partial,) = run_witness(leaf, updates[i * LEAF_SLOTS:(i + 1) * LEAF_SLOTS])
        np.testing.assert_array_equal(partial, fixed_point_partial_sum(updates[i * LEAF_SLOTS:(i + 1) * LEAF_SLOTS],
                                                                       leaf_spec.update_len))
        partials.append(partial)
    (model,) = run_witness(root, partials)
    flat = fixed_point_fedavg(updates, LOGREG.num_params, LOGREG.sample_count)
    np.testing.assert_array_equal(model, flat)
    np.testing.assert_array_equal(
        fixed_point_tree_fedavg(updates, LEAF_SLOTS, LOGREG.num_params, LOGREG.sample_count), flat)
