"""The coordinator contract from Python: deploy a federation (two verifiers + coordinator), and
the calls and events of a round as typed records."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from web3.contract import Contract

from zkfl.build import CircuitSet
from zkfl.chain.rpc import Chain, ErrorDecoder, transact
from zkfl.errors import ChainError
from zkfl.evm.solidity import ContractArtifact, compile_files
from zkfl.evm.toolchain import CONTRACTS_DIR
from zkfl.evm.verifier import VerifierTooLarge, build_reusable_verifier, build_verifier, data_contract_code
from zkfl.manifest import circuits_digest
from zkfl.prover import CircuitKeys, Proof

MESSAGES = {
    "WrongGlobalModel": lambda round, expected, got: (
        f"the proof starts from model hash {got:#x}, but round {round}'s global model hash is {expected:#x}"),
    "WrongDataCommitment": lambda client, got: (
        f"the proof's data commitment {got:#x} is not one that {client} committed at registration"),
    "DataCommitmentUsed": lambda dataCommitment: (
        f"data batch {dataCommitment:#x} was already used in an accepted update; train on a fresh committed batch"),
    "NoDataCommitments": lambda: "at least one data commitment is required",
    "InvalidProof": lambda verifier: f"the verifier at {verifier} rejected the proof",
    "AlreadySubmitted": lambda round, client: f"{client} already submitted an update in round {round}",
    "NotRegistered": lambda client: f"{client} is not a registered client",
    "SubmissionClosed": lambda round, deadline, blockNumber: (
        f"round {round} closed for submissions at block {deadline} (now block {blockNumber})"),
    "SubmissionStillOpen": lambda round, deadline, blockNumber: (
        f"round {round} is still open until block {deadline} (now block {blockNumber}) and not every client submitted"),
    "SlotMismatch": lambda round, slot, expected, got: (
        f"slot {slot} of the aggregation consumed hash {got:#x}; round {round} accepted {expected:#x} there"),
    "WrongRound": lambda current, given: f"round {given} is not the open round ({current})",
    "DataCommitmentTaken": lambda dataCommitment: f"data commitment {dataCommitment:#x} is already committed by an account",
    "AlreadyRegistered": lambda client: f"{client} is already registered",
    "FederationFull": lambda slots: f"all {slots} client slots are taken",
    "NoAcceptedUpdates": lambda round: f"round {round} has no accepted update to aggregate",
}


def coordinator_artifact(cache_dir: str | os.PathLike[str]) -> ContractArtifact:
    sources = [CONTRACTS_DIR / "Coordinator.sol", CONTRACTS_DIR / "IHalo2Verifier.sol"]
    return compile_files(sources, cache_dir)["Coordinator"]


@dataclass(frozen=True)
class FederationConfig:
    genesis_hash: int
    genesis_cid: str
    aggregator: str
    empty_slot_hash: int
    stake_wei: int = 10**16
    reward_wei: int = 10**15
    submission_window: int = 50


@dataclass(frozen=True)
class Deployment:
    coordinator: str
    client_verifier: str
    aggregator_verifier: str
    chain_id: int
    deploy_gas: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


@dataclass(frozen=True)
class RoundState:
    round: int
    model_hash: int
    deadline: int
    accepted: int
    finalized: bool


@dataclass(frozen=True)
class ClientState:
    address: str
    registered: bool
    slot: int
    accepted_updates: int
    paid_updates: int
    stake: int


@dataclass(frozen=True)
class AcceptedUpdate:
    round: int
    client: str
    slot: int
    update_hash: int
    cid: str
    block: int
    tx_hash: str

    @classmethod
    def from_event(cls, e: Any) -> AcceptedUpdate:
        return cls(e.args.round, e.args.client, e.args.slot, e.args.updateHash, e.args.cid, e.blockNumber,
                   e.transactionHash.to_0x_hex())


@dataclass(frozen=True)
class OpenedRound:
    """A RoundOpened event: the round's global model as published on-chain."""

    round: int
    model_hash: int
    model_cid: str
    deadline: int
    block: int

    @classmethod
    def from_event(cls, e: Any) -> OpenedRound:
        return cls(e.args.round, e.args.modelHash, e.args.modelCid, e.args.deadline, e.blockNumber)


@dataclass(frozen=True)
class FinalizedRound:
    round: int
    next_model_hash: int
    next_model_cid: str
    accepted_updates: int
    block: int
    tx_hash: str

    @classmethod
    def from_event(cls, e: Any) -> FinalizedRound:
        return cls(e.args.round, e.args.nextModelHash, e.args.nextModelCid, e.args.acceptedUpdates, e.blockNumber,
                   e.transactionHash.to_0x_hex())


