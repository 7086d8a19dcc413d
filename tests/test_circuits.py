"""The circuit graphs in float: no prover needed."""

import numpy as np
import pytest
import torch

from zkfl.circuits import FedAvgSpec, TrainingStepSpec, export_onnx
from zkfl.client import float_sgd_reference, make_client_data
from zkfl.errors import ConfigError
from zkfl.fixedpoint import dequantize

from conftest import LOGREG, MLP, client_data

SPECS = {
    "logreg-k1": TrainingStepSpec("logreg", 5, 3, 4, 1),
    "logreg-k3": TrainingStepSpec("logreg", 5, 3, 4, 3, learning_rate=0.25),
    "mlp-k1": TrainingStepSpec("mlp", 5, 3, 4, 1, hidden=6),
    "mlp-k2": TrainingStepSpec("mlp", 5, 4, 2, 2, learning_rate=1.0, hidden=3),
}


@pytest.mark.parametrize("name", SPECS)
def test_hand_written_backward_matches_autograd(name: str) -> None:
    spec = SPECS[name]
    data = client_data(spec, seed=3)
    theta = spec.init_params(seed=4)
    graph_out = spec.module()(torch.tensor(theta, dtype=torch.float64), torch.tensor(dequantize(data.vector(spec))))
    reference = float_sgd_reference(spec, theta, data)
    np.testing.assert_allclose(graph_out[:-1].numpy(), reference, atol=1e-9)
    assert graph_out[-1].item() == spec.sample_count


def test_sample_count_is_a_graph_constant_not_an_input() -> None:
    module = LOGREG.module()
    theta = torch.zeros(LOGREG.num_params)
    for fill in (0.0, 1.0):
        out = module(theta, torch.full((LOGREG.data_len,), fill))
        assert out[-1].item() == LOGREG.sample_count


def test_fedavg_gives_empty_slots_zero_weight() -> None:
    spec = FedAvgSpec(num_params=3, slots=3)
    a = torch.tensor([1.0, 2.0, 3.0, 8.0])
    b = torch.tensor([3.0, 2.0, 1.0, 24.0])
    empty = torch.zeros(4)
    out = spec.module()(a, empty, b)
    assert torch.allclose(out, (8 * a[:3] + 24 * b[:3]) / 32)


def test_export_is_deterministic(tmp_path) -> None:
    theta, data = LOGREG.calibration_inputs()
    args = [torch.tensor(theta, dtype=torch.float32), torch.tensor(data, dtype=torch.float32)]
    first = export_onnx(LOGREG.module(), args, tmp_path / "a.onnx", ["theta", "data"], ["update"])
    second = export_onnx(LOGREG.module(), args, tmp_path / "b.onnx", ["theta", "data"], ["update"])
    assert first.read_bytes() == second.read_bytes()


def test_failed_export_leaves_no_file(tmp_path) -> None:
    with pytest.raises(Exception):
        export_onnx(LOGREG.module(), [torch.zeros(2)], tmp_path / "g.onnx", ["theta", "data"], ["update"])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"family": "cnn"}, "unknown model family"),
        ({"batch_size": 0}, "batch_size must be at least 1"),
        ({"classes": 1}, "at least 2 classes"),
        ({"hidden": 4}, "not allowed for 'logreg'"),
        ({"learning_rate": 0.0}, "learning_rate"),
    ],
)
def test_bad_spec_is_refused(kwargs: dict, message: str) -> None:
    base = {"family": "logreg", "features": 4, "classes": 3, "batch_size": 2}
    with pytest.raises(ConfigError, match=message):
        TrainingStepSpec(**{**base, **kwargs})


def test_wrong_data_shape_names_the_expected_shape() -> None:
    with pytest.raises(ConfigError, match=r"takes 8 samples .* of 6 features, got .*\(7, 6\)"):
        make_client_data(LOGREG, np.zeros((7, 6)), np.zeros(7, dtype=int))


def test_label_out_of_range_is_refused() -> None:
    n = MLP.sample_count
    with pytest.raises(ConfigError, match=r"labels must be integers in \[0, 3\)"):
        make_client_data(MLP, np.zeros((n, MLP.features)), np.full(n, 3))
