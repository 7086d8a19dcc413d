"""The ezkl wrapper: settings, compile, keys, witness, prove, verify.

Two cached stages, each keyed by the SHA-256 of everything that determines it, so a second setup
of the same circuit is a directory lookup:

    compile_circuit(onnx, calibration input, config)  ->  CompiledCircuit  (settings, .ezkl)
    setup_keys(compiled, srs)                          ->  CircuitKeys      (+ pk, vk, SRS)

Cache entries are built in a temporary directory and renamed into place, so an interrupted
setup never leaves a half-written entry behind.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol, cast

import ezkl
import numpy as np

from zkfl.errors import ArtifactError, ConfigError, DataRangeError, ProofError, ZkflError
from zkfl.fixedpoint import SCALE, FixedArray, from_felts, to_felts
from zkfl.zk.srs import Srs, SrsSource

EZKL_VERSION = "23.0.5"


class _RunArgsFields(Protocol):
    """The fields of `ezkl.PyRunArgs` that zkFL sets: ezkl's type stub declares the class without them."""

    input_scale: int
    param_scale: int
    scale_rebase_multiplier: int
    num_inner_cols: int
    decomp_base: int
    decomp_legs: int
    disable_freivalds: bool
    input_visibility: str
    output_visibility: str
    ignore_range_check_inputs_outputs: bool
    param_visibility: str


@dataclass(frozen=True)
class ProverConfig:
    """ezkl run arguments that zkFL fixes for every circuit.

    Scales are explicit and equal on every input, parameter and output (never left to
    calibration), so the fixed-point integers on both sides of a proof link are the same.
    Inputs and outputs are `polycommit`: each tensor becomes one KZG commitment inside the proof
    bytes (no public instances), and those commitments are the links between proofs.
    No Freivalds MatMul check and a 2^10 x 3 decomposition gave the smallest keys, proofs and
    prove times in our sweep (see docs/benchmarks.md). The column count trades prove time
    (rows scale about 1/columns) against verifier size and gas: see `bench/circuits.py`.
    `PYTHONPATH=. python bench/settings.py` re-measured the demo's client with its FedAvg: at the same
    columns every decomposition proves in the same time (2^14 x 2 cuts rows 17 %, not logrows);
    4 columns proves in 0.79x (wall) / 0.82x (CPU) of today's time for 1.85x the verifier gas."""

    scale: int = SCALE
    num_inner_cols: int = 2
    decomp_base: int = 1024
    decomp_legs: int = 3
    disable_freivalds: bool = True
    input_visibility: str = "polycommit"
    output_visibility: str = "polycommit"
    param_visibility: str = "fixed"
    range_check_inputs_outputs: bool = True
    scale_rebase_multiplier: int = 1
    """ezkl rebases a product once its scale passes scale x this, down to scale x this."""
    output_scale: int | None = None
    """The scale ezkl labels the outputs with (None: `scale`). A graph that keeps a high scale
    inside (`SumMean`) ends labelled at scale x scale_rebase_multiplier while its values are at
    `scale`: links compare values, so it declares the label here."""

    def run_args(self) -> ezkl.PyRunArgs:
        run_args = ezkl.PyRunArgs()
        args = cast(_RunArgsFields, run_args)  # the same object, with the fields the stub leaves out
        args.input_scale = self.scale
        args.param_scale = self.scale
        args.scale_rebase_multiplier = self.scale_rebase_multiplier
        args.num_inner_cols = self.num_inner_cols
        args.decomp_base = self.decomp_base
        args.decomp_legs = self.decomp_legs
        args.disable_freivalds = self.disable_freivalds
        args.input_visibility = self.input_visibility
        args.output_visibility = self.output_visibility
        args.ignore_range_check_inputs_outputs = not self.range_check_inputs_outputs
        args.param_visibility = self.param_visibility
        return run_args


