"""The security review's attacks (issue 21), each performed on a real anvil with the shipped
coordinator and real proofs, and each now failing or costing the attacker: stalls (a payee that
rejects ether, a round nobody fills, a vector nobody opens, a model nobody opens), stake and
reward theft (a starved verifier, a self-challenge, a reused slot), data picked after the model,
and a copycat federation. The watchtower and pipeline sides (who reveals and opens) are in
tests/test_watchtower.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FEDERATION_ID, FEDERATION_SALT, LOGREG, ProvenRound, reject, tampered
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from zkfl.chain.coordinator import MODEL_SLOT, Coordinator
from zkfl.chain.deploy import FederationConfig, Verifiers, deploy_contract, deploy_coordinator
from zkfl.chain.devnet import mine_blocks
from zkfl.chain.rpc import Chain, transact
from zkfl.errors import ChainError
from zkfl.evm.contracts import project_artifact
from zkfl.evm.solidity import compile_sources
from zkfl.federation.terms import EAGER, OPTIMISTIC, PUBLIC, FederationTerms
from zkfl.protocol import federation_id, opening_values, optimistic_claim
from zkfl.roles.aggregator import aggregate_and_prove
from zkfl.zk.build import CircuitSet
from zkfl.zk.commitments import point_hash

pytestmark = pytest.mark.prover

STAKE, REWARD, BOND, SHARE_BPS = 10**16, 10**15, 3 * 10**15, 5_000
WINDOW, GRACE, CHALLENGE, REVEAL, REGISTRATION = 20, 10, 8, 6, 5


def _terms(verification: str = EAGER, **changes: int) -> FederationTerms:
    """The test federations' terms (public updates, unless `changes` say otherwise)."""
    terms = dict(
        stake_wei=STAKE,
        reward_wei=REWARD,
        submission_window=WINDOW,
        finalization_grace=GRACE,
        verification=verification,
        challenge_window=CHALLENGE,
        challenge_bond_wei=BOND,
        challenger_share_bps=SHARE_BPS,
        registration_window=REGISTRATION,
        reveal_window=REVEAL,
        updates=PUBLIC,
    )
    return FederationTerms(**{**terms, **changes})


def _deploy(
    chain: Chain,
    accounts: list[LocalAccount],
    verifiers: Verifiers,
    circuits: CircuitSet,
    genesis,
    terms: FederationTerms,
    deployer: LocalAccount | None = None,
) -> Coordinator:
    config = FederationConfig.starting_from(
        circuits, genesis, "bafy-genesis", accounts[1].address, terms, FEDERATION_SALT
    )
    deployment = deploy_coordinator(chain, deployer or accounts[0], verifiers, circuits, config)
    return Coordinator(chain, deployment.coordinator)


def _register(coordinator: Coordinator, circuits: CircuitSet, clients: list[LocalAccount], data: list) -> None:
    for account, batch in zip(clients, data, strict=True):
        coordinator.register(account, [batch.commitment_hash(circuits.commitments, LOGREG)])


def _mine_to(chain: Chain, block: int) -> None:
    """Mine until the chain's head is `block`: calls are simulated at it, so a rule "after block
    B" needs the head past B (`_mine_past`)."""
    mine_blocks(chain, block - chain.w3.eth.block_number)


def _mine_past(chain: Chain, block: int) -> None:
    _mine_to(chain, block + 1)


@pytest.fixture
def eager(
    chain: Chain,
    accounts: list[LocalAccount],
    verifiers: Verifiers,
    logreg_circuits: CircuitSet,
    full_round: ProvenRound,
    clients: list[LocalAccount],
) -> Coordinator:
    """An eager federation with clients 0..2 registered on their round-0 batches and a funded pool."""
    coordinator = _deploy(chain, accounts, verifiers, logreg_circuits, full_round.genesis, _terms())
    _register(coordinator, logreg_circuits, clients, full_round.data)
    coordinator.fund_rewards(accounts[0], 10 * REWARD)
    return coordinator


@pytest.fixture
def optimistic(
    chain: Chain,
    accounts: list[LocalAccount],
    verifiers: Verifiers,
    logreg_circuits: CircuitSet,
    full_round: ProvenRound,
    clients: list[LocalAccount],
) -> Coordinator:
    coordinator = _deploy(chain, accounts, verifiers, logreg_circuits, full_round.genesis, _terms(OPTIMISTIC))
    _register(coordinator, logreg_circuits, clients, full_round.data)
    return coordinator


