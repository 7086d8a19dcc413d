"""From a model spec to a ready circuit set: export the graphs (the training step, FedAvg, and a
tree's leaf), compile them at one logrows, SRS, keys, and a check that every circuit commits to a
vector alike (their proofs link).

The aggregation circuits skip ezkl's range checks of their inputs and outputs: every input is
the range-checked output of a proven circuit (a client's update, or a leaf's exact sum of those),
and FedAvg range-checks what it rescales. That cuts each input's cost from ~4,900 rows to ~650
(one per element)."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from zkfl.circuits import FedAvgSpec, PartialSumSpec, TrainingStepSpec
from zkfl.circuits.aggregation import TreeShape
from zkfl.circuits.kinds import CircuitKind
from zkfl.errors import ConfigError
from zkfl.fedavg import tree_range_problems
from zkfl.fixedpoint import quantize
from zkfl.zk.commitments import CommitmentKey, keys_commitment
from zkfl.zk.prover import CircuitKeys, CompiledCircuit, ProverConfig, compile_circuit, setup_keys
from zkfl.zk.srs import DevSrsSource, SrsSource


@dataclass(frozen=True)
class CircuitSet:
    """The circuits of a federation, with keys: a client's training step, FedAvg (the root), and
    for a tree the leaf's partial sum. Two aggregation circuits serve any number of leaves."""

    training: TrainingStepSpec
    fedavg: FedAvgSpec
    client: CircuitKeys
    aggregator: CircuitKeys
    shape: TreeShape
    leaf: CircuitKeys | None = None

    @property
    def partial_sum(self) -> PartialSumSpec:
        return partial_sum_spec(self.training, self.shape)

    def keys_by_kind(self) -> dict[CircuitKind, CircuitKeys]:
        """Every keyed circuit by its kind (a leaf only for a tree)."""
        return {
            CircuitKind.CLIENT: self.client,
            CircuitKind.AGGREGATOR: self.aggregator,
            **({CircuitKind.LEAF: self.leaf} if self.leaf else {}),
        }

    @property
    def commitments(self) -> CommitmentKey:
        """The federation's commitment key (the client circuit's; the aggregator's commits alike)."""
        return keys_commitment(self.client)


def fedavg_spec(spec: TrainingStepSpec, shape: TreeShape | int) -> FedAvgSpec:
    """The FedAvg (root) circuit: over the slots (flat, or `shape` given as K) or the leaves."""
    shape = TreeShape.of(shape)
    return FedAvgSpec(spec.num_params, shape.root_inputs, spec.sample_count, max(shape.leaf_slots, 1))


def partial_sum_spec(spec: TrainingStepSpec, shape: TreeShape) -> PartialSumSpec:
    """A tree's leaf circuit (its G inputs; a flat federation has none, ConfigError)."""
    if not shape.is_tree:
        raise ConfigError("a flat federation has no leaf circuit")
    return PartialSumSpec(spec.num_params, shape.leaf_slots, spec.sample_count)


def _aggregation_config(config: ProverConfig) -> ProverConfig:
    return replace(config, range_check_inputs_outputs=False)


def export_circuits(
    spec: TrainingStepSpec, shape: TreeShape | int, out_dir: str | os.PathLike[str]
) -> dict[CircuitKind, Path]:
    """Write the ONNX graphs of a federation of `spec` (by kind: client, aggregator, leaf)."""
    import torch  # only exporting needs torch and onnx; opening a built circuit set does not

    from zkfl.circuits.export import export_onnx

    shape = TreeShape.of(shape)
    out_dir = Path(out_dir)
    graphs = {
        CircuitKind.CLIENT: export_onnx(
            spec.module(),
            [torch.tensor(v, dtype=torch.float32) for v in spec.calibration_inputs()],
            out_dir / "training_step.onnx",
            ["theta", "data", "context"],
            ["update"],
        )
    }
    fedavg = fedavg_spec(spec, shape)
    updates = [torch.tensor(u, dtype=torch.float32) for u in fedavg.calibration_inputs()]
    graphs[CircuitKind.AGGREGATOR] = export_onnx(
        fedavg.module(), updates, out_dir / "fedavg.onnx", [f"update_{i}" for i in range(fedavg.slots)], ["theta"]
    )
    if shape.is_tree:
        leaf = partial_sum_spec(spec, shape)
        updates = [torch.tensor(u, dtype=torch.float32) for u in leaf.calibration_inputs()]
        graphs[CircuitKind.LEAF] = export_onnx(
            leaf.module(),
            updates,
            out_dir / "partial_sum.onnx",
            [f"update_{i}" for i in range(leaf.slots)],
            ["partial"],
        )
    return graphs


