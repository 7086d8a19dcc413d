"""Session fixtures: one compiled circuit set, one dev SRS per size, one proven round, shared by
every test. Shapes are small so the whole suite stays fast; the prover, SRS and keys are real.

Set ZKFL_TEST_CACHE to a directory to keep compiled circuits and keys between local runs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from zkfl.chain.deploy import Verifiers, deploy_verifiers
from zkfl.chain.devnet import DEV_MNEMONIC, DEVNET_CHAIN_ID, Devnet, start_devnet, stop_devnet
from zkfl.chain.rpc import Chain, connect
from zkfl.circuits import LogisticRegression, Mlp, TrainingStepSpec
from zkfl.data.batches import ClientData, make_client_data
from zkfl.errors import ChainError
from zkfl.federation.terms import PUBLIC, FederationTerms
from zkfl.fixedpoint import FixedArray, quantize
from zkfl.protocol import context, federation_id
from zkfl.roles.aggregator import AggregateResult, aggregate_and_prove
from zkfl.roles.client import ClientUpdate, train_and_prove
from zkfl.zk.build import CircuitSet, build_circuits

SLOTS = 3
FEDERATION_SALT = bytes(31) + b"\x01"
"""The salt of the test coordinators' federation id (each deployed by anvil's account 0)."""
Account.enable_unaudited_hdwallet_features()
OWNER = Account.from_mnemonic(DEV_MNEMONIC, account_path="m/44'/60'/0'/0/0")
FEDERATION_ID = federation_id(OWNER.address, FEDERATION_SALT)
"""The federation id of the test coordinators, which the session's proofs are bound to."""
LOGREG = TrainingStepSpec(LogisticRegression(features=6, classes=3), batch_size=4, local_steps=2, learning_rate=0.5)
MLP = TrainingStepSpec(Mlp(features=6, hidden=4, classes=3), batch_size=4, local_steps=1, learning_rate=0.5)
PUBLIC_TERMS = FederationTerms(updates=PUBLIC)
"""The default terms with public updates, which the tests of a public federation name: new
federations are private by default."""


LONGEST_FILES = (
    "test_flower_deployment.py",
    "test_flower_private.py",
    "test_cli.py",
    "test_flower.py",
    "test_executors.py",
    "test_watchtower.py",
    "test_audit.py",
    "test_private_run.py",
    "test_private_chain.py",
    "test_run.py",
    "test_cli_devnet.py",
    "test_quality.py",
)
"""Test files that take half a minute or more, longest first. They are collected first, so that
`make test`'s two workers (`--dist loadfile`) start them first and no long file runs alone at the end."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return LONGEST_FILES.index(name) if name in LONGEST_FILES else len(LONGEST_FILES)

    items.sort(key=rank)  # stable: a file's tests keep their order


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    configured = os.environ.get("ZKFL_TEST_CACHE")
    return Path(configured) if configured else tmp_path_factory.mktemp("zkfl-cache")


@pytest.fixture(scope="session")
def logreg_circuits(cache_dir: Path) -> CircuitSet:
    return build_circuits(LOGREG, SLOTS, cache_dir)


@pytest.fixture(scope="session")
def mlp_circuits(cache_dir: Path) -> CircuitSet:
    return build_circuits(MLP, SLOTS, cache_dir)


def client_data(spec: TrainingStepSpec, seed: int) -> ClientData:
    """Separable-ish synthetic data: class c lights up feature c."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, spec.classes, size=spec.sample_count)
    x = rng.uniform(0.0, 0.5, size=(spec.sample_count, spec.features))
    x[np.arange(spec.sample_count), labels] += 0.5
    return make_client_data(spec, x, labels)


def tampered(proof: bytes) -> bytes:
    """The proof bytes with one byte flipped past its commitments: the proof itself is broken."""
    out = bytearray(proof)
    out[300] ^= 0x01
    return bytes(out)


def reject(match: str, action, *args, **kwargs) -> None:
    """`action(*args, **kwargs)` must be refused with a ChainError whose message matches `match`."""
    with pytest.raises(ChainError, match=match):
        action(*args, **kwargs)


def client_context(account: LocalAccount, federation_id: bytes = FEDERATION_ID) -> FixedArray:
    """The context of a proof that `account` submits to a test federation on the devnet."""
    return context(DEVNET_CHAIN_ID, federation_id, account.address)


@dataclass(frozen=True)
class ProvenRound:
    genesis: FixedArray
    data: list[ClientData]
    updates: list[ClientUpdate]
    aggregate: AggregateResult


@pytest.fixture(scope="session")
def proof_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("proofs")


@pytest.fixture(scope="session")
def clients(accounts: list[LocalAccount]) -> list[LocalAccount]:
    """The accounts of clients 0..2 (anvil's accounts 2..4), whom the session's proofs are bound to."""
    return accounts[2 : 2 + SLOTS]