# ---------------------------------------------------------------- 2: a payee that rejects ether

REJECTER = """
// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

interface IRequests {
    function requestProof(uint256 round, uint256 slot) external payable;
}

/// Requests a proof with its bond, and refuses every wei sent back.
contract RejectingRequester {
    function request(IRequests target, uint256 round, uint256 slot) external payable {
        target.requestProof{value: msg.value}(round, slot);
    }
}
"""


def test_a_requester_that_rejects_ether_cannot_freeze_finalization(
    optimistic: Coordinator,
    chain: Chain,
    accounts: list[LocalAccount],
    clients: list[LocalAccount],
    full_round: ProvenRound,
    logreg_circuits: CircuitSet,
    tmp_path: Path,
) -> None:
    withheld = tampered(full_round.updates[2].proof.data)
    optimistic.submit_update_optimistic(clients[0], 0, full_round.updates[0].proof, "bafy-c0")
    optimistic.submit_update_optimistic(clients[2], 0, withheld, "bafy-c2")
    artifact = compile_sources({"RejectingRequester.sol": REJECTER})["RejectingRequester"]
    rejecter, _ = deploy_contract(chain, accounts[0], artifact, optimistic.address)
    contract = chain.w3.eth.contract(address=rejecter, abi=artifact.abi)
    transact(
        chain,
        accounts[0],
        contract.functions.request(optimistic.address, 0, 2),
        optimistic.decoder,
        "request",
        value=BOND,
    )
    _, reveal_by = optimistic.proof_request(0, 2)
    _mine_past(chain, reveal_by)

    optimistic.settle_unanswered(accounts[6], 0, 2)  # credits the rejecter: nothing is sent to it here

    assert optimistic.payments(rejecter) == BOND + STAKE * SHARE_BPS // 10_000
    reject("TransferFailed", optimistic.withdraw_payments, accounts[6], rejecter)  # only its own withdrawal fails
    assert optimistic.payments(rejecter) == BOND + STAKE * SHARE_BPS // 10_000  # and the credit stays
    _mine_past(chain, optimistic.round(0).deadline + CHALLENGE)
    aggregate = aggregate_and_prove(
        logreg_circuits.aggregator, logreg_circuits.fedavg, [full_round.updates[0], None, None], tmp_path / "agg.json"
    )
    optimistic.finalize_round(accounts[1], 0, aggregate.proof, "bafy-next", "bafy-sum")
    assert optimistic.current_round == 1


# ---------------------------------------------------------------- 3: a round nobody can finalize


def test_a_round_left_empty_by_throwaway_accounts_is_skipped_and_an_honest_client_trains_next(
    chain: Chain,
    accounts: list[LocalAccount],
    verifiers: Verifiers,
    logreg_circuits: CircuitSet,
    full_round: ProvenRound,
    clients: list[LocalAccount],
) -> None:
    coordinator = _deploy(chain, accounts, verifiers, logreg_circuits, full_round.genesis, _terms())
    throwaway = accounts[5:8]
    for i, account in enumerate(throwaway):
        coordinator.register(account, [1000 + i])  # every slot taken
    reject("FederationFull", coordinator.register, clients[0], [1])
    deadline = coordinator.round(0).deadline
    _mine_to(chain, deadline)
    for account in throwaway:
        coordinator.withdraw(account)  # no update, no loss
    honest = clients[0]
    commitment = full_round.data[0].commitment_hash(logreg_circuits.commitments, LOGREG)
    coordinator.register(honest, [commitment])
    reject("SubmissionClosed", coordinator.submit_update, honest, 0, full_round.updates[0].proof, "cid")
    reject(
        "NoAcceptedUpdates", coordinator.finalize_round, accounts[1], 0, full_round.aggregate.proof, "cid", "bafy-sum"
    )
    reject(
        f"RoundNotStalled: round 0 can still be finalized; it can be skipped after block {deadline + CHALLENGE}",
        coordinator.skip_round,
        accounts[8],
        0,
    )
    _mine_past(chain, deadline + CHALLENGE)

    coordinator.skip_round(accounts[8], 0)  # anyone

    assert coordinator.round(0).skipped and coordinator.current_round == 1
    assert coordinator.round(1).model_hash == coordinator.round(0).model_hash
    assert coordinator.opened_rounds()[1].model_cid == "bafy-genesis"  # the empty CID resolves to the same model's
    coordinator.submit_update(honest, 1, full_round.updates[0].proof, "cid")  # the same genesis step, in round 1
    assert coordinator.round(1).accepted == 1


