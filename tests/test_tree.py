"""The aggregation tree: a leaf circuit sums G updates exactly, and the FedAvg circuit over the
leaves' partial sums gives the flat FedAvg of the same updates, bit for bit, in ezkl's own witness
and in the auditor's independent replay; the coordinator checks each leaf against exactly its
slots and the root against exactly the proven leaves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import FEDERATION_SALT, LOGREG, ProvenRound, reject, tampered
from eth_account.signers.local import LocalAccount

from zkfl.chain.coordinator import Coordinator
from zkfl.chain.deploy import FederationConfig, Verifiers, deploy_coordinator, deploy_verifiers
from zkfl.chain.rpc import Chain
from zkfl.circuits import LogisticRegression, PartialSumSpec, TrainingStepSpec, export_onnx
from zkfl.circuits.aggregation import TreeShape
from zkfl.errors import AggregationRangeError, ConfigError
from zkfl.fedavg import fixed_point_fedavg, fixed_point_partial_sum, fixed_point_tree_fedavg
from zkfl.federation.terms import FederationTerms
from zkfl.fixedpoint import quantize
from zkfl.roles.aggregator import AcceptedVector, AggregateResult, LeafResult, aggregate_and_prove, sum_and_prove
from zkfl.zk.build import CircuitSet, build_circuits
from zkfl.zk.prover import compile_circuit, run_witness

pytestmark = pytest.mark.prover
LEAF_SLOTS, LEAVES = 2, 2


def _updates(seed: int, count: int, num_params: int, sample_count: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    filled = rng.random(count) < 0.7
    filled[0] = True
    return [
        np.append(rng.integers(-120_000, 120_000, num_params), sample_count << 12)
        if f
        else np.zeros(num_params + 1, dtype=np.int64)
        for f in filled
    ]


@pytest.mark.parametrize("seed", range(3))
def test_leaves_then_fedavg_over_the_partials_is_the_flat_fedavg_in_the_circuits_witness(cache_dir, seed: int) -> None:
    root = build_circuits(LOGREG, LEAVES, cache_dir).aggregator.circuit  # today's FedAvg, over LEAVES slots
    leaf_spec = PartialSumSpec(LOGREG.num_params, LEAF_SLOTS, LOGREG.sample_count)
    calibration = leaf_spec.calibration_inputs()
    onnx = export_onnx(
        leaf_spec.module(),
        [torch.tensor(u, dtype=torch.float32) for u in calibration],
        cache_dir / "onnx" / f"leaf-{LEAF_SLOTS}.onnx",
        [f"update_{i}" for i in range(LEAF_SLOTS)],
        ["partial"],
    )
    leaf = compile_circuit("partial_sum", onnx, [quantize(u) for u in calibration], cache_dir)
    updates = _updates(seed, LEAF_SLOTS * LEAVES, LOGREG.num_params, LOGREG.sample_count)
    partials = []
    for i in range(LEAVES):
        (partial,) = run_witness(leaf, updates[i * LEAF_SLOTS : (i + 1) * LEAF_SLOTS])
        np.testing.assert_array_equal(
            partial, fixed_point_partial_sum(updates[i * LEAF_SLOTS : (i + 1) * LEAF_SLOTS], leaf_spec.update_len)
        )
        partials.append(partial)
    (model,) = run_witness(root, partials)
    flat = fixed_point_fedavg(updates, LOGREG.num_params, LOGREG.sample_count)
    np.testing.assert_array_equal(model, flat)
    np.testing.assert_array_equal(
        fixed_point_tree_fedavg(updates, LEAF_SLOTS, LOGREG.num_params, LOGREG.sample_count), flat
    )


# ---------------------------------------------------------------------------------------------
# A tree federation on the devnet: 4 slots in 2 leaves of 2; clients 0, 1 fill leaf 0 and client 2
# leaf 1 (slot 3 empty). The session's round-1 client proofs (same client circuit) are reused.

TREE = TreeShape(4, 2)


@pytest.fixture(scope="module")
def tree_circuits(cache_dir: Path, logreg_circuits: CircuitSet) -> CircuitSet:
    circuits = build_circuits(LOGREG, TREE, cache_dir)
    assert circuits.client.vk_path == logreg_circuits.client.vk_path  # so the session's client proofs verify here
    return circuits


@pytest.fixture(scope="module")
def tree_verifiers(chain: Chain, accounts: list[LocalAccount], tree_circuits: CircuitSet, cache_dir: Path) -> Verifiers:
    return deploy_verifiers(chain, accounts[0], tree_circuits, cache_dir)


@pytest.fixture(scope="module")
def leaf_proofs(tree_circuits: CircuitSet, full_round: ProvenRound, proof_dir: Path) -> list[LeafResult]:
    u = full_round.updates
    return [
        sum_and_prove(tree_circuits.leaf, tree_circuits.partial_sum, 0, [u[0], u[1]], proof_dir / "leaf-0.json"),
        sum_and_prove(tree_circuits.leaf, tree_circuits.partial_sum, 1, [u[2], None], proof_dir / "leaf-1.json"),
    ]


@pytest.fixture(scope="module")
def root_proof(tree_circuits: CircuitSet, leaf_proofs: list[LeafResult], proof_dir: Path) -> AggregateResult:
    inputs = [AcceptedVector(leaf.partial, leaf.partial_hash) for leaf in leaf_proofs]
    return aggregate_and_prove(tree_circuits.aggregator, tree_circuits.fedavg, inputs, proof_dir / "root.json")


@pytest.fixture
def tree_round(
    chain: Chain,
    accounts: list[LocalAccount],
    tree_verifiers: Verifiers,
    tree_circuits: CircuitSet,
    clients: list[LocalAccount],
    full_round: ProvenRound,
) -> Coordinator:
    """A fresh tree federation with round 0's three updates accepted."""
    config = FederationConfig.starting_from(
        tree_circuits,
        full_round.genesis,
        "bafy-genesis",
        accounts[1].address,
        FederationTerms(submission_window=20),
        FEDERATION_SALT,
    )
    coordinator = Coordinator(
        chain, deploy_coordinator(chain, accounts[0], tree_verifiers, tree_circuits, config).coordinator
    )
    for account, data, update in zip(clients, full_round.data, full_round.updates, strict=True):
        coordinator.register(account, [data.commitment_hash(tree_circuits.commitments, LOGREG)])
        coordinator.submit_update(account, 0, update.proof, "bafy-update")
    return coordinator