@pytest.fixture(scope="session")
def full_round(logreg_circuits: CircuitSet, clients: list[LocalAccount], proof_dir: Path) -> ProvenRound:
    """Round 1: three clients from the genesis model, all slots filled, aggregated."""
    genesis = quantize(LOGREG.model.init_params(seed=0))
    data = [client_data(LOGREG, seed) for seed in range(SLOTS)]
    updates = [
        train_and_prove(
            logreg_circuits.client, LOGREG, genesis, d, client_context(clients[i]), proof_dir / f"r1-client{i}.json"
        )
        for i, d in enumerate(data)
    ]
    aggregate = aggregate_and_prove(
        logreg_circuits.aggregator, logreg_circuits.fedavg, updates, proof_dir / "r1-agg.json"
    )
    return ProvenRound(genesis, data, updates, aggregate)


@pytest.fixture(scope="session")
def stale_update(
    logreg_circuits: CircuitSet, full_round: ProvenRound, clients: list[LocalAccount], proof_dir: Path
) -> ClientUpdate:
    """Client 2's committed data, trained (and validly proven) from a model that is not the genesis."""
    stale = quantize(LOGREG.model.init_params(seed=99))
    return train_and_prove(
        logreg_circuits.client, LOGREG, stale, full_round.data[2], client_context(clients[2]), proof_dir / "stale.json"
    )


@pytest.fixture(scope="session")
def omitting_aggregate(logreg_circuits: CircuitSet, full_round: ProvenRound, proof_dir: Path) -> AggregateResult:
    """A valid FedAvg proof over round 1's updates of clients 0 and 2 only: a sum omitting client 1's."""
    updates = [full_round.updates[0], None, full_round.updates[2]]
    return aggregate_and_prove(logreg_circuits.aggregator, logreg_circuits.fedavg, updates, proof_dir / "omit.json")


@pytest.fixture(scope="session")
def changed_aggregate(
    logreg_circuits: CircuitSet, full_round: ProvenRound, stale_update: ClientUpdate, proof_dir: Path
) -> AggregateResult:
    """A valid FedAvg proof over round 1's updates with client 2's replaced by another valid update."""
    updates = [full_round.updates[0], full_round.updates[1], stale_update]
    return aggregate_and_prove(logreg_circuits.aggregator, logreg_circuits.fedavg, updates, proof_dir / "changed.json")


@pytest.fixture(scope="session")
def second_batches() -> list[ClientData]:
    """Fresh data batches of clients 0 and 2 for round 2 (each committed batch is used once)."""
    return [client_data(LOGREG, seed) for seed in (10, 12)]


@pytest.fixture(scope="session")
def partial_round(
    logreg_circuits: CircuitSet,
    full_round: ProvenRound,
    second_batches: list[ClientData],
    clients: list[LocalAccount],
    proof_dir: Path,
) -> ProvenRound:
    """Round 2: from round 1's output, clients 0 and 2 train on their second committed batch and
    client 1 does not submit, so slot 1 stays empty."""
    start = full_round.aggregate.weights
    data = second_batches
    updates = [
        train_and_prove(
            logreg_circuits.client, LOGREG, start, d, client_context(account), proof_dir / f"r2-client{i}.json"
        )
        for i, (d, account) in enumerate(zip(data, [clients[0], clients[2]], strict=True))
    ]
    slots = [updates[0], None, updates[1]]
    aggregate = aggregate_and_prove(
        logreg_circuits.aggregator, logreg_circuits.fedavg, slots, proof_dir / "r2-agg.json"
    )
    return ProvenRound(start, data, updates, aggregate)


@pytest.fixture(scope="session")
def reused_batch_update(
    logreg_circuits: CircuitSet, full_round: ProvenRound, clients: list[LocalAccount], proof_dir: Path
) -> ClientUpdate:
    """Client 0 trains round 2 (validly proven) on the batch it already used in round 1."""
    return train_and_prove(
        logreg_circuits.client,
        LOGREG,
        full_round.aggregate.weights,
        full_round.data[0],
        client_context(clients[0]),
        proof_dir / "reused.json",
    )


@pytest.fixture(scope="session")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    """One real anvil for the session, stopped at the end."""
    directory = tmp_path_factory.mktemp("devnet")
    yield start_devnet(directory)
    stop_devnet(directory)


@pytest.fixture(scope="session")
def chain(devnet: Devnet) -> Chain:
    return connect(devnet.rpc_url, expected_chain_id=devnet.chain_id)


@pytest.fixture(scope="session")
def accounts() -> list[LocalAccount]:
    """anvil's funded dev accounts: 0 owner, 1 aggregator, 2.. clients."""
    Account.enable_unaudited_hdwallet_features()
    return [Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}") for i in range(10)]


@pytest.fixture(scope="session")
def verifiers(chain: Chain, accounts: list[LocalAccount], logreg_circuits: CircuitSet, cache_dir: Path) -> Verifiers:
    """The logreg circuits' verifier contracts, deployed once and shared by every federation."""
    return deploy_verifiers(chain, accounts[0], logreg_circuits, cache_dir)
