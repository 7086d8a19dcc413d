"""From a model spec to a ready circuit set: export both graphs, compile, SRS, keys."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from zkfl.circuits import FedAvgSpec, TrainingStepSpec, export_onnx
from zkfl.fixedpoint import quantize
from zkfl.prover import CircuitKeys, CompiledCircuit, ProverConfig, compile_circuit, setup_keys
from zkfl.srs import DevSrsSource, SrsSource


@dataclass(frozen=True)
class CircuitSet:
    """The two circuits of a federation, with keys: a client's training step and FedAvg."""

    training: TrainingStepSpec
    fedavg: FedAvgSpec
    client: CircuitKeys
    aggregator: CircuitKeys


def export_circuits(spec: TrainingStepSpec, slots: int, out_dir: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write the training-step and FedAvg ONNX graphs for `spec` with K = `slots`."""
    out_dir = Path(out_dir)
    theta, data = spec.calibration_inputs()
    client = export_onnx(spec.module(), [torch.tensor(theta, dtype=torch.float32), torch.tensor(data, dtype=torch.float32)],
                         out_dir / "training_step.onnx", ["theta", "data"], ["update"])
    fedavg = FedAvgSpec(spec.num_params, slots)
    updates = [torch.tensor(u, dtype=torch.float32) for u in fedavg.calibration_inputs(spec.sample_count)]
    aggregator = export_onnx(fedavg.module(), updates, out_dir / "fedavg.onnx",
                             [f"update_{i}" for i in range(slots)], ["theta"])
    return client, aggregator


def compile_circuits(
    spec: TrainingStepSpec, slots: int, cache_dir: str | os.PathLike[str], config: ProverConfig = ProverConfig()
) -> tuple[CompiledCircuit, CompiledCircuit]:
    cache_dir = Path(cache_dir)
    client_onnx, agg_onnx = export_circuits(spec, slots, cache_dir / "onnx" / spec_tag(spec, slots))
    theta, data = spec.calibration_inputs()
    client = compile_circuit("training_step", client_onnx, [quantize(theta), quantize(data)], cache_dir, config)
    updates = FedAvgSpec(spec.num_params, slots).calibration_inputs(spec.sample_count)
    aggregator = compile_circuit("fedavg", agg_onnx, [quantize(u) for u in updates], cache_dir, config)
    return client, aggregator


def build_circuits(
    spec: TrainingStepSpec,
    slots: int,
    cache_dir: str | os.PathLike[str],
    srs_source: SrsSource | None = None,
    config: ProverConfig = ProverConfig(),
) -> CircuitSet:
    """Everything needed to prove a federation's rounds, reusing cached artifacts.

    Without `srs_source`, an insecure dev SRS is generated under `cache_dir/srs` (warned about)."""
    cache_dir = Path(cache_dir)
    srs_source = srs_source or DevSrsSource(cache_dir / "srs")
    client, aggregator = compile_circuits(spec, slots, cache_dir, config)
    return CircuitSet(
        training=spec,
        fedavg=FedAvgSpec(spec.num_params, slots),
        client=setup_keys(client, srs_source, cache_dir),
        aggregator=setup_keys(aggregator, srs_source, cache_dir),
    )


def spec_tag(spec: TrainingStepSpec, slots: int) -> str:
    shape = "-".join(f"{key}{value}" for key, value in spec.model.to_json().items() if key != "family")
    return f"{spec.model.name}-{shape}-b{spec.batch_size}-k{spec.local_steps}-lr{spec.learning_rate:g}-K{slots}"
