"""Real proofs of a linked round: clients -> FedAvg -> next global -> next round's clients."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import LOGREG, MLP, ProvenRound, client_context, client_data

import zkfl.roles.aggregator as aggregator_role
from zkfl.data.evaluation import float_sgd_reference
from zkfl.errors import ConfigError, LinkError, ProofError
from zkfl.fedavg import float_fedavg, update_sum
from zkfl.fixedpoint import dequantize, quantize
from zkfl.protocol import AggregationCommitments, ClientCommitments, proof_points
from zkfl.roles.aggregator import AggregateResult, aggregate_and_prove, check_round_links
from zkfl.roles.client import ClientUpdate, train_and_prove
from zkfl.zk.build import CircuitSet
from zkfl.zk.commitments import POINT_BYTES, CommitmentKey
from zkfl.zk.prover import Proof, prove, run_witness, verify

pytestmark = pytest.mark.prover

STEP_TOLERANCE = 2e-3
"""Max abs error of a proven client update vs float64 autograd SGD (scale 12: 1 unit = 2.4e-4)."""

ROUND_TOLERANCE = 1e-2
"""Max abs error of the proven next global model vs float FedAvg of float SGD steps (issue target)."""


def test_proven_update_equals_float_sgd_within_tolerance(full_round: ProvenRound) -> None:
    for data, update in zip(full_round.data, full_round.updates, strict=True):
        reference = float_sgd_reference(LOGREG, dequantize(full_round.genesis), data)
        error = np.max(np.abs(dequantize(update.weights) - reference))
        assert error < STEP_TOLERANCE, f"proven update is {error:.2e} from float SGD"
        assert not np.allclose(update.weights, full_round.genesis), "the step must move the weights"
        assert update.vector[-1] == 1 << 12  # each update counts one


def test_proven_mlp_update_equals_float_sgd_within_tolerance(mlp_circuits: CircuitSet, clients, tmp_path: Path) -> None:
    genesis = quantize(MLP.model.init_params(seed=0))
    data = client_data(MLP, seed=7)
    update = train_and_prove(mlp_circuits.client, MLP, genesis, data, client_context(clients[0]), tmp_path / "mlp.json")
    reference = float_sgd_reference(MLP, dequantize(genesis), data)
    assert np.max(np.abs(dequantize(update.weights) - reference)) < STEP_TOLERANCE
    verify(mlp_circuits.client, update.proof)


def test_full_round_proofs_verify_and_all_links_hold(logreg_circuits: CircuitSet, full_round: ProvenRound) -> None:
    for update in full_round.updates:
        verify(logreg_circuits.client, update.proof)
        assert update.global_hash == logreg_circuits.commitments.commitment_hash(full_round.genesis)
    verify(logreg_circuits.aggregator, full_round.aggregate.proof)
    total = np.sum([u.vector for u in full_round.updates], axis=0)
    np.testing.assert_array_equal(full_round.aggregate.update_sum, total)
    assert full_round.aggregate.sum_hash == logreg_circuits.commitments.commitment_hash(total)
    check_round_links(
        logreg_circuits.commitments,
        logreg_circuits.commitments.commitment_hash(full_round.genesis),
        full_round.updates,
        full_round.aggregate,
    )


def test_data_commitment_is_the_salted_data_commitment(logreg_circuits: CircuitSet, full_round: ProvenRound) -> None:
    for data, update in zip(full_round.data, full_round.updates, strict=True):
        assert update.data_hash == data.commitment_hash(logreg_circuits.commitments, LOGREG)


def test_the_proof_bytes_carry_kzg_commit_of_each_vector_at_its_offset(
    logreg_circuits: CircuitSet, full_round: ProvenRound, clients
) -> None:
    """Pins the layout the coordinator reads: the client proof's points are C(theta), C(data),
    C(context), C(update), then the aggregation's are C(sum of the updates), C(next model)."""
    key = logreg_circuits.commitments
    update, data = full_round.updates[0], full_round.data[0]
    vectors = [full_round.genesis, data.vector(LOGREG), client_context(clients[0]), update.vector]
    assert proof_points(update.proof.data, 4, "proof") == [key.point(v) for v in vectors]
    assert update.commitments == ClientCommitments.of(key, *vectors)
    aggregate = full_round.aggregate
    assert proof_points(aggregate.proof.data, 2, "proof") == [
        key.point(aggregate.update_sum),
        key.point(aggregate.weights),
    ]
    assert aggregate.commitments == AggregationCommitments.of(key, aggregate.update_sum, aggregate.weights)