def test_a_two_leaf_tree_is_accepted_and_equals_the_flat_fedavg_bit_for_bit(
    tree_round: Coordinator,
    accounts: list[LocalAccount],
    leaf_proofs: list[LeafResult],
    root_proof: AggregateResult,
    full_round: ProvenRound,
) -> None:
    coordinator = tree_round
    assert (coordinator.leaf_slots, [coordinator.leaf_accepted_updates(0, leaf) for leaf in (0, 1)]) == (2, [2, 1])
    reject("LeafNotAggregated", coordinator.finalize_round, accounts[1], 0, root_proof.proof, "bafy-next")
    for leaf in leaf_proofs:  # any account may prove a leaf: here the owner and a client
        coordinator.aggregate_leaf(accounts[0 if leaf.leaf == 0 else 5], 0, leaf.leaf, leaf.proof, "bafy-partial")
        assert coordinator.leaf_output_hash(0, leaf.leaf) == leaf.partial_hash
    reject("LeafAlreadyAggregated", coordinator.aggregate_leaf, accounts[0], 0, 0, leaf_proofs[0].proof, "bafy")
    coordinator.finalize_round(accounts[1], 0, root_proof.proof, "bafy-next")
    assert coordinator.current_round == 1 and coordinator.round(1).model_hash == root_proof.global_hash
    events = coordinator.aggregated_leaves(0)
    assert [(e.leaf, e.prover, e.accepted_updates) for e in events] == [
        (0, accounts[0].address, 2),
        (1, accounts[5].address, 1),
    ]
    flat = fixed_point_fedavg([u.vector for u in full_round.updates], LOGREG.num_params, LOGREG.sample_count)
    np.testing.assert_array_equal(root_proof.weights, flat)
    np.testing.assert_array_equal(root_proof.weights, full_round.aggregate.weights)  # the flat circuit's proven output