@dataclass(frozen=True)
class PinnedSettings:
    """A federation's published circuit settings (settings.json bytes), to compile with verbatim:
    how a participant on another machine rebuilds exactly the federation's keys."""

    client: bytes
    aggregator: bytes
    leaf: bytes | None = None

    def by_kind(self) -> dict[CircuitKind, bytes | None]:
        return {CircuitKind.CLIENT: self.client, CircuitKind.AGGREGATOR: self.aggregator, CircuitKind.LEAF: self.leaf}


def compile_circuits(
    spec: TrainingStepSpec,
    shape: TreeShape | int,
    cache_dir: str | os.PathLike[str],
    config: ProverConfig = ProverConfig(),
    pinned: PinnedSettings | None = None,
) -> dict[CircuitKind, CompiledCircuit]:
    """Every circuit of the federation (by kind) at one logrows (the largest one's), so their
    commitments are comparable."""
    shape = TreeShape.of(shape)
    cache_dir = Path(cache_dir)
    graphs = export_circuits(spec, shape, cache_dir / "onnx" / spec_tag(spec, shape))
    inputs = {
        CircuitKind.CLIENT: [quantize(v) for v in spec.calibration_inputs()],
        CircuitKind.AGGREGATOR: [quantize(u) for u in fedavg_spec(spec, shape).calibration_inputs()],
    }
    if shape.is_tree:
        inputs[CircuitKind.LEAF] = [quantize(u) for u in partial_sum_spec(spec, shape).calibration_inputs()]
    configs = {kind: config if kind == CircuitKind.CLIENT else _aggregation_config(config) for kind in graphs}

    def build(kind: CircuitKind, logrows: int | None = None, settings: bytes | None = None) -> CompiledCircuit:
        return compile_circuit(
            kind.graph_name, graphs[kind], inputs[kind], cache_dir, configs[kind], logrows, settings=settings
        )

    if pinned is not None:
        settings = pinned.by_kind()
        if any(settings[kind] is None for kind in graphs):
            raise ConfigError(f"the pinned settings lack a circuit of this federation ({', '.join(graphs)})")
        circuits = {kind: build(kind, settings=settings[kind]) for kind in graphs}
        if len({c.logrows for c in circuits.values()}) != 1:
            raise ConfigError(
                f"the pinned settings give the circuits logrows "
                f"{', '.join(str(c.logrows) for c in circuits.values())}; linked circuits must share one"
            )
        return circuits
    circuits = {kind: build(kind) for kind in graphs}
    logrows = max(c.logrows for c in circuits.values())
    return {kind: c if c.logrows == logrows else build(kind, logrows) for kind, c in circuits.items()}


def build_circuits(
    spec: TrainingStepSpec,
    shape: TreeShape | int,
    cache_dir: str | os.PathLike[str],
    srs_source: SrsSource | None = None,
    config: ProverConfig = ProverConfig(),
    pinned: PinnedSettings | None = None,
) -> CircuitSet:
    """Everything needed to prove a federation's rounds, reusing cached artifacts.

    `shape` is the federation's K slots, flat or as a tree (`TreeShape`; an int K is flat).
    Without `srs_source`, an insecure dev SRS is generated under `cache_dir/srs` (warned about).
    With `pinned`, the circuits compile from those settings instead of generated ones."""
    shape = TreeShape.of(shape)
    problems = shape.problems() or tree_range_problems(shape.slots, shape.leaf_slots, spec.sample_count)
    if problems:
        raise ConfigError("; ".join(problems))
    cache_dir = Path(cache_dir)
    srs_source = srs_source or DevSrsSource(cache_dir / "srs")
    compiled = compile_circuits(spec, shape, cache_dir, config, pinned)
    keys = {kind: setup_keys(circuit, srs_source, cache_dir) for kind, circuit in compiled.items()}
    circuits = CircuitSet(
        training=spec,
        fedavg=fedavg_spec(spec, shape),
        client=keys[CircuitKind.CLIENT],
        aggregator=keys[CircuitKind.AGGREGATOR],
        shape=shape,
        leaf=keys.get(CircuitKind.LEAF),
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


def spec_tag(spec: TrainingStepSpec, shape: TreeShape | int) -> str:
    shape = TreeShape.of(shape)
    model = "-".join(f"{key}{value}" for key, value in spec.model.to_json().items() if key != "family")
    tree = f"-G{shape.leaf_slots}" if shape.is_tree else ""
    steps = f"b{spec.batch_size}-k{spec.local_steps}-lr{spec.learning_rate:g}"
    return f"{spec.model.name}-{model}-{steps}-K{shape.slots}{tree}"
