"""A verifiable federated run on scikit-learn's bundled digits data (no download).

Three clients hold non-IID shards (Dirichlet label split, fixed seed). Each round every client
proves k local SGD steps of multinomial logistic regression from the published global model on a
fresh, salted mini-batch of its shard; the aggregator proves the FedAvg; every proof is verified
and every Poseidon link is checked. The proven model's test accuracy is printed next to float
FedAvg on the same batches.

    python examples/linked_round.py [--rounds 2] [--clients 3] [--batch 8] [--steps 1]

The on-chain coordinator (issue 3) and the CLI (issue 4) build on exactly these calls.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from zkfl.aggregator import aggregate_and_prove, check_round_links
from zkfl.build import build_circuits
from zkfl.circuits import TrainingStepSpec
from zkfl.client import float_sgd_reference, make_client_data, train_and_prove
from zkfl.commitments import poseidon
from zkfl.fixedpoint import dequantize, quantize
from zkfl.prover import verify


def dirichlet_shards(labels: np.ndarray, clients: int, alpha: float, rng: np.random.Generator) -> list[np.ndarray]:
    """Indices per client; each class is spread over clients by a Dirichlet(alpha) draw."""
    shards: list[list[int]] = [[] for _ in range(clients)]
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        cuts = (np.cumsum(rng.dirichlet([alpha] * clients)) * len(idx)).astype(int)[:-1]
        for shard, part in zip(shards, np.split(idx, cuts), strict=True):
            shard.extend(part.tolist())
    return [np.array(s) for s in shards]


def accuracy(spec: TrainingStepSpec, theta: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
    w = theta[: spec.features * spec.classes].reshape(spec.features, spec.classes)
    b = theta[spec.features * spec.classes :]
    return float(np.mean(np.argmax(x @ w + b, axis=1) == y))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--clients", type=int, default=3)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=1)
    parser.add_argument("--lr", type=float, default=0.5)
    parser.add_argument("--cache", type=Path, default=Path(".zkfl-cache/example"))
    args = parser.parse_args()

    digits = load_digits()
    x_all, y_all = digits.data / 16.0, digits.target
    x_train, x_test, y_train, y_test = train_test_split(x_all, y_all, test_size=0.25, random_state=0, stratify=y_all)
    rng = np.random.default_rng(0)
    shards = dirichlet_shards(y_train, args.clients, alpha=0.5, rng=rng)

    spec = TrainingStepSpec("logreg", 64, 10, args.batch, args.steps, learning_rate=args.lr)
    start = time.perf_counter()
    circuits = build_circuits(spec, args.clients, args.cache)
    print(f"setup: {time.perf_counter() - start:.1f} s (client logrows {circuits.client.circuit.logrows}, "
          f"aggregator logrows {circuits.aggregator.circuit.logrows}; dev SRS, INSECURE)")

    proofs = args.cache / "proofs"
    global_weights = quantize(np.zeros(spec.num_params))
    float_global = dequantize(global_weights)
    for round_no in range(1, args.rounds + 1):
        updates, float_updates, prove_times = [], [], []
        for client, shard in enumerate(shards):
            batch = rng.choice(shard, size=spec.sample_count, replace=len(shard) < spec.sample_count)
            data = make_client_data(spec, x_train[batch], y_train[batch])
            start = time.perf_counter()
            update = train_and_prove(circuits.client, spec, global_weights, data, proofs / f"r{round_no}-c{client}.json")
            prove_times.append(time.perf_counter() - start)
            verify(circuits.client, update.proof)
            updates.append(update)
            float_updates.append(float_sgd_reference(spec, float_global, data))
        start = time.perf_counter()
        aggregate = aggregate_and_prove(circuits.aggregator, circuits.fedavg, updates, proofs / f"r{round_no}-agg.json")
        agg_time = time.perf_counter() - start
        verify(circuits.aggregator, aggregate.proof)
        check_round_links(poseidon(global_weights), updates, aggregate, circuits.fedavg)
        global_weights = aggregate.weights
        float_global = np.mean(float_updates, axis=0)
        print(json.dumps({
            "round": round_no,
            "global_hash": hex(aggregate.global_hash),
            "client_prove_s": [round(t, 1) for t in prove_times],
            "aggregate_prove_s": round(agg_time, 1),
            "proven_accuracy": round(accuracy(spec, dequantize(global_weights), x_test, y_test), 4),
            "float_accuracy": round(accuracy(spec, float_global, x_test, y_test), 4),
            "max_abs_diff_vs_float": float(np.max(np.abs(dequantize(global_weights) - float_global))),
            "links": "ok",
        }))


if __name__ == "__main__":
    main()
