"""Derived training steps of convolutional models (issue 25): convolutions and poolings whose step
cannot be derived are refused by name before anything is traced."""

from __future__ import annotations

import pytest
from torch import nn

from zkfl.circuits.derived import check_supported
from zkfl.errors import ConfigError


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
