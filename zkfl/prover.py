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
from typing import Any

import ezkl
import onnx

from zkfl.errors import ArtifactError, ConfigError, DataRangeError, ProofError, ZkflError
from zkfl.fixedpoint import SCALE, FixedArray, dequantize, felt_to_uint, from_felts
from zkfl.srs import Srs, SrsSource

EZKL_VERSION = "23.0.5"
INNER_COLS_CANDIDATES = (1, 2, 4)


@dataclass(frozen=True)
class ProverConfig:
    """ezkl run arguments that zkFL fixes for every circuit.

    Scales are explicit and equal on every input, parameter and output (never left to
    calibration), so the fixed-point integers on both sides of a proof link are the same.
    No Freivalds MatMul check and a 2^10 x 3 decomposition gave the smallest keys, proofs and
    prove times in our sweep (see the README's measurements). `num_inner_cols=None` tries
    INNER_COLS_CANDIDATES and keeps the fewest logrows, then the fewest columns: one column is
    cheapest where Poseidon rows dominate, two keep FedAvg K=8 x 650 at logrows 18 instead of 19."""

    scale: int = SCALE
    num_inner_cols: int | None = None
    decomp_base: int = 1024
    decomp_legs: int = 3
    disable_freivalds: bool = True
    input_visibility: str = "hashed/public"
    output_visibility: str = "hashed/public"
    param_visibility: str = "fixed"

    def run_args(self, num_inner_cols: int) -> ezkl.PyRunArgs:
        args = ezkl.PyRunArgs()
        args.input_scale = self.scale
        args.param_scale = self.scale
        args.scale_rebase_multiplier = 1
        args.num_inner_cols = num_inner_cols
        args.decomp_base = self.decomp_base
        args.decomp_legs = self.decomp_legs
        args.disable_freivalds = self.disable_freivalds
        args.input_visibility = self.input_visibility
        args.output_visibility = self.output_visibility
        args.param_visibility = self.param_visibility
        return args


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
    same secret (the full SRS, or the k = 1 verifier SRS of `zkfl.powers_of_tau`)."""

    name: str
    settings_path: Path
    vk_path: Path
    srs_path: Path


@dataclass(frozen=True)
class Proof:
    """A proof file and its public instances (uint256 field elements, as the chain sees them)."""

    path: Path
    instances: tuple[int, ...]

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Proof:
        path = Path(path)
        try:
            body = json.loads(path.read_text())
            (row,) = body["instances"]
            return cls(path, tuple(felt_to_uint(f) for f in row))
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
) -> CompiledCircuit:
    """Settings + calibration + compile, cached by (ONNX bytes, calibration input, config, ezkl)."""
    onnx_path = Path(onnx_path)
    model_bytes = _read_onnx(onnx_path)
    calibration = _input_json(calibration_input)
    key = _digest(model_bytes, calibration.encode(), json.dumps(asdict(config), sort_keys=True).encode(),
                  EZKL_VERSION.encode())
    target = Path(cache_dir) / "circuits" / f"{name}-{key[:16]}"
    compiled = CompiledCircuit(name, target, key)
    if (target / "DONE").is_file():
        return compiled

    def build(tmp: Path) -> None:
        (tmp / "model.onnx").write_bytes(model_bytes)
        (tmp / "calibration.json").write_text(calibration)
        candidates = INNER_COLS_CANDIDATES if config.num_inner_cols is None else (config.num_inner_cols,)
        best: tuple[int, Path] | None = None  # (logrows, settings file); ties keep fewer columns
        for cols in candidates:
            settings = tmp / f"settings-{cols}.json"
            _ezkl("gen_settings", ezkl.gen_settings, str(tmp / "model.onnx"), str(settings), config.run_args(cols))
            _ezkl("calibrate_settings", ezkl.calibrate_settings, str(tmp / "calibration.json"),
                  str(tmp / "model.onnx"), str(settings), "resources", 1.0, [config.scale], [1], None)
            _check_scales(name, json.loads(settings.read_text()), config.scale)
            logrows = json.loads(settings.read_text())["run_args"]["logrows"]
            if best is None or logrows < best[0]:
                best = (logrows, settings)
        assert best is not None
        os.replace(best[1], tmp / "settings.json")
        for leftover in tmp.glob("settings-*.json"):
            leftover.unlink()
        _ezkl("compile_circuit", ezkl.compile_circuit, str(tmp / "model.onnx"), str(tmp / "circuit.ezkl"),
              str(tmp / "settings.json"))

    _build_atomically(target, build)
    return compiled


def setup_keys(circuit: CompiledCircuit, srs_source: SrsSource, cache_dir: str | os.PathLike[str]) -> CircuitKeys:
    """Proving and verification keys for `circuit` under the SRS of its size, cached."""
    srs = srs_source.for_logrows(circuit.logrows)
    target = Path(cache_dir) / "keys" / f"{circuit.name}-{_digest(circuit.key.encode(), srs.sha256.encode())[:16]}"
    keys = CircuitKeys(circuit, target, srs)
    if (target / "DONE").is_file():
        return keys

    def build(tmp: Path) -> None:
        _ezkl("setup", ezkl.setup, str(circuit.compiled_path), str(tmp / "vk.key"), str(tmp / "pk.key"),
              str(srs.path), None, False)
        (tmp / "srs.json").write_text(json.dumps(srs.to_json(), indent=2))

    _build_atomically(target, build)
    return keys


def prove(keys: CircuitKeys, inputs: Sequence[FixedArray], proof_path: str | os.PathLike[str]) -> ProvenRun:
    """Witness + proof for `inputs` (fixed-point vectors, one per graph input), self-verified.

    The proof file appears at `proof_path` only once it verifies."""
    proof_path = Path(proof_path)
    proof_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=proof_path.parent) as tmp:
        data, witness, proof_tmp = Path(tmp) / "input.json", Path(tmp) / "witness.json", Path(tmp) / "proof.json"
        data.write_text(_input_json(inputs))
        result = _ezkl("gen_witness", ezkl.gen_witness, str(data), str(keys.circuit.compiled_path), str(witness),
                       str(keys.vk_path), str(keys.srs.path))
        _ezkl("prove", ezkl.prove, str(witness), str(keys.circuit.compiled_path), str(keys.pk_path),
              str(proof_tmp), str(keys.srs.path))
        verify(keys, Proof.load(proof_tmp))
        os.replace(proof_tmp, proof_path)
    return ProvenRun(Proof.load(proof_path), [from_felts(out) for out in result["outputs"]])


def run_witness(circuit: CompiledCircuit, inputs: Sequence[FixedArray]) -> list[FixedArray]:
    """The circuit's exact fixed-point outputs for `inputs`, without proving (no keys needed)."""
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "input.json"
        data.write_text(_input_json(inputs))
        result = _ezkl("gen_witness", ezkl.gen_witness, str(data), str(circuit.compiled_path), None, None, None)
    return [from_felts(out) for out in result["outputs"]]