def test_a_round_whose_every_update_was_slashed_is_skipped(
    optimistic: Coordinator,
    chain: Chain,
    accounts: list[LocalAccount],
    clients: list[LocalAccount],
    full_round: ProvenRound,
) -> None:
    cheat = tampered(full_round.updates[0].proof.data)
    optimistic.submit_update_optimistic(clients[0], 0, cheat, "bafy-c0")
    optimistic.challenge(accounts[5], 0, 0, optimistic_claim(cheat)[0], cheat)
    assert optimistic.round(0).accepted == 0
    _mine_past(chain, optimistic.round(0).deadline + CHALLENGE)
    optimistic.skip_round(accounts[5], 0)
    assert optimistic.current_round == 1 and optimistic.round(0).skipped


def test_a_round_the_aggregator_leaves_open_is_skipped_after_the_grace_and_earns_no_reward(
    eager: Coordinator, chain: Chain, accounts: list[LocalAccount], clients: list[LocalAccount], full_round: ProvenRound
) -> None:
    eager.submit_update(clients[0], 0, full_round.updates[0].proof, "cid")
    after = eager.round(0).deadline + CHALLENGE + GRACE
    _mine_to(chain, after)
    reject(
        f"RoundNotStalled: round 0 can still be finalized; it can be skipped after block {after}",
        eager.skip_round,
        accounts[8],
        0,
    )
    _mine_past(chain, after)
    eager.skip_round(accounts[8], 0)
    skipped = eager.skipped_rounds()
    assert [(s.round, s.dropped_updates, s.model_rolled_back) for s in skipped] == [(0, 1, False)]
    assert eager.rewards_owed(clients[0].address) == 0
    eager.withdraw(clients[0])  # the stake was never at risk
    assert eager.payments(clients[0].address) == STAKE


# ---------------------------------------------------------------- 4: a commitment nobody opens


def test_an_accepted_update_whose_vector_is_withheld_is_slashed_and_the_round_finalizes_without_it(
    eager: Coordinator,
    chain: Chain,
    accounts: list[LocalAccount],
    clients: list[LocalAccount],
    full_round: ProvenRound,
    logreg_circuits: CircuitSet,
    tmp_path: Path,
) -> None:
    for i in range(3):
        eager.submit_update(clients[i], 0, full_round.updates[i].proof, f"cid-{i}")  # client 2 withholds its vector
    aggregator = accounts[1]
    eager.request_opening(aggregator, 0, 2)
    reject("RequestPending", eager.request_opening, accounts[5], 0, 2)
    reject("DisputesOpen", eager.finalize_round, aggregator, 0, full_round.aggregate.proof, "cid", "bafy-sum")
    reveal_by = eager.dispute(0, 2).reveal_by
    _mine_to(chain, reveal_by)
    reject("RevealWindowOpen", eager.settle_unanswered, accounts[5], 0, 2)
    _mine_to(chain, max(reveal_by, eager.round(0).deadline + CHALLENGE + GRACE) + 1)
    reject("RequestPending", eager.withdraw, clients[2])  # under dispute: no stake back until settled
    pool = eager.reward_pool

    eager.settle_unanswered(accounts[5], 0, 2)

    assert eager.accepted_update_hash(0, 2) == 0 and not eager.client(clients[2].address).registered
    assert eager.payments(aggregator.address) == BOND + STAKE * SHARE_BPS // 10_000
    assert eager.reward_pool == pool + STAKE - STAKE * SHARE_BPS // 10_000
    aggregate = aggregate_and_prove(
        logreg_circuits.aggregator, logreg_circuits.fedavg, [*full_round.updates[:2], None], tmp_path / "agg.json"
    )
    eager.finalize_round(aggregator, 0, aggregate.proof, "bafy-next", "bafy-sum")
    assert eager.round(0).finalized and eager.round(0).accepted == 2


