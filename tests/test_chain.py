"""The coordinator on a real anvil, with real verifiers (ezkl-generated, solc-js-compiled) and
real proofs: a linked two-round federation, and every way a submission or finalization must fail."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from conftest import FEDERATION_SALT, LOGREG, PUBLIC_TERMS, ProvenRound, client_context, reject
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3.exceptions import ContractCustomError

from zkfl.chain.coordinator import MESSAGES, MODEL_SLOT, ROUND_NOT_OPENED, ROUND_OPEN, Coordinator
from zkfl.chain.deploy import (
    FederationConfig,
    Verifiers,
    deploy_circuit_verifier,
    deploy_contract,
    deploy_coordinator,
)
from zkfl.chain.devnet import mine_blocks
from zkfl.chain.rpc import Chain, ErrorDecoder, transact
from zkfl.data.batches import ClientData
from zkfl.errors import ChainError, ConfigError
from zkfl.evm.contracts import project_artifact
from zkfl.federation.terms import PUBLIC, FederationTerms
from zkfl.protocol import CLIENT_POINTS, proof_points, summed_commitment
from zkfl.roles.aggregator import AggregateResult
from zkfl.roles.client import ClientUpdate
from zkfl.zk.build import CircuitSet
from zkfl.zk.commitments import POINT_BYTES, point_hash

pytestmark = pytest.mark.prover

WINDOW = 20
GRACE = 10
STAKE = 10**16
REWARD = 10**15


def _federation(
    chain: Chain,
    accounts: list[LocalAccount],
    verifiers: Verifiers,
    circuits: CircuitSet,
    genesis,
    federation_salt: bytes = FEDERATION_SALT,
) -> Coordinator:
    config = FederationConfig.starting_from(
        circuits,
        genesis,
        "bafy-genesis",
        accounts[1].address,
        FederationTerms(STAKE, REWARD, WINDOW, GRACE, updates=PUBLIC),
        federation_salt,
    )
    return Coordinator(chain, deploy_coordinator(chain, accounts[0], verifiers, circuits, config).coordinator)


@pytest.fixture
def coordinator(
    chain: Chain,
    accounts: list[LocalAccount],
    verifiers: Verifiers,
    logreg_circuits: CircuitSet,
    full_round: ProvenRound,
) -> Coordinator:
    """A fresh federation per test (shared verifiers) from the genesis model of `full_round`, with
    the federation id the session's proofs are bound to."""
    return _federation(chain, accounts, verifiers, logreg_circuits, full_round.genesis)


@pytest.fixture
def registered(
    coordinator: Coordinator,
    clients: list[LocalAccount],
    full_round: ProvenRound,
    second_batches: list[ClientData],
    logreg_circuits: CircuitSet,
) -> list[LocalAccount]:
    """Clients 0..2 (accounts 2..4) registered in slot order, with their batch commitments:
    two batches for clients 0 and 2, one for client 1."""
    batches = [[full_round.data[0], second_batches[0]], [full_round.data[1]], [full_round.data[2], second_batches[1]]]
    for account, data in zip(clients, batches, strict=True):
        coordinator.register(account, [d.commitment_hash(logreg_circuits.commitments, LOGREG) for d in data])
    return clients


def _with_points(proof: bytes, points: dict[int, bytes]) -> bytes:
    """The proof bytes with some of its leading commitments replaced."""
    out = bytearray(proof)
    for index, point in points.items():
        out[index * POINT_BYTES : (index + 1) * POINT_BYTES] = point
    return bytes(out)


