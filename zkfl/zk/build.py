"""From a model spec to a ready circuit set: export the graphs (the training step and FedAvg),
compile them at one logrows, SRS, keys, and a check that both circuits commit to a vector alike
(their proofs link).

FedAvg skips ezkl's range checks of its input and output: its input is the sum of range-checked
outputs of proven circuits, fixed on-chain by their commitments, and it range-checks what it
rescales."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from zkfl.atomic import write_atomic
from zkfl.circuits import FedAvgSpec, TrainingStepSpec
from zkfl.circuits.kinds import CircuitKind
from zkfl.errors import ConfigError
from zkfl.fedavg import MEAN_BITS
from zkfl.fixedpoint import SCALE, quantize
from zkfl.store.cid import content_id
from zkfl.zk.commitments import CommitmentKey, keys_commitment
from zkfl.zk.prover import CircuitKeys, CompiledCircuit, ProverConfig, compile_circuit, setup_keys
from zkfl.zk.srs import DevSrsSource, SrsSource


@dataclass(frozen=True)
class CircuitSet:
    """The circuits of a federation of `slots` clients, with keys: a client's training step and
    FedAvg. FedAvg takes the sum of the accepted updates, so one circuit serves any number of clients."""

    training: TrainingStepSpec
    fedavg: FedAvgSpec
    client: CircuitKeys
    aggregator: CircuitKeys
    slots: int

    def keys_by_kind(self) -> dict[CircuitKind, CircuitKeys]:
        """Every keyed circuit by its kind."""
        return {CircuitKind.CLIENT: self.client, CircuitKind.AGGREGATOR: self.aggregator}

    @property
    def commitments(self) -> CommitmentKey:
        """The federation's commitment key (the client circuit's; the aggregator's commits alike)."""
        return keys_commitment(self.client)


def fedavg_spec(spec: TrainingStepSpec) -> FedAvgSpec:
    """The FedAvg circuit of a federation training `spec`."""
    return FedAvgSpec(spec.num_params)


def fedavg_config(config: ProverConfig) -> ProverConfig:
    """FedAvg's run arguments: no range checks of its input and output (see above); its reciprocal
    keeps scale 12 + 2K, so products are rebased only past 3x the scale (to 36, where the mean's
    values sit at scale 12: its outputs are labelled 36), and its decomposition has the fewest legs of
    the client's base that hold the reciprocal (up to 2^38: 4 legs of 2^10, 3 of 2^14)."""
    return replace(
        config,
        range_check_inputs_outputs=False,
        scale_rebase_multiplier=3,
        decomp_legs=legs_holding(config.decomp_base, RECIPROCAL_LIMIT),
        output_scale=3 * config.scale,
    )


RECIPROCAL_LIMIT = 1 << (SCALE + 2 * MEAN_BITS)
"""The largest value of FedAvg's reciprocal, round(2^(12+2K) / f) at f = 1 (`zkfl.fedavg`)."""


def legs_holding(base: int, value: int) -> int:
    """The fewest decomposition legs of `base` that represent `value` (base^legs - 1 >= value)."""
    legs = 1
    while base**legs - 1 < value:
        legs += 1
    return legs


def export_circuits(spec: TrainingStepSpec, out_dir: str | os.PathLike[str]) -> dict[CircuitKind, Path]:
    """Write the ONNX graphs of a federation of `spec` (by kind: client, aggregator)."""
    import torch  # only exporting needs torch and onnx; opening a built circuit set does not

    from zkfl.circuits.derived import trace_step
    from zkfl.circuits.export import export_onnx

    out_dir = Path(out_dir)
    fedavg = fedavg_spec(spec)
    step_inputs = [torch.tensor(v, dtype=torch.float32) for v in spec.calibration_inputs()]
    return {
        CircuitKind.CLIENT: export_onnx(
            trace_step(spec.module(), step_inputs),  # torch.func's backward pass exports only once traced
            step_inputs,
            out_dir / "training_step.onnx",
            ["theta", "data", "context"],
            ["update"],
        ),
        CircuitKind.AGGREGATOR: export_onnx(
            fedavg.module(),
            [torch.tensor(v, dtype=torch.float32) for v in fedavg.calibration_inputs()],
            out_dir / "fedavg.onnx",
            ["total"],
            ["theta"],
        ),
    }


@dataclass(frozen=True)
class PublishedCircuit:
    """A circuit as a federation published it: its ONNX graph and its settings.json bytes, to compile
    with verbatim. This is how a participant or an auditor on another machine rebuilds exactly the
    federation's keys without running anyone's Python (the model's code stays with its owner)."""

    graph: bytes
    settings: bytes


