"""What an outsider learns of a client's batch, and what secure aggregation costs (issue: private
updates). Prints JSON.

    python bench/privacy.py --part attack                 # gradient inversion, public vs masked
    python bench/privacy.py --part masking --k 8,64,1000  # a client's masking, the aggregator's unmasking
    python bench/privacy.py --part norm                   # rows the proven norm bound adds

attack: the demo's federation (digits, 4 clients, Dirichlet 0.5, batch 16 x 1 step, lr 1.5), float
FedAvg for 10 rounds. Each round a client's update is W' = W - lr/B x^T (softmax(xW+b) - y), so
its weight column for class c is a weighted sum of the batch's class-c images: the attack reads
that column (for every class whose bias rose, i.e. that the batch holds) and correlates it with
the client's true images of that class (their mean; the image itself when the batch holds one),
and, as the baseline, with the best and the median unrelated image of the same class from the
training pool; `identified_share` is how often a lone image of its class correlates better than
every unrelated image of that class (the attack picks the right sample out of about 135). It reads
the column from what an outsider can read: the update itself (public updates, as
before this issue), the masked upload (SecAgg+, `zkfl.privacy`), and the round's sum (what FedAvg
publishes as the next model in either mode; out of scope, listed for what it is).

masking: K clients with random updates of the digits length (651): per client, the time of its
four steps (advertise, share, mask, reveal; without the one commitment a client adds, of its
pairwise mask sum, which costs what one update's commitment does); for the
aggregator, the unmasking with no dropout and with a third of the clients dropping out after they
submitted (their seeds rebuilt from shares). K = 1,000 takes about 20 minutes on 2 cores (the
clients' steps, all run here).

norm: the demo's client circuit (digits logistic regression, batch 16 x 1 step) compiled without a
bound, with the L-infinity clip and with the L2 clip of its update (`TrainingStepSpec.update_bound`),
at the prover's settings and at decomposition base 2^14 with 2 legs (rows; logrows 16 holds
65,536)."""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from zkfl.circuits import LogisticRegression
from zkfl.data.datasets import dirichlet_shards
from zkfl.fixedpoint import SCALE, dequantize, quantize
from zkfl.privacy import prg
from zkfl.privacy.graph import default_degree, default_threshold, neighbour_graph
from zkfl.privacy.local import run_local
from zkfl.privacy.masking import ClientSecrets, Commit, mask_update, reveal, share_secrets
from zkfl.privacy.terms import MaskingTerms, unmask_problem
from zkfl.privacy.unmasking import unmask

FEATURES, CLASSES, BATCH, LR, CLIENTS, ROUNDS = 64, 10, 16, 1.5, 4, 10
LENGTH = FEATURES * CLASSES + CLASSES + 1


def _digits(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x, _, y, _ = train_test_split(digits.data, digits.target, test_size=0.25, random_state=seed, stratify=digits.target)
    return (x - x.mean(axis=0)) / 8.0, y


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _step(w: np.ndarray, b: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    g = (_softmax(x @ w + b) - np.eye(CLASSES)[y]) * (LR / len(y))
    return w - x.T @ g, b - g.sum(axis=0)


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1])


def _vector(w: np.ndarray, b: np.ndarray) -> list[int]:
    return [int(v) for v in quantize(np.concatenate([w.reshape(-1), b, [1.0]]))]


def _weights(values: list[int]) -> tuple[np.ndarray, np.ndarray]:
    flat = dequantize(np.array(values[:-1], dtype=object).astype(float))
    return flat[: FEATURES * CLASSES].reshape(FEATURES, CLASSES), flat[FEATURES * CLASSES :]


