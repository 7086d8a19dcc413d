"""Derived training steps of convolutional models (issue 25): a Conv2d / ReLU / AvgPool2d / Flatten /
Linear model's derived step is torch autograd's SGD step, its aten trace exports to an ONNX graph
that computes the same update, in ops ezkl has (no Conv with a bias input, which ezkl cannot take
from theta), and ezkl compiles it and computes that update to within a few fixed-point units."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx.reference import ReferenceEvaluator
from torch import Tensor, nn
from torch.func import functional_call

from zkfl.circuits.derived import check_supported, derived_sgd_step, trace_step
from zkfl.circuits.export import export_onnx
from zkfl.circuits.families import clamped_softmax
from zkfl.errors import ConfigError
from zkfl.fixedpoint import dequantize, quantize
from zkfl.zk.prover import compile_circuit, run_witness

CLASSES = 3
ALLOWED_OPS = {
    # the model's layers and their backward passes
    "Conv", "ConvTranspose", "AveragePool", "Relu", "Greater", "Cast", "Gemm", "Transpose", "Concat",
    # the softmax seed, the SGD update and the flat theta / data plumbing
    "ReduceMax", "Sub", "Clip", "Exp", "ReduceSum", "Reciprocal", "Mul", "Add", "Reshape", "Slice", "Constant",
}  # fmt: skip


def _tiny_cnn() -> tuple[nn.Module, tuple[int, ...]]:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(8, CLASSES)), (1, 6, 6)


def _two_conv_cnn() -> tuple[nn.Module, tuple[int, ...]]:
    """A second convolution (its input's gradient is needed), zero padding, and a pooling that drops
    the input's last row and column (7 -> 5 -> 2)."""
    torch.manual_seed(1)
    layers = [nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.Conv2d(2, 2, 3), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten()]
    return nn.Sequential(*layers, nn.Linear(8, CLASSES)), (1, 7, 7)


MODELS = {"tiny": _tiny_cnn, "two-conv": _two_conv_cnn}


def _logits(module: nn.Module, input_shape: tuple[int, ...]) -> Callable[[Sequence[Tensor], Tensor], Tensor]:
    """The forward pass of `module` on flat samples, its parameters given in `named_parameters()` order."""
    names = [name for name, _ in module.named_parameters()]

    def logits(params: Sequence[Tensor], x: Tensor) -> Tensor:
        return functional_call(module, dict(zip(names, params, strict=True)), (x.reshape(x.shape[0], *input_shape),))

    return logits


class _ModuleStep(nn.Module):
    """forward(theta, data) -> theta after k derived SGD steps of `module` on the flat data
    (features row-major, then one-hot labels), as `zkfl.circuits.graphs.TrainingStep` lays them out."""

    def __init__(self, module: nn.Module, input_shape: tuple[int, ...], batch: int, steps: int, lr: float) -> None:
        super().__init__()
        self.net, self.batch, self.steps, self.lr = module, batch, steps, lr
        self.shapes = [p.shape for p in module.parameters()]
        self.features = int(np.prod(input_shape))
        self.step = derived_sgd_step(_logits(module, input_shape))

    def forward(self, theta: Tensor, data: Tensor) -> Tensor:
        params, offset = [], 0
        for shape in self.shapes:
            params.append(theta[offset : offset + shape.numel()].reshape(shape))
            offset += shape.numel()
        n = self.batch * self.steps
        x = data[: n * self.features].reshape(n, self.features)
        y = data[n * self.features : n * (self.features + CLASSES)].reshape(n, CLASSES)
        for j in range(self.steps):
            rows = slice(j * self.batch, (j + 1) * self.batch)
            params = self.step(params, x[rows], y[rows], self.lr / self.batch)
        return torch.cat([p.reshape(-1) for p in params])


def _inputs(module: nn.Module, input_shape: tuple[int, ...], n: int, seed: int) -> tuple[Tensor, Tensor]:
    """(theta, data) in float64: the module's initial weights, uniform pixels in [0, 1), one-hot labels."""
    rng = np.random.default_rng(seed)
    theta = torch.cat([p.detach().double().reshape(-1) for p in module.parameters()])
    x = rng.uniform(0, 1, size=(n, int(np.prod(input_shape))))
    y = np.eye(CLASSES)[rng.integers(0, CLASSES, size=n)]
    return theta, torch.tensor(np.concatenate([x.reshape(-1), y.reshape(-1)]))


def _export(step: _ModuleStep, inputs: Sequence[Tensor], path: Path) -> onnx.ModelProto:
    export_onnx(trace_step(step, inputs), inputs, path, ["theta", "data"], ["update"])
    return onnx.load(path)


@pytest.mark.parametrize("model", MODELS)
def test_the_derived_step_is_autograds_sgd_step(model: str) -> None:
    module, input_shape = MODELS[model]()
    check_supported(module)
    batch, lr = 5, 0.5
    logits = _logits(module, input_shape)
    params = [p.detach().double() for p in module.parameters()]
    _, data = _inputs(module, input_shape, batch, seed=3)
    x = data[: batch * int(np.prod(input_shape))].reshape(batch, -1)
    y = data[x.numel() :].reshape(batch, CLASSES)

    leaves = [p.clone().requires_grad_() for p in params]
    z = logits(leaves, x)
    seed = (clamped_softmax(z) - y) / batch  # d(mean cross-entropy)/dz, with the clamped softmax
    grads = torch.autograd.grad((seed.detach() * z).sum(), leaves)
    expected = [p - lr * g for p, g in zip(params, grads, strict=True)]

    derived = derived_sgd_step(logits)(params, x, y, lr / batch)
    for e, d in zip(expected, derived, strict=True):
        torch.testing.assert_close(d, e, rtol=0, atol=1e-12)
    assert max(float((e - p).abs().max()) for e, p in zip(expected, params, strict=True)) > 1e-3  # it moved


@pytest.mark.parametrize("model", MODELS)
def test_the_exported_step_computes_the_torch_update_in_ops_ezkl_has(model: str, tmp_path: Path) -> None:
    module, input_shape = MODELS[model]()
    step = _ModuleStep(module, input_shape, batch=2, steps=2, lr=0.5)
    inputs = _inputs(module, input_shape, 4, seed=5)
    graph = _export(step, inputs, tmp_path / "step.onnx")

    ops = {node.op_type for node in graph.graph.node}
    assert ops <= ALLOWED_OPS, ops - ALLOWED_OPS
    convs = [node for node in graph.graph.node if node.op_type == "Conv"]
    assert convs and all(len(node.input) == 2 for node in convs)  # every bias is added apart
    with torch.no_grad():
        expected = step(*inputs).numpy()
    # onnxruntime has no float64 Conv on the CPU; onnx's reference evaluator computes in float64
    feeds = {"theta": inputs[0].numpy(), "data": inputs[1].numpy()}
    np.testing.assert_allclose(ReferenceEvaluator(graph).run(None, feeds)[0], expected, rtol=0, atol=1e-9)


@pytest.mark.parametrize("model", MODELS)
def test_ezkl_compiles_the_step_and_its_witness_is_the_float_update(model: str, tmp_path: Path) -> None:
    module, input_shape = MODELS[model]()
    step = _ModuleStep(module, input_shape, batch=2, steps=1, lr=0.5)
    theta, data = _inputs(module, input_shape, 2, seed=7)
    _export(step, [theta, data], tmp_path / "step.onnx")
    fixed = [quantize(theta.numpy()), quantize(data.numpy())]

    circuit = compile_circuit("cnn-step", tmp_path / "step.onnx", fixed, tmp_path / "cache")
    (update,) = run_witness(circuit, fixed)

    with torch.no_grad():  # the float step from the very inputs ezkl got
        expected = step(*(torch.tensor(dequantize(f)) for f in fixed)).numpy()
    assert np.max(np.abs(expected - dequantize(fixed[0]))) > 16 / 4096  # the update is many units long
    np.testing.assert_allclose(dequantize(update), expected, rtol=0, atol=4 / 4096)


@pytest.mark.parametrize(
    ("layer", "message"),
    [
        (nn.Conv2d(1, 2, 3, padding=1, padding_mode="reflect"), r"layer '0' \(Conv2d\): only .* zero padding"),
        (nn.Conv2d(1, 2, 3, dilation=2), r"layer '0' \(Conv2d\): only stride 1, groups 1, dilation 1"),
        (nn.Conv2d(1, 2, 2, padding="same"), r"layer '0' \(Conv2d\): padding 'same' needs an odd kernel"),
        (nn.AvgPool2d(2, padding=1), r"layer '0' \(AvgPool2d\): only kernel = stride, no padding"),
        (nn.AvgPool2d(2, ceil_mode=True), r"layer '0' \(AvgPool2d\): .*floor mode"),
        (nn.AvgPool2d(2, divisor_override=3), r"layer '0' \(AvgPool2d\): .*no divisor override"),
    ],
)
def test_convolutions_and_poolings_the_step_cannot_derive_are_refused(layer: nn.Module, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        check_supported(nn.Sequential(layer))


def test_zero_padded_convolutions_pass_the_check() -> None:
    check_supported(nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.Conv2d(2, 2, 3, padding="same"), nn.AvgPool2d(2)))
