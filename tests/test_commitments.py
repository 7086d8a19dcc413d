"""The protocol's KZG commitments (ezkl `polycommit`), the sender/federation context, and salts."""

import numpy as np
import pytest
from conftest import LOGREG, SLOTS, ProvenRound
from py_ecc.bn128 import FQ, add, multiply

from zkfl.circuits import SALT_LEN
from zkfl.circuits.training import CONTEXT_BITS, CONTEXT_LEN
from zkfl.data.batches import SALT_BITS, make_client_data, new_salt
from zkfl.errors import ConfigError
from zkfl.protocol import CLIENT_POINTS, context, proof_points, summed_commitment
from zkfl.zk.build import CircuitSet
from zkfl.zk.commitments import add_points, commitment_key, keys_commitment
from zkfl.zk.srs import dev_srs

pytestmark = pytest.mark.prover


def test_a_commitment_sees_every_element_and_its_order(logreg_circuits: CircuitSet) -> None:
    commit = logreg_circuits.commitments.commitment_hash
    base = commit(np.array([1, 2, 3]))
    assert commit(np.array([1, 2, 4])) != base
    assert commit(np.array([2, 1, 3])) != base
    assert commit(np.array([1, 2, 3, 1])) != base


def test_c0_is_one_point_for_zero_vectors_of_any_length_and_no_identity(logreg_circuits: CircuitSet) -> None:
    """What the sum rule rests on: C(0) is the same point for zero vectors of every length, under the
    client key and FedAvg's, and it is not the identity (so a plain sum of commitments is wrong)."""
    client, fedavg = logreg_circuits.commitments, keys_commitment(logreg_circuits.aggregator)
    zero = client.zero_point()
    for length in (1, 5, logreg_circuits.fedavg.update_len):
        assert client.point(np.zeros(length, dtype=np.int64)) == zero
        assert fedavg.point(np.zeros(length, dtype=np.int64)) == zero
    assert zero != bytes(64)


def test_same_data_with_different_salt_commits_differently(logreg_circuits: CircuitSet) -> None:
    x = np.full((LOGREG.sample_count, LOGREG.features), 0.25)
    y = np.zeros(LOGREG.sample_count, dtype=int)
    first, second = make_client_data(LOGREG, x, y), make_client_data(LOGREG, x, y)
    assert np.array_equal(first.features, second.features)
    key = logreg_circuits.commitments
    assert first.commitment_hash(key, LOGREG) != second.commitment_hash(key, LOGREG)


def test_the_context_commitment_is_what_the_coordinators_ec_arithmetic_computes(logreg_circuits: CircuitSet) -> None:
    """C(context) = C(0) + sum_j context_j * (C(e_j) - C(0)): the formula Coordinator.contextHashOf
    evaluates with the precompiles, here with py_ecc, against kzg_commit."""
    key = logreg_circuits.commitments
    base, basis = key.context_basis()
    vector = context(31337, bytes(32), "0x" + "ab" * 20)

    def point(raw: bytes) -> tuple[FQ, FQ]:
        return FQ(int.from_bytes(raw[:32], "big")), FQ(int.from_bytes(raw[32:], "big"))

    acc = point(base)
    for element, unit in zip(vector, basis, strict=True):
        acc = add(acc, multiply(point(unit), int(element)))
    assert b"".join(int(c).to_bytes(32, "big") for c in acc) == key.point(vector)


def test_the_context_names_chain_federation_and_sender() -> None:
    sender, federation = "0x" + "11" * 20, bytes(31) + b"\x01"
    vector = context(31337, federation, sender)
    assert vector.shape == (CONTEXT_LEN,) and np.all((vector >= 0) & (vector < 2**CONTEXT_BITS))
    assert np.array_equal(vector, context(31337, federation, sender))
    for other in (
        context(1, federation, sender),
        context(31337, bytes(32), sender),
        context(31337, federation, "0x" + "12" * 20),
    ):
        assert not np.array_equal(vector, other)


def test_a_commitment_key_refuses_an_srs_of_other_logrows(logreg_circuits: CircuitSet, tmp_path) -> None:
    keys = logreg_circuits.client
    wrong = dev_srs(tmp_path, keys.circuit.logrows - 1).path  # a real SRS, of the wrong size
    with pytest.raises(
        ConfigError, match=f"commitments of this federation need its circuits' logrows {keys.circuit.logrows}"
    ):
        commitment_key(keys.circuit.settings_path, keys.vk_path, wrong)
    assert logreg_circuits.aggregator.circuit.logrows == keys.circuit.logrows  # one logrows, by construction
    assert logreg_circuits.slots == SLOTS


def test_salt_is_fresh_and_within_float32_exact_range() -> None:
    a, b = new_salt(), new_salt()
    assert a.shape == (SALT_LEN,) and not np.array_equal(a, b)
    assert np.all(np.abs(np.concatenate([a, b])) < 2**SALT_BITS)


def test_the_commitments_of_updates_sum_to_the_commitment_of_their_sum(
    logreg_circuits: CircuitSet, full_round: ProvenRound
) -> None:
    """The sum rule, on real client proofs (their updates have negative weights): C(u1 + u2 + u3)
    = C(0) + sum_i (C(u_i) - C(0)), where the plain sum of the points is not (C(0) is no identity)."""
    key = logreg_circuits.commitments
    points = [proof_points(u.proof.data, CLIENT_POINTS, "a client proof")[3] for u in full_round.updates]
    total = np.sum([u.vector for u in full_round.updates], axis=0)
    assert np.min(total) < 0
    assert summed_commitment(points, key.zero_point()) == key.point(total)
    assert add_points(*points) != key.point(total)
    assert summed_commitment(points[:2], key.zero_point()) != key.point(total)  # one update left out


def test_a_point_off_the_curve_is_refused() -> None:
    with pytest.raises(ConfigError, match="not a point on BN254's G1"):
        add_points((1).to_bytes(32, "big") + (3).to_bytes(32, "big"))
