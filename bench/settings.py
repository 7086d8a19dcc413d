"""ezkl settings chosen by measurement: the digits demo's client circuit (logistic regression, 64
features, 10 classes, batch 16 x 1 step, learning rate 1.5: examples/digits.py) and its FedAvg,
compiled together at one logrows (`zkfl.zk.build.compile_circuits`, as a federation has them), at a
grid of inner columns and decompositions (base, legs; FedAvg takes the fewest legs of the same base
that hold its reciprocal, `zkfl.zk.build.fedavg_config`).

Per option: rows and logrows of both circuits, compile and set-up seconds, prove seconds (median of
`--repeat` proofs, each verified before its time counts), proof and pk bytes, peak RSS of proving (a
fresh process that loads the built keys, as `bench/circuits.py` measures it), on-chain gas of each
circuit's verifier on anvil (dedicated, or ezkl's reusable verifier when the dedicated one is over
EIP-170; a figure only from a call traced to return true, `bench/gas.py`), and whether its witness
outputs equal today's (`ProverConfig()`) on the same inputs: digits batches from the initial and
from a trained model, the calibration extremes, and FedAvg sums up to its limits. Each prove time
is also a ratio to today's, measured in the same run (today's option runs first, and again last to
show drift). Options are listed by client prove time, then verifier gas, then peak RSS.

Each option runs in its own subprocess (and proves in two more), one after another: one prover at a time.

    PYTHONPATH=. python bench/settings.py                 # the grid (about 40 minutes on 2 cores), JSON on stdout
    PYTHONPATH=. python bench/settings.py --only c4- --repeat 5
    python bench/settings.py --model examples/models/digits_cnn.py:digits_cnn --batch 12 --only c4-1024 --repeat 2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from eth_account import Account

import zkfl
from zkfl.chain.deploy import deploy_circuit_verifier
from zkfl.chain.devnet import DEV_MNEMONIC, DEVNET_CHAIN_ID, start_devnet, stop_devnet
from zkfl.chain.rpc import connect
from zkfl.circuits import LogisticRegression, TrainingStepSpec
from zkfl.circuits.kinds import CircuitKind
from zkfl.circuits.user_models import named_model
from zkfl.fedavg import SUM_LIMIT, fixed_point_fedavg
from zkfl.fixedpoint import SCALE, dequantize, quantize
from zkfl.protocol import context
from zkfl.zk.build import CircuitSet, check_links, compile_circuits, fedavg_config, fedavg_spec
from zkfl.zk.prover import CircuitKeys, Proof, ProverConfig, run_witness, setup_keys
from zkfl.zk.srs import DevSrsSource

sys.path.insert(0, str(Path(__file__).parent))
from circuits import json_subprocess, timed_proofs
from gas import bare_verify, digits_batch

SPEC_VARIABLE = "ZKFL_BENCH_SETTINGS_SPEC"
"""Where `--model` leaves the spec for this bench's subprocesses (they inherit the environment)."""
SPEC = (
    TrainingStepSpec.from_json(json.loads(os.environ[SPEC_VARIABLE]))
    if SPEC_VARIABLE in os.environ
    else TrainingStepSpec(LogisticRegression(64, 10), batch_size=16, local_steps=1, learning_rate=1.5)
)
"""The demo's client circuit (examples/digits.py's defaults), or the digits model `--model` names."""
TODAY = {"cols": 2, "base": 1024, "legs": 3}
"""`ProverConfig()` as it was when this bench was written: the reference every option is compared with."""
SENDER = "0x" + "11" * 20


def options(everything: bool) -> list[dict]:
    """The grid, today's first. Base 2^16 needs logrows 17 (its table), past the 2^16 rows the
    client fits at 2 and 4 columns: only at 1 column (logrows 17 anyway) unless `everything`."""
    grid = [dict(TODAY)]
    for cols in (1, 2, 4):
        for base, legs in ((1024, 3), (4096, 3), (16384, 2), (65536, 2)):
            option = {"cols": cols, "base": base, "legs": legs}
            if option != TODAY and (base < 65536 or cols == 1 or everything):
                grid.append(option)
    return grid


def option_name(option: dict) -> str:
    return f"c{option['cols']}-{option['base']}x{option['legs']}"


def config_of(option: dict) -> ProverConfig:
    return ProverConfig(num_inner_cols=option["cols"], decomp_base=option["base"], decomp_legs=option["legs"])


