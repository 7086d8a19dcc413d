"""The server side of zkFL in Flower: `ZkFedAvg`, a strategy that wraps Flower's FedAvg the way
Flower's differential-privacy wrappers wrap a strategy, and makes its aggregation proven.

    strategy = ZkFedAvg(workspace, FedAvg(fraction_train=1.0, min_available_nodes=4))
    result = strategy.start(grid, initial_arrays=strategy.initial_arrays(), num_rounds=strategy.rounds_left(10))

Sampling, configuration, evaluation and metric aggregation stay the wrapped strategy's. The model
does not: `aggregate_train` believes no reply until the chain and the store back it (its update was
accepted on-chain for this round and is the vector the chain committed to), proves FedAvg of the
round's accepted updates with the library's aggregator, finalizes the round on-chain and returns
the proven global model. Every reply it drops is logged with its reason and counted in the round's
metrics (`dropped-<reason>`).

The chain, not the replies, decides what is averaged: the coordinator finalizes a round only with
exactly its accepted updates. So an update the chain accepted is aggregated even when its reply was
lost or dropped (it is fetched from the store), and a reply the chain never accepted changes nothing.
While it waits to finalize, the strategy answers the round's open requests (`zkfl.roles.responder`) from
the store and from the updates the clients replied with.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from logging import INFO, WARNING
from pathlib import Path

from flwr.app import ArrayRecord, ConfigRecord, Message, MetricRecord
from flwr.common import log
from flwr.serverapp import Grid
from flwr.serverapp.strategy import FedAvg, Strategy

from zkfl.chain.coordinator import Coordinator
from zkfl.errors import ZkflError
from zkfl.flower.records import ARRAYS, METRICS, TRAIN_SECONDS, SubmissionReceipt, model_record, weights_of
from zkfl.pipeline.aggregation import aggregate_round, wait_until_finalizable
from zkfl.pipeline.devnet_clock import driving_clock
from zkfl.pipeline.round_model import open_round_model, round_model
from zkfl.pipeline.workspace import Workspace
from zkfl.protocol import checked_vector
from zkfl.roles.responder import Held

SERVER_NODE_ID = 1  # the SuperLink's own node id: errors it makes for unreachable nodes carry it


@dataclass(frozen=True)
class DroppedReply:
    node_id: int
    reason: str  # a short key, counted in the metrics as dropped-<reason>
    detail: str


class ZkFedAvg(Strategy):
    """FedAvg whose every round is a proven, on-chain-finalized zkFL round."""

    def __init__(self, workspace: Workspace | str | Path, strategy: Strategy | None = None) -> None:
        super().__init__()
        self.ws = workspace if isinstance(workspace, Workspace) else Workspace.open(workspace)
        self.strategy = strategy or FedAvg()
        self.dropped: dict[int, list[DroppedReply]] = {}  # by Flower server round
        self._sent: list[Message] = []
        self._round_started: float | None = None  # when this round's train messages were configured

    def initial_arrays(self) -> ArrayRecord:
        """The open round's on-chain model: genesis for a new federation, where it stopped for a resumed one."""
        return model_record(open_round_model(self.ws, self.ws.coordinator()).weights)

    def rounds_left(self, total: int) -> int:
        return max(total - self.ws.coordinator().current_round, 0)

    def summary(self) -> None:
        log(
            INFO,
            "\t├──> ZkFedAvg: proven FedAvg, finalized on-chain by coordinator %s (%d slots)",
            self.ws.deployment()["coordinator"],
            self.ws.config.slots,
        )
        self.strategy.summary()

    def configure_train(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        self._round_started = time.perf_counter()
        self._sent = list(self.strategy.configure_train(server_round, arrays, config, grid))
        return self._sent  # pushing them sets their message ids, which replies refer to

    def aggregate_train(
        self, server_round: int, replies: Iterable[Message]
    ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        aggregate_started = time.perf_counter()
        replies = list(replies)
        coordinator = self.ws.coordinator()
        round_no = coordinator.current_round
        kept, dropped = self.screen(coordinator, round_no, replies)
        self.dropped[server_round] = dropped
        for d in dropped:
            log(
                WARNING,
                "ZkFedAvg round %d: dropped the reply of node %d (%s): %s",
                round_no,
                d.node_id,
                d.reason,
                d.detail,
            )
        state = coordinator.round(round_no)
        if state.accepted == 0:
            log(WARNING, "ZkFedAvg round %d: no update was accepted on-chain; the round stays open", round_no)
            return None, MetricRecord({"accepted": 0, "replies-kept": 0, **_counts(dropped)})
        if state.accepted < coordinator.registered_clients:
            log(
                INFO,
                "ZkFedAvg round %d: %d of %d clients submitted; finalizing after the deadline (block %d)",
                round_no,
                state.accepted,
                coordinator.registered_clients,
                state.deadline,
            )
        if self.ws.config.terms.optimistic:
            log(INFO, "ZkFedAvg round %d: finalizing after the challenge window", round_no)
        closed = wait_until_finalizable(  # on the workspace's devnet, the strategy makes the blocks
            self.ws, round_no, held=_replied_updates(replies), clock=driving_clock(self.ws)
        )
        if closed.closed:
            log(WARNING, "ZkFedAvg round %d was closed while waiting (skipped: %s)", round_no, closed.skipped)
            return None, MetricRecord({"accepted": 0, "replies-kept": len(kept), **_counts(dropped)})
        outcome = aggregate_round(self.ws)
        if outcome.skipped:
            log(WARNING, "ZkFedAvg round %d: every update left the round; skipped it", round_no)
        proven = round_model(self.ws.circuits.commitments, self.ws.store, coordinator, round_no + 1)
        _, inner = self.strategy.aggregate_train(server_round, kept) if kept else (None, None)
        metrics = MetricRecord(
            {
                **(dict(inner) if inner else {}),
                "zkfl-round": round_no,
                "accepted": outcome.accepted,
                "replies-kept": len(kept),
                **_counts(dropped),
                "aggregate-prove-seconds": outcome.prove_seconds,
                "finalize-gas": outcome.gas_used or 0,
                **_timings(kept, aggregate_started, self._round_started),
            }
        )
        log(
            INFO,
            "ZkFedAvg round %d: proven FedAvg of %d accepted updates, finalized; next model %s",
            round_no,
            outcome.accepted,
            outcome.next_model_cid,
        )
        return model_record(proven.weights), metrics

    def screen(
        self, coordinator: Coordinator, round_no: int, replies: list[Message]
    ) -> tuple[list[Message], list[DroppedReply]]:
        """The replies the chain and the store back, and the others with why they were dropped."""
        kept: list[Message] = []
        dropped: list[DroppedReply] = []
        seen: set[str] = set()
        for reply in replies:
            node = self._node_of(reply)
            if reply.has_error():
                dropped.append(DroppedReply(node, "error", f"the client app failed: {reply.error.reason}"[:500]))
                continue
            try:
                receipt = SubmissionReceipt.from_content(reply.content)
                problem = self._problem(coordinator, round_no, receipt, reply, seen)
            except ZkflError as exc:
                problem = ("malformed", str(exc))
            if problem is None:
                seen.add(receipt.address.lower())
                kept.append(reply)
            else:
                dropped.append(DroppedReply(node, *problem))
        return kept, dropped

    def _problem(
        self, coordinator: Coordinator, round_no: int, receipt: SubmissionReceipt, reply: Message, seen: set[str]
    ) -> tuple[str, str] | None:
        who = f"client {receipt.client!r} ({receipt.address})"
        if receipt.round != round_no:
            return "stale", f"{who} replied for round {receipt.round}; the open round is {round_no}"
        if receipt.address.lower() in seen:
            return "duplicate", f"a second reply for {who} in this round"
        client = coordinator.client(receipt.address)
        accepted = coordinator.accepted_update_hash(round_no, client.slot) if client.registered else 0
        if not client.registered or accepted != receipt.update_hash:
            return "not-accepted", (
                f"{who}'s update {receipt.update_hash:#x} is not the one the chain accepted "
                f"for round {round_no} ({accepted:#x})"
            )
        key = self.ws.circuits.commitments
        update = weights_of(reply.content.array_records[ARRAYS], f"{who}'s update")
        if key.commitment_hash(update) != receipt.update_hash:
            return "mismatch", f"{who}'s reply carries an update that does not match its commitment"
        try:
            checked_vector(key, self.ws.store, receipt.update_cid, receipt.update_hash, f"{who}'s stored update")
        except ZkflError as exc:
            return "store", str(exc)
        return None

    def _node_of(self, reply: Message) -> int:
        """The node a reply answers for; the SuperLink's own errors name it only by the message replied to."""
        if reply.metadata.src_node_id != SERVER_NODE_ID:
            return reply.metadata.src_node_id
        sent = {m.metadata.message_id: m.metadata.dst_node_id for m in self._sent}
        return sent.get(reply.metadata.reply_to_message_id, SERVER_NODE_ID)

    def configure_evaluate(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        return self.strategy.configure_evaluate(server_round, arrays, config, grid)

    def aggregate_evaluate(self, server_round: int, replies: Iterable[Message]) -> MetricRecord | None:
        return self.strategy.aggregate_evaluate(server_round, replies)


def _replied_updates(replies: list[Message]) -> Held:
    """The updates clients replied with, which the aggregator answers openings of their updates with
    if the store lost them (the responder sends only one whose commitment the round holds)."""
    vectors = []
    for reply in replies:
        try:
            if not reply.has_error() and ARRAYS in reply.content.array_records:
                vectors.append(weights_of(reply.content.array_records[ARRAYS], "a replied update"))
        except ZkflError:
            continue
    return Held(vectors=tuple(vectors))


def _timings(kept: list[Message], aggregate_started: float, round_started: float | None) -> dict[str, float]:
    """Wall times of the round: the whole round (train messages sent to model finalized), the
    strategy's aggregation, and the kept clients' train handlers (their longest and their sum)."""
    now = time.perf_counter()
    clients = [
        float(seconds)
        for r in kept
        if METRICS in r.content.metric_records
        and isinstance(seconds := r.content.metric_records[METRICS].get(TRAIN_SECONDS), int | float)
    ]
    timings = {
        "aggregate-seconds": round(now - aggregate_started, 2),
        "client-seconds-max": max(clients, default=0.0),
        "client-seconds-sum": round(sum(clients), 2),
    }
    if round_started is not None:
        timings["round-seconds"] = round(now - round_started, 2)
    return timings


def _counts(dropped: list[DroppedReply]) -> dict[str, int]:
    return {f"dropped-{reason}": n for reason, n in Counter(d.reason for d in dropped).items()} | {
        "replies-dropped": len(dropped)
    }
