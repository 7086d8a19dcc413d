"""Reaching a block: on the workspace's devnet by mining (anvil makes a block only for a
transaction, and nobody else would mine), on another chain by waiting for its blocks."""

from __future__ import annotations

import time

from zkfl.chain.devnet import mine_blocks
from zkfl.pipeline.progress import Progress, silent
from zkfl.pipeline.workspace import DEVNET, Workspace


def reach_block(ws: Workspace, block: int, progress: Progress = silent, poll_seconds: float = 2.0) -> None:
    """Return once the chain's head is at `block` or past it: on the workspace's devnet by mining
    (nobody else would), on another chain by waiting for its blocks."""
    head = ws.chain.w3.eth.block_number
    if head >= block:
        return
    if ws.config.rpc_url == DEVNET:
        mine_blocks(ws.chain, block - head)
        return
    progress(f"waiting for block {block} (now {head})")
    while ws.chain.w3.eth.block_number < block:
        time.sleep(poll_seconds)
