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

In a private federation (secure aggregation, `zkfl.privacy`) no update reaches the server. Each
round then runs three exchanges with the sampled nodes: `configure_train` first asks them to
share their masking keys (`query.zkfl_keys`; round 0's first ask also registers them, and they are
asked again once the share window opens) and lets the share window pass; only the nodes that
shared are sent the train message, and each replies with its receipt alone. Once the round's
updates are final, `aggregate_train` asks the same nodes for their reveals (`query.zkfl_reveal`),
unmasks the sum from them, and proves FedAvg of it; when the masking checks exclude a client, it
asks for reveals again, for the remaining sum.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from logging import INFO, WARNING
from pathlib import Path

from flwr.app import ArrayRecord, ConfigRecord, Message, MessageType, MetricRecord, RecordDict
from flwr.common import log
from flwr.serverapp import Grid
from flwr.serverapp.strategy import FedAvg, Result, Strategy

from zkfl.chain.coordinator import Coordinator
from zkfl.errors import MaskingError, RevealAgain, ZkflError
from zkfl.flower.records import (
    ARRAYS,
    KEYS_ACTION,
    METRICS,
    NUM_EXAMPLES,
    REVEAL_ACTION,
    REVEALED,
    ROUND,
    SHARED,
    TRAIN_SECONDS,
    WAITING,
    MaskingReply,
    SubmissionReceipt,
    model_record,
    weights_of,
)
from zkfl.pipeline.aggregation import (
    AggregateOutcome,
    aggregate_round,
    finalizable_after,
    skip_empty_round,
    wait_until_finalizable,
)
from zkfl.pipeline.blocks import reach_block
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
        self._grid: Grid | None = None  # a private round's masking exchanges need it after configure_train
        self._timeout: float | None = None  # start()'s reply timeout, for those exchanges too
        self._masking_nodes: list[int] = []  # the nodes that shared keys in this round (private)

    def start(
        self,
        grid: Grid,
        initial_arrays: ArrayRecord,
        num_rounds: int = 3,
        timeout: float = 3600,
        train_config: ConfigRecord | None = None,
        evaluate_config: ConfigRecord | None = None,
        evaluate_fn: Callable[[int, ArrayRecord], MetricRecord | None] | None = None,
    ) -> Result:
        self._timeout = timeout
        return super().start(grid, initial_arrays, num_rounds, timeout, train_config, evaluate_config, evaluate_fn)

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
        self._grid = grid
        messages = list(self.strategy.configure_train(server_round, arrays, config, grid))
        if self.ws.config.terms.private:  # masking keys first; only the nodes that shared train
            shared = self._share_keys(server_round, grid, [m.metadata.dst_node_id for m in messages])
            self._masking_nodes = shared
            messages = [m for m in messages if m.metadata.dst_node_id in shared]
        self._sent = messages
        return self._sent  # pushing them sets their message ids, which replies refer to

    def _share_keys(self, server_round: int, grid: Grid, nodes: list[int]) -> list[int]:
        """Ask the nodes to share their masking keys for the open round (again, once its share window
        opens, those that enrolled before it did), then let the window pass; the nodes that shared."""
        coordinator = self.ws.coordinator()
        round_no = coordinator.current_round
        shared: list[int] = []
        asking = nodes
        for _ in range(2):
            waiting: dict[int, int] = {}
            for node, reply in self._ask(server_round, grid, KEYS_ACTION, asking, round_no):
                if reply.status == SHARED:
                    shared.append(node)
                elif reply.status == WAITING:
                    waiting[node] = reply.opens_at
                else:
                    log(INFO, "ZkFedAvg round %d: %s sits it out (%s)", round_no, reply.client, reply.status)
            if not waiting:
                break
            reach_block(self.ws, max(waiting.values()))  # on the workspace's devnet, the strategy makes the blocks
            asking = sorted(waiting)
        _, closes = coordinator.share_window(round_no)
        log(
            INFO,
            "ZkFedAvg round %d: %d node(s) shared masking keys; training after block %d",
            round_no,
            len(shared),
            closes,
        )
        reach_block(self.ws, closes + 1)  # masked submissions open once every key is known
        return sorted(shared)

    def _ask(
        self, server_round: int, grid: Grid, action: str, nodes: list[int], round_no: int
    ) -> list[tuple[int, MaskingReply]]:
        """One masking exchange: the nodes' well-formed replies for this round; the others are logged
        and dropped (counted in the round's metrics)."""
        sent = [
            Message(
                RecordDict({"config": ConfigRecord({ROUND: round_no})}),
                dst_node_id=node,
                message_type=f"{MessageType.QUERY}.{action}",
            )
            for node in nodes
        ]
        answers: list[tuple[int, MaskingReply]] = []
        for reply in grid.send_and_receive(sent, timeout=self._timeout):
            node = self._node_of(reply, sent)
            if reply.has_error():
                self._drop(server_round, DroppedReply(node, f"{action}-error", (reply.error.reason or "")[:500]))
                continue
            try:
                answer = MaskingReply.from_content(reply.content)
            except ZkflError as exc:
                self._drop(server_round, DroppedReply(node, f"{action}-malformed", str(exc)))
                continue
            if answer.round != round_no or (answer.cid and not self.ws.store.has(answer.cid)):
                detail = f"{answer.client} answered for round {answer.round} with {answer.cid or 'nothing'} stored"
                self._drop(server_round, DroppedReply(node, f"{action}-unbacked", detail))
                continue
            answers.append((node, answer))
        return answers

    def _drop(self, server_round: int, dropped: DroppedReply) -> None:
        log(WARNING, "ZkFedAvg: dropped the reply of node %d (%s): %s", dropped.node_id, dropped.reason, dropped.detail)
        self.dropped.setdefault(server_round, []).append(dropped)

    def aggregate_train(
        self, server_round: int, replies: Iterable[Message]
    ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        aggregate_started = time.perf_counter()
        replies = list(replies)
        coordinator = self.ws.coordinator()
        round_no = coordinator.current_round
        kept, dropped = self.screen(coordinator, round_no, replies)
        self.dropped[server_round] = self.dropped.get(server_round, []) + dropped
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
        if state.accepted == 0 and self.ws.config.terms.private:
            # its share window is over, so nobody could submit to it in a later Flower round: skip it
            log(WARNING, "ZkFedAvg round %d: no update was accepted on-chain; skipping it once it closes", round_no)
            reach_block(self.ws, finalizable_after(self.ws, state) + 1)
            skip_empty_round(self.ws, state)
            return None, MetricRecord({"accepted": 0, "replies-kept": 0, **_counts(self.dropped[server_round])})
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
            return None, MetricRecord({"accepted": 0, "replies-kept": len(kept), **_counts(self.dropped[server_round])})
        private = self.ws.config.terms.private
        outcome = self._aggregate_private(server_round, round_no) if private else aggregate_round(self.ws)
        if outcome.skipped:
            log(WARNING, "ZkFedAvg round %d: every update left the round; skipped it", round_no)
        proven = round_model(self.ws.circuits.commitments, self.ws.store, coordinator, round_no + 1)
        inner = self._inner_metrics(server_round, kept)
        metrics = MetricRecord(
            {
                **(dict(inner) if inner else {}),
                "zkfl-round": round_no,
                "accepted": outcome.accepted,
                "replies-kept": len(kept),
                **_counts(self.dropped[server_round]),
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

    def _aggregate_private(self, server_round: int, round_no: int) -> AggregateOutcome:
        """Unmask the round from the reveals of the nodes that shared keys, prove FedAvg and finalize;
        after an exclusion (the sum changed), ask them to reveal again."""
        if self._grid is None:
            raise MaskingError("a private round is aggregated only after configure_train (it needs the grid)")
        for _ in range(len(self._masking_nodes) + 1):
            answers = self._ask(server_round, self._grid, REVEAL_ACTION, self._masking_nodes, round_no)
            reveals = sorted({a.cid for _, a in answers if a.status == REVEALED})
            try:
                return aggregate_round(self.ws, reveals=reveals)
            except RevealAgain as again:
                log(WARNING, "ZkFedAvg round %d: %s", round_no, again)
        raise MaskingError(f"round {round_no} could not be unmasked: every client was excluded in turn")

    def _inner_metrics(self, server_round: int, kept: list[Message]) -> MetricRecord | None:
        """The wrapped strategy's metrics of the kept replies. A private reply carries no update for
        its aggregate_train, so there only its metric aggregation runs (when it has one, as FedAvg)."""
        if not kept:
            return None
        if not self.ws.config.terms.private:
            return self.strategy.aggregate_train(server_round, kept)[1]
        aggregate = getattr(self.strategy, "train_metrics_aggr_fn", None)
        weighted_by = getattr(self.strategy, "weighted_by_key", NUM_EXAMPLES)
        return aggregate([r.content for r in kept], weighted_by) if aggregate else None

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
        if self.ws.config.terms.private:  # no update travels: the unmasking checks the masked upload
            return None
        key = self.ws.circuits.commitments
        update = weights_of(reply.content.array_records[ARRAYS], f"{who}'s update")
        if key.commitment_hash(update) != receipt.update_hash:
            return "mismatch", f"{who}'s reply carries an update that does not match its commitment"
        try:
            checked_vector(key, self.ws.store, receipt.update_cid, receipt.update_hash, f"{who}'s stored update")
        except ZkflError as exc:
            return "store", str(exc)
        return None

    def _node_of(self, reply: Message, sent: list[Message] | None = None) -> int:
        """The node a reply answers for; the SuperLink's own errors name it only by the message replied to."""
        if reply.metadata.src_node_id != SERVER_NODE_ID:
            return reply.metadata.src_node_id
        by_id = {m.metadata.message_id: m.metadata.dst_node_id for m in (self._sent if sent is None else sent)}
        return by_id.get(reply.metadata.reply_to_message_id, SERVER_NODE_ID)

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
