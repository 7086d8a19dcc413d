"""From a model spec to a ready circuit set: export both graphs, compile them at one logrows, SRS,
keys, and a check that both circuits commit to a vector alike (their proofs link)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from zkfl.circuits import FedAvgSpec, TrainingStepSpec, export_onnx
from zkfl.errors import ConfigError
from zkfl.fixedpoint import quantize
from zkfl.protocol import CommitmentKey, keys_commitment
from zkfl.prover import CircuitKeys, CompiledCircuit, ProverConfig, compile_circuit, setup_keys
from zkfl.srs import DevSrsSource, SrsSource


@dataclass(frozen=True)
class CircuitSet:
    """The two circuits of a federation, with keys: a client's training step and FedAvg."""

    training: TrainingStepSpec
    fedavg: FedAvgSpec
    client: CircuitKeys
    aggregator: CircuitKeys

    @property
    def commitments(self) -> CommitmentKey:
        """The federation's commitment key (the client circuit's; the aggregator's commits alike)."""
        return keys_commitment(self.client)


def fedavg_spec(spec: TrainingStepSpec, slots: int) -> FedAvgSpec:
    return FedAvgSpec(spec.num_params, slots, spec.sample_count)


def export_circuits(spec: TrainingStepSpec, slots: int, out_dir: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write the training-step and FedAvg ONNX graphs for `spec` with K = `slots`."""
    out_dir = Path(out_dir)
    client = export_onnx(spec.module(), [torch.tensor(v, dtype=torch.float32) for v in spec.calibration_inputs()],
                         out_dir / "training_step.onnx", ["theta", "data", "context"], ["update"])
    fedavg = fedavg_spec(spec, slots)
    updates = [torch.tensor(u, dtype=torch.float32) for u in fedavg.calibration_inputs()]
    aggregator = export_onnx(fedavg.module(), updates, out_dir / "fedavg.onnx",
                             [f"update_{i}" for i in range(slots)], ["theta"])
    return client, aggregator


@dataclass(frozen=True)
class PinnedSettings:
    """A federation's published circuit settings (settings.json bytes), to compile with verbatim:
    how a participant on another machine rebuilds exactly the federation's keys."""

    client: bytes
    aggregator: bytes


def compile_circuits(
    spec: TrainingStepSpec, slots: int, cache_dir: str | os.PathLike[str], config: ProverConfig = ProverConfig(),
    pinned: PinnedSettings | None = None,
) -> tuple[CompiledCircuit, CompiledCircuit]:
    """Both circuits at one logrows (the larger one's), so their commitments are comparable."""
    cache_dir = Path(cache_dir)
    client_onnx, agg_onnx = export_circuits(spec, slots, cache_dir / "onnx" / spec_tag(spec, slots))
    client_input = [quantize(v) for v in spec.calibration_inputs()]
    agg_input = [quantize(u) for u in fedavg_spec(spec, slots).calibration_inputs()]
    if pinned is not None:
        client = compile_circuit("training_step", client_onnx, client_input, cache_dir, config, settings=pinned.client)
        aggregator = compile_circuit("fedavg", agg_onnx, agg_input, cache_dir, config, settings=pinned.aggregator)
        if client.logrows != aggregator.logrows:
            raise ConfigError(f"the pinned settings give the circuits logrows {client.logrows} and "
                              f"{aggregator.logrows}; linked circuits must share one")
        return client, aggregator
    client = compile_circuit("training_step", client_onnx, client_input, cache_dir, config)
    aggregator = compile_circuit("fedavg", agg_onnx, agg_input, cache_dir, config)
    logrows = max(client.logrows, aggregator.logrows)
    if client.logrows < logrows:
        client = compile_circuit("training_step", client_onnx, client_input, cache_dir, config, logrows)
    if aggregator.logrows < logrows:
        aggregator = compile_circuit("fedavg", agg_onnx, agg_input, cache_dir, config, logrows)
    return client, aggregator


def build_circuits(
    spec: TrainingStepSpec,
    slots: int,
    cache_dir: str | os.PathLike[str],
    srs_source: SrsSource | None = None,
    config: ProverConfig = ProverConfig(),
    pinned: PinnedSettings | None = None,
) -> CircuitSet:
    """Everything needed to prove a federation's rounds, reusing cached artifacts.

    Without `srs_source`, an insecure dev SRS is generated under `cache_dir/srs` (warned about).
    With `pinned`, the circuits compile from those settings instead of generated ones."""
    cache_dir = Path(cache_dir)
    srs_source = srs_source or DevSrsSource(cache_dir / "srs")
    client, aggregator = compile_circuits(spec, slots, cache_dir, config, pinned)
    circuits = CircuitSet(
        training=spec,
        fedavg=fedavg_spec(spec, slots),
        client=setup_keys(client, srs_source, cache_dir),
        aggregator=setup_keys(aggregator, srs_source, cache_dir),
    )
    check_links(circuits)
    return circuits


def check_links(circuits: CircuitSet) -> None:
    """Refuse a circuit pair whose commitments differ for the same vector (another SRS, logrows or
    number of blinding rows): the client's update could never be the aggregator's slot."""
    probe = np.arange(1, circuits.fedavg.update_len + 1, dtype=np.int64)
    if circuits.commitments.point(probe) != keys_commitment(circuits.aggregator).point(probe):
        raise ConfigError("the training-step and FedAvg circuits commit to the same vector differently (their SRS, "
                          "logrows or blinding rows differ), so their proofs cannot link")


def spec_tag(spec: TrainingStepSpec, slots: int) -> str:
    shape = "-".join(f"{key}{value}" for key, value in spec.model.to_json().items() if key != "family")
    return f"{spec.model.name}-{shape}-b{spec.batch_size}-k{spec.local_steps}-lr{spec.learning_rate:g}-K{slots}"