def attack() -> dict:
    x, y = _digits()
    rng = np.random.default_rng(0)
    shards = dirichlet_shards(y, CLIENTS, 0.5, rng)
    w = LogisticRegression(FEATURES, CLASSES).init_params(seed=0)[: FEATURES * CLASSES].reshape(FEATURES, CLASSES)
    b = np.zeros(CLASSES)
    names = [f"0x{i:040x}" for i in range(1, CLIENTS + 1)]
    scores: dict[str, dict[str, list[float]]] = {
        source: {"mean_of_own": [], "single_own": [], "best_unrelated": [], "median_unrelated": [], "identified": []}
        for source in ("public_update", "masked_upload", "round_sum")
    }
    degree = default_degree(CLIENTS)
    for round_ in range(ROUNDS):
        batches = [rng.choice(shard, size=BATCH, replace=False) for shard in shards]
        updates = {n: _vector(*_step(w, b, x[rows], y[rows])) for n, rows in zip(names, batches, strict=True)}
        terms = MaskingTerms(round_.to_bytes(32, "big"), LENGTH, degree, default_threshold(degree))
        record, unmasked = run_local(terms, {n: prg.field_vector(v) for n, v in updates.items()}, lambda v: bytes(64))
        total = prg.signed(unmasked.total)
        assert total == [sum(col) for col in zip(*updates.values(), strict=True)], "the unmasked sum is not exact"
        mean_w, mean_b = _weights([round(v / CLIENTS) for v in total])
        for name, rows in zip(names, batches, strict=True):
            views = {
                "public_update": _weights(updates[name]),
                "masked_upload": _weights(prg.signed(record.uploads[name].masked)),
                "round_sum": (mean_w, mean_b),
            }
            unrelated = np.setdiff1d(np.arange(len(y)), rows)
            for c in range(CLASSES):
                own = rows[y[rows] == c]
                if not len(own):
                    continue
                others = unrelated[y[unrelated] == c]
                for source, (w2, _) in views.items():
                    guess = w2[:, c] - w[:, c]
                    scores[source]["mean_of_own"].append(_corr(guess, x[own].mean(axis=0)))
                    against = [_corr(guess, x[o]) for o in others]
                    if len(own) == 1:
                        scores[source]["single_own"].append(_corr(guess, x[own[0]]))
                        scores[source]["identified"].append(float(_corr(guess, x[own[0]]) > max(against)))
                    scores[source]["best_unrelated"].append(max(against))
                    scores[source]["median_unrelated"].append(float(np.median(against)))
        w, b = mean_w, mean_b
    return {
        "setting": {"clients": CLIENTS, "rounds": ROUNDS, "batch": BATCH, "lr": LR, "alpha": 0.5, "scale": SCALE},
        "median_correlation": {
            source: {k: round(statistics.median(v), 3) for k, v in s.items() if k != "identified"}
            | {
                "class_columns": len(s["mean_of_own"]),
                "single_sample_columns": len(s["single_own"]),
                "identified_share": round(statistics.mean(s["identified"]), 3),
            }
            for source, s in scores.items()
        },
    }


def _secrets(count: int, seed: int) -> dict[str, ClientSecrets]:
    rnd = random.Random(seed)
    return {c: ClientSecrets.generate(c) for c in sorted(f"0x{rnd.getrandbits(160):040x}" for _ in range(count))}