def deploy_contract(chain: Chain, signer: LocalAccount, artifact: ContractArtifact, *args: Any) -> tuple[str, int]:
    factory = chain.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    receipt = transact(chain, signer, factory.constructor(*args), ErrorDecoder([artifact.abi], MESSAGES),
                       f"deploying {artifact.name}")
    return receipt["contractAddress"], receipt["gasUsed"]


@dataclass(frozen=True)
class Verifiers:
    client: str
    aggregator: str
    deploy_gas: dict[str, int]


@dataclass(frozen=True)
class DeployedVerifier:
    address: str  # what the coordinator calls (an IHalo2Verifier)
    kind: str  # "dedicated" or "reusable"
    deploy_gas: int


def deploy_circuit_verifier(
    chain: Chain, owner: LocalAccount, keys: CircuitKeys, cache_dir: str | os.PathLike[str], reusable: bool | None = None
) -> DeployedVerifier:
    """The circuit's dedicated verifier; with `reusable=None`, ezkl's reusable verifier + VKA
    behind an adapter when the dedicated one is over the contract size limit."""
    if not reusable:
        try:
            address, gas = deploy_contract(chain, owner, build_verifier(keys, cache_dir))
            return DeployedVerifier(address, "dedicated", gas)
        except VerifierTooLarge:
            if reusable is False:
                raise
    bundle = build_reusable_verifier(keys, cache_dir)
    verifier, verifier_gas = deploy_contract(chain, owner, bundle.verifier)
    contract = chain.w3.eth.contract(address=verifier, abi=bundle.verifier.abi)
    registered = transact(chain, owner, contract.functions.registerVka(bundle.vka_words),
                          ErrorDecoder([bundle.verifier.abi]), f"registering the VKA of {keys.name!r}")
    raw = ContractArtifact("VkaStore", [], data_contract_code(bundle.vka_words), "0x")
    store, store_gas = deploy_contract(chain, owner, raw)
    adapter, adapter_gas = deploy_contract(chain, owner, bundle.adapter, verifier, store)
    return DeployedVerifier(adapter, "reusable", verifier_gas + registered["gasUsed"] + store_gas + adapter_gas)


def deploy_verifiers(chain: Chain, owner: LocalAccount, circuits: CircuitSet, cache_dir: str | os.PathLike[str]) -> Verifiers:
    client = deploy_circuit_verifier(chain, owner, circuits.client, cache_dir)
    aggregator = deploy_circuit_verifier(chain, owner, circuits.aggregator, cache_dir)
    return Verifiers(client.address, aggregator.address,
                     {"client_verifier": client.deploy_gas, "aggregator_verifier": aggregator.deploy_gas})


def deploy_coordinator(
    chain: Chain, owner: LocalAccount, verifiers: Verifiers, circuits: CircuitSet, config: FederationConfig,
    cache_dir: str | os.PathLike[str],
) -> Deployment:
    """A coordinator wired to already deployed verifiers of `circuits`."""
    coordinator, gas = deploy_contract(
        chain, owner, coordinator_artifact(cache_dir), verifiers.client, verifiers.aggregator, config.aggregator,
        circuits.fedavg.slots, config.empty_slot_hash, config.genesis_hash, config.genesis_cid,
        circuits_digest(circuits), config.stake_wei, config.reward_wei, config.submission_window,
    )
    return Deployment(coordinator, verifiers.client, verifiers.aggregator, chain.chain_id,
                      {**verifiers.deploy_gas, "coordinator": gas})


def deploy_federation(
    chain: Chain, owner: LocalAccount, circuits: CircuitSet, config: FederationConfig, cache_dir: str | os.PathLike[str]
) -> Deployment:
    """Deploy both circuits' verifiers and a coordinator wired to them."""
    verifiers = deploy_verifiers(chain, owner, circuits, cache_dir)
    return deploy_coordinator(chain, owner, verifiers, circuits, config, cache_dir)


def proof_calldata(proof: Proof) -> tuple[bytes, list[int]]:
    body = json.loads(Path(proof.path).read_text())
    return bytes(body["proof"]), list(proof.instances)