def verify(keys: CircuitKeys | VerifierKeys, proof: Proof) -> None:
    """Raise ProofError unless `proof` verifies against this circuit's verification key."""
    keys = keys.verifier if isinstance(keys, CircuitKeys) else keys
    expected = num_instances(json.loads(keys.settings_path.read_text()))
    if len(proof.instances) != expected:
        raise ProofError(
            f"proof {proof.path.name} has {len(proof.instances)} public instances, circuit "
            f"{keys.name!r} expects {expected}: it is a proof of another circuit"
        )
    try:
        ok = ezkl.verify(str(proof.path), str(keys.settings_path), str(keys.vk_path), str(keys.srs_path), True)
    except Exception as exc:  # ezkl raises on a failed check; its message is terse
        raise ProofError(f"proof {proof.path.name} does not verify against circuit {keys.name!r}: {exc}") from exc
    if not ok:
        raise ProofError(f"proof {proof.path.name} does not verify against circuit {keys.name!r}")


def hashed_rows(lengths: Sequence[int]) -> int:
    """Rows of ezkl 23's Poseidon module for hashing tensors of these lengths, one hash each
    (`ModulePoseidon::num_rows`: 41 per element plus 2 per tensor)."""
    return sum(41 * n + 2 for n in lengths if n > 0)


