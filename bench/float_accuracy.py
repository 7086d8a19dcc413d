"""Float FedAvg accuracy of the digits example's federation for other shapes and data preparations:
what a proven run at that shape would be compared with, without proving anything (seconds per
configuration). Same split, batches and float reference as `make demo`.

    python bench/float_accuracy.py                      # the grid quoted in the README
    python bench/float_accuracy.py --config 4,8,2,1.0 --prep centered --seeds 0 1 2

Each config is clients,batch,steps,lr; each seed draws the split and the batches (seed 0 is the
example's). Prints JSON: the test accuracy after the last round, per seed.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from zkfl.circuits import LogisticRegression, TrainingStepSpec
from zkfl.data.batches import load_dataset, make_batches
from zkfl.data.datasets import write_digits
from zkfl.data.evaluation import accuracy, float_fedavg_round
from zkfl.fixedpoint import dequantize, quantize

GRID = ["4,8,2,0.5", "4,8,2,1.0", "4,8,2,1.5", "4,8,4,1.0"]


def final_accuracy(clients: int, batch: int, steps: int, lr: float, prep: str, seed: int, rounds: int) -> float:
    spec = TrainingStepSpec(LogisticRegression(64, 10), batch_size=batch, local_steps=steps, learning_rate=lr)
    with tempfile.TemporaryDirectory() as tmp:
        files, test = write_digits(Path(tmp), clients, 0.5, seed, centered=prep == "centered")
        x_test, y_test = load_dataset(test, spec)
        batches = [
            make_batches(spec, *load_dataset(f, spec), rounds, np.random.default_rng(seed + i))
            for i, f in enumerate(files)
        ]
    theta = dequantize(quantize(spec.model.genesis(0)))
    for r in range(rounds):
        theta = float_fedavg_round(spec, theta, [b[r] for b in batches])
    return accuracy(spec, theta, x_test, y_test)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", action="append", help="clients,batch,steps,lr (repeatable)")
    parser.add_argument("--prep", action="append", choices=["centered", "raw"], help="default both")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    results = []
    for prep in args.prep or ["raw", "centered"]:
        for config in args.config or GRID:
            c, b, k, lr = config.split(",")
            accs = [
                round(final_accuracy(int(c), int(b), int(k), float(lr), prep, s, args.rounds), 3) for s in args.seeds
            ]
            results.append(
                {
                    "prep": prep,
                    "clients": int(c),
                    "batch": int(b),
                    "steps": int(k),
                    "lr": float(lr),
                    "seeds": args.seeds,
                    "final_accuracy": accs,
                }
            )
    print(json.dumps({"rounds": args.rounds, "alpha": 0.5, "results": results}, indent=2))


if __name__ == "__main__":
    main()
