"""`status` and `verify`: what the chain says about the federation, and whether its proofs hold."""

from __future__ import annotations

from dataclasses import dataclass

from zkfl.chain.coordinator import Coordinator
from zkfl.circuits.kinds import CircuitKind
from zkfl.errors import ConfigError, ProofError
from zkfl.pipeline.progress import Progress, silent
from zkfl.pipeline.workspace import Workspace
from zkfl.verification.findings import Finding
from zkfl.verification.proofs import verify_onchain
from zkfl.verification.round_checker import FederationView, RoundAudit, RoundChecker
from zkfl.zk.prover import Proof, VerifierKeys, verify


@dataclass(frozen=True)
class RoundSummary:
    round: int
    model_hash: str
    model_cid: str
    deadline: int
    accepted: int
    finalized: bool
    skipped: bool  # closed without an aggregation; the next round starts from the same (or the previous) model


@dataclass(frozen=True)
class ClientSummary:
    name: str
    address: str
    registered: bool
    slot: int
    accepted_updates: int  # still accepted (not slashed), in rounds not skipped
    rewarded_updates: int  # of those, in finalized rounds the contract has counted for rewards


@dataclass(frozen=True)
class FederationStatus:
    coordinator: str
    rpc_url: str  # the JSON-RPC URL the workspace reaches the chain at (its devnet's, for "devnet")
    chain_id: int
    block: int
    current_round: int
    registered_clients: int
    rounds: list[RoundSummary]
    clients: list[ClientSummary]


def federation_status(ws: Workspace, progress: Progress = silent) -> FederationStatus:
    progress("reading the federation's rounds and clients from the chain")
    coordinator = ws.coordinator()
    rounds = []
    for event in coordinator.opened_rounds():
        state = coordinator.round(event.round)
        rounds.append(
            RoundSummary(
                event.round,
                hex(event.model_hash),
                event.model_cid,
                event.deadline,
                state.accepted,
                state.finalized,
                state.skipped,
            )
        )
    counted = _counted_updates(coordinator)
    clients = []
    for name in ws.client_names():
        record = ws.read_record(ws.client_record_path(name)) or {}
        client_state = coordinator.client(record["address"])
        clients.append(
            ClientSummary(
                name,
                record["address"],
                client_state.registered,
                client_state.slot,
                counted.get(record["address"], 0),
                client_state.rewarded_updates,
            )
        )
    return FederationStatus(
        coordinator.address,
        ws.chain.rpc_url,
        ws.chain.chain_id,
        ws.chain.w3.eth.block_number,
        coordinator.current_round,
        coordinator.registered_clients,
        rounds,
        clients,
    )


def _counted_updates(coordinator: Coordinator) -> dict[str, int]:
    """Accepted updates per client that still count: not slashed, not in a skipped round (the
    contract keeps no such per-client count; the events do)."""
    skipped = {s.round for s in coordinator.skipped_rounds()}
    slashed = coordinator.slashed_updates()
    counts: dict[str, int] = {}
    for update in coordinator.accepted_updates():
        if update.round not in skipped and (update.round, update.slot, update.client) not in slashed:
            counts[update.client] = counts.get(update.client, 0) + 1
    return counts


@dataclass(frozen=True)
class RoundVerification:
    """Every check made on one round (the audit's checks, under the audit's ids), and the round's
    table of proofs and stored artifacts; `ok` only if every check passed. A skipped round passes
    as skipped (`round-skipped`, `report.skipped`): it has no aggregation to verify."""

    round: int
    checks: list[Finding]
    report: RoundAudit

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def failures(self) -> list[Finding]:
        return [c for c in self.checks if not c.ok]


def verify_proof_file(
    ws: Workspace, proof_path: str, circuit: str, onchain: bool = False, progress: Progress = silent
) -> list[Finding]:
    """Verify a proof file against one of the federation's circuits: client or aggregator (raises
    ProofError)."""
    progress("loading the circuits' verification keys")
    circuits = ws.circuits
    by_kind = circuits.keys_by_kind()
    if circuit not in by_kind:
        raise ConfigError(f"circuit must be one of {', '.join(by_kind)} for this federation, got {circuit!r}")
    keys = by_kind[CircuitKind(circuit)]
    proof = Proof.load(proof_path)
    progress(f"verifying {proof_path} off-chain")
    verify(keys, proof)
    scope = f"proof {proof_path}"
    checks = [Finding(f"{circuit}-proof-offchain", scope, True, f"verifies against the {circuit} circuit")]
    if onchain:
        address = ws.deployment()[f"{circuit}_verifier"]
        progress(f"calling the on-chain {circuit} verifier {address}")
        if not verify_onchain(ws.chain, address, proof.data):
            raise ProofError(f"the on-chain verifier {address} rejects {proof_path}")
        checks.append(Finding(f"{circuit}-proof-onchain", scope, True, f"the verifier {address} accepts it"))
    return checks


def verify_round(ws: Workspace, round_no: int, onchain: bool = True, progress: Progress = silent) -> RoundVerification:
    """Re-check a round from the chain and the store with the round checker `zkfl audit` uses:
    every proof read back from its transaction and verified off-chain (with this workspace's keys)
    and on-chain, every link and data commitment, every stored vector against its CID and its
    on-chain commitment, and a finalized round's FedAvg recomputed bit for bit."""
    progress("loading the circuits' verification keys")
    coordinator = ws.coordinator()
    circuits = ws.circuits
    progress("reading the federation's events from the chain")
    keys: dict[CircuitKind, VerifierKeys | None] = {kind: k.verifier for kind, k in circuits.keys_by_kind().items()}
    view = FederationView.read(coordinator, ws.store, keys, circuits.commitments, circuits.fedavg, onchain)
    if round_no not in view.log.opened:
        raise ConfigError(f"round {round_no} does not exist; the open round is {coordinator.current_round}")
    checker = RoundChecker(view)
    checker.note_earlier_rounds(round_no)
    where = "off-chain and on-chain" if onchain else "off-chain"
    progress(f"checking round {round_no}: its proofs {where}, links, stored artifacts and (once finalized) FedAvg")
    report = checker.check_round(round_no)
    return RoundVerification(round_no, checker.findings.items, report)
