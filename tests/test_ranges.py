"""The circuit's number range and the data that keeps a training step inside it: the float64
simulation predicts ezkl's decomposition failures, ezkl's failure is explained, and a batch
outside the range is refused naming the value, its position and the accepted range."""

from __future__ import annotations

import re

import numpy as np
import pytest
from conftest import LOGREG, MLP

from zkfl.circuits import TrainingStepSpec
from zkfl.circuits.kinds import CircuitKind
from zkfl.circuits.training import CONTEXT_LEN, SALT_LEN, data_vector
from zkfl.data.batches import make_client_data
from zkfl.errors import DataRangeError
from zkfl.fixedpoint import quantize
from zkfl.zk.build import CircuitSet, export_circuits
from zkfl.zk.prover import run_witness
from zkfl.zk.ranges import Batch, CircuitRange, accepted_feature_bound, check_batch, graph_peak, step_peak

SETTINGS = {
    "run_args": {"decomp_base": 1024, "decomp_legs": 3},
    "model_input_scales": [12, 12],
    "model_output_scales": [12],
}


def _batch(spec: TrainingStepSpec, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.uniform(0.0, 1.0, size=(spec.sample_count, spec.features)), rng.integers(
        0, spec.classes, size=spec.sample_count
    )


def test_the_range_comes_from_the_decomposition_settings() -> None:
    circuit = CircuitRange.from_settings(SETTINGS)
    assert circuit.max_abs == (1024**3 - 1) / 4096  # 262143.99...
    assert circuit.max_input == ((1 << 24) - 1) / 4096  # float32 inputs are the tighter bound
    assert (
        CircuitRange.from_settings({**SETTINGS, "run_args": {"decomp_base": 16, "decomp_legs": 4}}).max_abs
        == (16**4 - 1) / 4096
    )


@pytest.mark.prover
@pytest.mark.parametrize("family", ["logreg", "mlp"])
def test_the_float_simulation_predicts_where_ezkl_leaves_the_range(
    family: str, logreg_circuits: CircuitSet, mlp_circuits: CircuitSet
) -> None:
    spec, circuits = (LOGREG, logreg_circuits) if family == "logreg" else (MLP, mlp_circuits)
    circuit = CircuitRange.from_settings(circuits.client.circuit.settings)
    # one MLP step is about linear in x: large weights bring its limit under what an input can carry
    theta = spec.model.init_params(seed=0) * (1 if family == "logreg" else 64)
    x, y = _batch(spec, seed=3)
    bound = accepted_feature_bound(spec, theta, x, y, circuit.max_abs)
    assert 1.0 < bound < circuit.max_input
    for factor, fits in ((0.97, True), (1.03, False)):
        data = make_client_data(spec, x * (factor * bound / np.max(np.abs(x))), y)
        inputs = [quantize(theta), data.vector(spec), np.zeros(CONTEXT_LEN, dtype=np.int64)]
        if fits:
            run_witness(circuits.client.circuit, inputs)
        else:
            with pytest.raises(
                DataRangeError,
                match=r"beyond the ±1073741823 that decomposition base 1024 with 3 "
                r"legs represents.*most likely features that are not scaled",
            ):
                run_witness(circuits.client.circuit, inputs)


def test_a_batch_outside_the_range_is_refused_naming_value_position_and_range() -> None:
    circuit = CircuitRange.from_settings(SETTINGS)
    x, y = _batch(LOGREG, seed=1)
    x[:, 2] = 3000.0 + 900.0 * x[:, 2]  # one feature left unscaled, in the thousands
    x[5, 2] = 4000.0  # its largest value
    rows = np.arange(100, 100 + LOGREG.sample_count)
    theta = LOGREG.model.init_params(seed=0)
    with pytest.raises(DataRangeError) as refused:
        check_batch(LOGREG, circuit, theta, Batch(x, y, rows, "data file big.npz"), "the round-0 global model")
    message = str(refused.value)
    assert message.startswith(
        "data file big.npz: x[105, 2] = 4000 (sample 105, feature 2) is outside the range this "
        "circuit accepts for its batch, |x| <= "
    )
    bound = float(re.search(r"\|x\| <= ([0-9.e+]+) \(from the round-0 global model\)", message).group(1))
    assert 1.0 < bound < 4000.0 and "±262,144, what decomposition base 1024 with 3 legs represents" in message
    x[:, 2] *= 0.9 * bound / 4000.0  # the same batch inside the accepted range: nothing to refuse
    check_batch(LOGREG, circuit, theta, Batch(x, y, rows, "data file big.npz"), "the round-0 global model")


def test_a_model_that_grew_too_large_for_a_batch_is_refused_at_prove_time() -> None:
    circuit = CircuitRange.from_settings(SETTINGS)
    x, y = _batch(LOGREG, seed=2)
    weights = np.zeros((LOGREG.features, LOGREG.classes))
    weights[:, 0], weights[:, 1] = 5.0e4, -5.0e4  # representable, but the logit gap of [0, 1] features is not
    theta = np.concatenate([weights.reshape(-1), np.zeros(LOGREG.classes)])
    with pytest.raises(DataRangeError, match=r"from the round-7 global model\): with it the training step reaches"):
        check_batch(
            LOGREG,
            circuit,
            theta,
            Batch(x, y, np.arange(len(y)), "client 'a''s committed batch 0"),
            "the round-7 global model",
        )


def test_features_no_circuit_input_can_carry_are_refused_before_anything_else() -> None:
    circuit = CircuitRange.from_settings(SETTINGS)
    x, y = _batch(LOGREG, seed=4)
    x[0, 1] = -1.0e5
    with pytest.raises(
        DataRangeError,
        match=re.escape(
            "data file f.npz: x[0, 1] = -100000 (sample 0, feature 1) is "
            "outside the range a circuit input can take, |x| <= 4096"
        ),
    ):
        check_batch(
            LOGREG,
            circuit,
            LOGREG.model.init_params(0),
            Batch(x, y, np.arange(len(y)), "data file f.npz"),
            "the round-0 global model",
        )


@pytest.mark.parametrize("spec", [LOGREG, MLP], ids=["logreg", "mlp"])
def test_the_exported_graph_reaches_the_peak_the_float64_step_does(spec: TrainingStepSpec, tmp_path) -> None:
    """A user's model is range-checked on its graph (its Python never runs for a participant): the
    graph's largest intermediate value is the torch step's, to float32's precision, from the
    calibration extremes (large logits) as from ordinary data."""
    graph = export_circuits(spec, tmp_path)[CircuitKind.CLIENT]
    x, y = _batch(spec, 5)
    theta = spec.calibration_inputs()[0]
    for start in (spec.model.init_params(seed=2), theta):
        torch_peak, _ = step_peak(spec, start, x * 40, y)
        onnx_peak, _ = graph_peak(graph, start, data_vector(spec, x * 40, y, np.zeros(SALT_LEN)))
        assert onnx_peak == pytest.approx(torch_peak, rel=1e-4) and torch_peak > 1.0