@dataclass(frozen=True)
class CompiledCircuit:
    name: str
    directory: Path
    key: str

    @property
    def settings_path(self) -> Path:
        return self.directory / "settings.json"

    @property
    def compiled_path(self) -> Path:
        return self.directory / "circuit.ezkl"

    @property
    def graph_path(self) -> Path:
        """The ONNX graph this circuit was compiled from (what a federation publishes)."""
        return self.directory / "model.onnx"

    @property
    def settings(self) -> dict[str, Any]:
        return json.loads(self.settings_path.read_text())

    @property
    def logrows(self) -> int:
        return int(self.settings["run_args"]["logrows"])

    @property
    def num_rows(self) -> int:
        return int(self.settings["num_rows"])


@dataclass(frozen=True)
class CircuitKeys:
    """A compiled circuit with its proving and verification keys and the SRS they came from."""

    circuit: CompiledCircuit
    directory: Path
    srs: Srs

    @property
    def name(self) -> str:
        return self.circuit.name

    @property
    def pk_path(self) -> Path:
        return self.directory / "pk.key"

    @property
    def vk_path(self) -> Path:
        return self.directory / "vk.key"

    @property
    def verifier(self) -> VerifierKeys:
        return VerifierKeys(self.name, self.circuit.settings_path, self.vk_path, self.srs.path)


@dataclass(frozen=True)
class VerifierKeys:
    """What verifying a circuit's proofs needs: its settings, verification key and an SRS of the
    same secret (the full SRS, or the k = 1 verifier SRS of `zkfl.zk.powers_of_tau`)."""

    name: str
    settings_path: Path
    vk_path: Path
    srs_path: Path


@dataclass(frozen=True)
class Proof:
    """A proof file and its bytes, as the chain sees them. The proof has no public instances: its
    inputs' and outputs' KZG commitments are 64-byte points at its start (`zkfl.protocol`)."""

    path: Path
    data: bytes

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Proof:
        path = Path(path)
        try:
            body = json.loads(path.read_text())
            if body["instances"] not in ([], [[]]):
                raise ValueError("it has public instances; zkFL's circuits have none")
            return cls(path, bytes(body["proof"]))
        except FileNotFoundError as exc:
            raise ArtifactError(f"proof file not found: {path}") from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise ArtifactError(f"corrupt proof file {path}: {exc}") from exc


@dataclass(frozen=True)
class ProvenRun:
    """What proving one circuit produced: the proof and the circuit's outputs (fixed point)."""

    proof: Proof
    outputs: list[FixedArray]


def compile_circuit(
    name: str,
    onnx_path: str | os.PathLike[str],
    calibration_input: Sequence[FixedArray],
    cache_dir: str | os.PathLike[str],
    config: ProverConfig = ProverConfig(),
    logrows: int | None = None,
    settings: bytes | None = None,
) -> CompiledCircuit:
    """Settings + calibration + compile, cached by (ONNX bytes, calibration input, config, logrows,
    pinned settings, ezkl). With `logrows`, the circuit gets exactly that many rows (ConfigError if
    it needs more): linked circuits must share one logrows, for their commitments to be comparable.

    With `settings` (a settings.json's bytes), those settings are used verbatim (logrows included)
    instead of being generated and calibrated. ezkl's generated settings carry a timestamp and an unordered set, so
    only a compile from the very settings a federation published gives its verification key."""
    onnx_path = Path(onnx_path)
    model_bytes = _read_onnx(onnx_path)
    calibration = _input_json(calibration_input)
    key = _digest(
        model_bytes,
        calibration.encode(),
        json.dumps(asdict(config), sort_keys=True).encode(),
        str(logrows).encode(),
        LOGROWS_RULE.encode(),
        EZKL_VERSION.encode(),
        *([settings] if settings is not None else []),
    )
    target = Path(cache_dir) / "circuits" / f"{name}-{key[:16]}"
    compiled = CompiledCircuit(name, target, key)
    if (target / "DONE").is_file():
        return compiled

    def build(tmp: Path) -> None:
        (tmp / "model.onnx").write_bytes(model_bytes)
        (tmp / "calibration.json").write_text(calibration)
        settings_path = tmp / "settings.json"
        if settings is not None:
            settings_path.write_bytes(settings)
        else:
            _ezkl("gen_settings", ezkl.gen_settings, str(tmp / "model.onnx"), str(settings_path), config.run_args())
            _ezkl(
                "calibrate_settings",
                ezkl.calibrate_settings,
                str(tmp / "calibration.json"),
                str(tmp / "model.onnx"),
                str(settings_path),
                "resources",
                1.0,
                [config.scale],
                [config.scale_rebase_multiplier],
                None,
            )
        body = json.loads(settings_path.read_text())
        _check_scales(name, body, config.scale, config.scale if config.output_scale is None else config.output_scale)
        if settings is None:
            needed = fitting_logrows(body)
            if logrows is not None and needed > logrows:
                raise ConfigError(f"circuit {name!r} needs logrows {needed}, more than the {logrows} it must share")
            body["run_args"]["logrows"] = needed if logrows is None else logrows
            settings_path.write_text(json.dumps(body))
        _ezkl(
            "compile_circuit",
            ezkl.compile_circuit,
            str(tmp / "model.onnx"),
            str(tmp / "circuit.ezkl"),
            str(tmp / "settings.json"),
        )

    _build_atomically(target, build)
    return compiled