def float_update(theta: np.ndarray, data: np.ndarray) -> np.ndarray:
    """The training step in float (the circuit's graph, run by torch): the update vector, count last."""
    with torch.no_grad():
        out = SPEC.module()(
            torch.tensor(theta, dtype=torch.float32),
            torch.tensor(data, dtype=torch.float32),
            torch.zeros(len(context(DEVNET_CHAIN_ID, bytes(32), SENDER))),
        )
    return out.numpy().astype(np.float64)


def client_inputs() -> dict[str, list[np.ndarray]]:
    """Named client inputs (theta, data, context; fixed point): three digits batches from the
    initial model and three from a model trained 40 float steps (larger weights), and the
    calibration input (a large bias, every range at its bound)."""
    rng = np.random.default_rng(0)
    ctx = context(DEVNET_CHAIN_ID, bytes(32), SENDER)
    batches = [digits_batch(SPEC, rng.choice(1797, size=SPEC.sample_count, replace=False)) for _ in range(43)]
    theta = SPEC.model.init_params(seed=0)
    trained = theta.copy()
    for batch in batches[3:]:
        trained = float_update(trained, dequantize(batch.vector(SPEC)))[: SPEC.num_params]
    named = {}
    for label, start in (("initial", theta), ("trained", trained)):
        for i, batch in enumerate(batches[:3]):
            named[f"{label}-model-batch{i}"] = [quantize(start), batch.vector(SPEC), ctx]
    named["calibration"] = [quantize(v) for v in SPEC.calibration_inputs()]
    return named


def fedavg_inputs() -> dict[str, list[np.ndarray]]:
    """Named FedAvg sums: four float updates from the initial model (quantized), the calibration
    sum, one update at the largest summed weight FedAvg accepts, and 1,000 large updates."""
    rng = np.random.default_rng(1)
    theta = SPEC.model.init_params(seed=0)
    updates = [
        quantize(float_update(theta, dequantize(digits_batch(SPEC, rng.choice(1797, SPEC.sample_count)).vector(SPEC))))
        for _ in range(4)
    ]
    length = SPEC.num_params + 1
    extreme = np.where(np.arange(SPEC.num_params) % 2 == 0, SUM_LIMIT - 1, 1 - SUM_LIMIT)
    many = rng.integers(-(SUM_LIMIT - 1), SUM_LIMIT, SPEC.num_params)
    sums = {
        "four-updates": np.sum(updates, axis=0),
        "calibration": quantize(fedavg_spec(SPEC).calibration_inputs()[0]),
        "one-update-at-sum-limit": np.append(extreme, 1 << SCALE),
        "1000-updates-large": np.append(many, 1000 << SCALE),
    }
    assert all(len(s) == length for s in sums.values())
    return {name: [np.asarray(s, dtype=np.int64)] for name, s in sums.items()}


def witness_outputs(keys: CircuitKeys, named: dict[str, list[np.ndarray]]) -> dict[str, Any]:
    """Each input's first output (a list of ints), or the error's first line where ezkl refused it."""
    outputs: dict[str, Any] = {}
    for name, inputs in named.items():
        try:
            outputs[name] = [int(v) for v in run_witness(keys.circuit, inputs)[0]]
        except Exception as exc:
            outputs[name] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
    return outputs


def build(option: dict, work: Path, srs_dir: Path) -> tuple[dict, CircuitSet]:
    """Compile both circuits at one logrows and key them (timed; the dev SRS is made untimed)."""
    start = time.perf_counter()
    compiled = compile_circuits(SPEC, work / "cache", config_of(option))
    compile_s = time.perf_counter() - start
    logrows = compiled[CircuitKind.CLIENT].logrows
    DevSrsSource(srs_dir).for_logrows(logrows)  # shared by every option, not timed
    start = time.perf_counter()
    keys = {kind: setup_keys(c, DevSrsSource(srs_dir), work / "cache") for kind, c in compiled.items()}
    setup_s = time.perf_counter() - start
    circuits = CircuitSet(SPEC, fedavg_spec(SPEC), keys[CircuitKind.CLIENT], keys[CircuitKind.AGGREGATOR], 4)
    check_links(circuits)
    return {"logrows": logrows, "compile_s": round(compile_s, 2), "setup_s": round(setup_s, 2)}, circuits


def prove_inputs(role: str) -> list[np.ndarray]:
    """What the proving process proves: a client's first digits batch from the initial model, or
    FedAvg of four updates."""
    return next(iter((client_inputs() if role == "client" else fedavg_inputs()).values()))