def test_linked_two_round_federation_on_chain(
    coordinator: Coordinator,
    chain: Chain,
    accounts: list[LocalAccount],
    registered: list[LocalAccount],
    full_round: ProvenRound,
    partial_round: ProvenRound,
    logreg_circuits: CircuitSet,
) -> None:
    aggregator = accounts[1]
    coordinator.fund_rewards(accounts[0], 10 * REWARD)
    # round 0: every client submits, so the aggregator may finalize before the deadline
    for i, (client, update) in enumerate(zip(registered, full_round.updates, strict=True)):
        receipt = coordinator.submit_update(client, 0, update.proof, f"bafy-r0-c{i}")
        assert receipt["status"] == 1
        assert coordinator.accepted_update_hash(0, i) == update.update_hash
    coordinator.finalize_round(aggregator, 0, full_round.aggregate.proof, "bafy-r1-model", "bafy-sum")
    assert coordinator.current_round == 1
    assert coordinator.round(0).finalized
    commit = logreg_circuits.commitments.commitment_hash
    assert coordinator.round(1).model_hash == full_round.aggregate.global_hash == commit(full_round.aggregate.weights)

    # round 1: client 1 stays away; after the deadline the aggregator finalizes with the others
    coordinator.submit_update(registered[0], 1, partial_round.updates[0].proof, "bafy-r1-c0")
    coordinator.submit_update(registered[2], 1, partial_round.updates[1].proof, "bafy-r1-c2")
    mine_blocks(chain, WINDOW + 1)
    # the aggregator's bond on round 1's model carries over to round 2's: it posts nothing
    with pytest.raises(ChainError, match=f"WrongBond: this posts a bond of exactly 0 wei, not {STAKE}"):
        transact(
            chain,
            aggregator,
            coordinator.contract.functions.finalizeRound(1, partial_round.aggregate.proof.data, "x", "y"),
            coordinator.decoder,
            "a second bond",
            value=STAKE,
        )
    coordinator.finalize_round(aggregator, 1, partial_round.aggregate.proof, "bafy-r2-model", "bafy-sum")
    assert coordinator.round(2).model_hash == partial_round.aggregate.global_hash
    assert coordinator.round(1).finalized and coordinator.round(1).accepted == 2

    opened = coordinator.opened_rounds()
    assert [r.model_hash for r in opened] == [
        commit(full_round.genesis),
        full_round.aggregate.global_hash,
        partial_round.aggregate.global_hash,
    ]
    assert [r.model_cid for r in opened] == ["bafy-genesis", "bafy-r1-model", "bafy-r2-model"]
    assert [(f.round, f.accepted_updates) for f in coordinator.finalized_rounds()] == [(0, 3), (1, 2)]
    accepted = coordinator.accepted_updates()
    assert [(a.round, a.slot, a.cid) for a in accepted] == [
        (0, 0, "bafy-r0-c0"),
        (0, 1, "bafy-r0-c1"),
        (0, 2, "bafy-r0-c2"),
        (1, 0, "bafy-r1-c0"),
        (1, 2, "bafy-r1-c2"),
    ]

    # rewards: two updates of finalized rounds for client 0, one for client 1; credited, then withdrawn
    assert coordinator.rewards_owed(registered[0].address) == 2 * REWARD
    assert coordinator.rewards_owed(registered[1].address) == REWARD
    coordinator.claim_rewards(registered[0])
    assert coordinator.rewards_owed(registered[0].address) == 0
    assert coordinator.payments(registered[0].address) == 2 * REWARD
    before = chain.w3.eth.get_balance(registered[0].address)
    receipt = coordinator.withdraw_payments(registered[0])
    fee = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert chain.w3.eth.get_balance(registered[0].address) == before + 2 * REWARD - fee
    coordinator.withdraw(registered[1])
    assert coordinator.payments(registered[1].address) == STAKE
    # the aggregator's one bond: posted with round 1's model, carried over to round 2's, held
    assert coordinator.payments(aggregator.address) == 0
    assert coordinator.model_bond(2) == (aggregator.address, STAKE)
    assert coordinator.model_bond(1) == (None, 0)  # a closed round holds no bond


def _two_finalized_rounds(
    coordinator: Coordinator,
    chain: Chain,
    accounts: list[LocalAccount],
    aggregators: tuple[LocalAccount, LocalAccount],
    registered: list[LocalAccount],
    full_round: ProvenRound,
    partial_round: ProvenRound,
) -> None:
    """Rounds 0 and 1 finalized (round 1 by `aggregators[1]`, made aggregator by the owner); round 2 open."""
    for i, (client, update) in enumerate(zip(registered, full_round.updates, strict=True)):
        coordinator.submit_update(client, 0, update.proof, f"r0-c{i}")
    coordinator.finalize_round(aggregators[0], 0, full_round.aggregate.proof, "bafy-r1-model", "bafy-sum")
    coordinator.submit_update(registered[0], 1, partial_round.updates[0].proof, "r1-c0")
    coordinator.submit_update(registered[2], 1, partial_round.updates[1].proof, "r1-c2")
    mine_blocks(chain, WINDOW + 1)
    if aggregators[1] != aggregators[0]:
        coordinator.set_aggregator(accounts[0], aggregators[1].address)
    coordinator.finalize_round(aggregators[1], 1, partial_round.aggregate.proof, "bafy-r2-model", "bafy-sum")