LOGROWS_RULE = "rows-fit"
"""Part of a compiled circuit's cache key: how its logrows is chosen (`fitting_logrows`)."""
RESERVED_ROWS = 16
"""Rows a circuit keeps free at the end of its columns (halo2's blinding rows, with a margin)."""
MIN_LOGROWS = 11
"""The fewest rows a circuit gets: 2^11 (the range-check table of decomp_base 1024 needs more than 1024)."""


def fitting_logrows(settings: dict[str, Any]) -> int:
    """The smallest logrows that holds the circuit's rows, never more than calibration chose.

    ezkl's calibration sizes logrows by its largest lookup table too (softmax's exp over
    [-28672, 0]: 2^15 rows) even when the circuit has far fewer rows; at a smaller logrows ezkl
    spreads such a table over several columns ("Using 4 columns for non-linearity table"). A
    small circuit then proves at the size of its rows: 2^13 instead of 2^15 for the tests' shape,
    2.5x faster to prove and 4x faster to key. Large circuits (rows past the tables) keep
    calibration's logrows. Never fewer than the decomposition's range-check table needs: a base of
    2^k takes logrows k + 1."""
    rows = int(settings["num_rows"]) + RESERVED_ROWS
    fit = max(MIN_LOGROWS, (rows - 1).bit_length())
    table = int(settings["run_args"]["decomp_base"]).bit_length()  # 2^k has bit length k + 1
    return max(table, min(int(settings["run_args"]["logrows"]), fit))


def setup_keys(circuit: CompiledCircuit, srs_source: SrsSource, cache_dir: str | os.PathLike[str]) -> CircuitKeys:
    """Proving and verification keys for `circuit` under the SRS of its size, cached."""
    srs = srs_source.for_logrows(circuit.logrows)
    target = Path(cache_dir) / "keys" / f"{circuit.name}-{_digest(circuit.key.encode(), srs.sha256.encode())[:16]}"
    keys = CircuitKeys(circuit, target, srs)
    if (target / "DONE").is_file():
        return keys

    def build(tmp: Path) -> None:
        _ezkl(
            "setup",
            ezkl.setup,
            str(circuit.compiled_path),
            str(tmp / "vk.key"),
            str(tmp / "pk.key"),
            str(srs.path),
            None,
            False,
        )
        (tmp / "srs.json").write_text(json.dumps(srs.to_json(), indent=2))

    _build_atomically(target, build)
    return keys