def prove_role(option: dict, role: str, work: Path, srs_dir: Path, repeat: int) -> dict:
    """In a fresh process: load the keys `run_option` built (cache hits) and prove `repeat` times."""
    _, circuits = build(option, work, srs_dir)
    keys = circuits.client if role == "client" else circuits.aggregator
    proofs = work / role
    proofs.mkdir(exist_ok=True)
    result = timed_proofs(keys, prove_inputs(role), proofs, repeat)
    return {**result, "load_avg_after": round(os.getloadavg()[0], 2)}


def verifier_gas(circuits: CircuitSet, work: Path) -> dict[str, dict]:
    """Deploy each circuit's verifier on a fresh anvil and call it with its first proof (its gas
    counts only if the call returned true, traced)."""
    Account.enable_unaudited_hdwallet_features()
    owner = Account.from_mnemonic(DEV_MNEMONIC, account_path="m/44'/60'/0'/0/0")
    gas: dict[str, dict] = {}
    devnet_dir = work / "devnet"
    devnet = start_devnet(devnet_dir)
    try:
        chain = connect(devnet.rpc_url, devnet.chain_id)
        for role, keys in (("client", circuits.client), ("aggregator", circuits.aggregator)):
            deployed = deploy_circuit_verifier(chain, owner, keys, work / "cache")
            gas[role] = {"verifier": deployed.kind, "deploy_gas": deployed.deploy_gas, "not_true": []}
            for proof in sorted((work / role).glob("proof-*.json")):  # the next proof if a call is not true
                try:
                    call = bare_verify(chain, owner, deployed.address, Proof.load(proof))
                except RuntimeError as exc:  # kept in the report: a valid proof should always verify
                    gas[role]["not_true"].append(f"{proof.name}: {exc}")
                    continue
                gas[role] |= {"verify_gas": call["gas"], "calldata_bytes": call["bytes"]}
                break
    finally:
        stop_devnet(devnet_dir)
    return gas


def run_option(option: dict, srs_dir: Path, repeat: int) -> dict:
    """One option, end to end: build (timed), witnesses, proofs in fresh processes, gas."""
    with tempfile.TemporaryDirectory(prefix="zkfl-settings-") as tmp:
        work = Path(tmp)
        built, circuits = build(option, work, srs_dir)
        result: dict[str, Any] = {"option": option_name(option), **option, **built}
        for role, keys in (("client", circuits.client), ("aggregator", circuits.aggregator)):
            run_args = keys.circuit.settings["run_args"]
            prove_args = ["--prove", json.dumps(option), "--role", role, "--work", str(work), "--srs", str(srs_dir)]
            proven = json_subprocess(
                __file__, [*prove_args, "--repeat", str(repeat)], f"proving the {role} at {option_name(option)}"
            )
            result[role] = {
                "rows": keys.circuit.num_rows,
                "decomposition": f"{run_args['decomp_base']}x{run_args['decomp_legs']}",
                "pk_bytes": keys.pk_path.stat().st_size,
                **proven,
            }
        for role, gas in verifier_gas(circuits, work).items():
            result[role]["gas"] = gas
        result["_outputs"] = {
            "client": witness_outputs(circuits.client, client_inputs()),
            "aggregator": witness_outputs(circuits.aggregator, fedavg_inputs()),
        }
    return result


def compare(outputs: dict[str, Any], today: dict[str, Any]) -> dict:
    """How one circuit's witness outputs differ from today's on the same inputs."""
    equal, failed, worst, both_refused = 0, [], 0, []
    for name, reference in today.items():
        got = outputs.get(name)
        if not isinstance(got, list) and not isinstance(reference, list):
            both_refused.append(name)  # the same behaviour: refused at either setting
            continue
        if not isinstance(got, list) or not isinstance(reference, list):
            failed.append({"input": name, "here": got if isinstance(got, str) else "ok", "today": reference})
            continue
        diff = int(np.max(np.abs(np.asarray(got, dtype=object) - np.asarray(reference, dtype=object))))
        worst = max(worst, diff)
        equal += diff == 0
    return {"inputs": len(today), "equal": equal, "max_abs_diff": worst, "failed": failed, "both_refused": both_refused}


