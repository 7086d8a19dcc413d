"""Artifacts of a round as the chain vouches for them: the round's global model (fetched by CID and
checked against the commitment the chain holds) and stored proofs."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from zkfl.chain.coordinator import Coordinator
from zkfl.errors import ChainError
from zkfl.fixedpoint import FixedArray
from zkfl.pipeline.workspace import Workspace
from zkfl.protocol import checked_vector
from zkfl.store.artifacts import ArtifactStore
from zkfl.zk.commitments import CommitmentKey
from zkfl.zk.prover import Proof


@dataclass(frozen=True)
class RoundModel:
    round: int
    model_hash: int
    cid: str
    weights: FixedArray


@contextmanager
def stored_proof(store: ArtifactStore, cid: str) -> Iterator[Proof]:
    """A proof from the store as a temporary proof file (what ezkl and the chain client read)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "proof.json"
        path.write_bytes(store.get(cid))
        yield Proof.load(path)


def round_model(key: CommitmentKey, store: ArtifactStore, coordinator: Coordinator, round_no: int) -> RoundModel:
    opened = [r for r in coordinator.opened_rounds() if r.round == round_no]
    if not opened:
        raise ChainError(f"round {round_no} was never opened by the coordinator {coordinator.address}")
    event = opened[-1]
    weights = checked_vector(key, store, event.model_cid, event.model_hash, f"round {round_no}'s model")
    return RoundModel(round_no, event.model_hash, event.model_cid, weights)


def open_round_model(ws: Workspace, coordinator: Coordinator) -> RoundModel:
    return round_model(ws.circuits.commitments, ws.store, coordinator, coordinator.current_round)