def masking(k: int, length: int = LENGTH, commit: Commit | None = None) -> dict:
    """Every client's four steps timed one by one, then the aggregator's unmasking. With `commit`
    (a workspace's commitment key), the client's one commitment, of its pairwise mask sum, is
    made and timed too."""
    rnd = random.Random(k)
    degree = default_degree(k)
    terms = MaskingTerms(bytes(32), length, degree, default_threshold(degree))
    started = time.perf_counter()
    mine = _secrets(k, k)
    keygen = (time.perf_counter() - started) / k
    adverts = {c: s.advertisement() for c, s in mine.items()}
    graph = neighbour_graph(list(adverts), degree, terms.domain)
    updates = {c: prg.field_vector(rnd.randint(-(2**20), 2**20) for _ in range(length)) for c in mine}
    per_client: dict[str, float] = dict.fromkeys(mine, keygen)
    bundles = {}
    for c, s in mine.items():
        t0 = time.perf_counter()
        bundles[c] = share_secrets(terms, s, graph[c], {a: v.channel_key for a, v in adverts.items()})
        per_client[c] += time.perf_counter() - t0
    uploads = {}
    for c, s in mine.items():
        t0 = time.perf_counter()
        uploads[c] = mask_update(terms, s, updates[c], graph[c], adverts, commit or (lambda v: bytes(64)))
        per_client[c] += time.perf_counter() - t0
    summed = sorted(uploads)
    assert unmask_problem(graph, summed, terms.threshold) is None
    reveals = {}
    for c, s in mine.items():
        t0 = time.perf_counter()
        reveals[c] = reveal(terms, s, graph, bundles, adverts, summed)
        per_client[c] += time.perf_counter() - t0
    exact = [0] * length
    for c in summed:
        exact = prg.add(exact, updates[c])
    timings = {}
    dropped = set(summed[::3])
    for case, answering in (
        ("no_dropout", summed),
        ("third_dropped_after_submission", [c for c in summed if c not in dropped]),
    ):
        runs = []
        for _ in range(3):
            t0 = time.perf_counter()
            result = unmask(terms, graph, adverts, bundles, uploads, summed, [reveals[c] for c in answering])
            runs.append(time.perf_counter() - t0)
            assert result.total == exact, "the unmasked sum is not exact"
        timings[case] = {"median_s": round(statistics.median(runs), 3), "runs_s": [round(r, 3) for r in runs]}
    return {
        "k": k,
        "degree": degree,
        "threshold": terms.threshold,
        "vector_length": length,
        "client_s": {
            "median": round(statistics.median(per_client.values()), 3),
            "max": round(max(per_client.values()), 3),
            "keygen": round(keygen, 3),
        },
        "unmask": timings,
        "dropped_after_submission": len(dropped),
        "client_commitment_included": commit is not None,
    }


def norm_rows() -> dict:
    from zkfl.circuits import TrainingStepSpec
    from zkfl.circuits.kinds import CircuitKind
    from zkfl.zk.build import export_circuits
    from zkfl.zk.prover import ProverConfig, compile_circuit

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for base, legs in ((1024, 3), (16384, 2)):
            config = ProverConfig(decomp_base=base, decomp_legs=legs)
            baseline = None
            for norm, bound in ((None, None), ("linf", 0.5), ("l2", 4.0)):
                spec = TrainingStepSpec(LogisticRegression(FEATURES, CLASSES), BATCH, 1, LR, bound, norm or "linf")
                cache = Path(tmp) / f"{base}-{legs}-{norm}"
                graph = export_circuits(spec, cache / "onnx")[CircuitKind.CLIENT]
                inputs = [quantize(v) for v in spec.calibration_inputs()]
                circuit = compile_circuit("training_step", graph, inputs, cache, config)
                baseline = baseline or circuit.num_rows
                results.append(
                    {
                        "decomposition": f"{base}x{legs}",
                        "norm": norm or "none",
                        "bound": bound,
                        "rows": circuit.num_rows,
                        "logrows": circuit.logrows,
                        "added_rows_pct": round(100 * (circuit.num_rows / baseline - 1), 1),
                    }
                )
                print(f"[bench] {json.dumps(results[-1])}", file=sys.stderr, flush=True)
    return {"shape": {"features": FEATURES, "classes": CLASSES, "batch": BATCH, "steps": 1}, "results": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["attack", "masking", "norm"], required=True)
    parser.add_argument("--k", default="8,64", help="client counts for --part masking (comma-separated)")
    parser.add_argument(
        "--workspace",
        type=Path,
        help="--part masking: time each client's commitment too, with this workspace's key (e.g. runs/digits)",
    )
    args = parser.parse_args()
    if args.part == "attack":
        out = attack()
    elif args.part == "norm":
        out = norm_rows()
    else:
        out = {"machine": {"cpus": os.cpu_count()}, "results": []}
        commit = None
        if args.workspace is not None:
            from zkfl.pipeline.workspace import Workspace

            commit = Workspace.open(args.workspace).circuits.commitments.field_point
        for k in (int(v) for v in args.k.split(",")):
            out["results"].append(masking(k, commit=commit))
            print(f"[bench] {json.dumps(out['results'][-1])}", file=sys.stderr, flush=True)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