def fedavg_reference(outputs: dict[str, Any]) -> bool:
    """Whether every FedAvg witness (of the sums it accepted) equals `zkfl.fedavg.fixed_point_fedavg` of its sum."""
    sums = {name: inputs[0] for name, inputs in fedavg_inputs().items()}
    return all(out == fixed_point_fedavg(sums[name]).tolist() for name, out in outputs.items() if isinstance(out, list))


def summarize(results: list[dict]) -> None:
    """Ratios to today's first run, witness comparisons; then sort by prove time, gas, RSS."""
    today = results[0]
    for r in results:
        outputs = r.pop("_outputs", None)
        if "error" in r or outputs is None:
            continue
        for role in ("client", "aggregator"):
            r[role]["prove_vs_today"] = round(r[role]["prove_s"] / today[role]["prove_s"], 3)
            r[role]["witness_vs_today"] = compare(outputs[role], today["_outputs_kept"][role])
        r["aggregator"]["witness_equals_fixed_point_fedavg"] = fedavg_reference(outputs["aggregator"])
        compared = [r[role]["witness_vs_today"] for role in ("client", "aggregator")]
        r["witness_equals_today"] = all(not w["failed"] and w["max_abs_diff"] == 0 for w in compared)
    today.pop("_outputs_kept", None)


def sort_key(r: dict) -> tuple:
    if "error" in r:
        return (float("inf"),) * 3
    gas = r["client"]["gas"].get("verify_gas", float("inf"))
    return (r["client"]["prove_s"], gas, r["client"]["peak_rss_mb"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="proofs per circuit and option; times are medians")
    parser.add_argument("--cache", type=Path, default=Path(".zkfl-cache/bench"), help="dev SRS files are kept here")
    parser.add_argument("--only", action="append", default=[], metavar="TEXT", help="options whose name has TEXT")
    parser.add_argument("--all", action="store_true", help="base 2^16 at 2 and 4 columns too (logrows 17)")
    parser.add_argument(
        "--model", help="another digits model: a built-in family or a torch module as file.py:function (with --batch)"
    )
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=1)
    parser.add_argument("--lr", type=float, default=1.5)
    parser.add_argument("--case", help=argparse.SUPPRESS)  # internal: one option, in this process
    parser.add_argument("--prove", help=argparse.SUPPRESS)  # internal: an option's proving process
    parser.add_argument("--role", help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--srs", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    srs_dir = args.srs or args.cache / "srs"
    if args.prove:
        print(json.dumps(prove_role(json.loads(args.prove), args.role, args.work, srs_dir, args.repeat)))
        return
    if args.case:
        print(json.dumps(run_option(json.loads(args.case), srs_dir, args.repeat)))
        return
    if args.model:  # this process and every subprocess it starts measure that model
        global SPEC
        SPEC = TrainingStepSpec(named_model(args.model, 64, 10), args.batch, args.steps, args.lr)
        os.environ[SPEC_VARIABLE] = json.dumps(SPEC.to_json())
    grid = [o for o in options(args.all) if o == TODAY or not args.only or any(t in option_name(o) for t in args.only)]
    results = []
    for i, option in enumerate([*grid, TODAY]):  # today's again at the end: the drift over the run
        print(f"[settings] {option_name(option)} ...", file=sys.stderr, flush=True)
        case_args = ["--case", json.dumps(option), "--srs", str(srs_dir), "--repeat", str(args.repeat)]
        try:
            result = json_subprocess(__file__, case_args, option_name(option))
        except RuntimeError as exc:
            result = {"option": option_name(option), **option, "error": str(exc)[-1500:]}
        if i == 0:
            result["_outputs_kept"] = result.get("_outputs")
        elif i == len(grid):
            result["option"] += " (again, last)"
        results.append(result)
        shown = {k: v for k, v in result.items() if not k.startswith("_")}
        print(f"[settings] {json.dumps(shown)}", file=sys.stderr, flush=True)
    if "error" in results[0]:
        raise SystemExit(f"today's option failed, nothing to compare with: {results[0]['error']}")
    summarize(results)
    report = {
        "machine": {"cpus": os.cpu_count()},
        "ezkl": "23.0.5",
        "zkfl": str(Path(zkfl.__file__).parent),  # run with PYTHONPATH=. where the venv's zkfl is another checkout
        "spec": SPEC.to_json(),
        "today": option_name(TODAY),
        "fedavg_legs": {o["base"]: fedavg_config(config_of(o)).decomp_legs for o in grid},
        "results": sorted(results, key=sort_key),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