def test_a_carried_over_model_bond_is_still_slashed_and_the_round_rolls_back_to_the_model_before(
    coordinator: Coordinator,
    chain: Chain,
    accounts: list[LocalAccount],
    registered: list[LocalAccount],
    full_round: ProvenRound,
    partial_round: ProvenRound,
) -> None:
    """The attack: an aggregator whose bond carried over from round 1's model to round 2's
    publishes round 2's model and withholds it. Its one bond is slashed, and round 3 starts from
    round 1's model, the one round 2's was aggregated from (not genesis)."""
    aggregator = accounts[1]
    _two_finalized_rounds(coordinator, chain, accounts, (aggregator, aggregator), registered, full_round, partial_round)
    assert coordinator.model_bond(2) == (aggregator.address, STAKE) and coordinator.payments(aggregator.address) == 0
    coordinator.request_opening(accounts[5], 2, MODEL_SLOT)
    mine_blocks(chain, coordinator.dispute(2, MODEL_SLOT).reveal_by - chain.w3.eth.block_number + 1)
    pool = coordinator.reward_pool

    coordinator.settle_unanswered(accounts[5], 2, MODEL_SLOT)

    assert coordinator.round(2).skipped and coordinator.current_round == 3
    assert coordinator.round(3).model_hash == full_round.aggregate.global_hash
    share = STAKE * coordinator.contract.functions.challengerShareBps().call() // 10_000
    assert coordinator.reward_pool == pool + STAKE - share
    assert coordinator.model_bond(3) == (None, 0) and coordinator.payments(aggregator.address) == 0


def test_a_new_aggregator_posts_its_own_bond_and_the_former_ones_is_credited_back(
    coordinator: Coordinator,
    chain: Chain,
    accounts: list[LocalAccount],
    registered: list[LocalAccount],
    full_round: ProvenRound,
    partial_round: ProvenRound,
) -> None:
    _two_finalized_rounds(
        coordinator, chain, accounts, (accounts[1], accounts[6]), registered, full_round, partial_round
    )
    assert coordinator.payments(accounts[1].address) == STAKE
    assert coordinator.model_bond(2) == (accounts[6].address, STAKE)


def test_a_round_not_opened_yet_is_refused_by_name(coordinator: Coordinator) -> None:
    """Bad input: the state of a round that has not opened is an error naming the open round, not zeros."""
    assert coordinator.round_status(5) == ROUND_NOT_OPENED and coordinator.round_status(0) == ROUND_OPEN
    with pytest.raises(ChainError, match=r"round 5 has not opened yet \(the open round is 0\)"):
        coordinator.round(5)


def test_tampered_proof_is_rejected(
    coordinator: Coordinator, registered: list[LocalAccount], full_round: ProvenRound
) -> None:
    tampered = bytearray(full_round.updates[0].proof.data)
    tampered[300] ^= 0x01  # past the commitments: the proof itself
    reject(
        "InvalidProof: the verifier at .* rejected the proof",
        coordinator.submit_update,
        registered[0],
        0,
        bytes(tampered),
        "cid",
    )
    assert coordinator.accepted_update_hash(0, 0) == 0


def test_a_proof_claiming_another_update_is_rejected(
    coordinator: Coordinator, registered: list[LocalAccount], full_round: ProvenRound
) -> None:
    other = proof_points(full_round.updates[1].proof.data, 4, "proof")[3]
    reject(
        "InvalidProof",
        coordinator.submit_update,
        registered[0],
        0,
        _with_points(full_round.updates[0].proof.data, {3: other}),
        "cid",
    )


def test_update_from_another_global_model_is_rejected(
    coordinator: Coordinator,
    registered: list[LocalAccount],
    stale_update: ClientUpdate,
    full_round: ProvenRound,
    logreg_circuits: CircuitSet,
) -> None:
    reject(
        f"WrongGlobalModel: the proof starts from model hash {stale_update.global_hash:#x}, "
        f"but round 0's global model hash is {logreg_circuits.commitments.commitment_hash(full_round.genesis):#x}",
        coordinator.submit_update,
        registered[2],
        0,
        stale_update.proof,
        "cid",
    )