def prove(keys: CircuitKeys, inputs: Sequence[FixedArray], proof_path: str | os.PathLike[str]) -> ProvenRun:
    """Witness + proof for `inputs` (fixed-point vectors, one per graph input), self-verified.

    The proof file appears at `proof_path` only once it verifies."""
    proof_path = Path(proof_path)
    _check_input_count(keys.circuit, inputs)
    proof_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=proof_path.parent) as tmp:
        data, witness, proof_tmp = Path(tmp) / "input.json", Path(tmp) / "witness.json", Path(tmp) / "proof.json"
        data.write_text(_input_json(inputs))
        result = _ezkl(
            "gen_witness",
            ezkl.gen_witness,
            str(data),
            str(keys.circuit.compiled_path),
            str(witness),
            str(keys.vk_path),
            str(keys.srs.path),
        )
        _ezkl(
            "prove",
            ezkl.prove,
            str(witness),
            str(keys.circuit.compiled_path),
            str(keys.pk_path),
            str(proof_tmp),
            str(keys.srs.path),
        )
        verify(keys, Proof.load(proof_tmp))
        os.replace(proof_tmp, proof_path)
    return ProvenRun(Proof.load(proof_path), [from_felts(out) for out in result["outputs"]])


def run_witness(circuit: CompiledCircuit, inputs: Sequence[FixedArray]) -> list[FixedArray]:
    """The circuit's exact fixed-point outputs for `inputs`, without proving (no keys needed)."""
    _check_input_count(circuit, inputs)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "input.json"
        data.write_text(_input_json(inputs))
        result = _ezkl("gen_witness", ezkl.gen_witness, str(data), str(circuit.compiled_path), None, None, None)
    return [from_felts(out) for out in result["outputs"]]


def verify(keys: CircuitKeys | VerifierKeys, proof: Proof) -> None:
    """Raise ProofError unless `proof` verifies against this circuit's verification key."""
    keys = keys.verifier if isinstance(keys, CircuitKeys) else keys
    try:
        ok = ezkl.verify(str(proof.path), str(keys.settings_path), str(keys.vk_path), str(keys.srs_path), True)
    except Exception as exc:  # ezkl raises on a failed check; its message is terse
        raise ProofError(f"proof {proof.path.name} does not verify against circuit {keys.name!r}: {exc}") from exc
    if not ok:
        raise ProofError(f"proof {proof.path.name} does not verify against circuit {keys.name!r}")


def settings_problems(
    settings: dict[str, Any],
    scale: int,
    input_lengths: Sequence[int],
    output_lengths: Sequence[int],
    output_scale: int | None = None,
) -> list[str]:
    """How a compiled circuit's settings disagree with the graph interface it should have: every
    input at `scale` and every output labelled `output_scale` (default `scale`; see
    `ProverConfig.output_scale`), that many inputs and outputs, each committed by KZG (polycommit)
    with these lengths."""
    problems = []
    ins, outs = settings["model_input_scales"], settings["model_output_scales"]
    out_scale = scale if output_scale is None else output_scale
    if (len(ins), len(outs)) != (len(input_lengths), len(output_lengths)):
        problems.append(
            f"{len(ins)} input(s) and {len(outs)} output(s), expected {len(input_lengths)} and {len(output_lengths)}"
        )
    if any(s != scale for s in ins) or any(s != out_scale for s in outs):
        problems.append(f"input scales {ins} and output scales {outs}, expected {scale} and {out_scale}")
    run_args = settings["run_args"]
    if (run_args["input_visibility"], run_args["output_visibility"]) != ("KZGCommit", "KZGCommit"):
        problems.append(
            f"inputs {run_args['input_visibility']!r} and outputs {run_args['output_visibility']!r}, "
            "expected both KZG-committed (polycommit)"
        )
        return problems
    lengths = [*input_lengths, *output_lengths]
    committed = settings["module_sizes"]["polycommit"]
    if committed != lengths:
        problems.append(f"the circuit commits to tensors of lengths {committed}; the manifest's are {lengths}")
    return problems


