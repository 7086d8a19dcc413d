"""A round's global model as the chain publishes it: hash and CID from the RoundOpened event,
weights from the store, checked against the hash."""

from __future__ import annotations

from dataclasses import dataclass

from zkfl.chain.coordinator import Coordinator
from zkfl.commitments import poseidon
from zkfl.errors import ChainError, LinkError
from zkfl.fixedpoint import FixedArray
from zkfl.store import ArtifactStore, get_vector
from zkfl.workspace import Workspace


@dataclass(frozen=True)
class RoundModel:
    round: int
    model_hash: int
    cid: str
    weights: FixedArray


def round_model(store: ArtifactStore, coordinator: Coordinator, round_no: int) -> RoundModel:
    opened = [r for r in coordinator.opened_rounds() if r.round == round_no]
    if not opened:
        raise ChainError(f"round {round_no} was never opened by the coordinator {coordinator.contract.address}")
    event = opened[-1]
    weights = get_vector(store, event.model_cid)
    if poseidon(weights) != event.model_hash:
        raise LinkError(f"round {round_no}'s model {event.model_cid} does not hash to the on-chain model hash "
                        f"{event.model_hash:#x}")
    return RoundModel(round_no, event.model_hash, event.model_cid, weights)


def open_round_model(ws: Workspace, coordinator: Coordinator) -> RoundModel:
    return round_model(ws.store, coordinator, coordinator.current_round)
