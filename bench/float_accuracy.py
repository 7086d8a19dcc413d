"""Float FedAvg accuracy of an example federation (digits, or breast cancer) for other shapes and
data preparations: what a proven run at that shape would be compared with, without proving anything
(seconds per configuration). Same split, batches and float reference as `make demo` and
`make breast-cancer`.

    python bench/float_accuracy.py                      # the digits grid quoted in the README
    python bench/float_accuracy.py --config 4,8,2,1.0 --prep centered --seeds 0 1 2
    python bench/float_accuracy.py --dataset breast-cancer --seeds 0 1 2 3 4 5 6 7 8 9
    python bench/float_accuracy.py --model examples/models/digits_cnn.py:digits_cnn --prep centered --rounds 50 --curve

Each config is clients,batch,steps,lr; each seed draws the split and the batches (seed 0 is the
example's). `--prep` applies to digits; breast cancer is always standardized. Prints JSON: the
test accuracy after the last round, per seed (`--curve`: after every round).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from zkfl.circuits import TrainingStepSpec, model_from_json
from zkfl.circuits.user_models import torch_model
from zkfl.data.datasets import write_breast_cancer, write_digits
from zkfl.data.evaluation import float_fedavg_curve

GRID = ["4,8,2,0.5", "4,8,2,1.0", "4,8,2,1.5", "4,8,4,1.0"]
BREAST_CANCER_GRID = ["5,4,2,1.0", "5,8,2,0.5", "5,8,4,0.5", "5,8,4,0.75", "5,8,8,0.5", "5,16,4,0.75"]
SHAPES = {"digits": (64, 10), "breast-cancer": (30, 2)}  # features, classes


def accuracy_curve(
    dataset: str, clients: int, batch: int, steps: int, lr: float, prep: str, seed: int, rounds: int, model: str
) -> list[float]:
    """Test accuracy of float FedAvg after each round."""
    features, classes = SHAPES[dataset]
    family = (
        torch_model(model, features)
        if ":" in model
        else model_from_json({"family": model, "features": features, "classes": classes})
    )
    spec = TrainingStepSpec(family, batch_size=batch, local_steps=steps, learning_rate=lr)
    with tempfile.TemporaryDirectory() as tmp:
        if dataset == "digits":
            files, test = write_digits(Path(tmp), clients, 0.5, seed, centered=prep == "centered")
        else:
            files, test = write_breast_cancer(Path(tmp), clients, 0.5, seed, min_samples=spec.sample_count)
        return float_fedavg_curve(spec, files, test, rounds, seed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=sorted(SHAPES), default="digits")
    parser.add_argument("--config", action="append", help="clients,batch,steps,lr (repeatable)")
    parser.add_argument("--prep", action="append", choices=["centered", "raw"], help="default both")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--curve", action="store_true", help="the accuracy after every round, not only the last")
    parser.add_argument("--model", default="logreg", help="a built-in family, or a torch module as file.py:function")
    args = parser.parse_args()
    digits = args.dataset == "digits"
    results = []
    for prep in (args.prep or ["raw", "centered"]) if digits else ["standardized"]:
        for config in args.config or (GRID if digits else BREAST_CANCER_GRID):
            c, b, k, lr = config.split(",")
            curves = [
                accuracy_curve(args.dataset, int(c), int(b), int(k), float(lr), prep, s, args.rounds, args.model)
                for s in args.seeds
            ]
            results.append(
                {
                    "prep": prep,
                    "clients": int(c),
                    "batch": int(b),
                    "steps": int(k),
                    "lr": float(lr),
                    "seeds": args.seeds,
                    "final_accuracy": [curve[-1] for curve in curves],
                    **({"accuracy_per_round": curves} if args.curve else {}),
                }
            )
    print(
        json.dumps(
            {"dataset": args.dataset, "model": args.model, "rounds": args.rounds, "alpha": 0.5, "results": results},
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
