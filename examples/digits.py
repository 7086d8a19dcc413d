"""Verifiable federated learning on scikit-learn's bundled digits (no download), end to end on a
local chain the workspace starts itself, with a report.

The training set is split non-IID across the clients (a Dirichlet(alpha) draw per class, fixed
seed). Every round each client proves its local SGD steps from the published global model on one
of the data batches it committed to at registration, and submits the proof on-chain; the
aggregator proves FedAvg of the accepted updates and finalizes the round. The report compares the
proven global model's test accuracy with float FedAvg trained on the very same batches, plots both,
and tabulates prove time, aggregation time and gas per round. Finally `zkfl audit` replays the
whole federation in a fresh process that has only the RPC URL, the coordinator address and the
store (reports/audit/); the script exits 1 if the audit fails.

    python examples/digits.py [--rounds 10] [--clients 4] [--model logreg|mlp|FILE.py:FUNCTION]
                              [--workspace DIR] [--verification eager|optimistic]
                              [--updates private|public] [--ipfs-api URL] [--float-rounds N]

`--model examples/models/digits_cnn.py:digits_cnn` trains a small CNN, your own torch module
(docs/models.md); `make cnn-demo` runs it for 3 proven rounds with float FedAvg's curve to 50.

Updates are private by default (secure aggregation, docs/privacy.md): each client uploads only
its masked update, and the aggregator unmasks their sum alone; `--updates public` stores each
update in the clear, as before.

With `--verification optimistic` the coordinator accepts each update with its proof's commitments
and SHA-256 only, and a watchtower (`zkfl watch`, its own process and key) verifies every proof
from the store beside the federation, ready to challenge; each round is finalized after its
challenge window. The watchtower's report is reports/watchtower.jsonl.

With `--ipfs-api URL` every artifact (models, updates, proofs, the manifest and SRS, the report)
goes to that IPFS node instead of the workspace's store/, and the watchtower and the auditor read
them from there; `make demo STORE=ipfs` starts a local node (scripts/ipfs.sh) for it.

Re-running continues an interrupted run. Afterwards: `zkfl status -w DIR`, `zkfl verify -w DIR --round 0`.
The set-up, run, report, watchtower and audit are examples/_common.py's, shared with
examples/breast_cancer.py.
"""

from __future__ import annotations

from pathlib import Path

from _common import example_parser, parse_arguments, run_example, training_spec

from zkfl.circuits import Mlp, ModelFamily
from zkfl.circuits.user_models import named_model
from zkfl.data.datasets import write_digits


def main() -> None:
    parser = example_parser(__doc__, workspace=Path("runs/digits"), clients=4, batch=16, steps=1, lr=1.5)
    parser.add_argument(
        "--model", default="logreg", help="logreg, mlp, or your torch module as file.py:function (docs/models.md)"
    )
    parser.add_argument("--hidden", type=int, default=16, help="hidden units of the MLP")
    args = parse_arguments(parser)
    run_example(
        args,
        training_spec(args, digits_model(args.model, args.hidden)),
        lambda directory: write_digits(directory, args.clients, args.alpha, args.seed),
        title=f"digits, {Path(args.model.split(':')[-1]).name}, {args.clients} clients, Dirichlet alpha={args.alpha}",
    )


def digits_model(name: str, hidden: int) -> ModelFamily:
    """A built-in family over the 64 pixels and 10 digits, or a user's module (`file.py:function`)."""
    return Mlp(features=64, hidden=hidden, classes=10) if name == "mlp" else named_model(name, features=64, classes=10)


if __name__ == "__main__":
    main()
