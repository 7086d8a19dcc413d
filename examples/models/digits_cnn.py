"""A small CNN for the 8x8 digits, as a user brings it to zkFL: a function returning a torch module
of supported layers (`zkfl init --model examples/models/digits_cnn.py:digits_cnn --features 64`).

Rows of 64 pixels come in (the data files' layout); `nn.Unflatten` makes them 1x8x8 images. Four
3x3 filters, ReLU, 2x2 average pooling and a linear head: 4*9+4 + 36*10+10 = 410 parameters."""

from torch import nn


def digits_cnn(channels: int = 4) -> nn.Module:
    return nn.Sequential(
        nn.Unflatten(1, (1, 8, 8)),
        nn.Conv2d(1, channels, 3),
        nn.ReLU(),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(channels * 3 * 3, 10),
    )
