"""Circuit benchmark: training-step, inference and FedAvg circuits, proven for real, with inputs
and outputs KZG-committed (polycommit) as in a federation.

Prints one JSON document: per case logrows, rows, setup/prove/verify seconds, proof/pk bytes, peak
RSS of proving (`peak_rss_mb`: a fresh process that loads the built keys and proves, as a client
does each round) and of the set-up (`setup_peak_rss_mb`), and for each training step the ratio to
an inference proof of the same model and batch. Each case runs in its own subprocesses, one after
another, so only one prover is ever alive.
Every case runs at each `--cols` (ezkl's inner columns).

    python bench/circuits.py                 # the full grid of the KZG-links issue, at 1, 2 and 4 columns
    python bench/circuits.py --quick         # small shapes only (a smoke run)
    python bench/circuits.py --max-logrows 18 --repeat 5 --cols 2
    python bench/circuits.py --only logreg-d64-b32-k1 --only fedavg-K8
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil
import torch

from zkfl.circuits import FedAvgSpec, TrainingStepSpec, export_onnx, model_from_json
from zkfl.circuits.derived import trace_step
from zkfl.circuits.families import clamped_softmax
from zkfl.circuits.graphs import split_data
from zkfl.fixedpoint import quantize
from zkfl.zk.prover import CircuitKeys, ProverConfig, compile_circuit, prove, setup_keys, verify
from zkfl.zk.srs import DevSrsSource

DIGITS = {"features": 64, "classes": 10}


class Inference(torch.nn.Module):
    """Forward pass only (class probabilities), same inputs and visibility as the training step."""

    def __init__(self, spec: TrainingStepSpec) -> None:
        super().__init__()
        self.spec = spec

    def forward(self, theta: torch.Tensor, data: torch.Tensor) -> torch.Tensor:
        spec = self.spec
        x, _ = split_data(spec, data)
        return clamped_softmax(spec.model.logits(spec.model.unpack(theta), x)).reshape(-1)


def cases(quick: bool) -> list[dict]:
    if quick:
        return [
            {"kind": "train", "family": "logreg", "batch": 8, "steps": 1, "features": 16, "classes": 4},
            {"kind": "infer", "family": "logreg", "batch": 8, "steps": 1, "features": 16, "classes": 4},
            {"kind": "fedavg", "slots": 2, "params": 68},
        ]
    grid: list[dict] = []
    for batch in (8, 32):
        for steps in (1, 2, 4):
            grid.append({"kind": "train", "family": "logreg", "batch": batch, "steps": steps, **DIGITS})
        grid.append({"kind": "infer", "family": "logreg", "batch": batch, "steps": 1, **DIGITS})
    grid.append({"kind": "train", "family": "logreg", "batch": 16, "steps": 1, **DIGITS})  # examples/digits.py
    for slots in (4, 8, 16):
        grid.append({"kind": "fedavg", "slots": slots, "params": 650, "samples": 32})
    return grid


def case_name(case: dict) -> str:
    if case["kind"] == "fedavg":
        return f"fedavg-K{case['slots']}-P{case['params']}-c{case['cols']}"
    hidden = f"-h{case['hidden']}" if case.get("hidden") else ""
    return (
        f"{case['kind']}-{case['family']}{hidden}-d{case['features']}-b{case['batch']}-k{case['steps']}-c{case['cols']}"
    )


def graph_for(case: dict, work: Path) -> tuple[Path, list[np.ndarray]]:
    """ONNX graph and a representative fixed-point input for one case."""
    if case["kind"] == "fedavg":
        spec = FedAvgSpec(case["params"], case["slots"], case.get("samples", 8))
        updates = spec.calibration_inputs()
        path = export_onnx(
            spec.module(),
            [torch.tensor(u, dtype=torch.float32) for u in updates],
            work / "g.onnx",
            [f"update_{i}" for i in range(spec.slots)],
            ["theta"],
        )
        return path, [quantize(u) for u in updates]
    shape = {"hidden": case["hidden"]} if "hidden" in case else {}
    model = model_from_json(
        {"family": case["family"], "features": case["features"], "classes": case["classes"], **shape}
    )
    spec = TrainingStepSpec(model, case["batch"], case["steps"], learning_rate=0.5)
    inputs = list(spec.calibration_inputs()) if case["kind"] == "train" else list(spec.calibration_inputs())[:2]
    tensors = [torch.tensor(v, dtype=torch.float32) for v in inputs]
    module = trace_step(spec.module(), tensors) if case["kind"] == "train" else Inference(spec)
    path = export_onnx(
        module,
        tensors,
        work / "g.onnx",
        ["theta", "data", "context"][: len(inputs)],
        ["out"],
    )
    return path, [quantize(v) for v in inputs]


def run_case(case: dict, cache: Path, max_logrows: int, repeat: int) -> dict:
    """Compile and set up one case here, then prove it in a fresh subprocess, so that the proving
    peak RSS is a client's (keys already built), apart from the set-up's."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        onnx_path, inputs = graph_for(case, work)
        start = time.perf_counter()
        compiled = compile_circuit(
            case_name(case), onnx_path, inputs, work / "cache", ProverConfig(num_inner_cols=case["cols"])
        )
        result: dict = {
            "case": case_name(case),
            **case,
            "logrows": compiled.logrows,
            "rows": compiled.num_rows,
            "num_inner_cols": compiled.settings["run_args"]["num_inner_cols"],
            "compile_s": round(time.perf_counter() - start, 2),
        }
        if compiled.logrows > max_logrows:
            result["skipped"] = f"logrows {compiled.logrows} > --max-logrows {max_logrows}"
            return result
        srs = DevSrsSource(cache / "srs").for_logrows(compiled.logrows)  # shared across cases, not timed
        start = time.perf_counter()
        keys = setup_keys(compiled, DevSrsSource(cache / "srs"), work / "cache")
        result["setup_s"] = round(time.perf_counter() - start, 2)
        result["pk_bytes"] = keys.pk_path.stat().st_size
        result["vk_bytes"] = keys.vk_path.stat().st_size
        result["srs_logrows"] = srs.logrows
        result["setup_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        args = ["--case", json.dumps(case), "--cache", str(cache), "--repeat", str(repeat), "--prove-in", str(work)]
        result.update(json_subprocess(__file__, args, f"proving {case_name(case)}"))
    return result


def json_subprocess(script: str, args: list[str], what: str) -> dict:
    """Run `python script args` in a fresh process and return the last JSON line it printed
    (RuntimeError, with the end of its stderr, if it failed)."""
    proc = subprocess.run(
        [sys.executable, script, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{what} failed: {proc.stderr.strip()[-2000:]}")
    return json.loads(lines[-1])


def prove_case(case: dict, cache: Path, work: Path, repeat: int) -> dict:
    """Prove (and verify) a case whose circuit and keys `run_case` built in `work`; the peak RSS is
    this process's: loading the keys, the witness and the proof, as a client proving each round."""
    onnx_path, inputs = graph_for(case, work)  # the same graph bytes: cache hits
    compiled = compile_circuit(
        case_name(case), onnx_path, inputs, work / "cache", ProverConfig(num_inner_cols=case["cols"])
    )
    keys = setup_keys(compiled, DevSrsSource(cache / "srs"), work / "cache")  # a cache hit: no keygen
    return timed_proofs(keys, inputs, work, repeat)


def timed_proofs(keys: CircuitKeys, inputs: list[np.ndarray], work: Path, repeat: int) -> dict:
    """Prove `inputs` `repeat` times (proof-<i>.json in `work`), each proof verified before its time
    counts: median prove seconds (wall and CPU) and verify seconds, proof bytes, and this process's
    peak RSS (call it in a fresh process that has only loaded the keys, as a client proving each round)."""
    before_mb = psutil.Process().memory_info().rss // 2**20  # python, torch, the graph: not the prover's
    prove_times, prove_cpu, verify_times = [], [], []
    for attempt in range(repeat):
        start, cpu = time.perf_counter(), cpu_seconds()
        run = prove(keys, inputs, work / f"proof-{attempt}.json")  # includes one self-verify (< 0.5 s)
        prove_times.append(time.perf_counter() - start)
        prove_cpu.append(cpu_seconds() - cpu)
        start = time.perf_counter()
        verify(keys, run.proof)
        verify_times.append(time.perf_counter() - start)
    return {
        "prove_s": round(statistics.median(prove_times), 2),
        "prove_runs_s": [round(t, 2) for t in prove_times],
        "prove_cpu_s": round(statistics.median(prove_cpu), 2),
        "verify_s": round(statistics.median(verify_times), 3),
        "proof_bytes": len(run.proof.data),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        "rss_before_prove_mb": before_mb,
    }


def cpu_seconds() -> float:
    """User + system CPU seconds of this process so far, all its threads (the prover's included):
    less sensitive than wall time to other work on a shared machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def add_ratios(results: list[dict]) -> None:
    by_name = {r["case"]: r for r in results}
    for r in results:
        if r["kind"] != "train" or "prove_s" not in r:
            continue
        base, cols = r["case"].rsplit("-c", 1)
        infer = by_name.get(base.replace("train-", "infer-").rsplit("-k", 1)[0] + f"-k1-c{cols}")
        if infer and "prove_s" in infer:
            r["prove_vs_inference"] = round(r["prove_s"] / infer["prove_s"], 2)
            r["rows_vs_inference"] = round(r["rows"] / infer["rows"], 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small shapes only")
    parser.add_argument("--max-logrows", type=int, default=19, help="compile but do not prove larger circuits")
    parser.add_argument("--repeat", type=int, default=3, help="proofs per case; prove/verify times are medians")
    parser.add_argument("--cache", type=Path, default=Path(".zkfl-cache/bench"), help="dev SRS files are kept here")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="TEXT",
        help="run only cases whose name contains TEXT (repeatable)",
    )
    parser.add_argument(
        "--cols",
        type=int,
        action="append",
        choices=(1, 2, 4),
        help="ezkl inner columns (repeatable; default 1, 2 and 4)",
    )
    parser.add_argument("--case", help=argparse.SUPPRESS)  # internal: run one case in this process
    parser.add_argument("--prove-in", type=Path, help=argparse.SUPPRESS)  # internal: its proving phase
    args = parser.parse_args()
    if args.case and args.prove_in:
        print(json.dumps(prove_case(json.loads(args.case), args.cache, args.prove_in, args.repeat)))
        return
    if args.case:
        print(json.dumps(run_case(json.loads(args.case), args.cache, args.max_logrows, args.repeat)))
        return
    results = []
    grid = [{**case, "cols": cols} for cols in (args.cols or [1, 2, 4]) for case in cases(args.quick)]
    selected = [c for c in grid if not args.only or any(t in case_name(c) for t in args.only)]
    for case in selected:
        print(f"[bench] {case_name(case)} ...", file=sys.stderr, flush=True)
        case_args = ["--case", json.dumps(case), "--cache", str(args.cache), "--max-logrows", str(args.max_logrows)]
        try:
            results.append(json_subprocess(__file__, [*case_args, "--repeat", str(args.repeat)], case_name(case)))
        except RuntimeError as exc:
            results.append({"case": case_name(case), **case, "error": str(exc).splitlines()[-1:]})
        print(f"[bench] {json.dumps(results[-1])}", file=sys.stderr, flush=True)
    add_ratios(results)
    print(json.dumps({"machine": {"cpus": os.cpu_count()}, "ezkl": "23.0.5", "results": results}, indent=2))


if __name__ == "__main__":
    main()
