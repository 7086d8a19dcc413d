"""`status` and `verify`: what the chain says about the federation, and whether its proofs hold."""

from __future__ import annotations

from dataclasses import dataclass, field

from zkfl.chain.coordinator import proof_calldata
from zkfl.errors import ConfigError, ProofError, ZkflError
from zkfl.prover import CircuitKeys, Proof, verify
from zkfl.pipeline.rounds import checked_vector
from zkfl.verification import submitted_proof, verify_offchain, verify_onchain
from zkfl.workspace import Workspace


@dataclass(frozen=True)
class RoundSummary:
    round: int
    model_hash: str
    model_cid: str
    deadline: int
    accepted: int
    finalized: bool


@dataclass(frozen=True)
class ClientSummary:
    name: str
    address: str
    registered: bool
    slot: int
    accepted_updates: int


@dataclass(frozen=True)
class FederationStatus:
    coordinator: str
    chain_id: int
    block: int
    current_round: int
    registered_clients: int
    rounds: list[RoundSummary]
    clients: list[ClientSummary]


def federation_status(ws: Workspace) -> FederationStatus:
    coordinator = ws.coordinator()
    rounds = []
    for event in coordinator.opened_rounds():
        state = coordinator.round(event.round)
        rounds.append(RoundSummary(event.round, hex(event.model_hash), event.model_cid, event.deadline, state.accepted,
                                   state.finalized))
    clients = []
    for name in ws.client_names():
        record = ws.read_record(ws.client_dir(name) / "client.json") or {}
        state = coordinator.client(record["address"])
        clients.append(ClientSummary(name, record["address"], state.registered, state.slot, state.accepted_updates))
    return FederationStatus(coordinator.contract.address, ws.chain.chain_id, ws.chain.w3.eth.block_number,
                            coordinator.current_round, coordinator.registered_clients, rounds, clients)


@dataclass(frozen=True)
class Check:
    what: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class RoundCheck:
    """Every check made on one round, in order; `ok` only if all passed."""

    round: int
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]


def verify_proof_file(ws: Workspace, proof_path: str, circuit: str, onchain: bool = False) -> list[Check]:
    """Verify a proof file against the federation's client or aggregator circuit (raises ProofError)."""
    if circuit not in ("client", "aggregator"):
        raise ConfigError(f"circuit must be 'client' or 'aggregator', got {circuit!r}")
    circuits = ws.circuits
    keys = circuits.client if circuit == "client" else circuits.aggregator
    proof = Proof.load(proof_path)
    verify(keys, proof)
    checks = [Check(f"off-chain ezkl verification ({circuit} circuit)", True)]
    if onchain:
        deployment = ws.deployment()
        address = deployment["client_verifier" if circuit == "client" else "aggregator_verifier"]
        proof_bytes, instances = proof_calldata(proof)
        ok = verify_onchain(ws.chain, address, proof_bytes, tuple(instances))
        checks.append(Check(f"on-chain verifier {address}", ok, "" if ok else "the verifier contract rejects the proof"))
        if not ok:
            raise ProofError(f"the on-chain verifier {address} rejects {proof_path}")
    return checks


def verify_round(ws: Workspace, round_no: int, onchain: bool = True) -> RoundCheck:
    """Re-check a round from the chain and the store: every accepted update's proof (read from its
    transaction) verifies off-chain and on-chain and starts from the round's model hash, every stored
    update hashes to its accepted hash; if finalized, the same for the aggregation proof, whose slot
    hashes must be the accepted ones and whose output must be the next round's model."""
    coordinator = ws.coordinator()
    circuits = ws.circuits
    deployment = ws.deployment()
    result = RoundCheck(round_no)
    add = result.checks.append
    if round_no > coordinator.current_round or round_no < 0:
        raise ConfigError(f"round {round_no} does not exist; the open round is {coordinator.current_round}")
    model_hash = coordinator.round(round_no).model_hash
    updates = coordinator.accepted_updates(round_no)
    for event in updates:
        label = f"slot {event.slot} ({event.client[:10]})"
        sub = submitted_proof(coordinator, event.tx_hash)
        add(Check(f"{label}: proof starts from the round's model", sub.instances[0] == model_hash))
        add(Check(f"{label}: proof outputs the accepted update hash", sub.instances[2] == event.update_hash))
        add(_offchain(f"{label}: off-chain verification", circuits.client, sub.proof, sub.instances))
        if onchain:
            add(Check(f"{label}: on-chain verifier", verify_onchain(ws.chain, deployment["client_verifier"], sub.proof,
                                                                    sub.instances)))
        add(_stored(ws, f"{label}: stored update {event.cid}", event.cid, event.update_hash))
    finalized = [f for f in coordinator.finalized_rounds() if f.round == round_no]
    if finalized:
        event = finalized[0]
        sub = submitted_proof(coordinator, event.tx_hash)
        accepted = {a.slot: a.update_hash for a in updates}
        empty = int(coordinator.contract.functions.emptySlotHash().call())
        expected = tuple(accepted.get(i, empty) for i in range(ws.config.slots))
        add(Check("aggregation consumed exactly the accepted updates", sub.instances[:-1] == expected))
        add(Check("aggregation output is the next round's model",
                  sub.instances[-1] == coordinator.round(round_no + 1).model_hash))
        add(_offchain("aggregation: off-chain verification", circuits.aggregator, sub.proof, sub.instances))
        if onchain:
            add(Check("aggregation: on-chain verifier",
                      verify_onchain(ws.chain, deployment["aggregator_verifier"], sub.proof, sub.instances)))
        add(_stored(ws, f"stored next model {event.next_model_cid}", event.next_model_cid, event.next_model_hash))
    return result


def _offchain(what: str, keys: CircuitKeys, proof: bytes, instances: tuple[int, ...]) -> Check:
    try:
        seconds = verify_offchain(keys, proof, instances)
    except ProofError as exc:
        return Check(what, False, str(exc))
    return Check(what, True, f"{seconds:.2f} s")


def _stored(ws: Workspace, what: str, cid: str, expected_hash: int) -> Check:
    try:
        checked_vector(ws.store, cid, expected_hash, "stored artifact")
    except ZkflError as exc:  # missing, not matching its CID, or not hashing to the chain's hash
        return Check(what, False, str(exc))
    return Check(what, True)
