"""A consortium of 5 hospitals trains a malignant/benign classifier on scikit-learn's bundled
Wisconsin breast-cancer data (569 tumours, 30 features; no download), verifiably, end to end on a
local chain the workspace starts itself, with a report and an outsider's audit.

Each hospital's records stay with it: the training pool is split non-IID (a Dirichlet(alpha) draw
per class, fixed seed, so hospitals see different case mixes, and even the smallest holds a
round's samples), every feature standardized with the training pool's mean and standard deviation
(the consortium's published normalization constants) and clipped to ±4. Every round each hospital
proves 4 local SGD steps of logistic regression (batch 8, learning rate 0.75) from the published
global model on a batch it committed to at registration; updates are private by default (each
hospital uploads only its masked update); the aggregator proves FedAvg of their sum. The report
compares the proven model's test accuracy with float FedAvg on the very same batches (float FedAvg
reaches 96.5 % after 10 rounds on this split, >= 95.8 % on each of the seeds 0-9:
`python bench/float_accuracy.py --dataset breast-cancer`), and `zkfl audit` replays the whole
federation from the chain and the store alone (reports/audit/); the script exits 1 if it fails.

    python examples/breast_cancer.py [--rounds 10] [--clients 5] [--workspace DIR]
                                     [--batch 8] [--steps 4] [--lr 0.75] [--alpha 0.5] [--seed 0]
                                     [--verification eager|optimistic] [--updates private|public]
                                     [--ipfs-api URL]

The flags mean what they mean for examples/digits.py, whose set-up, run, report, watchtower and
audit it shares (examples/_common.py). Re-running continues an interrupted run.
"""

from __future__ import annotations

from pathlib import Path

from _common import example_parser, parse_arguments, run_example, training_spec

from zkfl.circuits import LogisticRegression
from zkfl.data.datasets import write_breast_cancer

FEATURES, CLASSES = 30, 2  # the Wisconsin diagnostic measurements; malignant (0) or benign (1)


def main() -> None:
    parser = example_parser(__doc__, workspace=Path("runs/breast-cancer"), clients=5, batch=8, steps=4, lr=0.75)
    args = parse_arguments(parser)
    spec = training_spec(args, LogisticRegression(features=FEATURES, classes=CLASSES))
    run_example(
        args,
        spec,
        lambda directory: write_breast_cancer(
            directory, args.clients, args.alpha, args.seed, min_samples=spec.sample_count
        ),
        title=f"breast cancer, logreg, {args.clients} hospitals, Dirichlet alpha={args.alpha}",
    )


if __name__ == "__main__":
    main()
