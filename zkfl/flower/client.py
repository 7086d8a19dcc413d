"""The client side of zkFL in Flower: one `train` handler that does a client's round.

    app = ClientApp()

    @app.train()
    def train(msg: Message, context: Context) -> Message:
        return zk_train(msg, ClientNode.from_config({**context.run_config, **context.node_config}))

It checks the global model it was sent against the coordinator's open round, registers the
client's batch commitments on first use, proves the local step on the next committed batch, submits
the proof with the client's own key and replies with the update, its receipt and `num-examples`.
Every step is the library's (`zkfl.pipeline.participant`), so a Flower client computes bit for bit
what `zkfl run` computes, and a re-delivered message reuses the proof and submission it already made.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flwr.app import Message, MetricRecord, RecordDict

from zkfl.errors import ConfigError, LinkError
from zkfl.flower.records import ARRAYS, METRICS, NUM_EXAMPLES, RECEIPT, SubmissionReceipt, model_record, weights_of
from zkfl.pipeline.participant import prove_update, register_client, submit_update
from zkfl.pipeline.rounds import open_round_model
from zkfl.protocol import checked_vector
from zkfl.workspace import Workspace


@dataclass(frozen=True)
class ClientNode:
    """Who this node is in the federation and where its private state lives."""

    workspace: Path
    name: str
    data_file: Path
    account_index: int
    seed: int | None = None
    batches: int = 10
    prover_threads: int | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ClientNode:
        """From Flower's run config overlaid with the node config. Keys: `workspace`; `partition-id`
        (Flower's simulation sets it; a SuperNode gets it with `--node-config`); the data as
        `data-file`, or `data-dir` holding `client-<partition-id>.npz`; optional `client-name`
        (default the data file's stem, as `zkfl run` names clients), `account-index` (default the
        partition id), `seed` (each node uses seed + partition id, as `zkfl run` does), `batches`
        (default `num-server-rounds`) and `prover-threads`."""
        missing = [k for k in ("workspace", "partition-id") if k not in config]
        if missing:
            raise ConfigError(f"the zkFL client app needs {missing} in its run or node config")
        partition = int(config["partition-id"])
        if "data-file" in config:
            data_file = Path(str(config["data-file"]))
        elif "data-dir" in config:
            data_file = Path(str(config["data-dir"])) / f"client-{partition}.npz"
        else:
            raise ConfigError("the zkFL client app needs `data-file` or `data-dir` in its run or node config")
        seed = config.get("seed")
        threads = config.get("prover-threads")
        return cls(Path(str(config["workspace"])), str(config.get("client-name", data_file.stem)), data_file,
                   int(config.get("account-index", partition)), None if seed is None else int(seed) + partition,
                   int(config.get("batches", config.get("num-server-rounds", 10))),
                   int(threads) if threads else None)  # 0 or absent: ezkl's default


def zk_train(msg: Message, node: ClientNode) -> Message:
    """Prove and submit this node's update for the open round; reply with it and its receipt."""
    if node.prover_threads:  # read by ezkl's thread pool when it first starts in this process
        os.environ.setdefault("RAYON_NUM_THREADS", str(node.prover_threads))
    ws = Workspace.open(node.workspace)
    register_client(ws, node.name, node.data_file, node.batches, node.seed, node.account_index)
    model = open_round_model(ws, ws.coordinator())
    sent = weights_of(msg.content.array_records[ARRAYS], "the global model in the train message")
    if ws.circuits.commitments.commit(sent) != model.model_hash:
        raise LinkError(f"the server sent {node.name!r} a global model that is not round {model.round}'s on-chain "
                        f"model (commitment {model.model_hash:#x}); refusing to train on it")
    proved = prove_update(ws, node.name)
    submitted = submit_update(ws, node.name)
    record = ws.read_record(ws.client_dir(node.name) / "rounds" / f"{proved.round}.json") or {}
    update = checked_vector(ws.circuits.commitments, ws.store, proved.update_cid, int(proved.update_hash, 16),
                            f"client {node.name!r}'s update for round {proved.round}")
    receipt = SubmissionReceipt(node.name, ws.signer("client", node.account_index).address, proved.round,
                                int(submitted.update_hash, 16), submitted.update_cid, record.get("submit_tx", ""))
    metrics = MetricRecord({NUM_EXAMPLES: ws.config.training.sample_count, "prove-seconds": proved.prove_seconds})
    return Message(RecordDict({ARRAYS: model_record(update), METRICS: metrics, RECEIPT: receipt.to_record()}),
                   reply_to=msg)
