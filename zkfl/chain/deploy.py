"""Deploying a federation: each circuit's verifier (ezkl's dedicated verifier, or its reusable
verifier behind an adapter when the dedicated one is too big), then a coordinator wired to them."""

from __future__ import annotations

import os
import secrets
from dataclasses import asdict, dataclass, field
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress

from zkfl.chain.coordinator import MESSAGES
from zkfl.chain.rpc import Chain, ErrorDecoder, transact
from zkfl.circuits.kinds import CircuitKind
from zkfl.errors import ChainError, ConfigError
from zkfl.evm.contracts import project_artifact
from zkfl.evm.solidity import ContractArtifact
from zkfl.evm.verifier import VerifierTooLarge, build_reusable_verifier, build_verifier, data_contract_code
from zkfl.federation.manifest import circuits_digest
from zkfl.federation.terms import FederationTerms
from zkfl.fixedpoint import FixedArray
from zkfl.protocol import federation_id
from zkfl.zk.build import CircuitSet
from zkfl.zk.commitments import CommitmentKey, basis_hash
from zkfl.zk.prover import CircuitKeys

ZERO_ADDRESS = "0x" + "00" * 20


@dataclass(frozen=True)
class FederationConfig:
    """What a new coordinator starts from: the genesis model, the aggregator account, the
    federation's terms, the salt of its identifier (with
    the deployer, inside every client proof's context) and the commitment key: C(0), the
    context's basis points, and the hash and length of the update vectors' basis (openings)."""

    genesis_hash: int
    genesis_cid: str
    aggregator: str
    federation_salt: bytes
    zero_point: bytes
    context_basis: list[bytes]
    vector_basis_hash: bytes
    update_length: int
    terms: FederationTerms = field(default_factory=FederationTerms)

    @classmethod
    def starting_from(
        cls,
        circuits: CircuitSet,
        genesis: FixedArray,
        genesis_cid: str,
        aggregator: str,
        terms: FederationTerms = FederationTerms(),
        federation_salt: bytes | None = None,
    ) -> FederationConfig:
        """The config of a federation of `circuits` whose round 0 starts from `genesis`, with a
        fresh random salt unless `federation_salt` (32 bytes) is given."""
        key: CommitmentKey = circuits.commitments
        salt = secrets.token_bytes(32) if federation_salt is None else federation_salt
        if len(salt) != 32:
            raise ConfigError(f"a federation salt is 32 bytes, got {len(salt)}")
        length = circuits.fedavg.update_len
        zero, context_points = key.context_basis()
        return cls(
            key.commitment_hash(genesis),
            genesis_cid,
            aggregator,
            salt,
            zero,
            context_points,
            basis_hash(key.vector_basis(length)),
            length,
            terms,
        )

    def federation_id(self, deployer: str) -> bytes:
        """The coordinator's `federationId` when `deployer` deploys it."""
        return federation_id(deployer, self.federation_salt)

    def commitment_key_args(self) -> tuple[list[int], list[list[int]], bytes, int]:
        """The constructor's `CommitmentKey` struct: points as (x, y) words."""
        return (
            _words(self.zero_point),
            [_words(p) for p in self.context_basis],
            self.vector_basis_hash,
            self.update_length,
        )


@dataclass(frozen=True)
class Deployment:
    coordinator: str
    client_verifier: str
    aggregator_verifier: str
    chain_id: int
    deploy_gas: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


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


def deploy_contract(
    chain: Chain, signer: LocalAccount, artifact: ContractArtifact, *args: Any
) -> tuple[ChecksumAddress, int]:
    factory = chain.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    receipt = transact(
        chain, signer, factory.constructor(*args), ErrorDecoder([artifact.abi], MESSAGES), f"deploying {artifact.name}"
    )
    address = receipt["contractAddress"]
    if address is None:
        raise ChainError(f"deploying {artifact.name}: the transaction's receipt names no contract; check the RPC node")
    return address, receipt["gasUsed"]


def deploy_circuit_verifier(
    chain: Chain,
    owner: LocalAccount,
    keys: CircuitKeys,
    cache_dir: str | os.PathLike[str],
    reusable: bool | None = None,
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
    registered = transact(
        chain,
        owner,
        contract.functions.registerVka(bundle.vka_words),
        ErrorDecoder([bundle.verifier.abi]),
        f"registering the VKA of {keys.name!r}",
    )
    raw = ContractArtifact("VkaStore", [], data_contract_code(bundle.vka_words), "0x")
    store, store_gas = deploy_contract(chain, owner, raw)
    adapter, adapter_gas = deploy_contract(chain, owner, bundle.adapter, verifier, store)
    return DeployedVerifier(adapter, "reusable", verifier_gas + registered["gasUsed"] + store_gas + adapter_gas)


def deploy_verifiers(
    chain: Chain, owner: LocalAccount, circuits: CircuitSet, cache_dir: str | os.PathLike[str]
) -> Verifiers:
    deployed = {
        kind: deploy_circuit_verifier(chain, owner, keys, cache_dir) for kind, keys in circuits.keys_by_kind().items()
    }
    return Verifiers(
        deployed[CircuitKind.CLIENT].address,
        deployed[CircuitKind.AGGREGATOR].address,
        {f"{kind}_verifier": v.deploy_gas for kind, v in deployed.items()},
    )


def deploy_coordinator(
    chain: Chain, owner: LocalAccount, verifiers: Verifiers, circuits: CircuitSet, config: FederationConfig
) -> Deployment:
    """A coordinator wired to already deployed verifiers of `circuits`."""
    coordinator, gas = deploy_contract(
        chain,
        owner,
        project_artifact("Coordinator"),
        verifiers.client,
        verifiers.aggregator,
        config.aggregator,
        circuits.slots,
        config.genesis_hash,
        config.genesis_cid,
        circuits_digest(circuits, config.terms.verification),
        config.terms.as_tuple(),
        config.federation_salt,
        config.commitment_key_args(),
    )
    return Deployment(
        coordinator,
        verifiers.client,
        verifiers.aggregator,
        chain.chain_id,
        {**verifiers.deploy_gas, "coordinator": gas},
    )


def deploy_federation(
    chain: Chain, owner: LocalAccount, circuits: CircuitSet, config: FederationConfig, cache_dir: str | os.PathLike[str]
) -> Deployment:
    """Deploy every circuit's verifier and a coordinator wired to them."""
    verifiers = deploy_verifiers(chain, owner, circuits, cache_dir)
    return deploy_coordinator(chain, owner, verifiers, circuits, config)


def _words(point: bytes) -> list[int]:
    return [int.from_bytes(point[:32], "big"), int.from_bytes(point[32:], "big")]