def test_an_update_opens_only_to_its_canonical_vector_and_the_opening_pays_the_opener(
    eager: Coordinator,
    accounts: list[LocalAccount],
    clients: list[LocalAccount],
    full_round: ProvenRound,
    logreg_circuits: CircuitSet,
) -> None:
    eager.submit_update(clients[0], 0, full_round.updates[0].proof, "cid-0")
    key, length = logreg_circuits.commitments, eager.update_length
    basis = key.vector_basis(length)
    vector, other = full_round.updates[0].vector, full_round.updates[1].vector
    reject("NoRequest", eager.open_vector, clients[0], 0, 0, opening_values(vector), basis)
    eager.request_opening(accounts[5], 0, 0)
    reject("WrongOpening", eager.open_vector, clients[0], 0, 0, opening_values(other), basis)
    reject("WrongBasis", eager.open_vector, clients[0], 0, 0, opening_values(vector), [basis[1], basis[0], *basis[2:]])
    reject("WrongVectorLength", eager.open_vector, clients[0], 0, 0, opening_values(vector)[:-1], basis)

    receipt = eager.open_vector(accounts[6], 0, 0, opening_values(vector), basis)  # anyone holding it

    assert receipt["gasUsed"] <= eager.contract.functions.answerGasAllowance().call()
    assert eager.payments(accounts[6].address) == BOND
    assert eager.dispute(0, 0).opened and eager.accepted_update_hash(0, 0) == full_round.updates[0].update_hash
    reject("AlreadyOpened", eager.request_opening, accounts[5], 0, 0)
    assert point_hash(key.canonical_point(vector)) == full_round.updates[0].update_hash == key.commitment_hash(vector)


def test_a_model_nobody_opens_rolls_the_round_back_and_slashes_the_aggregators_bond(
    eager: Coordinator,
    chain: Chain,
    accounts: list[LocalAccount],
    clients: list[LocalAccount],
    full_round: ProvenRound,
    logreg_circuits: CircuitSet,
) -> None:
    for i in range(3):
        eager.submit_update(clients[i], 0, full_round.updates[i].proof, f"cid-{i}")
    aggregator = accounts[1]
    eager.finalize_round(aggregator, 0, full_round.aggregate.proof, "bafy-withheld-model", "bafy-sum")
    assert eager.model_bond(1) == (aggregator.address, STAKE)
    reject("ModelNotDisputable", eager.request_opening, accounts[5], 0, MODEL_SLOT)  # the owner's genesis
    eager.request_opening(accounts[5], 1, MODEL_SLOT)
    reject("DisputesOpen", eager.skip_round, accounts[5], 1)
    _mine_past(chain, eager.dispute(1, MODEL_SLOT).reveal_by)
    pool = eager.reward_pool

    eager.settle_unanswered(accounts[5], 1, MODEL_SLOT)

    assert eager.round(1).skipped and eager.current_round == 2
    assert eager.round(2).model_hash == eager.round(0).model_hash  # back to the model the aggregation started from
    assert eager.opened_rounds()[2].model_cid == "bafy-genesis"
    share = STAKE * SHARE_BPS // 10_000
    assert eager.payments(accounts[5].address) == BOND + share and eager.reward_pool == pool + STAKE - share
    assert eager.model_bond(1) == (None, 0)
    reject(
        "ModelNotDisputable", eager.request_opening, accounts[5], 2, MODEL_SLOT
    )  # carried over: not the aggregator's


def test_a_model_opened_on_chain_keeps_its_round_and_pays_the_opener(
    eager: Coordinator,
    chain: Chain,
    accounts: list[LocalAccount],
    clients: list[LocalAccount],
    full_round: ProvenRound,
    logreg_circuits: CircuitSet,
) -> None:
    for i in range(3):
        eager.submit_update(clients[i], 0, full_round.updates[i].proof, f"cid-{i}")
    eager.finalize_round(accounts[1], 0, full_round.aggregate.proof, "bafy-model", "bafy-sum")
    eager.request_opening(accounts[5], 1, MODEL_SLOT)
    basis = logreg_circuits.commitments.vector_basis(eager.update_length)
    receipt = eager.open_vector(accounts[6], 1, MODEL_SLOT, opening_values(full_round.aggregate.weights), basis)
    assert receipt["gasUsed"] <= eager.contract.functions.answerGasAllowance().call()
    assert eager.payments(accounts[6].address) == BOND and eager.dispute(1, MODEL_SLOT).opened
    _mine_past(chain, eager.round(1).deadline)
    reject("ChallengeWindowClosed", eager.request_opening, accounts[5], 1, MODEL_SLOT)


