"""The client side of zkFL in Flower: a `train` handler that does a client's round, and, for a
private federation, two query handlers for secure aggregation's other steps. `add_zk_handlers`
registers all three on a ClientApp:

    app = ClientApp()
    add_zk_handlers(app, lambda context: ClientNode.from_config({**context.run_config, **context.node_config}))

It checks the global model it was sent against the coordinator's open round, registers the
client's batch commitments on first use, proves the local step on the next committed batch usable
in the round, submits the proof with the client's own key, answers any request already open on the
round with the proof and update it holds, and replies with the update, its receipt and
`num-examples`. The reply's update is what the strategy later answers an opening of it with, should
the store lose it. In a private federation the update never leaves the node: the client submits
its masked upload, and the reply carries the receipt alone. Before that, `zk_share_keys` registers
the client (with its channel key) and shares its masking keys in the round's share window; after
the round's updates are final, `zk_reveal` stores its answer for the unmasking.
Every step is the library's (`zkfl.pipeline.participant`), so a Flower client computes bit for bit
what `zkfl run` computes, and a re-delivered message reuses the proof and submission it already made.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from flwr.app import Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from zkfl.errors import ConfigError, LinkError
from zkfl.fixedpoint import FixedArray
from zkfl.flower.records import (
    ARRAYS,
    KEYS_ACTION,
    METRICS,
    NUM_EXAMPLES,
    RECEIPT,
    REVEAL_ACTION,
    REVEALED,
    ROUND,
    SHARED,
    SITTING_OUT,
    TRAIN_SECONDS,
    WAITING,
    MaskingReply,
    SubmissionReceipt,
    model_record,
    weights_of,
)
from zkfl.pipeline.participant import (
    answer_as_client,
    prove_update,
    register_client,
    reveal_for_unmasking,
    share_keys,
    submit_update,
)
from zkfl.pipeline.round_model import open_round_model
from zkfl.pipeline.workspace import Workspace
from zkfl.protocol import checked_vector


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
        return cls(
            Path(str(config["workspace"])),
            str(config.get("client-name", data_file.stem)),
            data_file,
            int(config.get("account-index", partition)),
            None if seed is None else int(seed) + partition,
            int(config.get("batches", config.get("num-server-rounds", 10))),
            int(threads) if threads else None,
        )  # 0 or absent: ezkl's default


@dataclass(frozen=True)
class _RoundWork:
    """What a client's round produced, handed back from the child process."""

    update: FixedArray | None  # None in a private federation: the update stays on the node
    receipt: SubmissionReceipt
    sample_count: int
    prove_seconds: float


def zk_train(msg: Message, node: ClientNode) -> Message:
    """Prove and submit this node's update for the open round; reply with it and its receipt.

    The work runs in a child process (`_in_child_process`), so that this interpreter stays free
    for Flower while ezkl proves."""
    started = time.perf_counter()
    sent = weights_of(msg.content.array_records[ARRAYS], "the global model in the train message")
    work = _in_child_process(_do_round, node, sent)
    metrics = MetricRecord(
        {
            NUM_EXAMPLES: work.sample_count,
            "prove-seconds": work.prove_seconds,
            TRAIN_SECONDS: round(time.perf_counter() - started, 2),
        }
    )
    content = RecordDict({METRICS: metrics, RECEIPT: work.receipt.to_record()})
    if work.update is not None:
        content[ARRAYS] = model_record(work.update)
    return Message(content, reply_to=msg)


def add_zk_handlers(app: ClientApp, node_of: Callable[[Context], ClientNode]) -> None:
    """Register zkFL's handlers on `app`: `train` (`zk_train`), and the masking queries of a private
    federation, `query.zkfl_keys` (`zk_share_keys`) and `query.zkfl_reveal` (`zk_reveal`); `node_of`
    says who the node is from its Flower context."""

    @app.train()
    def train(msg: Message, context: Context) -> Message:
        return zk_train(msg, node_of(context))

    @app.query(KEYS_ACTION)
    def share_keys(msg: Message, context: Context) -> Message:
        return zk_share_keys(msg, node_of(context))

    @app.query(REVEAL_ACTION)
    def reveal(msg: Message, context: Context) -> Message:
        return zk_reveal(msg, node_of(context))


