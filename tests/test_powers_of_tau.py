"""The SRS structure check (py-ecc) and the k = 1 verifier SRS, on a real ezkl dev SRS."""

from __future__ import annotations

import random
from pathlib import Path

import ezkl
import pytest

from zkfl.errors import ArtifactError
from zkfl.zk.build import CircuitSet
from zkfl.zk.powers_of_tau import SrsFile, check_powers_of_tau, verifier_srs

pytestmark = pytest.mark.prover

G1 = 64


def _srs(circuits: CircuitSet) -> SrsFile:
    return SrsFile.read(circuits.client.srs.path)


def test_dev_srs_is_a_consistent_powers_of_tau(logreg_circuits: CircuitSet) -> None:
    check = check_powers_of_tau(_srs(logreg_circuits), samples=16)
    assert check.ok, check.failures
    assert check.pairs_checked >= 2 and check.sha256 == logreg_circuits.client.srs.sha256


@pytest.mark.parametrize("index", [1, "last"])
def test_a_power_of_another_secret_fails_the_pairing_check(logreg_circuits: CircuitSet, index: int | str) -> None:
    srs = _srs(logreg_circuits)
    i = srs.size - 1 if index == "last" else index
    raw = bytearray(srs.raw)
    raw[4 + i * G1 : 4 + (i + 1) * G1] = srs.raw[4 + (i - 1) * G1 : 4 + i * G1]  # s^i·G replaced by s^(i-1)·G
    check = check_powers_of_tau(SrsFile.from_bytes(bytes(raw)), samples=4)
    assert check.failures == ["consecutive powers share one s (pairing check)"]


def test_s_g2_of_another_srs_fails(logreg_circuits: CircuitSet, tmp_path: Path) -> None:
    srs = _srs(logreg_circuits)
    other_path = tmp_path / "other.srs"
    ezkl.gen_srs(str(other_path), srs.logrows)
    other = SrsFile.read(other_path)
    raw = srs.raw[:-128] + other.raw[-128:]
    check = check_powers_of_tau(SrsFile.from_bytes(raw), samples=4, rng=random.SystemRandom())
    assert "consecutive powers share one s (pairing check)" in check.failures


def test_verifier_srs_is_a_516_byte_srs_of_the_same_secret(logreg_circuits: CircuitSet) -> None:
    srs = _srs(logreg_circuits)
    small = SrsFile.from_bytes(verifier_srs(srs))
    assert small.logrows == 1 and len(small.raw) == 516
    assert (small.power(0), small.power(1), small.g2, small.s_g2) == (srs.power(0), srs.power(1), srs.g2, srs.s_g2)
    assert check_powers_of_tau(small).ok


def test_a_file_that_is_not_an_srs_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="not a halo2 raw KZG SRS"):
        SrsFile.from_bytes(b"\x05\x00\x00\x00" + bytes(100))