# ---------------------------------------------------------------- 5: data picked after the model


def test_a_batch_committed_after_the_model_was_published_trains_only_in_a_later_round(
    eager: Coordinator,
    chain: Chain,
    accounts: list[LocalAccount],
    full_round: ProvenRound,
    logreg_circuits: CircuitSet,
    clients: list[LocalAccount],
) -> None:
    late = accounts[6]
    _mine_to(chain, eager.contract.functions.registrationEnds().call())
    eager.withdraw(clients[1])
    eager.register(late, [77])
    eager.commit_data(late, [78])
    assert eager.data_batch(late.address, 77) == (True, False, 1)
    assert eager.data_batch(late.address, 78)[2] == 1
    commitment = full_round.data[1].commitment_hash(logreg_circuits.commitments, LOGREG)
    eager.commit_data(clients[0], [commitment + 1])  # a registered client committing during round 0
    assert eager.data_batch(clients[0].address, commitment + 1)[2] == 1


def test_a_batch_committed_during_the_round_is_refused_in_that_round(
    chain: Chain,
    accounts: list[LocalAccount],
    verifiers: Verifiers,
    logreg_circuits: CircuitSet,
    full_round: ProvenRound,
    clients: list[LocalAccount],
) -> None:
    coordinator = _deploy(chain, accounts, verifiers, logreg_circuits, full_round.genesis, _terms())
    coordinator.register(clients[0], [5])
    _mine_to(chain, coordinator.contract.functions.registrationEnds().call())
    commitment = full_round.data[0].commitment_hash(logreg_circuits.commitments, LOGREG)
    coordinator.commit_data(clients[0], [commitment])  # after seeing round 0's model
    reject(
        f"BatchNotYetUsable: {clients[0].address} committed data batch {commitment:#x} while round 0 was open, "
        "so it trains from round 1 on, not in round 0",
        coordinator.submit_update,
        clients[0],
        0,
        full_round.updates[0].proof,
        "cid",
    )


def test_a_client_cannot_hold_more_unused_batches_than_the_cap(
    chain: Chain,
    accounts: list[LocalAccount],
    verifiers: Verifiers,
    logreg_circuits: CircuitSet,
    full_round: ProvenRound,
    clients: list[LocalAccount],
) -> None:
    coordinator = _deploy(chain, accounts, verifiers, logreg_circuits, full_round.genesis, _terms(max_open_batches=2))
    reject(
        f"TooManyOpenBatches: {clients[0].address} would hold 3 committed, unused data batches; this federation "
        "allows 2",
        coordinator.register,
        clients[0],
        [1, 2, 3],
    )
    commitment = full_round.data[0].commitment_hash(logreg_circuits.commitments, LOGREG)
    coordinator.register(clients[0], [commitment, 2])
    reject("TooManyOpenBatches", coordinator.commit_data, clients[0], [3])
    coordinator.submit_update(clients[0], 0, full_round.updates[0].proof, "cid")  # one used: room for one more
    coordinator.commit_data(clients[0], [3])
    assert coordinator.client(clients[0].address).open_batches == 2


# ---------------------------------------------------------------- 6: the bond covers an answer


def test_a_bond_below_an_answers_gas_at_the_configured_price_is_refused(
    chain: Chain,
    accounts: list[LocalAccount],
    verifiers: Verifiers,
    logreg_circuits: CircuitSet,
    full_round: ProvenRound,
) -> None:
    gwei = 10**9
    allowance = 1_300_000  # Disputes.PROOF_REVEAL_GAS: the test shape's opening is smaller
    with pytest.raises(ChainError, match="the bond must cover the costliest answer at bondGasPrice"):
        _deploy(
            chain,
            accounts,
            verifiers,
            logreg_circuits,
            full_round.genesis,
            _terms(challenge_bond_wei=allowance * 10 * gwei - 1, bond_gas_price_wei=10 * gwei),
        )
    covered = _deploy(
        chain,
        accounts,
        verifiers,
        logreg_circuits,
        full_round.genesis,
        _terms(challenge_bond_wei=allowance * 10 * gwei, bond_gas_price_wei=10 * gwei),
    )
    assert covered.contract.functions.answerGasAllowance().call() == allowance


