"""A private federation on a real anvil (issue 24): clients share masking keys in each round's share
window before they submit, a client outside the round's cohort or without shared keys cannot
submit, no private update is ever opened, and the aggregator can exclude an update the masking
checks name, without slashing it, and finalize with the rest."""

from __future__ import annotations

import hashlib

import pytest
from conftest import LOGREG, ProvenRound, reject
from eth_account.signers.local import LocalAccount
from test_security import BOND, WINDOW, _deploy, _mine_past, _mine_to, _register, _terms

from zkfl.chain.coordinator import Coordinator
from zkfl.chain.deploy import Verifiers
from zkfl.chain.rpc import Chain
from zkfl.data.batches import make_client_data
from zkfl.federation.terms import PRIVATE, FederationTerms
from zkfl.privacy.keys import KeyPair
from zkfl.protocol import summed_commitment
from zkfl.roles.aggregator import AggregateResult
from zkfl.verification.masking import unshared_submitters
from zkfl.zk.build import CircuitSet
from zkfl.zk.commitments import point_hash

pytestmark = pytest.mark.prover

SHARE = 4
PRIVATE_REGISTRATION = 12  # blocks: room for three registrations and three channel keys
BUNDLE = hashlib.sha256(b"a key bundle").digest()


@pytest.fixture
def private(
    chain: Chain,
    accounts: list[LocalAccount],
    verifiers: Verifiers,
    logreg_circuits: CircuitSet,
    full_round: ProvenRound,
    clients: list[LocalAccount],
) -> Coordinator:
    terms = _terms(updates=PRIVATE, share_window=SHARE, registration_window=PRIVATE_REGISTRATION)
    coordinator = _deploy(chain, accounts, verifiers, logreg_circuits, full_round.genesis, terms)
    _register(coordinator, logreg_circuits, clients, full_round.data)
    for client in clients:
        coordinator.set_channel_key(client, KeyPair.generate().public.to_bytes())
    return coordinator


def test_a_private_round_keys_in_its_window_masks_after_it_never_opens_and_excludes_unslashed(
    chain: Chain,
    private: Coordinator,
    clients: list[LocalAccount],
    accounts: list[LocalAccount],
    full_round: ProvenRound,
    omitting_aggregate: AggregateResult,
    logreg_circuits: CircuitSet,
) -> None:
    """One round, every rule in turn: keys only in the share window (round 0's opens after
    registration), masked submissions only after it; bob (client 1) shares no keys: the coordinator
    stores no flag for that (a word would cost more gas than the rest of `shareKeys`), so his
    submission is accepted and the public rule names him; no private update is opened; the
    aggregator excludes him after the deadline, unslashed, and finalizes with the others."""
    opens, closes = private.share_window(0)
    assert opens == private.contract.functions.registrationEnds().call() + 1 and closes == opens + SHARE - 1
    reject("takes masking keys in blocks", private.share_keys, clients[0], 0, BUNDLE)  # cohort not fixed yet
    _mine_to(chain, opens)
    for client in (clients[0], clients[2]):
        private.share_keys(client, 0, BUNDLE)
    assert [(k.client, k.bundle_sha256) for k in private.shared_keys(0)] == [
        (clients[0].address, BUNDLE),
        (clients[2].address, BUNDLE),
    ]
    reject("share window runs until block", private.submit_update, clients[0], 0, full_round.updates[0].proof, "m0")
    _mine_past(chain, closes)
    reject("takes masking keys in blocks", private.share_keys, clients[1], 0, BUNDLE)
    for i, client in enumerate(clients):
        private.submit_update(client, 0, full_round.updates[i].proof, f"bafy-masked-{i}")
    named = unshared_submitters(
        [u.client for u in private.accepted_updates(0)], [k.client for k in private.shared_keys(0)]
    )
    bob = clients[1].address
    assert list(named) == [bob.lower()] and "cannot be unmasked" in named[bob.lower()]
    reject("holds a private update: it is never opened", private.request_opening, accounts[7], 0, 0, BOND)

    aggregator = accounts[1]
    reject("takes submissions until block", private.exclude_update, aggregator, 0, 1, "bafy-evidence")
    _mine_past(chain, private.round(0).deadline)
    reject("only the federation.s aggregator may do this", private.exclude_update, accounts[7], 0, 1, "bafy-evidence")
    stake = private.client(bob).stake
    private.exclude_update(aggregator, 0, 1, "bafy-evidence")
    assert private.excluded_updates(0) == [(0, 1, bob, "bafy-evidence")]
    zero = logreg_circuits.commitments.zero_point()
    points = [private.accepted_point(0, slot) for slot in (0, 2)]
    assert private.accepted_sum_hash() == point_hash(summed_commitment(points, zero))
    excluded = private.client(bob)
    assert excluded.registered and excluded.stake == stake and not excluded.has_pending
    private.finalize_round(aggregator, 0, omitting_aggregate.proof, "bafy-next", "bafy-sum")
    assert private.round(0).accepted == 2
    assert private.rewards_owed(bob) == 0 and private.rewards_owed(clients[0].address) > 0


def test_a_client_registered_after_the_cohort_was_fixed_waits_for_the_next_round(
    chain: Chain,
    private: Coordinator,
    accounts: list[LocalAccount],
    clients: list[LocalAccount],
    logreg_circuits: CircuitSet,
) -> None:
    late = accounts[6]
    _mine_past(chain, private.contract.functions.registrationEnds().call())
    private.withdraw(clients[2])  # frees a slot
    batch = make_client_data(LOGREG, [[0.1] * LOGREG.features] * LOGREG.sample_count, [0] * LOGREG.sample_count)
    private.register(late, [batch.commitment_hash(logreg_circuits.commitments, LOGREG)])
    reject("has set no channel key", private.share_keys, late, 0, BUNDLE)
    reject("a channel key is 192 bytes", private.set_channel_key, late, bytes(64))
    private.set_channel_key(late, KeyPair.generate().public.to_bytes())
    assert private.client(late.address).first_round == 1
    assert private.channel_keys()[-1][0] == late.address and private.channel_keys()[-1][2] == 1
    reject("cohort was fixed; it takes part from round 1", private.share_keys, late, 0, BUNDLE)


def test_private_terms_need_a_share_window_that_ends_before_submissions() -> None:
    problems = FederationTerms(updates=PRIVATE, share_window=WINDOW, submission_window=WINDOW).problems()
    assert any("share_window must be at least 1 and end before submissions do" in p for p in problems)
    assert not _terms(updates=PRIVATE, share_window=SHARE, registration_window=PRIVATE_REGISTRATION).problems()
    assert _terms(updates=PRIVATE, share_window=SHARE, registration_window=WINDOW - SHARE).problems()
