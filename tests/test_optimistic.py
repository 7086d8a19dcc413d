"""Optimistic verification on a real anvil with real proofs and verifiers: a submission carries its
proof's commitments and SHA-256 only; a challenge runs the verifier on the proof bytes; an invalid
proof is slashed and leaves the round, which then finalizes without it; a valid one earns the
challenger's bond. And every refusal: a challenge after the window, with other bytes, twice, on
an eager federation; a finalization inside the window; a re-entrant challenger."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FEDERATION_SALT, LOGREG, ProvenRound, reject, tampered
from eth_account.signers.local import LocalAccount

from zkfl.chain.coordinator import Coordinator
from zkfl.chain.deploy import FederationConfig, Verifiers, deploy_contract, deploy_coordinator
from zkfl.chain.devnet import mine_blocks
from zkfl.chain.rpc import Chain, transact
from zkfl.data.batches import ClientData
from zkfl.evm.solidity import compile_sources
from zkfl.federation.terms import OPTIMISTIC, PUBLIC, FederationTerms
from zkfl.protocol import optimistic_claim, summed_commitment
from zkfl.roles.aggregator import aggregate_and_prove
from zkfl.zk.build import CircuitSet
from zkfl.zk.commitments import POINT_BYTES, point_hash

pytestmark = pytest.mark.prover

WINDOW, GRACE, CHALLENGE_WINDOW = 20, 10, 8
STAKE, REWARD, BOND, SHARE_BPS = 10**16, 10**15, 3 * 10**15, 4_000
TERMS = FederationTerms(STAKE, REWARD, WINDOW, GRACE, OPTIMISTIC, CHALLENGE_WINDOW, BOND, SHARE_BPS, updates=PUBLIC)
EAGER_TERMS = FederationTerms(STAKE, REWARD, WINDOW, GRACE, challenge_bond_wei=BOND, updates=PUBLIC)


def _federation(
    chain: Chain,
    accounts: list[LocalAccount],
    verifiers: Verifiers,
    circuits: CircuitSet,
    genesis,
    terms: FederationTerms = TERMS,
) -> Coordinator:
    config = FederationConfig.starting_from(
        circuits, genesis, "bafy-genesis", accounts[1].address, terms, FEDERATION_SALT
    )
    return Coordinator(chain, deploy_coordinator(chain, accounts[0], verifiers, circuits, config).coordinator)


@pytest.fixture
def coordinator(
    chain: Chain,
    accounts: list[LocalAccount],
    verifiers: Verifiers,
    logreg_circuits: CircuitSet,
    full_round: ProvenRound,
    clients: list[LocalAccount],
) -> Coordinator:
    """An optimistic federation with clients 0..2 registered on their round-0 batches, and a funded reward pool."""
    coordinator = _federation(chain, accounts, verifiers, logreg_circuits, full_round.genesis)
    for account, data in zip(clients, full_round.data, strict=True):
        coordinator.register(account, [data.commitment_hash(logreg_circuits.commitments, LOGREG)])
    coordinator.fund_rewards(accounts[0], 10 * REWARD)
    return coordinator


def test_an_invalid_proof_is_slashed_and_removed_and_the_round_finalizes_without_it(
    coordinator: Coordinator,
    chain: Chain,
    accounts: list[LocalAccount],
    clients: list[LocalAccount],
    full_round: ProvenRound,
    logreg_circuits: CircuitSet,
    tmp_path: Path,
) -> None:
    honest, cheat = full_round.updates[:2], tampered(full_round.updates[2].proof.data)
    for i, update in enumerate(honest):
        coordinator.submit_update_optimistic(clients[i], 0, update.proof, f"bafy-c{i}")
    coordinator.submit_update_optimistic(clients[2], 0, cheat, "bafy-c2")  # accepted: no verifier runs
    assert coordinator.round(0).accepted == 3 and coordinator.rewards_owed(clients[2].address) == 0  # pending
    pool, challenger = coordinator.reward_pool, accounts[5]
    commitments, _ = optimistic_claim(cheat)

    receipt = coordinator.challenge(challenger, 0, 2, commitments, cheat)

    assert receipt["status"] == 1
    share = STAKE * SHARE_BPS // 10_000
    assert coordinator.payments(challenger.address) == BOND + share  # bond back, plus its share, credited
    assert coordinator.reward_pool == pool + STAKE - share
    assert coordinator.accepted_update_hash(0, 2) == 0 and coordinator.round(0).accepted == 2
    points = [optimistic_claim(u.proof.data)[0][3 * POINT_BYTES :] for u in honest]
    zero = logreg_circuits.commitments.zero_point()
    assert coordinator.accepted_sum_hash() == point_hash(
        summed_commitment(points, zero)
    )  # the slashed one left the sum
    slashed = coordinator.client(clients[2].address)
    assert not slashed.registered and slashed.stake == 0 and not slashed.has_pending
    assert coordinator.registered_clients == 2
    reject("NothingToChallenge", coordinator.challenge, challenger, 0, 2, commitments, cheat)

    mine_blocks(chain, coordinator.round(0).deadline + 1 - chain.w3.eth.block_number)  # inside the challenge window
    aggregate = aggregate_and_prove(
        logreg_circuits.aggregator, logreg_circuits.fedavg, [*honest, None], tmp_path / "agg.json"
    )
    reject("ChallengeWindowOpen", coordinator.finalize_round, accounts[1], 0, aggregate.proof, "bafy-next", "bafy-sum")
    reject("PendingSubmission", coordinator.withdraw, clients[0])  # a pending update keeps the stake slashable
    mine_blocks(chain, CHALLENGE_WINDOW)
    reject(
        "ChallengeWindowClosed",
        coordinator.challenge,
        challenger,
        0,
        0,
        optimistic_claim(honest[0].proof.data)[0],
        honest[0].proof.data,
    )
    coordinator.finalize_round(accounts[1], 0, aggregate.proof, "bafy-next", "bafy-sum")
    assert coordinator.current_round == 1 and coordinator.round(1).model_hash == aggregate.global_hash
    assert coordinator.rewards_owed(clients[0].address) == REWARD  # finalized: now owed


def test_a_slots_claim_is_rewritten_each_round_and_names_its_round(
    coordinator: Coordinator,
    chain: Chain,
    accounts: list[LocalAccount],
    clients: list[LocalAccount],
    full_round: ProvenRound,
    partial_round: ProvenRound,
    second_batches: list[ClientData],
    logreg_circuits: CircuitSet,
) -> None:
    """A slot's claim is one word, rewritten each round. In round 1 a challenge with the slot's
    round-0 proof (valid, and its claim's bytes once) is refused; round 1's invalid proof in that
    slot is slashed, and a valid round-1 proof challenged pays its client."""
    for client, data in ((clients[0], second_batches[0]), (clients[2], second_batches[1])):
        coordinator.commit_data(client, [data.commitment_hash(logreg_circuits.commitments, LOGREG)])
    for i, update in enumerate(full_round.updates):
        coordinator.submit_update_optimistic(clients[i], 0, update.proof, f"r0-c{i}")
    mine_blocks(chain, coordinator.round(0).deadline + CHALLENGE_WINDOW + 1 - chain.w3.eth.block_number)
    coordinator.finalize_round(accounts[1], 0, full_round.aggregate.proof, "bafy-r1", "bafy-sum")
    coordinator.submit_update_optimistic(clients[0], 1, partial_round.updates[0].proof, "r1-c0")
    cheat = tampered(partial_round.updates[1].proof.data)
    coordinator.submit_update_optimistic(clients[2], 1, cheat, "r1-c2")

    earlier = full_round.updates[2].proof.data
    reject("ClaimMismatch", coordinator.challenge, accounts[5], 1, 2, optimistic_claim(earlier)[0], earlier)
    coordinator.challenge(accounts[5], 1, 2, optimistic_claim(cheat)[0], cheat)
    assert coordinator.accepted_update_hash(1, 2) == 0 and not coordinator.client(clients[2].address).registered
    honest = partial_round.updates[0].proof.data
    coordinator.challenge(accounts[6], 1, 0, optimistic_claim(honest)[0], honest)
    assert coordinator.payments(clients[0].address) == BOND
    assert coordinator.round(1).accepted == 1 and coordinator.round(0).accepted == 3


def test_a_valid_proof_challenged_pays_the_bond_to_its_client_and_cannot_be_challenged_again(
    coordinator: Coordinator,
    chain: Chain,
    accounts: list[LocalAccount],
    clients: list[LocalAccount],
    full_round: ProvenRound,
) -> None:
    proof = full_round.updates[0].proof.data
    coordinator.submit_update_optimistic(clients[0], 0, proof, "bafy-c0")
    commitments, _ = optimistic_claim(proof)
    coordinator.challenge(accounts[5], 0, 0, commitments, proof)
    assert coordinator.payments(clients[0].address) == BOND
    assert coordinator.accepted_update_hash(0, 0) == full_round.updates[0].update_hash
    assert coordinator.client(clients[0].address).stake == STAKE
    reject("AlreadyDefended", coordinator.challenge, accounts[6], 0, 0, commitments, proof)


def test_a_challenge_with_other_bytes_or_commitments_is_refused(
    coordinator: Coordinator, accounts: list[LocalAccount], clients: list[LocalAccount], full_round: ProvenRound
) -> None:
    proof = full_round.updates[0].proof.data
    coordinator.submit_update_optimistic(clients[0], 0, proof, "bafy-c0")
    commitments, _ = optimistic_claim(proof)
    for args in (
        (commitments, tampered(proof)),  # not the bytes it was submitted with
        (optimistic_claim(full_round.updates[1].proof.data)[0], proof),
    ):  # nor its commitments
        reject("ClaimMismatch", coordinator.challenge, accounts[5], 0, 0, *args)
    reject("WrongBond", coordinator.challenge, accounts[5], 0, 0, commitments, proof, bond_wei=BOND - 1)
    reject("NothingToChallenge", coordinator.challenge, accounts[5], 0, 1, commitments, proof)


def test_modes_do_not_mix_and_an_eager_federation_verifies_on_submission(
    chain: Chain,
    accounts: list[LocalAccount],
    verifiers: Verifiers,
    logreg_circuits: CircuitSet,
    coordinator: Coordinator,
    clients: list[LocalAccount],
    full_round: ProvenRound,
) -> None:
    proof = full_round.updates[0].proof.data
    reject(
        "WrongVerificationMode: this federation verifies proofs optimistically",
        coordinator.submit_update,
        clients[0],
        0,
        proof,
        "cid",
    )
    eager = _federation(
        chain,
        accounts,
        verifiers,
        logreg_circuits,
        full_round.genesis,
        EAGER_TERMS,
    )
    assert eager.terms == EAGER_TERMS
    eager.register(clients[0], [full_round.data[0].commitment_hash(logreg_circuits.commitments, LOGREG)])
    reject(
        "WrongVerificationMode: this federation verifies every proof",
        eager.submit_update_optimistic,
        clients[0],
        0,
        tampered(proof),
        "cid",
    )
    reject("InvalidProof", eager.submit_update, clients[0], 0, tampered(proof), "cid")
    eager.submit_update(clients[0], 0, proof, "cid")
    reject("WrongVerificationMode", eager.challenge, accounts[5], 0, 0, optimistic_claim(proof)[0], proof)
    reject("WrongVerificationMode", eager.request_proof, accounts[5], 0, 0)


REENTRANT = """
// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

interface IPullPayments {
    function challenge(uint256 round, uint256 slot, bytes calldata commitments, bytes calldata proof) external payable;
    function withdrawPayments(address payable payee) external;
}

/// A challenger whose payout re-enters `withdrawPayments`.
contract ReentrantChallenger {
    IPullPayments private immutable target;
    uint256 public payouts;
    bytes public reentryError;

    constructor(IPullPayments target_) { target = target_; }

    function attack(uint256 round_, uint256 slot_, bytes calldata commitments_, bytes calldata proof_)
        external
        payable
    {
        target.challenge{value: msg.value}(round_, slot_, commitments_, proof_);
        target.withdrawPayments(payable(address(this)));
    }

    receive() external payable {
        payouts += 1;
        try target.withdrawPayments(payable(address(this))) {} catch (bytes memory e) {
            reentryError = e;
        }
    }
}
"""


def test_a_payout_cannot_be_withdrawn_twice_by_reentering(
    coordinator: Coordinator,
    chain: Chain,
    accounts: list[LocalAccount],
    clients: list[LocalAccount],
    full_round: ProvenRound,
) -> None:
    cheat = tampered(full_round.updates[2].proof.data)
    coordinator.submit_update_optimistic(clients[2], 0, cheat, "bafy-c2")
    artifact = compile_sources({"ReentrantChallenger.sol": REENTRANT})["ReentrantChallenger"]
    address, _ = deploy_contract(chain, accounts[0], artifact, coordinator.address)
    attacker = chain.w3.eth.contract(address=address, abi=artifact.abi)
    pool = coordinator.reward_pool
    call = attacker.functions.attack(0, 2, optimistic_claim(cheat)[0], cheat)
    transact(chain, accounts[0], call, coordinator.decoder, "attack", value=BOND)
    share = STAKE * SHARE_BPS // 10_000
    assert attacker.functions.payouts().call() == 1  # paid once; the re-entered withdrawal found nothing
    assert coordinator.decoder.decode("0x" + attacker.functions.reentryError().call().hex()).startswith(
        "NothingToWithdraw"
    )
    assert chain.w3.eth.get_balance(address) == BOND + share  # its bond back and its share, once
    assert coordinator.reward_pool == pool + STAKE - share and coordinator.payments(address) == 0


def test_a_requested_proof_is_revealed_or_its_client_is_slashed_and_finalization_waits_for_requests(
    coordinator: Coordinator,
    chain: Chain,
    accounts: list[LocalAccount],
    clients: list[LocalAccount],
    full_round: ProvenRound,
    logreg_circuits: CircuitSet,
    tmp_path: Path,
) -> None:
    honest, withheld = full_round.updates[0].proof.data, tampered(full_round.updates[2].proof.data)
    coordinator.submit_update_optimistic(clients[0], 0, honest, "bafy-c0")  # bytes kept from the store
    coordinator.submit_update_optimistic(clients[2], 0, withheld, "bafy-c2")  # an invalid proof, withheld
    watcher = accounts[5]
    coordinator.request_proof(watcher, 0, 0)
    reject("RequestPending", coordinator.request_proof, watcher, 0, 0)
    reject("RequestPending", coordinator.challenge, watcher, 0, 0, optimistic_claim(honest)[0], honest)

    coordinator.reveal_proof(clients[0], 0, 0, optimistic_claim(honest)[0], honest)  # valid: bond to the revealer
    assert coordinator.payments(clients[0].address) == BOND
    assert coordinator.proof_request(0, 0) is None and coordinator.accepted_update_hash(0, 0) != 0

    window_ends = coordinator.round(0).deadline + CHALLENGE_WINDOW
    mine_blocks(
        chain, window_ends - 1 - chain.w3.eth.block_number
    )  # the request below lands on the window's last block
    coordinator.request_proof(watcher, 0, 2)
    _, reveal_by = coordinator.proof_request(0, 2)
    assert reveal_by == window_ends + TERMS.reveal_window
    reject("RevealWindowOpen", coordinator.settle_unanswered, watcher, 0, 2)
    mine_blocks(chain, 1)  # the challenge window is over, the request is not
    reject("ChallengeWindowClosed", coordinator.request_proof, watcher, 0, 0)
    aggregate = aggregate_and_prove(
        logreg_circuits.aggregator, logreg_circuits.fedavg, [full_round.updates[0], None, None], tmp_path / "agg.json"
    )
    reject("DisputesOpen", coordinator.finalize_round, accounts[1], 0, aggregate.proof, "bafy-next", "bafy-sum")
    reject("PendingSubmission", coordinator.withdraw, clients[2])  # its stake stays slashable
    mine_blocks(chain, reveal_by + 1 - chain.w3.eth.block_number)
    reject("RevealWindowClosed", coordinator.reveal_proof, clients[2], 0, 2, optimistic_claim(withheld)[0], withheld)
    pool = coordinator.reward_pool
    coordinator.settle_unanswered(watcher, 0, 2)
    share = STAKE * SHARE_BPS // 10_000
    assert coordinator.payments(watcher.address) == BOND + share
    assert coordinator.reward_pool == pool + STAKE - share
    assert coordinator.accepted_update_hash(0, 2) == 0 and not coordinator.client(clients[2].address).registered
    coordinator.finalize_round(accounts[1], 0, aggregate.proof, "bafy-next", "bafy-sum")
    assert coordinator.current_round == 1


def test_a_submission_whose_update_is_no_curve_point_is_refused(
    coordinator: Coordinator, clients: list[LocalAccount], full_round: ProvenRound
) -> None:
    """Optimistic submissions are not verified, but their update point enters the round's sum: the
    EC precompile refuses a point off the curve, so the submission reverts and nothing is accepted."""
    proof = full_round.updates[0].proof.data
    off_curve = (1).to_bytes(32, "big") + (3).to_bytes(32, "big")  # y^2 = 9 is not x^3 + 3 = 4
    forged = proof[: 3 * POINT_BYTES] + off_curve + proof[4 * POINT_BYTES :]
    reject("InvalidPoint", coordinator.submit_update_optimistic, clients[0], 0, forged, "bafy-forged")
    assert coordinator.round(0).accepted == 0
