"""The client: zkFL's train handler (prove the local step, submit it on-chain, reply with its
receipt, and the update too in a public federation), its two secure-aggregation handlers (share
the round's masking keys; reveal for the unmasking), and Flower's evaluation on the node's own data."""

from __future__ import annotations

from pathlib import Path

from flwr.app import Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from zkfl.data.batches import load_dataset
from zkfl.data.evaluation import accuracy
from zkfl.fixedpoint import dequantize
from zkfl.flower import ClientNode, add_zk_handlers, weights_of
from zkfl.pipeline.workspace import Workspace

app = ClientApp()


def _node(context: Context) -> ClientNode:
    config = {**context.run_config, **context.node_config}
    if not config.get("data-dir"):
        config["data-dir"] = str(Path(str(config["workspace"])) / "data")
    return ClientNode.from_config(config)


add_zk_handlers(app, _node)  # train; and a private federation's masking queries (keys, reveal)


@app.evaluate()
def evaluate(msg: Message, context: Context) -> Message:
    node = _node(context)
    spec = Workspace.open(node.workspace).config.training
    x, y = load_dataset(node.data_file, spec)
    weights = dequantize(weights_of(msg.content.array_records["arrays"], "the model to evaluate"))
    metrics = MetricRecord({"num-examples": len(y), "accuracy": accuracy(spec, weights, x, y)})
    return Message(RecordDict({"metrics": metrics}), reply_to=msg)