def zk_share_keys(msg: Message, node: ClientNode) -> Message:
    """Private federations: register the client (stake, batch commitments, channel key) on first
    use, then share its masking keys for the open round if its share window is open. Replies with a
    `MaskingReply`: shared (the bundle's CID), waiting (the window opens at `opens_at`) or sitting
    out (the client is not in the round's cohort)."""
    return Message(RecordDict({RECEIPT: _in_child_process(_share, node).to_record()}), reply_to=msg)


def zk_reveal(msg: Message, node: ClientNode) -> Message:
    """Private federations: store the client's answer for the unmasking of the round named in the
    message (its config `zkfl-round`); replies with a `MaskingReply` naming the reveal's CID."""
    config = msg.content.config_records.get("config")
    if config is None or not isinstance(config.get(ROUND), int):
        raise ConfigError(f"a {msg.metadata.message_type} message needs the round as {ROUND!r} in its config")
    round_no = int(config[ROUND])  # type: ignore[arg-type]
    return Message(RecordDict({RECEIPT: _in_child_process(_reveal, node, round_no).to_record()}), reply_to=msg)


def _share(node: ClientNode) -> MaskingReply:
    ws = Workspace.open(node.workspace)
    registered = register_client(ws, node.name, node.data_file, node.batches, node.seed, node.account_index)
    coordinator = ws.coordinator()
    round_no = coordinator.current_round
    opens_at, _ = coordinator.share_window(round_no)
    if ws.chain.w3.eth.block_number < opens_at:
        return MaskingReply(node.name, registered.address, round_no, WAITING, opens_at=opens_at)
    shared = share_keys(ws, node.name)
    if shared.bundle_cid is None:
        return MaskingReply(node.name, registered.address, round_no, SITTING_OUT)
    return MaskingReply(node.name, registered.address, round_no, SHARED, shared.bundle_cid)


def _reveal(node: ClientNode, round_no: int) -> MaskingReply:
    ws = Workspace.open(node.workspace)
    revealed = reveal_for_unmasking(ws, node.name, round_no)
    address = ws.signer("client", node.account_index).address
    return MaskingReply(node.name, address, round_no, REVEALED, revealed.reveal_cid)


def _do_round(node: ClientNode, sent: FixedArray) -> _RoundWork:
    """The client's round, with the library's steps: register on first use, check the sent model
    against the chain's, prove, submit, and read back the update the proof committed to."""
    if node.prover_threads:  # read by ezkl's thread pool when it first starts in this process
        os.environ["RAYON_NUM_THREADS"] = str(node.prover_threads)
    ws = Workspace.open(node.workspace)
    register_client(ws, node.name, node.data_file, node.batches, node.seed, node.account_index)
    model = open_round_model(ws, ws.coordinator())
    if ws.circuits.commitments.commitment_hash(sent) != model.model_hash:
        raise LinkError(
            f"the server sent {node.name!r} a global model that is not round {model.round}'s on-chain "
            f"model (commitment {model.model_hash:#x}); refusing to train on it"
        )
    proved = prove_update(ws, node.name)
    submitted = submit_update(ws, node.name)
    answer_as_client(ws, node.name, proved.round)  # requests already open; the strategy answers later ones
    record = ws.read_record(ws.client_round_path(node.name, proved.round)) or {}
    update = None
    if not ws.config.terms.private:
        update = checked_vector(
            ws.circuits.commitments,
            ws.store,
            proved.update_cid,
            int(proved.update_hash, 16),
            f"client {node.name!r}'s update for round {proved.round}",
        )
    receipt = SubmissionReceipt(
        node.name,
        ws.signer("client", node.account_index).address,
        proved.round,
        int(submitted.update_hash, 16),
        submitted.update_cid,
        record.get("submit_tx", ""),
    )
    return _RoundWork(update, receipt, ws.config.training.sample_count, proved.prove_seconds)


_Result = TypeVar("_Result")


def _in_child_process(work: Callable[..., _Result], *args: Any) -> _Result:
    """Run `work(*args)` in a child process and return its result (or raise its error).

    ezkl holds Python's GIL while it proves. In the ClientApp's own process, a proof longer than
    Flower's task heartbeat patience (2 x 30 s) starves the heartbeat thread, and the SuperNode
    stops the task ("ClientApp stopped responding") although the proof is fine. The child is forked
    from a forkserver (started once per process), which has imported zkFL but never started ezkl's
    or torch's thread pools: forking a process that has started them is unsafe."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(work, *args).result()