def test_next_global_is_fedavg_of_float_sgd_steps(full_round: ProvenRound) -> None:
    float_steps = [float_sgd_reference(LOGREG, dequantize(full_round.genesis), d) for d in full_round.data]
    float_global = np.mean(float_steps, axis=0)  # equal sample counts
    error = np.max(np.abs(dequantize(full_round.aggregate.weights) - float_global))
    assert error < ROUND_TOLERANCE, f"proven global model is {error:.2e} from float FedAvg"


def test_fedavg_witness_reproduces_the_proven_global_model_bit_for_bit(
    logreg_circuits: CircuitSet, partial_round: ProvenRound
) -> None:
    (recomputed,) = run_witness(
        logreg_circuits.aggregator.circuit, [update_sum([u.vector for u in partial_round.updates])]
    )
    assert np.array_equal(recomputed, partial_round.aggregate.weights)


def test_next_round_starts_from_the_aggregated_model(full_round: ProvenRound, partial_round: ProvenRound) -> None:
    """The FedAvg output's commitment (in the aggregation circuit) is the next round's theta
    commitment (in the client circuit)."""
    for update in partial_round.updates:
        assert update.global_hash == full_round.aggregate.global_hash
        assert update.proof.data[:POINT_BYTES] == full_round.aggregate.proof.data[POINT_BYTES : 2 * POINT_BYTES]


def test_a_client_that_did_not_submit_is_left_out_of_the_sum_and_the_mean(
    logreg_circuits: CircuitSet, partial_round: ProvenRound
) -> None:
    aggregate = partial_round.aggregate
    assert aggregate.update_sum[-1] == 2 << 12  # two updates summed
    error = np.max(
        np.abs(
            dequantize(aggregate.weights)
            - float_fedavg([u.vector for u in partial_round.updates], partial_round.updates[0].weights.size)
        )
    )
    assert error <= 2 / 4096, f"weighted mean of the two submitted updates is off by {error:.2e}"
    slots = [partial_round.updates[0], None, partial_round.updates[1]]
    check_round_links(
        logreg_circuits.commitments,
        logreg_circuits.commitments.commitment_hash(partial_round.genesis),
        slots,
        aggregate,
    )


def test_round_with_no_update_is_refused_before_proving(logreg_circuits: CircuitSet, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="at least one must have been accepted"):
        aggregate_and_prove(logreg_circuits.aggregator, logreg_circuits.fedavg, [None, None, None], tmp_path / "a.json")
    assert not (tmp_path / "a.json").exists()


def _tampered_copy(proof: Proof, tmp_path: Path, edit) -> Proof:
    body = json.loads(proof.path.read_text())
    edit(body)
    path = tmp_path / "tampered.json"
    path.write_text(json.dumps(body))
    return Proof.load(path)


def test_tampered_proof_bytes_fail_verification(
    logreg_circuits: CircuitSet, full_round: ProvenRound, tmp_path: Path
) -> None:
    def flip(body: dict) -> None:
        body["proof"][200] ^= 0x01
        body["hex_proof"] = "0x" + bytes(body["proof"]).hex()

    tampered = _tampered_copy(full_round.updates[0].proof, tmp_path, flip)
    with pytest.raises(ProofError, match="does not verify against circuit 'training_step'"):
        verify(logreg_circuits.client, tampered)


def test_a_swapped_commitment_fails_verification(
    logreg_circuits: CircuitSet, full_round: ProvenRound, tmp_path: Path
) -> None:
    other_update = proof_points(full_round.updates[1].proof.data, 4, "proof")[3]

    def swap_output_commitment(body: dict) -> None:
        body["proof"][3 * POINT_BYTES : 4 * POINT_BYTES] = list(other_update)
        body["hex_proof"] = "0x" + bytes(body["proof"]).hex()

    tampered = _tampered_copy(full_round.updates[0].proof, tmp_path, swap_output_commitment)
    assert tampered.data != full_round.updates[0].proof.data
    with pytest.raises(ProofError, match="does not verify against circuit 'training_step'"):
        verify(logreg_circuits.client, tampered)