def test_copied_proof_from_other_account_is_rejected(
    coordinator: Coordinator, registered: list[LocalAccount], full_round: ProvenRound
) -> None:
    reject(
        f"WrongDataCommitment: the proof's data commitment {full_round.updates[0].data_hash:#x} "
        f"is not one that {registered[1].address} committed at registration",
        coordinator.submit_update,
        registered[1],
        0,
        full_round.updates[0].proof,
        "cid",
    )


def test_the_coordinator_commits_to_each_senders_context_as_kzg_commit_does(
    coordinator: Coordinator, clients: list[LocalAccount], full_round: ProvenRound, logreg_circuits: CircuitSet
) -> None:
    for account, update in zip(clients, full_round.updates, strict=True):
        expected = logreg_circuits.commitments.commitment_hash(client_context(account))
        assert coordinator.context_hash_of(account.address) == expected == update.context_hash
    assert coordinator.context_hash_of(clients[0].address) != coordinator.context_hash_of(clients[1].address)


def test_an_outsider_who_claims_a_clients_data_commitment_can_neither_use_it_nor_lock_the_owner_out(
    coordinator: Coordinator,
    accounts: list[LocalAccount],
    clients: list[LocalAccount],
    full_round: ProvenRound,
    logreg_circuits: CircuitSet,
) -> None:
    outsider, owner = accounts[6], clients[0]
    taken = full_round.data[0].commitment_hash(logreg_circuits.commitments, LOGREG)
    coordinator.register(outsider, [taken])  # front-runs the owner with its public commitment
    reject(
        f"WrongContext: the proof is bound to context {full_round.updates[0].context_hash:#x}, but proofs from "
        f"{outsider.address} in this federation must be bound to",
        coordinator.submit_update,
        outsider,
        0,
        full_round.updates[0].proof,
        "cid",
    )
    coordinator.register(owner, [taken])
    coordinator.submit_update(owner, 0, full_round.updates[0].proof, "cid")
    assert (
        coordinator.accepted_update_hash(0, coordinator.client(owner.address).slot) == full_round.updates[0].update_hash
    )


def test_a_proof_replayed_in_another_federation_of_the_same_circuits_is_rejected(
    chain: Chain,
    accounts: list[LocalAccount],
    clients: list[LocalAccount],
    verifiers: Verifiers,
    logreg_circuits: CircuitSet,
    full_round: ProvenRound,
) -> None:
    """Two federations sharing circuits, SRS, verifiers and genesis: client 0's exact submission to
    X, replayed into Y by an outsider (who registered the public data commitment there first) and by
    the client itself, is refused; in X it is accepted."""
    x = _federation(chain, accounts, verifiers, logreg_circuits, full_round.genesis)
    y = _federation(chain, accounts, verifiers, logreg_circuits, full_round.genesis, bytes(31) + b"\x02")
    commitment = full_round.data[0].commitment_hash(logreg_circuits.commitments, LOGREG)
    proof = full_round.updates[0].proof
    for account in (accounts[6], clients[0]):
        y.register(account, [commitment])
        reject("WrongContext", y.submit_update, account, 0, proof, "cid")
    x.register(clients[0], [commitment])
    x.submit_update(clients[0], 0, proof, "cid")
    assert x.accepted_update_hash(0, 0) == full_round.updates[0].update_hash


def test_a_proof_too_short_to_hold_its_commitments_is_rejected(
    coordinator: Coordinator, accounts: list[LocalAccount], registered: list[LocalAccount], full_round: ProvenRound
) -> None:
    reject(
        "ProofTooShort: the proof has 255 bytes, fewer than the 256 its commitments alone take",
        coordinator.submit_update,
        registered[0],
        0,
        full_round.updates[0].proof.data[:255],
        "cid",
    )
    _submit_clients(coordinator, registered, full_round.updates, [0, 1, 2])
    reject(
        "ProofTooShort: the proof has 100 bytes, fewer than the 128",
        coordinator.finalize_round,
        accounts[1],
        0,
        full_round.aggregate.proof.data[:100],
        "cid",
        "sum-cid",
    )


