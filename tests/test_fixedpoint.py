import ezkl
import numpy as np
import pytest

from zkfl.errors import ConfigError
from zkfl.fixedpoint import (
    FIELD_MODULUS,
    MAX_ABS_INT,
    SCALE,
    dequantize,
    felt_to_int,
    from_felts,
    int_to_felt,
    quantize,
    to_felts,
)

F64 = ezkl.PyInputType.F64
VALUES = [0.0, 1.0, -1.0, 0.5 / 4096, -0.5 / 4096, 1.5 / 4096, -2.5 / 4096, 0.123456, -3.999, 1234.5678]


@pytest.mark.parametrize("value", VALUES)
def test_quantize_rounds_like_ezkl_float_to_felt(value: float) -> None:
    (fixed,) = quantize([value])
    assert int_to_felt(int(fixed)) == ezkl.float_to_felt(value, SCALE, F64)


@pytest.mark.parametrize("value", [0, 1, -1, 4096, -123456, MAX_ABS_INT, -MAX_ABS_INT])
def test_felt_encoding_round_trips_and_matches_ezkl(value: int) -> None:
    felt = int_to_felt(value)
    assert felt_to_int(felt) == value
    assert ezkl.felt_to_int(felt) == value


def test_negative_values_wrap_modulo_the_field() -> None:
    assert int.from_bytes(bytes.fromhex(int_to_felt(-1)), "little") == FIELD_MODULUS - 1


def test_dequantize_inverts_quantize_on_the_grid() -> None:
    fixed = np.array([-5, 0, 7, 4096, -MAX_ABS_INT])
    assert np.array_equal(quantize(dequantize(fixed)), fixed)
    assert np.array_equal(from_felts(to_felts(fixed)), fixed)


def test_out_of_range_value_is_refused_with_its_magnitude() -> None:
    with pytest.raises(ConfigError, match=r"out of range: .*4097"):
        quantize([4097.0])


def test_nan_is_refused() -> None:
    with pytest.raises(ConfigError, match="NaN"):
        quantize([1.0, float("nan")])


def test_malformed_felt_is_refused() -> None:
    with pytest.raises(ConfigError, match="64 hex digits"):
        felt_to_int("abcd")
    with pytest.raises(ConfigError, match="modulus"):
        felt_to_int((FIELD_MODULUS + 1).to_bytes(32, "little").hex())
