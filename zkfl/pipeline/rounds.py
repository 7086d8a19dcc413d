"""Artifacts of a round as the chain vouches for them: vectors fetched by CID and checked against
the Poseidon hash the chain holds, the round's global model, and stored proofs."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from zkfl.chain.coordinator import Coordinator
from zkfl.commitments import poseidon
from zkfl.errors import ChainError, LinkError
from zkfl.fixedpoint import FixedArray
from zkfl.prover import Proof
from zkfl.store import ArtifactStore, get_vector
from zkfl.workspace import Workspace


@dataclass(frozen=True)
class RoundModel:
    round: int
    model_hash: int
    cid: str
    weights: FixedArray


def checked_vector(store: ArtifactStore, cid: str, expected_hash: int, what: str) -> FixedArray:
    """The vector stored under `cid`, which must hash to `expected_hash` (the chain's record of it)."""
    vector = get_vector(store, cid)
    if poseidon(vector) != expected_hash:
        raise LinkError(f"{what} {cid} does not hash to the on-chain hash {expected_hash:#x}")
    return vector


@contextmanager
def stored_proof(store: ArtifactStore, cid: str) -> Iterator[Proof]:
    """A proof from the store as a temporary proof file (what ezkl and the chain client read)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "proof.json"
        path.write_bytes(store.get(cid))
        yield Proof.load(path)


def round_model(store: ArtifactStore, coordinator: Coordinator, round_no: int) -> RoundModel:
    opened = [r for r in coordinator.opened_rounds() if r.round == round_no]
    if not opened:
        raise ChainError(f"round {round_no} was never opened by the coordinator {coordinator.contract.address}")
    event = opened[-1]
    weights = checked_vector(store, event.model_cid, event.model_hash, f"round {round_no}'s model")
    return RoundModel(round_no, event.model_hash, event.model_cid, weights)


def open_round_model(ws: Workspace, coordinator: Coordinator) -> RoundModel:
    return round_model(ws.store, coordinator, coordinator.current_round)