def test_a_proof_reveal_costs_less_gas_than_the_bond_covers(
    optimistic: Coordinator, accounts: list[LocalAccount], clients: list[LocalAccount], full_round: ProvenRound
) -> None:
    proof = full_round.updates[0].proof.data
    optimistic.submit_update_optimistic(clients[0], 0, proof, "bafy-c0")
    optimistic.request_proof(accounts[5], 0, 0)
    receipt = optimistic.reveal_proof(accounts[6], 0, 0, optimistic_claim(proof)[0], proof)
    assert receipt["gasUsed"] <= optimistic.contract.functions.answerGasAllowance().call()
    assert optimistic.payments(accounts[6].address) == BOND


# ---------------------------------------------------------------- 7: a starved verifier

STARVING = """
// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// A verifier shaped like ezkl's: millions of gas of work, then a final pairing check of four pairs
/// (e(G, H) e(-G, H) e(G, H) e(-G, H) = 1, 181,000 gas), reverting unless it passes. With too little
/// gas left the pairing precompile fails, and the verifier reverts with 1/64 of what it had.
contract PairingLastVerifier {
    uint256 private constant WORK = 8_000_000;
    uint256 private constant X_IM = 11559732032986387107991004021392285783925812861821192530917403151452391805634;
    uint256 private constant X_RE = 10857046999023057135944570762232829481370756359578518086990519993285655852781;
    uint256 private constant Y_IM = 4082367875863433681332203403145435568316851327593401208105741076214120093531;
    uint256 private constant Y_RE = 8495653923123431417604973247489272438418190587263600148770280649306958101930;
    uint256 private constant MINUS_TWO = 21888242871839275222246405745257275088696311157297823662689037894645226208581;

    function verifyProof(bytes calldata, uint256[] calldata) external view returns (bool) {
        if (gasleft() < WORK) while (true) {} // not even the work: out of gas
        uint256 stop = gasleft() - WORK;
        while (gasleft() > stop) {}
        uint256[24] memory input;
        for (uint256 i = 0; i < 4; ++i) {
            (input[6 * i], input[6 * i + 1]) = (1, i % 2 == 0 ? 2 : MINUS_TWO);
            (input[6 * i + 2], input[6 * i + 3], input[6 * i + 4], input[6 * i + 5]) = (X_IM, X_RE, Y_IM, Y_RE);
        }
        uint256[1] memory out;
        bool ok;
        assembly {
            ok := staticcall(gas(), 0x08, input, 768, out, 32)
        }
        require(ok && out[0] == 1);
        return true;
    }
}
"""


def test_a_challenge_that_starves_the_final_pairing_never_slashes_a_valid_update(
    chain: Chain,
    accounts: list[LocalAccount],
    verifiers: Verifiers,
    logreg_circuits: CircuitSet,
    full_round: ProvenRound,
    clients: list[LocalAccount],
) -> None:
    artifact = compile_sources({"PairingLastVerifier.sol": STARVING})["PairingLastVerifier"]
    pairing_last, _ = deploy_contract(chain, accounts[0], artifact)
    coordinator = _deploy(
        chain,
        accounts,
        Verifiers(pairing_last, verifiers.aggregator, {}),
        logreg_circuits,
        full_round.genesis,
        _terms(OPTIMISTIC),
    )
    _register(coordinator, logreg_circuits, clients[:1], full_round.data[:1])
    proof = full_round.updates[0].proof.data[:256]  # its commitments alone: calldata light enough to starve the pairing
    coordinator.submit_update_optimistic(clients[0], 0, proof, "bafy-c0")
    data = coordinator.contract.encode_abi("challenge", [0, 0, optimistic_claim(proof)[0], proof])
    slashed_topic = "0x" + keccak(text="UpdateSlashed(uint256,uint256,address,address,uint256,uint256)").hex()
    verdicts = set()
    for gas in range(8_100_000, 8_500_000, 2_000):  # across where the final pairing starves, traced, not sent
        tx = {"from": accounts[5].address, "to": coordinator.address, "data": data, "value": hex(BOND), "gas": hex(gas)}
        response = chain.w3.provider.make_request(
            "debug_traceCall", [tx, "latest", {"tracer": "callTracer", "tracerConfig": {"withLog": True}}]
        )
        if "result" not in response:  # below the calldata's intrinsic gas: never executed
            continue
        trace = response["result"]
        if "error" in trace:
            verdicts.add(
                "VerifierOutOfGas"
                if trace.get("output", "").startswith("0x" + keccak(text="VerifierOutOfGas(address)")[:4].hex())
                else "out of gas"
            )
        else:
            topics = [log["topics"][0] for log in trace.get("logs", [])]
            verdicts.add("slashed" if slashed_topic in topics else "defended")
    assert "slashed" not in verdicts
    assert {"defended", "VerifierOutOfGas"} <= verdicts  # the sweep crossed the starved path and the honest one