def test_a_leaf_proof_over_another_leafs_updates_is_refused(
    tree_round: Coordinator, accounts: list[LocalAccount], leaf_proofs: list[LeafResult]
) -> None:
    reject(
        "SlotMismatch: input 2 of the aggregation",
        tree_round.aggregate_leaf,
        accounts[0],
        0,
        1,
        leaf_proofs[0].proof,
        "bafy",
    )  # leaf 1 starts at slot 2
    reject("InvalidProof", tree_round.aggregate_leaf, accounts[0], 0, 0, tampered(leaf_proofs[0].proof.data), "bafy")
    reject("NoSuchLeaf", tree_round.aggregate_leaf, accounts[0], 0, 2, leaf_proofs[0].proof, "bafy")


def test_a_root_over_a_missing_leaf_is_refused(
    tree_round: Coordinator,
    accounts: list[LocalAccount],
    leaf_proofs: list[LeafResult],
    root_proof: AggregateResult,
    tree_circuits: CircuitSet,
    proof_dir: Path,
) -> None:
    tree_round.aggregate_leaf(accounts[0], 0, 0, leaf_proofs[0].proof, "bafy")
    reject("LeafNotAggregated", tree_round.finalize_round, accounts[1], 0, root_proof.proof, "bafy-next")
    # a root that treats leaf 1 as empty: a valid proof, of the wrong inputs
    partial = leaf_proofs[0]
    without = aggregate_and_prove(
        tree_circuits.aggregator,
        tree_circuits.fedavg,
        [AcceptedVector(partial.partial, partial.partial_hash), None],
        proof_dir / "root-without-leaf-1.json",
    )
    reject("LeafNotAggregated", tree_round.finalize_round, accounts[1], 0, without.proof, "bafy-next")
    tree_round.aggregate_leaf(accounts[0], 0, 1, leaf_proofs[1].proof, "bafy")
    reject(
        "SlotMismatch: input 1 of the aggregation",
        tree_round.finalize_round,
        accounts[1],
        0,
        without.proof,
        "bafy-next",
    )
    tree_round.finalize_round(accounts[1], 0, root_proof.proof, "bafy-next")


def test_a_partial_sum_overflow_is_refused_before_proving(tree_circuits: CircuitSet, tmp_path: Path) -> None:
    big = np.append(np.full(LOGREG.num_params, 3_000 << 12), LOGREG.sample_count << 12)  # 3000 + 3000 > 4096
    updates = [AcceptedVector(big, tree_circuits.commitments.commitment_hash(big))] * 2
    with pytest.raises(AggregationRangeError, match=r"leaf 0's partial sum leaves the circuits' range.*smaller leaves"):
        sum_and_prove(tree_circuits.leaf, tree_circuits.partial_sum, 0, updates, tmp_path / "leaf.json")
    assert not (tmp_path / "leaf.json").exists()


def test_a_shape_whose_full_leaf_would_overflow_is_refused_at_build(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="at most 127 slots a leaf"):
        build_circuits(
            TrainingStepSpec(LogisticRegression(2, 2), batch_size=32, local_steps=1), TreeShape(256, 128), tmp_path
        )
    with pytest.raises(ConfigError, match="divide slots into at least two leaves"):
        build_circuits(LOGREG, TreeShape(4, 3), tmp_path)