def settings_problems(settings: dict[str, Any], scale: int, input_lengths: Sequence[int],
                      output_lengths: Sequence[int]) -> list[str]:
    """How a compiled circuit's settings disagree with the graph interface it should have: every
    input and output at `scale`, that many inputs and outputs, each hashed into one public
    instance, and (through the Poseidon module's size) of these lengths."""
    problems = []
    ins, outs = settings["model_input_scales"], settings["model_output_scales"]
    if (len(ins), len(outs)) != (len(input_lengths), len(output_lengths)):
        problems.append(f"{len(ins)} input(s) and {len(outs)} output(s), expected {len(input_lengths)} and "
                        f"{len(output_lengths)}")
    if any(s != scale for s in [*ins, *outs]):
        problems.append(f"input scales {ins} and output scales {outs}, expected all {scale}")
    run_args = settings["run_args"]
    hashed = [v for v in (run_args["input_visibility"], run_args["output_visibility"])
              if isinstance(v, dict) and v.get("Hashed", {}).get("hash_is_public")]
    if len(hashed) != 2:
        problems.append(f"inputs {run_args['input_visibility']!r} and outputs {run_args['output_visibility']!r}, "
                        "expected both hashed into public instances")
        return problems
    rows, (tensors, *_) = settings["module_sizes"]["poseidon"]
    lengths = [*input_lengths, *output_lengths]
    if (rows, tensors) != (hashed_rows(lengths), len(lengths)):
        problems.append(f"the circuit hashes {tensors} tensor(s) in {rows} Poseidon rows; tensors of the manifest's "
                        f"lengths {lengths} take {hashed_rows(lengths)} rows")
    return problems


def num_instances(settings: dict[str, Any]) -> int:
    """Public instances of a circuit whose inputs and outputs are hashed: one hash per tensor."""
    return len(settings["model_input_scales"]) + len(settings["model_output_scales"])


def _read_onnx(path: Path) -> bytes:
    if not path.is_file():
        raise ArtifactError(f"ONNX graph not found: {path}; run the export step first")
    model_bytes = path.read_bytes()
    try:
        onnx.checker.check_model(onnx.load_from_string(model_bytes))
    except Exception as exc:
        raise ArtifactError(f"corrupt ONNX graph {path}: {exc}; export it again") from exc
    return model_bytes


def _check_scales(name: str, settings: dict[str, Any], scale: int) -> None:
    found = {"input": settings["model_input_scales"], "output": settings["model_output_scales"]}
    for kind, scales in found.items():
        if any(s != scale for s in scales):
            raise ConfigError(
                f"mismatched scales in circuit {name!r}: {kind} scales {scales}, expected all {scale}; "
                "linked hashes would differ. Rescale the graph's outputs to the input scale."
            )


def _input_json(inputs: Sequence[FixedArray]) -> str:
    return json.dumps({"input_data": [dequantize(v).reshape(-1).tolist() for v in inputs]})


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
                "too large for the model's weights")
    if "synthesis" in str(exc).lower():
        detail = f" (ezkl logged: {'; '.join(logged)[-500:]})" if logged else ""
        return ProofError(
            f"ezkl {step} failed: {exc}{detail}. The circuit could not be laid out for these inputs: most likely a "
            "value outside the range the circuit was compiled and calibrated for")
    return ProofError(f"ezkl {step} failed: {exc}")