def test_client_from_another_global_model_breaks_the_link(
    logreg_circuits: CircuitSet, full_round: ProvenRound, stale_update: ClientUpdate
) -> None:
    verify(logreg_circuits.client, stale_update.proof)  # a valid proof ...
    slots = [full_round.updates[0], full_round.updates[1], stale_update]
    with pytest.raises(LinkError, match="slot 2: the client trained from model 0x"):
        check_round_links(
            logreg_circuits.commitments,
            logreg_circuits.commitments.commitment_hash(full_round.genesis),
            slots,
            full_round.aggregate,
        )


def test_an_aggregation_over_other_updates_breaks_the_link(
    logreg_circuits: CircuitSet, full_round: ProvenRound, omitting_aggregate: AggregateResult
) -> None:
    with pytest.raises(LinkError, match=r"the aggregation consumed 0x[0-9a-f]+, the sum of the round's accepted"):
        check_round_links(
            logreg_circuits.commitments,
            logreg_circuits.commitments.commitment_hash(full_round.genesis),
            full_round.updates,
            omitting_aggregate,
        )


def test_aggregating_a_substituted_update_breaks_the_link(
    logreg_circuits: CircuitSet, full_round: ProvenRound, tmp_path: Path
) -> None:
    substituted = update_sum([u.vector for u in full_round.updates])
    substituted[0] += 4096  # the aggregator swaps in weights no client proved
    run = prove(logreg_circuits.aggregator, [substituted], tmp_path / "agg.json")  # a valid aggregation proof ...
    forged = AggregateResult(substituted, run.outputs[0], run.proof)
    with pytest.raises(LinkError, match="the aggregation consumed 0x"):
        check_round_links(
            logreg_circuits.commitments,
            logreg_circuits.commitments.commitment_hash(full_round.genesis),
            full_round.updates,
            forged,
        )


def test_aggregator_refuses_an_update_that_does_not_match_its_proof(
    logreg_circuits: CircuitSet, full_round: ProvenRound, tmp_path: Path
) -> None:
    altered = full_round.updates[1].vector.copy()
    altered[-2] -= 1
    slots = [full_round.updates[0], replace(full_round.updates[1], vector=altered), None]
    with pytest.raises(LinkError, match=r"slot 1: the update commits to 0x[0-9a-f]+, not to"):
        aggregate_and_prove(logreg_circuits.aggregator, logreg_circuits.fedavg, slots, tmp_path / "a.json")
    assert not (tmp_path / "a.json").exists()


def test_an_aggregation_refused_by_its_final_link_check_leaves_no_proof_file(
    logreg_circuits: CircuitSet, full_round: ProvenRound, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The link check can only run once the proof exists; a refused proof must not be left where
    the pipeline looks for one (it would be a valid proof of a refused aggregation)."""

    class OtherOutput(AggregationCommitments):  # as if the aggregator expected another next model
        @classmethod
        def of(cls, key: CommitmentKey, update_sum: np.ndarray, next_model: np.ndarray) -> AggregationCommitments:
            return super().of(key, update_sum, next_model + 1)

    monkeypatch.setattr(aggregator_role, "AggregationCommitments", OtherOutput)
    proof_path = tmp_path / "proofs" / "fedavg-0.json"
    with pytest.raises(LinkError, match="the aggregation proof's commitments are not the commitments of its sum"):
        aggregate_and_prove(logreg_circuits.aggregator, logreg_circuits.fedavg, full_round.updates, proof_path)
    assert list(proof_path.parent.iterdir()) == []  # neither the proof nor its scratch folder

    monkeypatch.undo()
    result = aggregate_and_prove(logreg_circuits.aggregator, logreg_circuits.fedavg, full_round.updates, proof_path)
    assert result.proof.path == proof_path and proof_path.read_bytes()  # a checked proof is moved into place
    assert list(proof_path.parent.iterdir()) == [proof_path]
    np.testing.assert_array_equal(result.weights, full_round.aggregate.weights)


def test_published_weights_must_hash_to_the_proven_output(logreg_circuits: CircuitSet, full_round: ProvenRound) -> None:
    tampered = replace(full_round.aggregate, weights=full_round.aggregate.weights + 1)
    with pytest.raises(LinkError, match=r"the aggregation outputs model 0x[0-9a-f]+, the published next model is"):
        check_round_links(
            logreg_circuits.commitments,
            logreg_circuits.commitments.commitment_hash(full_round.genesis),
            full_round.updates,
            tampered,
        )