def _check_input_count(circuit: CompiledCircuit, inputs: Sequence[FixedArray]) -> None:
    expected = len(circuit.settings["model_input_scales"])
    if len(inputs) != expected:
        raise ConfigError(f"circuit {circuit.name!r} takes {expected} inputs, got {len(inputs)}")


def _read_onnx(path: Path) -> bytes:
    if not path.is_file():
        raise ArtifactError(f"ONNX graph not found: {path}; run the export step first")
    import onnx  # 1 s to import; only compiling a graph needs it

    model_bytes = path.read_bytes()
    try:
        onnx.checker.check_model(onnx.load_from_string(model_bytes))
    except Exception as exc:
        raise ArtifactError(f"corrupt ONNX graph {path}: {exc}; export it again") from exc
    return model_bytes


def _check_scales(name: str, settings: dict[str, Any], scale: int, output_scale: int) -> None:
    found = {
        "input": (settings["model_input_scales"], scale),
        "output": (settings["model_output_scales"], output_scale),
    }
    for kind, (scales, expected) in found.items():
        if any(s != expected for s in scales):
            raise ConfigError(
                f"mismatched scales in circuit {name!r}: {kind} scales {scales}, expected all {expected}; "
                "linked commitments would differ. Rescale the graph's outputs to the input scale."
            )


def _input_json(inputs: Sequence[FixedArray]) -> str:
    """ezkl's input file, as field elements: ezkl takes them as they are, where floats go through
    f32 (an integer past 2^24 would be rounded silently, and the proof would commit to another vector)."""
    return json.dumps({"input_data": [to_felts(np.asarray(v, dtype=np.int64).reshape(-1)) for v in inputs]})


def _digest(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "little"))
        digest.update(part)
    return digest.hexdigest()


def _build_atomically(target: Path, build: Callable[[Path], None]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-"))
    try:
        build(tmp)
        (tmp / "DONE").write_text("")
        if target.exists():  # an older, incomplete entry of the same key
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class _ErrorRecords(logging.Handler):
    """Collects the error records ezkl logs during one call: its exceptions are terse ("General
    synthesis error"), while the log says what failed."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


_DECOMPOSITION = re.compile(r"integer (-?\d+) is too large to be represented by base (\d+) and n (\d+)")


def _ezkl(step: str, fn: Any, *args: Any) -> Any:
    """Call ezkl, turning its exceptions into errors that say what most likely caused them. ezkl's
    Rust logs (e.g. calibration's "Numerical Fidelity Report" at WARNING) arrive as records of the
    Python logger `ezkl`: an application that wants them quiet sets that logger's level."""
    records, logger = _ErrorRecords(), logging.getLogger("ezkl")
    logger.addHandler(records)
    try:
        result = fn(*args)
    except Exception as exc:
        raise _explain(step, exc, records.messages) from exc
    finally:
        logger.removeHandler(records)
    if result is False:
        raise ProofError(f"ezkl {step} reported failure")
    return result


def _explain(step: str, exc: Exception, logged: list[str]) -> ZkflError:
    for message in logged:
        found = _DECOMPOSITION.search(message)
        if found:
            value, base, legs = (int(g) for g in found.groups())
            return DataRangeError(
                f"ezkl {step} failed: a value of the circuit's computation, {value} in fixed point "
                f"({value / 2**SCALE:g} at scale {SCALE}), is beyond the ±{base**legs - 1} that decomposition base "
                f"{base} with {legs} legs represents. The inputs drive the computation out of the circuit's range: "
                "most likely features that are not scaled (e.g. raw values in the thousands), or a learning rate "
                "too large for the model's weights"
            )
    if "synthesis" in str(exc).lower():
        detail = f" (ezkl logged: {'; '.join(logged)[-500:]})" if logged else ""
        return ProofError(
            f"ezkl {step} failed: {exc}{detail}. The circuit could not be laid out for these inputs: most likely a "
            "value outside the range the circuit was compiled and calibrated for"
        )
    return ProofError(f"ezkl {step} failed: {exc}")