# ---------------------------------------------------------------- 8: a self-challenge


def test_a_cheater_that_challenges_itself_still_loses_half_its_stake(
    chain: Chain,
    accounts: list[LocalAccount],
    verifiers: Verifiers,
    logreg_circuits: CircuitSet,
    full_round: ProvenRound,
    optimistic: Coordinator,
    clients: list[LocalAccount],
) -> None:
    assert any(
        "challenger_share_bps must be in 0..5000" in p
        for p in _terms(OPTIMISTIC, challenger_share_bps=10_000).problems()
    )
    config = FederationConfig.starting_from(logreg_circuits, full_round.genesis, "g", accounts[1].address)
    terms = _terms(OPTIMISTIC).as_tuple()
    with pytest.raises(ChainError, match="challenger share is at most 5000 bps"):  # the contract's own rule
        deploy_contract(
            chain,
            accounts[0],
            project_artifact("Coordinator"),
            verifiers.client,
            verifiers.aggregator,
            config.aggregator,
            3,
            config.genesis_hash,
            "g",
            bytes(32),
            (*terms[:7], (*terms[7][:4], 10_000), *terms[8:]),
            config.federation_salt,
            config.commitment_key_args(),
        )
    cheat, accomplice = tampered(full_round.updates[2].proof.data), accounts[7]
    optimistic.submit_update_optimistic(clients[2], 0, cheat, "bafy-c2")
    optimistic.challenge(accomplice, 0, 2, optimistic_claim(cheat)[0], cheat)
    recovered = optimistic.payments(accomplice.address) - BOND
    assert recovered == STAKE // 2  # the other half went to the reward pool


# ---------------------------------------------------------------- 9: rewards keyed on the client


def test_rewards_follow_the_client_not_its_slot(
    chain: Chain,
    accounts: list[LocalAccount],
    verifiers: Verifiers,
    logreg_circuits: CircuitSet,
    full_round: ProvenRound,
    partial_round: ProvenRound,
    clients: list[LocalAccount],
    second_batches: list,
) -> None:
    """Client 1 earns a reward in round 0 and leaves; client 0's round-1 update waits in slot 0
    when client 0 leaves after the grace; client 1 comes back into slot 0. Its reward is not
    withheld for the update its slot holds, and client 0 is not paid for a round never finalized."""
    coordinator = _deploy(chain, accounts, verifiers, logreg_circuits, full_round.genesis, _terms(OPTIMISTIC))
    batches = [[full_round.data[0], second_batches[0]], [full_round.data[1]], [full_round.data[2]]]
    for account, data in zip(clients, batches, strict=True):
        coordinator.register(account, [d.commitment_hash(logreg_circuits.commitments, LOGREG) for d in data])
    coordinator.fund_rewards(accounts[0], 10 * REWARD)
    for i in range(3):
        coordinator.submit_update_optimistic(clients[i], 0, full_round.updates[i].proof, f"cid-{i}")
    _mine_past(chain, coordinator.round(0).deadline + CHALLENGE)
    coordinator.finalize_round(accounts[1], 0, full_round.aggregate.proof, "bafy-r1", "bafy-sum")
    coordinator.withdraw(clients[1])
    coordinator.submit_update_optimistic(clients[0], 1, partial_round.updates[0].proof, "cid")  # pending, slot 0
    _mine_past(chain, coordinator.round(1).deadline + CHALLENGE + GRACE)
    coordinator.withdraw(clients[0])
    coordinator.register(clients[1], [999])
    assert coordinator.client(clients[1].address).slot == 0  # where client 0's update waits

    assert coordinator.rewards_owed(clients[1].address) == REWARD
    assert coordinator.rewards_owed(clients[0].address) == REWARD  # round 0 only: round 1 was never finalized
    coordinator.skip_round(accounts[8], 1)  # the aggregator left it open past the grace
    coordinator.claim_rewards(clients[0])
    coordinator.claim_rewards(clients[1])
    assert coordinator.payments(clients[0].address) == STAKE + REWARD
    assert coordinator.payments(clients[1].address) == STAKE + REWARD


