"""Time on the workspace's devnet. anvil makes a block only for a transaction, so a deadline
counted in blocks passes only when someone mines: a process that drives a simulated federation
there (`zkfl run`, a Flower simulation) waits with a `DevnetClock`, and a person at the command
line mines with `zkfl devnet mine` (`mine_devnet`). Another chain's blocks come by themselves:
nothing here mines one."""

from __future__ import annotations

import time
from dataclasses import dataclass

from zkfl.chain.coordinator import RoundState
from zkfl.chain.devnet import mine_blocks
from zkfl.chain.rpc import Chain
from zkfl.errors import ConfigError
from zkfl.pipeline.aggregation import PollingClock, RoundClock, finalizable_after
from zkfl.pipeline.progress import Progress, silent
from zkfl.pipeline.workspace import DEVNET, Workspace

DEVNET_WINDOW_BLOCK_SECONDS = 0.25
"""The pace at which blocks after a deadline (and while a request is open) are mined: a
watchtower or responder polling the chain gets wall time to see each submission or request and
act on it inside its window."""


@dataclass(frozen=True)
class DevnetClock:
    """Mines the devnet's blocks while a round is waited for: up to the submission deadline at
    once, then (challenge window, open requests) one every `block_seconds`."""

    chain: Chain
    block_seconds: float = DEVNET_WINDOW_BLOCK_SECONDS

    def wait(self, state: RoundState, requests_open: bool) -> None:
        block = self.chain.w3.eth.block_number
        if not requests_open and block <= state.deadline:
            mine_blocks(self.chain, state.deadline + 1 - block)
            return
        time.sleep(self.block_seconds)
        mine_blocks(self.chain, 1)


def driving_clock(ws: Workspace) -> RoundClock:
    """The clock of a process that drives the whole federation itself: on the workspace's devnet
    it mines (nobody else would), on another chain it waits for the chain's blocks."""
    return DevnetClock(ws.chain) if ws.config.rpc_url == DEVNET else PollingClock()


@dataclass(frozen=True)
class MineOutcome:
    mined: int
    block: int  # the devnet's block number afterwards
    round: int  # the open round
    deadline: int  # its submission deadline
    aggregate_after: int  # the last block before `zkfl aggregate` may close it


def mine_devnet(
    ws: Workspace, blocks: int | None = None, to_deadline: bool = False, progress: Progress = silent
) -> MineOutcome:
    """Mine `blocks` blocks on the workspace's devnet, or (`to_deadline`) as many as it takes for
    the open round to be past every deadline `zkfl aggregate` waits for: its submission deadline,
    and its challenge window where it waits for that (an optimistic federation, a round without
    updates). Refused on any other chain, whose blocks are not ours to make."""
    if (blocks is None) == (not to_deadline):
        raise ConfigError("give either --blocks N or --to-deadline")
    if blocks is not None and blocks < 1:
        raise ConfigError(f"blocks must be at least 1, got {blocks}")
    if ws.config.rpc_url != DEVNET:
        raise ConfigError(
            f"the workspace {ws.root} runs on {ws.config.rpc_url}, not on its own devnet: that chain makes its "
            "blocks itself; wait for them"
        )
    coordinator = ws.coordinator()
    state = coordinator.round(coordinator.current_round)
    after = finalizable_after(ws, state)
    block = ws.chain.w3.eth.block_number
    count = blocks if blocks is not None else max(after + 1 - block, 0)
    if count:
        progress(f"mining {count} block(s) on the devnet (now at block {block})")
        mine_blocks(ws.chain, count)
    return MineOutcome(count, ws.chain.w3.eth.block_number, state.round, state.deadline, after)
