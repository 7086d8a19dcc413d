"""Training steps derived by torch's own autodiff, from a torch module of supported layers.

A client's proven step is k SGD steps on the mean softmax cross-entropy of its batch. Only the
loss's seed is written by hand, (clamped_softmax(z) - y) * lr / B (`families.clamped_softmax`
keeps exp's lookup table bounded for every input); the backward pass of the model itself is
`torch.func.vjp` of its forward pass, so a user's model needs no hand-written gradient.

The legacy (TorchScript) ONNX exporter cannot trace through `torch.func`, so `trace_step` first
traces the step into an aten-level FX graph (`make_fx`), in which the few backward ops the exporter
lacks are decomposed into ops it has (`decompositions`); the graph exports as any module does.
A convolution's backward becomes two convolutions (a transposed one for the input's gradient, one
of the input with the output's gradient for the weight's) and a sum, average pooling's a copy of
each window's gradient share; a convolution's bias is added apart from it, which ezkl needs.

`check_supported` refuses, before anything is traced, a module with a layer outside `SUPPORTED`
or with training-time randomness or state (Dropout, BatchNorm in training mode), naming the layer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import NotImplementedType
from typing import TYPE_CHECKING, Any

from zkfl.errors import ConfigError

if TYPE_CHECKING:
    import torch
    from torch import Tensor

SUPPORTED = (
    "Linear",
    "ReLU",
    "Conv2d (stride 1, groups 1, dilation 1, zero padding)",
    "AvgPool2d (kernel = stride, no padding)",
    "Flatten",
    "Unflatten",
    "Sequential",
)
"""The layers a derived training step may contain, for the error message that names them."""


def check_supported(module: object) -> None:
    """Refuse a model the derived step cannot prove, naming the first offending layer and what is
    supported. Dropout and BatchNorm are refused in training mode (random masks, running
    statistics); an eval-mode Dropout is the identity and passes. A module of its own (a custom
    `forward`) passes when every layer in it does."""
    import torch
    from torch import nn

    if not isinstance(module, nn.Module):
        raise ConfigError(f"the model must be a torch.nn.Module, got {type(module).__name__}")
    leaves: tuple[type[nn.Module], ...] = (nn.Linear, nn.ReLU, nn.Conv2d, nn.AvgPool2d, nn.Flatten, nn.Unflatten)
    for name, layer in module.named_modules():
        where = f"layer {name!r} ({type(layer).__name__})" if name else f"the model ({type(layer).__name__})"
        supported = f"supported: {', '.join(SUPPORTED)}"
        if isinstance(layer, nn.modules.dropout._DropoutNd | nn.modules.batchnorm._BatchNorm):
            if layer.training:
                raise ConfigError(
                    f"{where} is random or keeps running statistics in training mode, which no proof can "
                    f"reproduce; remove it or put the model in eval() ({supported})"
                )
            if isinstance(layer, nn.modules.dropout._DropoutNd):
                continue  # the identity in eval mode
        if isinstance(layer, nn.Conv2d) and (
            layer.stride != (1, 1) or layer.groups != 1 or layer.dilation != (1, 1) or layer.padding_mode != "zeros"
        ):
            raise ConfigError(
                f"{where}: only stride 1, groups 1, dilation 1 and zero padding are supported, got {layer}"
            )
        if isinstance(layer, nn.Conv2d) and layer.padding == "same" and any(k % 2 == 0 for k in layer.kernel_size):
            # torch pads such an input unevenly, by a Pad whose output shape the ONNX exporter loses
            raise ConfigError(f"{where}: padding 'same' needs an odd kernel (pad explicitly), got {layer}")
        if isinstance(layer, nn.AvgPool2d) and (
            _pair(layer.stride) != _pair(layer.kernel_size)
            or _pair(layer.padding) != (0, 0)
            or layer.ceil_mode
            or layer.divisor_override is not None
        ):
            raise ConfigError(
                f"{where}: only kernel = stride, no padding, floor mode and no divisor override are supported, "
                f"got {layer}"
            )
        if isinstance(layer, leaves) or any(True for _ in layer.children()):
            continue  # a supported layer, or a container whose layers are checked one by one
        raise ConfigError(f"{where} is not supported in a proven training step; {supported}")
    if any(isinstance(b, torch.Tensor) and b.requires_grad for b in module.buffers()):
        raise ConfigError("the model's buffers must not require grad: only its parameters are trained")


def _pair(value: object) -> tuple[object, object]:
    return (value, value) if not isinstance(value, tuple) else (value[0], value[-1])


def derived_sgd_step(
    logits: Callable[[Sequence[Tensor], Tensor], Tensor],
) -> Callable[[list[Tensor], Tensor, Tensor, float], list[Tensor]]:
    """One SGD step on softmax cross-entropy, `(params, x, one-hot y, lr / B) -> params`, whose
    backward pass is torch's vjp of `logits(params, x)`."""
    from torch.func import vjp

    from zkfl.circuits.families import clamped_softmax

    def step(params: list[Tensor], x: Tensor, y: Tensor, scale: float) -> list[Tensor]:
        z, pull, *_ = vjp(lambda *p: logits(p, x), *params)
        seed = (clamped_softmax(z) - y) * scale  # dL/dz of the batch's summed loss, times lr / B
        return [p - g for p, g in zip(params, pull(seed), strict=True)]

    return step


def _threshold_backward(grad: Tensor, value: Tensor, threshold: float) -> Tensor:
    """ReLU's backward, as the hand-written step writes it: the gradient where the input passed."""
    return grad * (value > threshold)  # a bool factor: the exporter casts it, as for the hand-written mask