def test_a_client_that_left_with_an_update_in_a_round_never_finalized_is_not_paid_for_it(
    eager: Coordinator, chain: Chain, accounts: list[LocalAccount], clients: list[LocalAccount], full_round: ProvenRound
) -> None:
    eager.submit_update(clients[0], 0, full_round.updates[0].proof, "cid")
    _mine_past(chain, eager.round(0).deadline + CHALLENGE + GRACE)
    eager.withdraw(clients[0])
    assert eager.rewards_owed(clients[0].address) == 0
    reject("NothingToClaim", eager.claim_rewards, clients[0])
    eager.skip_round(accounts[8], 0)
    reject("NothingToClaim", eager.claim_rewards, clients[0])
    assert eager.payments(clients[0].address) == STAKE


def test_a_claim_pays_what_the_pool_affords_and_keeps_the_rest_owed(
    chain: Chain,
    accounts: list[LocalAccount],
    verifiers: Verifiers,
    logreg_circuits: CircuitSet,
    full_round: ProvenRound,
    partial_round: ProvenRound,
    clients: list[LocalAccount],
    second_batches: list,
) -> None:
    coordinator = _deploy(chain, accounts, verifiers, logreg_circuits, full_round.genesis, _terms())
    batches = [[full_round.data[0], second_batches[0]], [full_round.data[1]], [full_round.data[2], second_batches[1]]]
    for account, data in zip(clients, batches, strict=True):
        coordinator.register(account, [d.commitment_hash(logreg_circuits.commitments, LOGREG) for d in data])
    for i in range(3):
        coordinator.submit_update(clients[i], 0, full_round.updates[i].proof, f"cid-{i}")
    coordinator.finalize_round(accounts[1], 0, full_round.aggregate.proof, "bafy-r1", "bafy-sum")
    coordinator.submit_update(clients[0], 1, partial_round.updates[0].proof, "c")
    coordinator.submit_update(clients[2], 1, partial_round.updates[1].proof, "c")
    _mine_past(chain, coordinator.round(1).deadline)
    coordinator.finalize_round(accounts[1], 1, partial_round.aggregate.proof, "bafy-r2", "bafy-sum")
    reject("InsufficientRewardPool", coordinator.claim_rewards, clients[0])
    coordinator.fund_rewards(accounts[0], REWARD + 1)
    coordinator.claim_rewards(clients[0])  # owed 2, the pool affords 1
    assert coordinator.payments(clients[0].address) == REWARD
    assert coordinator.rewards_owed(clients[0].address) == REWARD and coordinator.reward_pool == 1


# ---------------------------------------------------------------- 10: a copycat federation


def test_a_copycat_coordinator_with_the_same_salt_cannot_accept_a_clients_proof(
    chain: Chain,
    accounts: list[LocalAccount],
    verifiers: Verifiers,
    logreg_circuits: CircuitSet,
    full_round: ProvenRound,
    clients: list[LocalAccount],
) -> None:
    copycat = _deploy(chain, accounts, verifiers, logreg_circuits, full_round.genesis, _terms(), deployer=accounts[9])
    assert copycat.federation_id == federation_id(accounts[9].address, FEDERATION_SALT) != FEDERATION_ID
    _register(copycat, logreg_circuits, clients[:1], full_round.data[:1])
    reject("WrongContext", copycat.submit_update, clients[0], 0, full_round.updates[0].proof, "cid")


# ---------------------------------------------------------------- informational


def test_windows_past_two_to_the_32_blocks_are_refused(
    chain: Chain,
    accounts: list[LocalAccount],
    verifiers: Verifiers,
    logreg_circuits: CircuitSet,
    full_round: ProvenRound,
) -> None:
    for field in ("challenge_window", "reveal_window", "submission_window"):
        with pytest.raises(ChainError, match="below 2\\^32 blocks"):
            _deploy(chain, accounts, verifiers, logreg_circuits, full_round.genesis, _terms(**{field: 2**63}))