def test_a_context_key_off_the_curve_is_refused_at_deployment(
    chain: Chain,
    accounts: list[LocalAccount],
    verifiers: Verifiers,
    logreg_circuits: CircuitSet,
    full_round: ProvenRound,
) -> None:
    config = FederationConfig.starting_from(
        logreg_circuits, full_round.genesis, "bafy-genesis", accounts[1].address, PUBLIC_TERMS
    )
    zero, basis, basis_hash, length = config.commitment_key_args()

    def deploy(key: tuple) -> None:
        deploy_contract(
            chain,
            accounts[0],
            project_artifact("Coordinator"),
            verifiers.client,
            verifiers.aggregator,
            config.aggregator,
            logreg_circuits.slots,
            config.genesis_hash,
            config.genesis_cid,
            bytes(32),
            config.terms.as_tuple(),
            config.federation_salt,
            key,
        )

    with pytest.raises(ChainError, match="InvalidPoint"):
        deploy((zero, [[1, 3], *basis[1:]], basis_hash, length))  # (1, 3) is not on y^2 = x^3 + 3
    with pytest.raises(ChainError, match="InvalidContextKey"):
        deploy((zero, [[0, 0], *basis[1:]], basis_hash, length))  # the identity: every context would commit alike


def test_a_federation_salt_that_is_not_32_bytes_is_refused(
    accounts: list[LocalAccount], logreg_circuits: CircuitSet, full_round: ProvenRound
) -> None:
    with pytest.raises(ConfigError, match="a federation salt is 32 bytes, got 31"):
        FederationConfig.starting_from(
            logreg_circuits, full_round.genesis, "bafy-genesis", accounts[1].address, federation_salt=bytes(31)
        )


def test_committing_a_data_commitment_twice_is_rejected(coordinator: Coordinator, clients: list[LocalAccount]) -> None:
    reject(
        f"DataAlreadyCommitted: {clients[0].address} already committed data commitment {7:#x}",
        coordinator.register,
        clients[0],
        [7, 7],
    )
    assert coordinator.data_batch(clients[0].address, 7) == (False, False, 0)  # the whole registration reverted


def test_update_on_an_already_used_batch_is_rejected(
    coordinator: Coordinator,
    accounts: list[LocalAccount],
    registered: list[LocalAccount],
    full_round: ProvenRound,
    reused_batch_update: ClientUpdate,
) -> None:
    _submit_clients(coordinator, registered, full_round.updates, [0, 1, 2])
    coordinator.finalize_round(accounts[1], 0, full_round.aggregate.proof, "bafy-r1-model", "bafy-sum")
    reject(
        f"DataCommitmentUsed: data batch {full_round.updates[0].data_hash:#x} was already used",
        coordinator.submit_update,
        registered[0],
        1,
        reused_batch_update.proof,
        "cid",
    )


def test_committing_more_batches_later_makes_them_usable(
    coordinator: Coordinator, clients: list[LocalAccount], full_round: ProvenRound, logreg_circuits: CircuitSet
) -> None:
    client = clients[0]
    commitment = full_round.data[0].commitment_hash(logreg_circuits.commitments, LOGREG)
    coordinator.register(client, [12345])
    reject("WrongDataCommitment", coordinator.submit_update, client, 0, full_round.updates[0].proof, "cid")
    coordinator.commit_data(client, [commitment])  # inside the registration window: usable from round 0
    assert coordinator.data_batch(client.address, commitment) == (True, False, 0)
    coordinator.submit_update(client, 0, full_round.updates[0].proof, "cid")
    assert coordinator.data_batch(client.address, commitment) == (True, True, 0)


def test_registration_without_data_commitments_is_rejected(
    coordinator: Coordinator, accounts: list[LocalAccount]
) -> None:
    reject("NoDataCommitments", coordinator.register, accounts[7], [])


def test_double_submission_is_rejected(
    coordinator: Coordinator, registered: list[LocalAccount], full_round: ProvenRound
) -> None:
    coordinator.submit_update(registered[0], 0, full_round.updates[0].proof, "cid")
    reject(
        f"AlreadySubmitted: {registered[0].address} already submitted an update in round 0",
        coordinator.submit_update,
        registered[0],
        0,
        full_round.updates[0].proof,
        "cid",
    )


