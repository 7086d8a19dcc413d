"""Training steps derived by torch's autodiff: the derived step of the built-in families equals the
hand-written step they had before (kept here as an oracle) bit for bit in float64, it exports to ONNX through an
aten-level trace and computes the same update there, and models outside the supported layers, or
random in training mode, are refused by name before anything is traced."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from torch import nn

from zkfl.circuits import LogisticRegression, Mlp, ModelFamily, TrainingStepSpec
from zkfl.circuits.derived import check_supported, trace_step
from zkfl.circuits.export import export_onnx
from zkfl.circuits.families import clamped_softmax
from zkfl.errors import ConfigError

FAMILIES = [LogisticRegression(6, 3), Mlp(6, 4, 3)]


def _column_sums(g: torch.Tensor) -> torch.Tensor:
    return (torch.ones(1, g.shape[0], dtype=g.dtype) @ g).reshape(-1)


def hand_written_step(
    family: ModelFamily, params: list[torch.Tensor], x: torch.Tensor, y: torch.Tensor, step: float
) -> list[torch.Tensor]:
    """The oracle: the backward passes zkFL's families wrote by hand before they were derived."""
    g = (clamped_softmax(family.logits(params, x)) - y) * step  # dL/dz, already scaled by lr / B
    if isinstance(family, LogisticRegression):
        w, b = params
        return [w - x.t() @ g, b - _column_sums(g)]
    w1, b1, w2, b2 = params
    pre = x @ w1 + b1
    h = torch.relu(pre)
    gh = (g @ w2.t()) * (pre > 0).to(pre.dtype)  # ReLU's derivative as a 0/1 mask
    return [w1 - x.t() @ gh, b1 - _column_sums(gh), w2 - h.t() @ g, b2 - _column_sums(g)]


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
def test_the_derived_step_is_the_hand_written_one_bit_for_bit(family: ModelFamily) -> None:
    rng = np.random.default_rng(3)
    params = [torch.tensor(rng.normal(size=shape)) for _, shape in family.layout]
    x = torch.tensor(rng.uniform(-1, 1, size=(5, family.features)))
    y = torch.nn.functional.one_hot(torch.tensor(rng.integers(0, family.classes, 5)), family.classes).double()
    hand = hand_written_step(family, params, x, y, 0.1)
    derived = family.sgd_step(params, x, y, 0.1)
    for h, d in zip(hand, derived, strict=True):
        assert torch.equal(h, d)


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
def test_the_derived_step_exports_to_onnx_and_computes_the_same_update(family: ModelFamily, tmp_path: Path) -> None:
    spec = TrainingStepSpec(family, batch_size=4, local_steps=2, learning_rate=0.5)
    inputs = [torch.tensor(v) for v in spec.calibration_inputs()]
    with torch.no_grad():
        expected = spec.module()(*inputs).numpy()
    path = export_onnx(
        trace_step(spec.module(), inputs), inputs, tmp_path / "step.onnx", ["theta", "data", "context"], ["update"]
    )
    session = ort.InferenceSession(str(path))
    feeds = {i.name: v.numpy() for i, v in zip(session.get_inputs(), inputs, strict=False)}
    np.testing.assert_allclose(session.run(None, feeds)[0], expected, rtol=0, atol=1e-12)


class _Net(nn.Module):
    """A module of its own, built of supported layers."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.AvgPool2d(2))
        self.head = nn.Linear(36, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.flatten(self.features(x), 1))


def test_supported_models_pass_the_check() -> None:
    check_supported(nn.Sequential(nn.Linear(30, 8), nn.ReLU(), nn.Linear(8, 2)))
    check_supported(_Net())
    check_supported(nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5), nn.Linear(4, 2)).eval())  # the identity


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (
            nn.Sequential(nn.Linear(4, 4), nn.Sigmoid()),
            r"layer '1' \(Sigmoid\) is not supported.*supported: Linear, ReLU",
        ),
        (nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.1)), r"layer '1' \(Dropout\) is random .* training mode"),
        (nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4)), r"layer '1' \(BatchNorm1d\) is random .* training mode"),
        (nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4)).eval(), r"layer '1' \(BatchNorm1d\) is not supported"),
        (nn.Sequential(nn.Conv2d(1, 2, 3, stride=2)), r"layer '0' \(Conv2d\): only stride 1"),
        (nn.Sequential(nn.AvgPool2d(3, stride=1)), r"layer '0' \(AvgPool2d\): only kernel = stride"),
        (nn.LSTM(4, 4), r"the model \(LSTM\) is not supported"),
        ("not a model", r"must be a torch.nn.Module, got str"),
    ],
)
def test_unsupported_models_are_refused_naming_the_layer(model: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        check_supported(model)
