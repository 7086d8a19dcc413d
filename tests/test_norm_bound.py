"""The proven norm bound: a client's update W' - W is clipped in the circuit, so no data, however
poisoned, moves the model further than the federation's bound; a bounded spec reads and writes its
bound, and an unbounded one reads as before."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import LOGREG, client_data

from zkfl.circuits import TrainingStepSpec
from zkfl.circuits.kinds import CircuitKind
from zkfl.errors import ConfigError
from zkfl.fixedpoint import SCALE, quantize
from zkfl.protocol import context
from zkfl.zk.build import export_circuits
from zkfl.zk.prover import compile_circuit, prove, setup_keys
from zkfl.zk.srs import DevSrsSource

BOUND = 0.02


def float_change(spec: TrainingStepSpec, theta: np.ndarray, data: np.ndarray) -> np.ndarray:
    module = spec.module()
    out = module(torch.tensor(theta), torch.tensor(data), torch.zeros(5, dtype=torch.float64))
    return out[:-1].detach().numpy() - theta


def test_the_bound_clips_each_change_in_the_graph_and_l2_scales_the_whole() -> None:
    data = client_data(LOGREG, seed=4)
    theta = LOGREG.model.init_params(seed=0)
    x = data.vector(LOGREG) / 2.0**SCALE
    free = float_change(LOGREG, theta, x)
    assert np.abs(free).max() > BOUND
    clipped = float_change(replace(LOGREG, update_bound=BOUND), theta, x)
    assert np.allclose(clipped, np.clip(free, -BOUND, BOUND))
    scaled = float_change(replace(LOGREG, update_bound=BOUND, update_norm="l2"), theta, x)
    assert np.isclose(np.linalg.norm(scaled), BOUND) and np.allclose(scaled, free * BOUND / np.linalg.norm(free))


@pytest.mark.prover
def test_an_update_beyond_the_bound_is_clipped_in_the_proof(tmp_path: Path, cache_dir: Path) -> None:
    spec = replace(LOGREG, update_bound=BOUND)
    graph = export_circuits(spec, tmp_path / "onnx")[CircuitKind.CLIENT]
    circuit = compile_circuit("bounded_step", graph, [quantize(v) for v in spec.calibration_inputs()], cache_dir)
    keys = setup_keys(circuit, DevSrsSource(cache_dir / "srs"), cache_dir)
    data = client_data(spec, seed=4)
    theta = quantize(spec.model.init_params(seed=0))
    run = prove(keys, [theta, data.vector(spec), context(1, bytes(32), "0x" + "11" * 20)], tmp_path / "proof.json")
    change = run.outputs[0][:-1] - theta
    limit = round(BOUND * 2**SCALE)
    assert np.abs(change).max() == limit  # the proven update reaches the bound and goes no further
    free = float_change(LOGREG, spec.model.init_params(seed=0), data.vector(spec) / 2.0**SCALE)
    assert (np.abs(free) > BOUND).sum() == (np.abs(change) == limit).sum()


def test_a_bounded_spec_round_trips_and_an_unbounded_one_reads_as_before() -> None:
    bounded = replace(LOGREG, update_bound=0.5, update_norm="l2")
    assert TrainingStepSpec.from_json(bounded.to_json()) == bounded
    assert "update_bound" not in LOGREG.to_json()
    assert TrainingStepSpec.from_json(LOGREG.to_json()) == LOGREG
    with pytest.raises(ConfigError, match="update_norm must be one of linf, l2"):
        replace(LOGREG, update_bound=0.5, update_norm="l1")
    with pytest.raises(ConfigError, match=r"update_bound must be in \(0, 1024\]"):
        replace(LOGREG, update_bound=-1.0)