def _published_graphs(published: dict[CircuitKind, PublishedCircuit], out_dir: Path) -> dict[CircuitKind, Path]:
    """The published graphs written where `compile_circuit` reads them (by content: a graph is never
    overwritten by another)."""
    paths = {}
    for kind, circuit in published.items():
        path = out_dir / f"{kind.graph_name}-{content_id(circuit.graph)}.onnx"
        if not path.is_file():
            write_atomic(path, circuit.graph)
        paths[kind] = path
    return paths


def compile_circuits(
    spec: TrainingStepSpec,
    cache_dir: str | os.PathLike[str],
    config: ProverConfig = ProverConfig(),
    published: dict[CircuitKind, PublishedCircuit] | None = None,
) -> dict[CircuitKind, CompiledCircuit]:
    """Both circuits of the federation (by kind) at one logrows (the larger one's), so their
    commitments are comparable: exported from `spec`'s model, or compiled from the `published`
    graphs and settings."""
    cache_dir = Path(cache_dir)
    if published is None:
        graphs = export_circuits(spec, cache_dir / "onnx" / spec_tag(spec))
    else:
        graphs = _published_graphs(published, cache_dir / "onnx" / "published")
    inputs = {
        CircuitKind.CLIENT: [quantize(v) for v in spec.calibration_inputs()],
        CircuitKind.AGGREGATOR: [quantize(u) for u in fedavg_spec(spec).calibration_inputs()],
    }
    configs = {CircuitKind.CLIENT: config, CircuitKind.AGGREGATOR: fedavg_config(config)}

    def build(kind: CircuitKind, logrows: int | None = None, settings: bytes | None = None) -> CompiledCircuit:
        return compile_circuit(
            kind.graph_name, graphs[kind], inputs[kind], cache_dir, configs[kind], logrows, settings=settings
        )

    if published is not None:
        circuits = {kind: build(kind, settings=circuit.settings) for kind, circuit in published.items()}
        if len({c.logrows for c in circuits.values()}) != 1:
            raise ConfigError(
                f"the published settings give the circuits logrows "
                f"{', '.join(str(c.logrows) for c in circuits.values())}; linked circuits must share one"
            )
        return circuits
    circuits = {kind: build(kind) for kind in graphs}
    logrows = max(c.logrows for c in circuits.values())
    return {kind: c if c.logrows == logrows else build(kind, logrows) for kind, c in circuits.items()}


def build_circuits(
    spec: TrainingStepSpec,
    slots: int,
    cache_dir: str | os.PathLike[str],
    srs_source: SrsSource | None = None,
    config: ProverConfig = ProverConfig(),
    published: dict[CircuitKind, PublishedCircuit] | None = None,
) -> CircuitSet:
    """Everything needed to prove the rounds of a federation of `slots` clients, reusing cached
    artifacts (the circuits do not depend on `slots`).

    Without `srs_source`, an insecure dev SRS is generated under `cache_dir/srs` (warned about).
    With `published`, the circuits compile from those graphs and settings instead of exported and
    generated ones."""
    if slots < 1:
        raise ConfigError(f"slots must be at least 1, got {slots}")
    cache_dir = Path(cache_dir)
    srs_source = srs_source or DevSrsSource(cache_dir / "srs")
    compiled = compile_circuits(spec, cache_dir, config, published)
    keys = {kind: setup_keys(circuit, srs_source, cache_dir) for kind, circuit in compiled.items()}
    circuits = CircuitSet(
        training=spec,
        fedavg=fedavg_spec(spec),
        client=keys[CircuitKind.CLIENT],
        aggregator=keys[CircuitKind.AGGREGATOR],
        slots=slots,
    )
    check_links(circuits)
    return circuits


def check_links(circuits: CircuitSet) -> None:
    """Refuse circuits whose commitments differ for the same vector (another SRS, logrows or
    number of blinding rows): a client's update could never be an aggregation's input."""
    probe = np.arange(1, circuits.fedavg.update_len + 1, dtype=np.int64)
    point = circuits.commitments.point(probe)
    for kind, keys in circuits.keys_by_kind().items():
        if keys_commitment(keys).point(probe) != point:
            raise ConfigError(
                f"the training-step and {kind} circuits commit to the same vector differently (their "
                "SRS, logrows or blinding rows differ), so their proofs cannot link"
            )


def spec_tag(spec: TrainingStepSpec) -> str:
    model = "-".join(f"{key}{value}" for key, value in spec.model.to_json().items() if key != "family")
    steps = f"b{spec.batch_size}-k{spec.local_steps}-lr{spec.learning_rate:g}"
    bound = "" if spec.update_bound is None else f"-{spec.update_norm}{spec.update_bound:g}"
    return f"{spec.model.name}-{model}-{steps}{bound}"
