"""zkFL inside Flower with public updates, with real proofs on a real anvil: `ZkFedAvg.aggregate_train`
on real `zk_train` replies drops a tampered one and a failed one and still finalizes, and finalizes
without a client that never answered, after the deadline; a client refuses a global model that is
not the open round's. The Flower simulation engine (Ray) itself, against `zkfl run` bit for bit,
is test_flower_private.py's: private updates are the default, and its three exchanges per round
cover the Message-API transport that public rounds use one of."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import LOGREG, PUBLIC_TERMS
from flwr.app import ArrayRecord, ConfigRecord, Error, Message, MessageType, RecordDict
from flwr.supercore.task_identity import TaskIdentity
from helpers import use_session_cache, write_data

from zkfl.errors import ConfigError, LinkError
from zkfl.fedavg import fixed_point_fedavg, update_sum
from zkfl.flower import (
    ClientNode,
    MaskingReply,
    SubmissionReceipt,
    ZkFedAvg,
    model_record,
    weights_of,
    zk_reveal,
    zk_train,
)
from zkfl.pipeline import setup_federation
from zkfl.pipeline.workspace import Workspace, WorkspaceConfig

pytestmark = pytest.mark.prover
CLIENTS, ROUNDS, SEED = 2, 2, 11


@dataclass(frozen=True)
class FlowerRun:
    flower: Workspace
    data_dir: Path


def _workspace(root: Path, cache_dir: Path) -> Workspace:
    ws, _ = Workspace.init(root, WorkspaceConfig(LOGREG, slots=CLIENTS, terms=PUBLIC_TERMS))
    use_session_cache(root, cache_dir)
    return ws


def _node(workspace: Path, data_dir: Path, node_config: dict[str, Any]) -> ClientNode:
    return ClientNode.from_config(
        {
            "workspace": str(workspace),
            "data-dir": str(data_dir),
            "seed": SEED,
            "batches": ROUNDS + 2,
            "prover-threads": 1,
            **node_config,
        }
    )


@pytest.fixture(scope="module")
def flower_run(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path, logreg_circuits) -> Iterator[FlowerRun]:
    root = tmp_path_factory.mktemp("flower")
    data_dir = root / "data"
    data_dir.mkdir()
    for i in range(CLIENTS):
        write_data(data_dir / f"client-{i}.npz", 20 + i)
    flower = _workspace(root / "flower", cache_dir)
    try:
        setup_federation(flower)
        yield FlowerRun(flower, data_dir)
    finally:
        flower.stop_devnet()


def _instruction(strategy: ZkFedAvg, node_id: int) -> Message:
    TaskIdentity.run_id, TaskIdentity.node_id, TaskIdentity.task_id = 1, 1, 1  # messages outside a running app
    return Message(
        RecordDict({"arrays": strategy.initial_arrays(), "config": ConfigRecord({})}),
        dst_node_id=node_id,
        message_type=MessageType.TRAIN,
    )


def test_a_tampered_reply_and_a_failed_client_are_dropped_and_the_round_still_finalizes(flower_run: FlowerRun) -> None:
    ws = flower_run.flower
    strategy = ZkFedAvg(ws)
    round_no = ws.coordinator().current_round
    replies = [
        zk_train(_instruction(strategy, 10 + i), _node(ws.root, flower_run.data_dir, {"partition-id": i}))
        for i in range(CLIENTS)
    ]
    honest = [weights_of(r.content.array_records["arrays"], "update") for r in replies]
    forged = honest[1].copy()
    forged[0] += 1
    replies[1].content["arrays"] = model_record(forged)
    failed = Message(
        Error(code=2, reason="RuntimeError: prover ran out of memory"), reply_to=_instruction(strategy, 99)
    )
    arrays, metrics = strategy.aggregate_train(7, [replies[0], replies[1], failed])
    assert metrics["replies-kept"] == 1 and metrics["dropped-mismatch"] == 1 and metrics["dropped-error"] == 1
    assert {(d.node_id, d.reason) for d in strategy.dropped[7]} == {
        (replies[1].metadata.src_node_id, "mismatch"),
        (99, "error"),
    }
    # the chain accepted both updates, so both are averaged: the forged bytes never enter the model
    expected = fixed_point_fedavg(update_sum(honest))
    assert ws.coordinator().current_round == round_no + 1
    np.testing.assert_array_equal(weights_of(arrays, "next model"), expected)


def test_a_client_that_never_answers_is_left_out_after_the_deadline(flower_run: FlowerRun) -> None:
    ws = flower_run.flower
    strategy = ZkFedAvg(ws)
    round_no = ws.coordinator().current_round
    with _ticker() as gaps:  # Flower's heartbeat threads must keep running while the client proves
        reply = zk_train(_instruction(strategy, 10), _node(ws.root, flower_run.data_dir, {"partition-id": 0}))
    prove_seconds = float(reply.content.metric_records["metrics"]["prove-seconds"])
    longest_gap = max(gaps, default=0.0)
    assert longest_gap < prove_seconds / 2, (longest_gap, prove_seconds)  # ezkl holds the GIL: it proves in a child
    deadline = ws.coordinator().round(round_no).deadline
    arrays, metrics = strategy.aggregate_train(8, [reply])
    assert metrics["accepted"] == 1 and metrics["replies-dropped"] == 0
    assert ws.chain.w3.eth.block_number > deadline
    assert ws.coordinator().current_round == round_no + 1
    update = weights_of(reply.content.array_records["arrays"], "update")
    np.testing.assert_array_equal(weights_of(arrays, "next model"), fixed_point_fedavg(update_sum([update])))


@contextmanager
def _ticker(period: float = 0.01) -> Iterator[list[float]]:
    """The gaps between the ticks of a thread that wakes every `period` seconds, while the block runs."""
    gaps: list[float] = []
    done = threading.Event()

    def tick() -> None:
        last = time.perf_counter()
        while not done.wait(period):
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    thread = threading.Thread(target=tick, daemon=True)
    thread.start()
    try:
        yield gaps
    finally:
        done.set()
        thread.join()


def test_a_client_refuses_a_global_model_that_is_not_the_open_rounds(flower_run: FlowerRun) -> None:
    ws = flower_run.flower
    strategy = ZkFedAvg(ws)
    instruction = _instruction(strategy, 10)
    wrong = weights_of(strategy.initial_arrays(), "model").copy()
    wrong[-1] += 1
    instruction.content["arrays"] = ArrayRecord([wrong])
    with pytest.raises(LinkError, match=r"not round \d+'s on-chain model"):
        zk_train(instruction, _node(ws.root, flower_run.data_dir, {"partition-id": 1}))


def test_a_client_node_without_a_workspace_or_data_is_refused_with_what_to_set() -> None:
    with pytest.raises(ConfigError, match=r"needs \['workspace'\]"):
        ClientNode.from_config({"partition-id": 0, "data-dir": "/data"})
    with pytest.raises(ConfigError, match="`data-file` or `data-dir`"):
        ClientNode.from_config({"partition-id": 0, "workspace": "/ws"})
    node = ClientNode.from_config(
        {"partition-id": 3, "workspace": "/ws", "data-dir": "/data", "seed": 10, "num-server-rounds": 7}
    )
    assert (node.name, node.data_file, node.account_index, node.seed, node.batches) == (
        "client-3",
        Path("/data/client-3.npz"),
        3,
        13,
        7,
    )


def test_a_model_record_that_is_not_one_int64_vector_is_refused() -> None:
    with pytest.raises(ConfigError, match="one int64 vector"):
        weights_of(ArrayRecord([np.zeros(4, dtype=np.float32)]), "the global model")
    with pytest.raises(ConfigError, match="one int64 vector"):
        weights_of(ArrayRecord([np.zeros(4, dtype=np.int64), np.zeros(2, dtype=np.int64)]), "the global model")
    vector = np.array([-(2**40), 0, 7], dtype=np.int64)
    np.testing.assert_array_equal(weights_of(model_record(vector), "the global model"), vector)


def test_a_reply_without_a_well_formed_receipt_is_refused() -> None:
    with pytest.raises(ConfigError, match="no 'zkfl' receipt"):
        SubmissionReceipt.from_content(RecordDict({}))
    with pytest.raises(ConfigError, match="malformed"):
        SubmissionReceipt.from_content(RecordDict({"zkfl": ConfigRecord({"client": "a", "round": 1})}))


def test_a_masking_reply_or_query_that_is_not_well_formed_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match="no 'zkfl' record"):
        MaskingReply.from_content(RecordDict({}))
    with pytest.raises(ConfigError, match="malformed"):
        MaskingReply.from_content(RecordDict({"zkfl": ConfigRecord({"client": "a", "round": 1})}))
    fields = {"client": "a", "address": "0x" + "11" * 20, "round": 1, "cid": ""}
    with pytest.raises(ConfigError, match="masking status 'done' is not one zkFL knows"):
        MaskingReply.from_content(RecordDict({"zkfl": ConfigRecord({**fields, "status": "done"})}))
    TaskIdentity.run_id, TaskIdentity.node_id, TaskIdentity.task_id = 1, 1, 1
    query = Message(RecordDict({"config": ConfigRecord({})}), dst_node_id=5, message_type="query.zkfl_reveal")
    node = ClientNode(Path("/nonexistent"), "client-0", Path("/nonexistent/client-0.npz"), 0)
    with pytest.raises(ConfigError, match="needs the round as 'zkfl-round' in its config"):
        zk_reveal(query, node)  # refused before any workspace is opened
