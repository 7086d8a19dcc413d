"""The server: sets the federation up (workspace, devnet, circuits, contracts: what `make demo`
does), then runs Flower's FedAvg wrapped in zkFL's ZkFedAvg, which proves every aggregation and
finalizes every round on-chain. Accuracy on the held-out digits is Flower's server-side evaluation."""

from __future__ import annotations

import json
from logging import INFO
from pathlib import Path

from flwr.app import ArrayRecord, Context, MetricRecord
from flwr.common import log
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import FedAvg

from zkfl.atomic import write_atomic
from zkfl.circuits import TrainingStepSpec
from zkfl.circuits.user_models import named_model
from zkfl.data.batches import load_dataset
from zkfl.data.datasets import write_digits
from zkfl.data.evaluation import accuracy
from zkfl.errors import ConfigError
from zkfl.federation.terms import PRIVATE, FederationTerms
from zkfl.fixedpoint import dequantize
from zkfl.flower import ZkFedAvg, weights_of
from zkfl.pipeline import setup_federation
from zkfl.pipeline.workspace import Workspace, WorkspaceConfig

app = ServerApp()


def prepare_federation(config: dict) -> tuple[Workspace, Path]:
    """The federation `make demo` sets up, from the run config: workspace, data split, circuits, keys,
    verifiers, coordinator (each reused when done). Returns the workspace and the test set."""
    if not config.get("workspace"):
        raise ConfigError(
            "set the run config's `workspace` to an absolute path, e.g. "
            "flwr run . --run-config \"workspace='/abs/runs/flower-digits'\""
        )
    spec = TrainingStepSpec(
        named_model(str(config.get("model", "logreg")), features=64, classes=10),
        int(config["batch-size"]),
        int(config["local-steps"]),
        float(config["learning-rate"]),
    )
    terms = FederationTerms(updates=str(config.get("updates", PRIVATE)))
    ws, _ = Workspace.init(
        Path(str(config["workspace"])), WorkspaceConfig(spec, slots=int(config["clients"]), terms=terms)
    )
    _, test_file = write_digits(ws.root / "data", int(config["clients"]), float(config["alpha"]), int(config["seed"]))
    setup_federation(ws, progress=lambda step: log(INFO, "zkFL: %s", step))
    return ws, test_file


@app.main()
def main(grid: Grid, context: Context) -> None:
    config = context.run_config
    ws, test_file = prepare_federation(dict(config))
    clients, rounds = int(config["clients"]), int(config["num-server-rounds"])
    spec = ws.config.training
    x_test, y_test = load_dataset(test_file, spec)

    def evaluate(server_round: int, arrays: ArrayRecord) -> MetricRecord:
        weights = dequantize(weights_of(arrays, "the global model"))
        return MetricRecord({"accuracy": accuracy(spec, weights, x_test, y_test)})

    strategy = ZkFedAvg(
        ws, FedAvg(fraction_train=1.0, fraction_evaluate=0.0, min_train_nodes=clients, min_available_nodes=clients)
    )
    result = strategy.start(
        grid=grid,
        initial_arrays=strategy.initial_arrays(),
        num_rounds=strategy.rounds_left(rounds),
        timeout=float(config["round-timeout"]),
        evaluate_fn=evaluate,
    )
    summary = {
        "rounds": ws.coordinator().current_round,
        "accuracy": {r: m["accuracy"] for r, m in result.evaluate_metrics_serverapp.items()},
        "train_metrics": {r: dict(m) for r, m in result.train_metrics_clientapp.items()},
        "dropped": {r: [d.__dict__ for d in ds] for r, ds in strategy.dropped.items() if ds},
    }
    write_atomic(ws.reports_dir / "flower.json", json.dumps(summary, indent=2, default=str))
    log(INFO, "zkFL: %d rounds finalized; summary in %s", summary["rounds"], ws.reports_dir / "flower.json")
