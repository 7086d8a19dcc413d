"""A verifiable federated run on scikit-learn's bundled digits data (no download), on a local
chain that this script starts and stops itself.

Three clients hold non-IID shards (Dirichlet label split, fixed seed) and register a salted data
commitment to their local training set with the coordinator. Each round every client proves k
local SGD steps of multinomial logistic regression from the published global model and submits
the proof on-chain; the aggregator proves the FedAvg of the accepted updates and finalizes the
round, which makes its output the next global model. Every proof is checked by the generated
verifier contracts, and every Poseidon link by the coordinator. The proven model's test accuracy
is printed next to float FedAvg on the same data.

    python examples/linked_round.py [--rounds 2] [--clients 3] [--batch 8] [--steps 1]
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
from eth_account import Account
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from zkfl.aggregator import aggregate_and_prove, empty_slot_hash
from zkfl.build import build_circuits
from zkfl.chain.coordinator import Coordinator, FederationConfig, deploy_federation
from zkfl.chain.devnet import DEV_MNEMONIC, start_devnet, stop_devnet
from zkfl.chain.rpc import connect
from zkfl.cid import content_id, vector_bytes
from zkfl.circuits import TrainingStepSpec
from zkfl.client import float_sgd_reference, make_client_data, train_and_prove
from zkfl.commitments import poseidon
from zkfl.fixedpoint import dequantize, quantize


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
    parser.add_argument("--lr", type=float, default=1.0)
    parser.add_argument("--cache", type=Path, default=Path(".zkfl-cache/example"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("ezkl").setLevel(logging.ERROR)  # calibration's fidelity tables
    logging.getLogger("tract_linalg").setLevel(logging.ERROR)

    digits = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(digits.data / 16.0, digits.target, test_size=0.25,
                                                        random_state=0, stratify=digits.target)
    rng = np.random.default_rng(0)
    shards = dirichlet_shards(y_train, args.clients, alpha=0.5, rng=rng)
    spec = TrainingStepSpec("logreg", 64, 10, args.batch, args.steps, learning_rate=args.lr)

    start = time.perf_counter()
    circuits = build_circuits(spec, args.clients, args.cache)
    print(f"circuits ready in {time.perf_counter() - start:.1f} s: client logrows {circuits.client.circuit.logrows}, "
          f"aggregator logrows {circuits.aggregator.circuit.logrows} (dev SRS: INSECURE, for demos only)")

    devnet_dir = args.cache / "devnet"
    devnet = start_devnet(devnet_dir)
    try:
        chain = connect(devnet.rpc_url, devnet.chain_id)
        Account.enable_unaudited_hdwallet_features()
        owner, aggregator, *clients = [Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}")
                                       for i in range(2 + args.clients)]
        global_weights = quantize(np.zeros(spec.num_params))
        config = FederationConfig(poseidon(global_weights), content_id(vector_bytes(global_weights)), aggregator.address,
                                  empty_slot_hash(circuits.fedavg))
        deployment = deploy_federation(chain, owner, circuits, config, args.cache)
        coordinator = Coordinator(chain, deployment.coordinator, args.cache)
        print(json.dumps({"devnet": devnet.rpc_url, **deployment.to_json()}))

        local_data = []
        for client, shard in zip(clients, shards, strict=True):
            rows = rng.choice(shard, size=spec.sample_count, replace=len(shard) < spec.sample_count)
            data = make_client_data(spec, x_train[rows], y_train[rows])
            coordinator.register(client, [data.commitment(spec)])
            local_data.append(data)

        float_global = dequantize(global_weights)
        proofs = args.cache / "proofs"
        for round_no in range(args.rounds):
            updates, float_updates, prove_s, submit_gas = [], [], [], []
            for i, (client, data) in enumerate(zip(clients, local_data, strict=True)):
                start = time.perf_counter()
                update = train_and_prove(circuits.client, spec, global_weights, data, proofs / f"r{round_no}-c{i}.json")
                prove_s.append(round(time.perf_counter() - start, 1))
                receipt = coordinator.submit_update(client, round_no, update.proof, content_id(vector_bytes(update.vector)))
                submit_gas.append(receipt["gasUsed"])
                updates.append(update)
                float_updates.append(float_sgd_reference(spec, float_global, data))
            start = time.perf_counter()
            aggregate = aggregate_and_prove(circuits.aggregator, circuits.fedavg, updates, proofs / f"r{round_no}-agg.json")
            aggregate_s = time.perf_counter() - start
            receipt = coordinator.finalize_round(aggregator, round_no, aggregate.proof,
                                                 content_id(vector_bytes(aggregate.weights)))
            global_weights = aggregate.weights
            float_global = np.mean(float_updates, axis=0)
            assert coordinator.round(round_no + 1).model_hash == poseidon(global_weights)
            print(json.dumps({
                "round": round_no,
                "next_model_hash": hex(aggregate.global_hash),
                "client_prove_s": prove_s,
                "submit_gas": submit_gas,
                "aggregate_prove_s": round(aggregate_s, 1),
                "finalize_gas": receipt["gasUsed"],
                "proven_accuracy": round(accuracy(spec, dequantize(global_weights), x_test, y_test), 4),
                "float_accuracy": round(accuracy(spec, float_global, x_test, y_test), 4),
                "max_abs_diff_vs_float": float(np.max(np.abs(dequantize(global_weights) - float_global))),
            }))
    finally:
        stop_devnet(devnet_dir)


if __name__ == "__main__":
    main()