def test_unregistered_sender_is_rejected(
    coordinator: Coordinator, accounts: list[LocalAccount], full_round: ProvenRound
) -> None:
    reject(
        f"NotRegistered: {accounts[7].address} is not a registered client",
        coordinator.submit_update,
        accounts[7],
        0,
        full_round.updates[0].proof,
        "cid",
    )


def test_wrong_stake_is_rejected(
    coordinator: Coordinator, accounts: list[LocalAccount], full_round: ProvenRound
) -> None:
    reject(f"WrongStake: registration stakes exactly {STAKE} wei, not 1", coordinator.register, accounts[7], [123], 1)


def test_late_submission_after_the_deadline_is_rejected(
    coordinator: Coordinator, chain: Chain, registered: list[LocalAccount], full_round: ProvenRound
) -> None:
    mine_blocks(chain, WINDOW + 1)
    reject(
        "SubmissionClosed: round 0 closed for submissions at block",
        coordinator.submit_update,
        registered[0],
        0,
        full_round.updates[0].proof,
        "cid",
    )


def _submit_clients(
    coordinator: Coordinator, clients: list[LocalAccount], updates: list[ClientUpdate], which: list[int]
) -> None:
    for i in which:
        coordinator.submit_update(clients[i], 0, updates[i].proof, f"cid-{i}")


def test_an_aggregation_over_a_sum_with_an_update_the_round_did_not_accept_is_refused(
    coordinator: Coordinator,
    chain: Chain,
    accounts: list[LocalAccount],
    registered: list[LocalAccount],
    full_round: ProvenRound,
    logreg_circuits: CircuitSet,
) -> None:
    _submit_clients(coordinator, registered, full_round.updates, [0, 2])  # client 1's update never accepted
    mine_blocks(chain, WINDOW + 1)
    accepted = [full_round.updates[i] for i in (0, 2)]
    expected = point_hash(
        summed_commitment([_update_point(u) for u in accepted], logreg_circuits.commitments.zero_point())
    )
    assert coordinator.accepted_sum_hash() == expected
    reject(
        f"WrongUpdateSum: the aggregation took commitment {full_round.aggregate.sum_hash:#x} as its input, but the "
        f"sum of round 0's accepted updates commits to {expected:#x}",
        coordinator.finalize_round,
        accounts[1],
        0,
        full_round.aggregate.proof,
        "cid",
        "sum-cid",
    )


def test_an_aggregation_over_a_sum_that_omits_an_accepted_update_is_refused(
    coordinator: Coordinator,
    accounts: list[LocalAccount],
    registered: list[LocalAccount],
    full_round: ProvenRound,
    omitting_aggregate: AggregateResult,
) -> None:
    _submit_clients(coordinator, registered, full_round.updates, [0, 1, 2])
    reject(
        f"WrongUpdateSum: the aggregation took commitment {omitting_aggregate.sum_hash:#x}",
        coordinator.finalize_round,
        accounts[1],
        0,
        omitting_aggregate.proof,
        "cid",
        "sum-cid",
    )
    coordinator.finalize_round(accounts[1], 0, full_round.aggregate.proof, "cid", "sum-cid")  # the true sum passes


def test_an_aggregation_over_a_sum_with_one_update_changed_is_refused(
    coordinator: Coordinator,
    accounts: list[LocalAccount],
    registered: list[LocalAccount],
    full_round: ProvenRound,
    changed_aggregate: AggregateResult,
) -> None:
    _submit_clients(coordinator, registered, full_round.updates, [0, 1, 2])
    reject(
        f"WrongUpdateSum: the aggregation took commitment {changed_aggregate.sum_hash:#x}",
        coordinator.finalize_round,
        accounts[1],
        0,
        changed_aggregate.proof,
        "cid",
        "sum-cid",
    )


def _update_point(update: ClientUpdate) -> bytes:
    return proof_points(update.proof.data, CLIENT_POINTS, "a client proof")[3]


def test_finalize_twice_is_rejected(
    coordinator: Coordinator, accounts: list[LocalAccount], registered: list[LocalAccount], full_round: ProvenRound
) -> None:
    _submit_clients(coordinator, registered, full_round.updates, [0, 1, 2])
    coordinator.finalize_round(accounts[1], 0, full_round.aggregate.proof, "cid", "bafy-sum")
    reject(
        "WrongRound: round 0 is not the open round \\(1\\)",
        coordinator.finalize_round,
        accounts[1],
        0,
        full_round.aggregate.proof,
        "cid",
        "sum-cid",
    )