class Coordinator:
    """Typed calls and events of a deployed coordinator."""

    def __init__(self, chain: Chain, address: str, cache_dir: str | os.PathLike[str]):
        self.chain = chain
        self.artifact = coordinator_artifact(cache_dir)
        if not chain.w3.eth.get_code(chain.w3.to_checksum_address(address)):
            raise ChainError(f"no contract at {address} on chain {chain.chain_id}: wrong address or wrong chain")
        self.contract: Contract = chain.w3.eth.contract(address=chain.w3.to_checksum_address(address), abi=self.artifact.abi)
        self.decoder = ErrorDecoder([self.artifact.abi], MESSAGES)

    # transactions -----------------------------------------------------------
    def register(self, signer: LocalAccount, data_commitments: Sequence[int], stake_wei: int | None = None) -> dict:
        """Join with the stake and the commitments of the data batches to train on (one per round)."""
        stake = self.stake_wei if stake_wei is None else stake_wei
        return self._send(signer, self.contract.functions.register(list(data_commitments)), "registration", value=stake)

    def commit_data(self, signer: LocalAccount, data_commitments: Sequence[int]) -> dict:
        return self._send(signer, self.contract.functions.commitData(list(data_commitments)), "data commitment")

    def submit_update(self, signer: LocalAccount, round_no: int, proof: Proof, cid: str) -> dict:
        return self.submit_calldata(signer, round_no, *proof_calldata(proof), cid)

    def submit_calldata(self, signer: LocalAccount, round_no: int, proof: bytes, instances: list[int], cid: str) -> dict:
        return self._send(signer, self.contract.functions.submitUpdate(round_no, proof, instances, cid),
                          f"update submission for round {round_no}")

    def finalize_round(self, signer: LocalAccount, round_no: int, proof: Proof, cid: str) -> dict:
        return self.finalize_calldata(signer, round_no, *proof_calldata(proof), cid)

    def finalize_calldata(self, signer: LocalAccount, round_no: int, proof: bytes, instances: list[int], cid: str) -> dict:
        return self._send(signer, self.contract.functions.finalizeRound(round_no, proof, instances, cid),
                          f"finalization of round {round_no}")

    def fund_rewards(self, signer: LocalAccount, wei: int) -> dict:
        return self._send(signer, self.contract.functions.fundRewards(), "reward funding", value=wei)

    def claim_rewards(self, signer: LocalAccount) -> dict:
        return self._send(signer, self.contract.functions.claimRewards(), "reward claim")

    def withdraw(self, signer: LocalAccount) -> dict:
        return self._send(signer, self.contract.functions.withdraw(), "withdrawal")

    # views ------------------------------------------------------------------
    @property
    def stake_wei(self) -> int:
        return int(self.contract.functions.stakeAmount().call())

    @property
    def registered_clients(self) -> int:
        return int(self.contract.functions.registeredClients().call())

    @property
    def current_round(self) -> int:
        return int(self.contract.functions.currentRound().call())

    def round(self, round_no: int) -> RoundState:
        model_hash, deadline, accepted, finalized = self.contract.functions.getRound(round_no).call()
        return RoundState(round_no, model_hash, deadline, accepted, finalized)

    def accepted_update_hash(self, round_no: int, slot: int) -> int:
        return int(self.contract.functions.acceptedUpdateHash(round_no, slot).call())

    def rewards_owed(self, account: str) -> int:
        return int(self.contract.functions.rewardsOwed(account).call())

    def client(self, account: str) -> ClientState:
        registered, slot, accepted, paid, stake = self.contract.functions.getClient(account).call()
        return ClientState(account, registered, slot, accepted, paid, stake)

    def data_batch(self, commitment: int) -> tuple[str, bool]:
        """(owner, used) of a committed data batch; the zero address if nobody committed it."""
        owner, used = self.contract.functions.dataBatch(commitment).call()
        return owner, used

    # events -----------------------------------------------------------------
    def accepted_updates(self, round_no: int | None = None) -> list[AcceptedUpdate]:
        records = [AcceptedUpdate.from_event(e) for e in self.contract.events.UpdateAccepted.get_logs(from_block=0)]
        return [r for r in records if round_no is None or r.round == round_no]

    def opened_rounds(self) -> list[OpenedRound]:
        return [OpenedRound.from_event(e) for e in self.contract.events.RoundOpened.get_logs(from_block=0)]

    def finalized_rounds(self) -> list[FinalizedRound]:
        return [FinalizedRound.from_event(e) for e in self.contract.events.RoundFinalized.get_logs(from_block=0)]

    def _send(self, signer: LocalAccount, call: Any, what: str, value: int = 0) -> dict:
        return dict(transact(self.chain, signer, call, self.decoder, what, value=value))
