"""The circuit graphs in float: no prover needed."""

import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import LOGREG, MLP, client_data

from zkfl.circuits import FAMILIES, FedAvgSpec, LogisticRegression, Mlp, TrainingStepSpec, export_onnx, model_from_json
from zkfl.circuits.derived import trace_step
from zkfl.circuits.families import TorchModel
from zkfl.circuits.training import CONTEXT_LEN
from zkfl.data.batches import make_client_data
from zkfl.data.evaluation import float_sgd_reference
from zkfl.errors import ConfigError
from zkfl.fixedpoint import dequantize

SPECS = {
    "logreg-k1": TrainingStepSpec(LogisticRegression(5, 3), 4, 1),
    "logreg-k3": TrainingStepSpec(LogisticRegression(5, 3), 4, 3, learning_rate=0.25),
    "mlp-k1": TrainingStepSpec(Mlp(5, 6, 3), 4, 1),
    "mlp-k2": TrainingStepSpec(Mlp(5, 3, 4), 2, 2, learning_rate=1.0),
}


@pytest.mark.parametrize("name", SPECS)
def test_the_training_step_matches_float_autograd(name: str) -> None:
    spec = SPECS[name]
    data = client_data(spec, seed=3)
    theta = spec.model.init_params(seed=4)
    graph_out = spec.module()(
        torch.tensor(theta, dtype=torch.float64),
        torch.tensor(dequantize(data.vector(spec))),
        torch.zeros(CONTEXT_LEN, dtype=torch.float64),
    )
    reference = float_sgd_reference(spec, theta, data)
    np.testing.assert_allclose(graph_out[:-1].numpy(), reference, atol=1e-9)
    assert graph_out[-1].item() == 1.0  # each update counts one


def test_an_updates_count_is_a_graph_constant_not_an_input() -> None:
    """No client can weigh more than one: the update's last element, 1, is a constant of the graph."""
    module = LOGREG.module()
    theta = torch.zeros(LOGREG.num_params)
    for fill in (0.0, 1.0):
        out = module(theta, torch.full((LOGREG.data_len,), fill), torch.full((CONTEXT_LEN,), fill))
        assert out[-1].item() == 1.0


def test_the_context_is_committed_but_does_not_change_the_update() -> None:
    module, data = LOGREG.module(), client_data(LOGREG, seed=1)
    theta, x = torch.tensor(LOGREG.model.init_params(seed=0)), torch.tensor(dequantize(data.vector(LOGREG)))
    assert torch.equal(
        module(theta, x, torch.zeros(CONTEXT_LEN, dtype=torch.float64)),
        module(theta, x, torch.full((CONTEXT_LEN,), 4095.0, dtype=torch.float64)),
    )


def test_fedavg_is_the_mean_of_the_summed_updates_at_scale_36() -> None:
    """In float the graph is the mean times 2^-24: ezkl labels its output scale 36, and the integers
    there are the mean's at scale 12 (`zkfl.fedavg.fixed_point_fedavg`)."""
    spec = FedAvgSpec(num_params=3)
    a = torch.tensor([1.0, 2.0, 3.0, 1.0], dtype=torch.float64)
    b = torch.tensor([3.0, 2.0, 1.0, 1.0], dtype=torch.float64)
    assert torch.allclose(spec.module()(a + b) * 2**24, (a[:3] + b[:3]) / 2)
    assert torch.allclose(spec.module()(a + a + b) * 2**24, (2 * a[:3] + b[:3]) / 3)


def test_export_is_deterministic(tmp_path) -> None:
    args = [torch.tensor(v, dtype=torch.float32) for v in LOGREG.calibration_inputs()]
    names = ["theta", "data", "context"]
    first = export_onnx(trace_step(LOGREG.module(), args), args, tmp_path / "a.onnx", names, ["update"])
    second = export_onnx(trace_step(LOGREG.module(), args), args, tmp_path / "b.onnx", names, ["update"])
    assert first.read_bytes() == second.read_bytes()


def test_failed_export_leaves_no_file(tmp_path) -> None:
    with pytest.raises(TypeError, match="missing 2 required positional arguments"):  # the step takes three inputs
        export_onnx(LOGREG.module(), [torch.zeros(2)], tmp_path / "g.onnx", ["theta", "data"], ["update"])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("model", "training", "message"),
    [
        ({"family": "cnn"}, {}, "unknown model family 'cnn'; expected one of: logreg, mlp, torch"),
        ({}, {"batch_size": 0}, "batch_size must be at least 1"),
        ({"classes": 1}, {}, "at least 2 classes"),
        ({"hidden": 4}, {}, "unknown key(s) 'hidden' for model family 'logreg'"),
        ({"family": "mlp", "hidden": 0}, {}, "mlp: hidden must be a positive integer, got 0"),
        ({}, {"learning_rate": 0.0}, "learning_rate"),
    ],
)
def test_bad_spec_is_refused(model: dict, training: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        TrainingStepSpec(
            model_from_json({"family": "logreg", "features": 4, "classes": 3, **model}), **{"batch_size": 2, **training}
        )


def test_wrong_data_shape_names_the_expected_shape() -> None:
    with pytest.raises(ConfigError, match=r"takes 8 samples .* of 6 features, got .*\(7, 6\)"):
        make_client_data(LOGREG, np.zeros((7, 6)), np.zeros(7, dtype=int))


def test_label_out_of_range_is_refused() -> None:
    n = MLP.sample_count
    with pytest.raises(ConfigError, match=r"labels must be integers in \[0, 3\)"):
        make_client_data(MLP, np.zeros((n, MLP.features)), np.full(n, 3))


def test_a_model_family_is_one_class_and_one_registry_line() -> None:
    for name, family in FAMILIES.items():
        if family is TorchModel:
            continue  # a user's module: tests/test_user_model.py
        model = family()
        assert model.name == name and model_from_json(model.to_json()) == model
        assert model.layout[-1] == (model.layout[-1][0], (model.classes,))  # the output bias closes the layout
        spec = TrainingStepSpec(model, batch_size=2)
        assert TrainingStepSpec.from_json(spec.to_json()) == spec


def test_circuits_never_import_ezkl() -> None:
    code = "import sys, zkfl.circuits, zkfl.circuits.families; print('ezkl' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
