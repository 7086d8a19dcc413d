"""The ezkl wrapper: caching, and clear errors for bad artifacts."""

from __future__ import annotations

import time
from pathlib import Path

import ezkl
import numpy as np
import pytest
import torch
from conftest import LOGREG, SLOTS, ProvenRound

from zkfl.circuits import export_onnx
from zkfl.errors import ArtifactError, ConfigError, ProofError
from zkfl.zk.build import RECIPROCAL_LIMIT, CircuitSet, build_circuits, fedavg_config
from zkfl.zk.prover import Proof, ProverConfig, compile_circuit, fitting_logrows, verify
from zkfl.zk.srs import DEV_SRS_WARNING, CeremonySrsSource, dev_srs, load_srs

pytestmark = pytest.mark.prover


def test_second_setup_of_the_same_circuit_is_a_cache_hit(logreg_circuits: CircuitSet, cache_dir: Path) -> None:
    start = time.perf_counter()
    again = build_circuits(LOGREG, SLOTS, cache_dir)
    elapsed = time.perf_counter() - start
    assert again.client.pk_path == logreg_circuits.client.pk_path
    assert again.aggregator.vk_path == logreg_circuits.aggregator.vk_path
    assert elapsed < 2.0, f"cached setup took {elapsed:.2f} s"


def test_keys_and_proofs_of_a_circuit_share_one_srs_file(logreg_circuits: CircuitSet) -> None:
    keys = logreg_circuits.client
    assert keys.srs.logrows == keys.circuit.logrows
    assert keys.srs.dev
    assert keys.srs.sha256 in (keys.directory / "srs.json").read_text()


def test_missing_onnx_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="ONNX graph not found"):
        compile_circuit("x", tmp_path / "absent.onnx", [np.zeros(2, dtype=np.int64)], tmp_path)


def test_corrupt_onnx_is_refused_and_leaves_no_cache_entry(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07 definitely not a protobuf graph")
    with pytest.raises(ArtifactError, match="corrupt ONNX graph"):
        compile_circuit("x", bad, [np.zeros(2, dtype=np.int64)], tmp_path / "cache")
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("DONE"))


class _BoolOutput(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x > 0).to(x.dtype)


def test_output_at_another_scale_is_refused(tmp_path: Path) -> None:
    onnx_path = export_onnx(_BoolOutput(), [torch.zeros(4)], tmp_path / "b.onnx", ["x"], ["y"])
    with pytest.raises(ConfigError, match=r"mismatched scales .* output scales \[0\], expected all 12"):
        compile_circuit("bool", onnx_path, [np.array([1, -1, 2, 0])], tmp_path / "cache")
    assert not any((tmp_path / "cache").rglob("DONE"))


def test_srs_too_small_for_the_circuit_is_refused(logreg_circuits: CircuitSet, tmp_path: Path) -> None:
    small = dev_srs(tmp_path, 10)
    with pytest.raises(
        ConfigError, match=f"SRS too small: the circuit needs logrows {logreg_circuits.client.circuit.logrows}"
    ):
        CeremonySrsSource(small.path).for_logrows(logreg_circuits.client.circuit.logrows)


def test_truncated_srs_file_is_refused(logreg_circuits: CircuitSet, tmp_path: Path) -> None:
    truncated = tmp_path / "cut.srs"
    truncated.write_bytes(logreg_circuits.client.srs.path.read_bytes()[:5000])
    with pytest.raises(ArtifactError, match=r"corrupt SRS file .*\(truncated"):
        load_srs(truncated)


def test_dev_srs_is_marked_and_warned_about(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    srs = dev_srs(tmp_path, 10)
    assert srs.dev and srs.logrows == 10
    assert DEV_SRS_WARNING in caplog.text
    assert dev_srs(tmp_path, 10).sha256 == srs.sha256, "a second call must reuse the file, not draw a new secret"


def test_ceremony_srs_is_not_marked_dev(tmp_path: Path) -> None:
    path = tmp_path / "ceremony.srs"
    ezkl.gen_srs(str(path), 10)  # stands in for a ceremony file: no dev sidecar beside it
    assert not load_srs(path).dev


def test_proof_of_another_circuit_is_refused(logreg_circuits: CircuitSet, full_round: ProvenRound) -> None:
    with pytest.raises(ProofError, match="does not verify against circuit 'fedavg'"):
        verify(logreg_circuits.aggregator, full_round.updates[0].proof)


def test_missing_proof_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="proof file not found"):
        Proof.load(tmp_path / "nope.json")


def test_logrows_holds_the_decomposition_table() -> None:
    """A base-2^k range-check table needs logrows k + 1, however few rows the circuit has."""
    small = {"num_rows": 1000, "run_args": {"logrows": 17, "decomp_base": 1024}}
    assert fitting_logrows(small) == 11
    assert fitting_logrows({**small, "run_args": {"logrows": 17, "decomp_base": 16384}}) == 15
    assert fitting_logrows({**small, "run_args": {"logrows": 15, "decomp_base": 65536}}) == 17


def test_fedavg_takes_the_legs_that_hold_its_reciprocal() -> None:
    """FedAvg's reciprocal reaches 2^38: 4 legs of 2^10 (as before) or of 2^12, 3 of 2^14 or 2^16."""
    bases = (1024, 4096, 16384, 65536)
    legs = {base: fedavg_config(ProverConfig(decomp_base=base, decomp_legs=2)).decomp_legs for base in bases}
    assert legs == {1024: 4, 4096: 4, 16384: 3, 65536: 3}
    assert all(base**n - 1 >= RECIPROCAL_LIMIT for base, n in legs.items())
