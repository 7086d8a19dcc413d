import ezkl
import numpy as np

from zkfl.circuits import SALT_LEN
from zkfl.commitments import SALT_BITS, new_salt, poseidon
from zkfl.fixedpoint import felt_to_uint, int_to_felt
from zkfl.client import make_client_data

from conftest import LOGREG


def test_poseidon_is_ezkl_poseidon_over_the_same_felts() -> None:
    fixed = np.array([3, -7, 4096, 0, 12345])
    (digest,) = ezkl.poseidon_hash([int_to_felt(v) for v in fixed])
    assert poseidon(fixed) == felt_to_uint(digest)


def test_poseidon_sees_every_element_and_its_order() -> None:
    base = poseidon([1, 2, 3])
    assert poseidon([1, 2, 4]) != base
    assert poseidon([2, 1, 3]) != base
    assert poseidon([1, 2, 3, 0]) != base


def test_salt_is_fresh_and_within_float32_exact_range() -> None:
    a, b = new_salt(), new_salt()
    assert a.shape == (SALT_LEN,) and not np.array_equal(a, b)
    assert np.all(np.abs(np.concatenate([a, b])) < 2**SALT_BITS)


def test_same_data_with_different_salt_commits_differently() -> None:
    x = np.full((LOGREG.sample_count, LOGREG.features), 0.25)
    y = np.zeros(LOGREG.sample_count, dtype=int)
    first, second = make_client_data(LOGREG, x, y), make_client_data(LOGREG, x, y)
    assert np.array_equal(first.features, second.features)
    assert first.commitment(LOGREG) != second.commitment(LOGREG)