def _convolution(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    stride: Sequence[int],
    padding: Sequence[int],
    dilation: Sequence[int],
    transposed: bool,
    output_padding: Sequence[int],
    groups: int,
) -> Tensor | NotImplementedType:
    """A convolution with its bias added apart, to the output seen as (B, C, H*W): ezkl fuses an Add
    of a (1, C, 1, 1) bias into the Conv before it (through a Reshape too), and then panics on a bias
    that is a graph input (theta) rather than a constant. Without a bias, the convolution is traced
    as it is (NotImplemented: no decomposition)."""
    import torch

    if bias is None:
        return NotImplemented
    conv = torch.ops.aten.convolution.default
    out = conv(input, weight, None, stride, padding, dilation, transposed, output_padding, groups)
    batch, channels = out.shape[:2]
    return (out.reshape(batch, channels, -1) + bias.reshape(1, channels, 1)).reshape(out.shape)


def _convolution_backward(
    grad: Tensor,
    input: Tensor,
    weight: Tensor,
    bias_sizes: Sequence[int] | None,
    stride: Sequence[int],
    padding: Sequence[int],
    dilation: Sequence[int],
    transposed: bool,
    output_padding: Sequence[int],
    groups: int,
    output_mask: Sequence[bool],
) -> tuple[Tensor | None, Tensor | None, Tensor | None] | NotImplementedType:
    """A 2-d convolution's backward (stride 1, groups 1, dilation 1, any zero padding), in the ops
    the exporter and ezkl have; only the gradients autograd asks for (`output_mask`) are computed,
    so the first layer's input gradient costs no rows. Any other convolution is left as it is, for
    the exporter to name."""
    import torch

    if transposed or groups != 1 or input.dim() != 4 or any(s != 1 for s in stride) or any(d != 1 for d in dilation):
        return NotImplemented
    conv, ones = torch.ops.aten.convolution.default, [1, 1]
    grad_input = grad_weight = grad_bias = None
    if output_mask[0]:  # the transposed convolution: each output's gradient spread back over its window
        grad_input = conv(grad, weight, None, ones, padding, ones, True, [0, 0], 1)
    if output_mask[1]:  # dW[o, i] = sum over the batch of x[:, i] correlated with dY[:, o]: the batch as channels
        grad_weight = conv(input.transpose(0, 1), grad.transpose(0, 1), None, ones, padding, ones, False, [0, 0], 1)
        grad_weight = grad_weight.transpose(0, 1)
    if output_mask[2]:
        grad_bias = grad.sum(dim=(0, 2, 3))
    return grad_input, grad_weight, grad_bias


def _avg_pool2d_backward(
    grad: Tensor,
    input: Tensor,
    kernel_size: Sequence[int],
    stride: Sequence[int],
    padding: Sequence[int],
    ceil_mode: bool,
    count_include_pad: bool,
    divisor_override: int | None,
) -> Tensor | NotImplementedType:
    """Average pooling's backward when windows tile the input (kernel = stride, no padding): each
    window's gradient divided by its size, copied over the window (a Concat, no multiplication);
    rows and columns the floor mode dropped get zero. Any other pooling is left as it is."""
    import torch

    kh, kw = kernel_size[0], kernel_size[-1]
    if list(stride) not in ([], [kh, kw], [kh]) or any(padding) or ceil_mode or divisor_override is not None:
        return NotImplemented
    batch, channels, rows, cols = grad.shape
    share = (grad * (1.0 / (kh * kw))).reshape(batch, channels, rows, 1, cols, 1)
    spread = torch.cat([torch.cat([share] * kw, dim=5)] * kh, dim=3).reshape(batch, channels, rows * kh, cols * kw)
    height, width = input.shape[-2:]
    if width > cols * kw:  # a Concat of zeros: a Pad would lose the static shape the exporter's Conv needs
        spread = torch.cat([spread, spread.new_zeros(batch, channels, rows * kh, width - cols * kw)], dim=3)
    if height > rows * kh:
        spread = torch.cat([spread, spread.new_zeros(batch, channels, height - rows * kh, width)], dim=2)
    return spread


def _unsafe_view(tensor: Tensor, size: Sequence[int]) -> Tensor:
    """A reshape of a copy (after a Concat, for one): the exporter lacks `_unsafe_view`, not `view`."""
    import torch

    return torch.ops.aten.view.default(tensor, size)


def decompositions() -> dict[torch._ops.OpOverload, Callable[..., Any]]:
    """The aten ops of a backward pass that the TorchScript ONNX exporter lacks, as ops it has, and
    a convolution's bias apart from it, for ezkl. Targeted entries, not torch's core decomposition
    table, whose graph onnxruntime rejects."""
    import torch

    aten = torch.ops.aten
    return {
        aten.threshold_backward.default: _threshold_backward,
        aten.convolution.default: _convolution,
        aten.convolution_backward.default: _convolution_backward,
        aten.avg_pool2d_backward.default: _avg_pool2d_backward,
        aten._unsafe_view.default: _unsafe_view,
    }


def trace_step(module: torch.nn.Module, example_inputs: Sequence[Tensor]) -> torch.fx.GraphModule:
    """`module` (a training step whose forward uses `derived_sgd_step`) as an aten-level FX graph,
    ready for `zkfl.circuits.export.export_onnx`."""
    from torch.fx.experimental.proxy_tensor import make_fx

    return make_fx(module, decomposition_table=decompositions())(*example_inputs)