def test_early_finalize_with_missing_clients_is_rejected(
    coordinator: Coordinator, accounts: list[LocalAccount], registered: list[LocalAccount], full_round: ProvenRound
) -> None:
    _submit_clients(coordinator, registered, full_round.updates, [0])
    reject(
        "SubmissionStillOpen: round 0 is still open until block",
        coordinator.finalize_round,
        accounts[1],
        0,
        full_round.aggregate.proof,
        "cid",
        "sum-cid",
    )


def test_finalize_by_another_account_is_rejected(
    coordinator: Coordinator, accounts: list[LocalAccount], registered: list[LocalAccount], full_round: ProvenRound
) -> None:
    _submit_clients(coordinator, registered, full_round.updates, [0, 1, 2])
    reject(
        f"NotAggregator: only the federation's aggregator may do this, not {accounts[2].address}",
        coordinator.finalize_round,
        accounts[2],
        0,
        full_round.aggregate.proof,
        "cid",
        "sum-cid",
    )


def test_tampered_aggregation_proof_is_rejected(
    coordinator: Coordinator, accounts: list[LocalAccount], registered: list[LocalAccount], full_round: ProvenRound
) -> None:
    _submit_clients(coordinator, registered, full_round.updates, [0, 1, 2])
    other_model = proof_points(full_round.updates[0].proof.data, 1, "proof")[0]  # the genesis commitment
    proof = _with_points(full_round.aggregate.proof.data, {1: other_model})  # claim another next global model
    reject("InvalidProof", coordinator.finalize_round, accounts[1], 0, proof, "cid", "bafy-sum")
    assert not coordinator.round(0).finalized


def test_reusable_verifier_fallback_accepts_valid_and_rejects_tampered_proofs(
    chain: Chain,
    accounts: list[LocalAccount],
    verifiers: Verifiers,
    logreg_circuits: CircuitSet,
    full_round: ProvenRound,
    cache_dir: Path,
) -> None:
    reusable = deploy_circuit_verifier(chain, accounts[0], logreg_circuits.client, cache_dir, reusable=True)
    assert reusable.kind == "reusable"
    coordinator = _federation(
        chain, accounts, Verifiers(reusable.address, verifiers.aggregator, {}), logreg_circuits, full_round.genesis
    )
    coordinator.register(accounts[2], [full_round.data[0].commitment_hash(logreg_circuits.commitments, LOGREG)])
    proof = full_round.updates[0].proof.data
    tampered = bytearray(proof)
    tampered[300] ^= 0x01
    reject("InvalidProof", coordinator.submit_update, accounts[2], 0, bytes(tampered), "cid")
    other_update = proof_points(full_round.updates[1].proof.data, 4, "proof")[3]
    reject("InvalidProof", coordinator.submit_update, accounts[2], 0, _with_points(proof, {3: other_update}), "cid")
    coordinator.submit_update(accounts[2], 0, full_round.updates[0].proof, "cid")
    assert coordinator.accepted_update_hash(0, 0) == full_round.updates[0].update_hash

    # an under-gassed call reverts (VerifierOutOfGas) instead of returning false, so gas estimation
    # cannot settle on the starved path and a starved call never looks like a rejected proof
    adapter_abi = project_artifact("ReusableVerifierAdapter").abi
    adapter = chain.w3.eth.contract(address=reusable.address, abi=adapter_abi)
    call = adapter.functions.verifyProof(proof, [])
    gas = call.estimate_gas()
    assert call.call({"gas": gas}) is True
    with pytest.raises(ContractCustomError) as starved:
        call.call({"gas": gas // 2})
    assert ErrorDecoder([adapter_abi]).decode(starved.value.data) == f"VerifierOutOfGas(verifier={reusable.address})"
    assert adapter.functions.verifyProof(bytes(tampered), []).call() is False


def test_a_starved_verifier_is_not_reported_as_an_invalid_proof(
    coordinator: Coordinator, registered: list[LocalAccount], full_round: ProvenRound
) -> None:
    call = coordinator.contract.functions.submitUpdate(0, full_round.updates[0].proof.data, "cid")
    with pytest.raises(ContractCustomError) as starved:
        call.call({"from": registered[0].address, "gas": 400_000})
    assert coordinator.decoder.decode(starved.value.data) == (
        f"VerifierOutOfGas: the verifier at {coordinator.client_verifier} ran out of gas before reaching a verdict; "
        "raise the gas limit"
    )


def test_every_contract_error_has_a_sentence_taking_exactly_its_parameters() -> None:
    declared = {
        item["name"]: [i["name"] for i in item["inputs"]]
        for item in project_artifact("Coordinator").abi
        if item["type"] == "error"
    }
    assert sorted(MESSAGES) == sorted(declared), "MESSAGES and the coordinator's errors differ"
    for name, message in MESSAGES.items():
        assert list(inspect.signature(message).parameters) == declared[name], f"{name}'s parameters changed"


def test_a_message_that_no_longer_fits_its_error_falls_back_to_the_raw_error() -> None:
    abi = [
        {
            "type": "error",
            "name": "WrongRound",
            "inputs": [{"name": "open", "type": "uint256"}, {"name": "given", "type": "uint256"}],
        }
    ]
    decoder = ErrorDecoder([abi], {"WrongRound": MESSAGES["WrongRound"]})  # expects `current`, the ABI says `open`
    data = (
        "0x"
        + (keccak(text="WrongRound(uint256,uint256)")[:4] + (3).to_bytes(32, "big") + (5).to_bytes(32, "big")).hex()
    )
    assert decoder.decode(data) == "WrongRound(open=3, given=5)"


def test_a_stalled_aggregation_locks_no_stake_past_the_grace_period(
    coordinator: Coordinator,
    chain: Chain,
    accounts: list[LocalAccount],
    registered: list[LocalAccount],
    full_round: ProvenRound,
) -> None:
    _submit_clients(coordinator, registered, full_round.updates, [0, 1, 2])
    client = registered[0]
    after = coordinator.round(0).deadline + coordinator.terms.challenge_window + GRACE
    reject(
        f"PendingSubmission: {client.address} has an update waiting in round 0; it can withdraw once the round "
        f"is closed, or after block {after}",
        coordinator.withdraw,
        client,
    )
    mine_blocks(chain, after - chain.w3.eth.block_number)  # now at the grace period's last block
    reject("PendingSubmission", coordinator.withdraw, client)
    mine_blocks(chain, 1)
    coordinator.withdraw(client)
    assert coordinator.payments(client.address) == STAKE
    assert not coordinator.client(client.address).registered
    # the update stays in the round: it was verified when accepted, and a late aggregation counts it
    assert coordinator.accepted_update_hash(0, 0) == full_round.updates[0].update_hash
    coordinator.finalize_round(accounts[1], 0, full_round.aggregate.proof, "bafy-r1-model", "bafy-sum")
    assert coordinator.round(1).model_hash == full_round.aggregate.global_hash


def test_unreachable_rpc_is_a_clear_error() -> None:
    from zkfl.chain.rpc import connect

    with pytest.raises(ChainError, match=r"cannot reach a JSON-RPC node at http://127\.0\.0\.1:9"):
        connect("http://127.0.0.1:9", timeout=2)


def test_wrong_chain_id_is_a_clear_error(chain: Chain) -> None:
    from zkfl.chain.rpc import connect

    with pytest.raises(ChainError, match="is chain id 31337, expected 1"):
        connect(chain.rpc_url, expected_chain_id=1)


def test_out_of_gas_is_a_clear_error(
    coordinator: Coordinator, registered: list[LocalAccount], full_round: ProvenRound
) -> None:
    call = coordinator.contract.functions.submitUpdate(0, full_round.updates[0].proof.data, "cid")
    with pytest.raises(ChainError, match=r"ran out of gas \(400000 gas limit, \d+ used\); raise the gas limit"):
        transact(coordinator.chain, registered[0], call, coordinator.decoder, "update submission", gas=400_000)
    assert coordinator.accepted_update_hash(0, 0) == 0


def test_insufficient_funds_is_a_clear_error(coordinator: Coordinator) -> None:
    from eth_account import Account

    pauper = Account.create()
    reject("insufficient funds", coordinator.register, pauper, [42])
