"""`zkfl audit` against real federations on a real anvil: a clean two-round federation passes from a
fresh process that has only the RPC URL, the coordinator address and the store; each tampering
scenario is detected and named. The proofs are the session's (conftest), so nothing new is proven.

Tampering is done the way an attacker would: by editing the store, by running a federation whose
participants bypass the CLI, or by serving the chain through a JSON-RPC endpoint that lies."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from conftest import FEDERATION_SALT, LOGREG, PUBLIC_TERMS, ProvenRound
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from zkfl.audit import AuditOptions, AuditReport, audit_federation
from zkfl.audit.audit_report import markdown
from zkfl.chain.coordinator import MODEL_SLOT, Coordinator
from zkfl.chain.deploy import FederationConfig, Verifiers, deploy_contract, deploy_coordinator
from zkfl.chain.devnet import mine_blocks
from zkfl.chain.rpc import Chain
from zkfl.data.batches import ClientData
from zkfl.evm.contracts import project_artifact
from zkfl.evm.solidity import ContractArtifact
from zkfl.federation.manifest import build_manifest, publish_manifest
from zkfl.fixedpoint import quantize
from zkfl.protocol import opening_values
from zkfl.store.artifacts import LocalStore, put_vector
from zkfl.verification.round_checker import FederationView, RoundChecker
from zkfl.zk.build import CircuitSet
from zkfl.zk.commitments import POINT_BYTES

pytestmark = pytest.mark.prover

ZKFL = str(Path(sys.executable).with_name("zkfl"))
WINDOW = 12
TERMS = replace(PUBLIC_TERMS, submission_window=WINDOW)
ACCEPT_ALL = "0x600a600c600039600a6000f3" + "600160005260206000f3"
"""Creation code of a 'verifier' whose runtime returns true for any call (a broken verifier)."""


@dataclass(frozen=True)
class Federation:
    coordinator: str
    store: Path


def _deploy(
    chain: Chain,
    accounts: list[LocalAccount],
    verifiers: Verifiers,
    circuits: CircuitSet,
    store: LocalStore,
    genesis: np.ndarray,
) -> Coordinator:
    publish_manifest(store, circuits)
    config = FederationConfig.starting_from(
        circuits,
        genesis,
        put_vector(store, genesis),
        accounts[1].address,
        TERMS,
        FEDERATION_SALT,
    )
    deployment = deploy_coordinator(chain, accounts[0], verifiers, circuits, config)
    return Coordinator(chain, deployment.coordinator)


def _register(
    coordinator: Coordinator, clients: list[LocalAccount], batches: list[list[ClientData]], circuits: CircuitSet
) -> None:
    for account, data in zip(clients, batches, strict=True):
        coordinator.register(account, [d.commitment_hash(circuits.commitments, LOGREG) for d in data])


def _first_round_finalized(
    store_dir: Path,
    chain: Chain,
    accounts: list[LocalAccount],
    verifiers: Verifiers,
    logreg_circuits: CircuitSet,
    full_round: ProvenRound,
    second_batches: list[ClientData],
) -> tuple[LocalStore, Coordinator, list[LocalAccount]]:
    """A federation whose round 0 was finalized with clients 0..2, each update and model stored;
    clients 0 and 2 hold a second batch for later rounds."""
    store = LocalStore(store_dir)
    coordinator = _deploy(chain, accounts, verifiers, logreg_circuits, store, full_round.genesis)
    clients = accounts[2:5]
    _register(
        coordinator,
        clients,
        [[full_round.data[0], second_batches[0]], [full_round.data[1]], [full_round.data[2], second_batches[1]]],
        logreg_circuits,
    )
    for client, update in zip(clients, full_round.updates, strict=True):
        coordinator.submit_update(client, 0, update.proof, put_vector(store, update.vector))
    coordinator.finalize_round(
        accounts[1],
        0,
        full_round.aggregate.proof,
        put_vector(store, full_round.aggregate.weights),
        put_vector(store, full_round.aggregate.update_sum),
    )
    return store, coordinator, clients


@pytest.fixture(scope="module")
def clean(
    tmp_path_factory: pytest.TempPathFactory,
    chain: Chain,
    accounts: list[LocalAccount],
    verifiers: Verifiers,
    logreg_circuits: CircuitSet,
    full_round: ProvenRound,
    partial_round: ProvenRound,
    second_batches: list[ClientData],
) -> Federation:
    """Two finalized rounds, run honestly through the library: round 0 with three clients, round 1
    with clients 0 and 2 (slot 1 empty, finalized after the deadline)."""
    store, coordinator, clients = _first_round_finalized(
        tmp_path_factory.mktemp("audit") / "store",
        chain,
        accounts,
        verifiers,
        logreg_circuits,
        full_round,
        second_batches,
    )
    for client, update in zip([clients[0], clients[2]], partial_round.updates, strict=True):
        coordinator.submit_update(client, 1, update.proof, put_vector(store, update.vector))
    mine_blocks(chain, WINDOW + 1)
    coordinator.finalize_round(
        accounts[1],
        1,
        partial_round.aggregate.proof,
        put_vector(store, partial_round.aggregate.weights),
        put_vector(store, partial_round.aggregate.update_sum),
    )
    return Federation(coordinator.address, store.root)


def _one_round(
    chain: Chain,
    accounts: list[LocalAccount],
    verifiers: Verifiers,
    circuits: CircuitSet,
    full_round: ProvenRound,
    store: LocalStore,
    update_cids: list[str],
    finalize: Callable[[Coordinator], None],
) -> Coordinator:
    """Round 0 of a federation with the session's proofs, the given CIDs, and a custom finalization."""
    coordinator = _deploy(chain, accounts, verifiers, circuits, store, full_round.genesis)
    clients = accounts[2:5]
    _register(coordinator, clients, [[d] for d in full_round.data], circuits)
    for client, update, cid in zip(clients, full_round.updates, update_cids, strict=True):
        coordinator.submit_update(client, 0, update.proof, cid)
    finalize(coordinator)
    return coordinator


def _finalize_honestly(
    aggregator: LocalAccount, full_round: ProvenRound, store: LocalStore, published_sum: np.ndarray
) -> Callable[[Coordinator], None]:
    """Round 0's finalization with its honest proof and model, publishing `published_sum` as the sum."""

    def finalize(coordinator: Coordinator) -> None:
        coordinator.finalize_round(
            aggregator,
            0,
            full_round.aggregate.proof,
            put_vector(store, full_round.aggregate.weights),
            put_vector(store, published_sum),
        )

    return finalize


@pytest.fixture(scope="module")
def other_content(
    clean: Federation,
    chain: Chain,
    accounts: list[LocalAccount],
    verifiers: Verifiers,
    logreg_circuits: CircuitSet,
    full_round: ProvenRound,
) -> Federation:
    """Client 1 submits a valid proof but names the CID of client 0's update (bypassing the CLI)."""
    store = LocalStore(clean.store)
    cids = [put_vector(store, u.vector) for u in full_round.updates]
    coordinator = _one_round(
        chain,
        accounts,
        verifiers,
        logreg_circuits,
        full_round,
        store,
        [cids[0], cids[0], cids[2]],
        _finalize_honestly(accounts[1], full_round, store, full_round.aggregate.update_sum),
    )
    return Federation(coordinator.address, clean.store)


@pytest.fixture(scope="module")
def other_sum(
    clean: Federation,
    chain: Chain,
    accounts: list[LocalAccount],
    verifiers: Verifiers,
    logreg_circuits: CircuitSet,
    full_round: ProvenRound,
) -> Federation:
    """An honest round whose aggregator publishes, as the sum its proof took, a vector that differs
    from it in one weight (bypassing the CLI); the proof and the next model are the honest ones."""
    store = LocalStore(clean.store)
    cids = [put_vector(store, u.vector) for u in full_round.updates]
    changed = full_round.aggregate.update_sum.copy()
    changed[3] += 1
    coordinator = _one_round(
        chain,
        accounts,
        verifiers,
        logreg_circuits,
        full_round,
        store,
        cids,
        _finalize_honestly(accounts[1], full_round, store, changed),
    )
    return Federation(coordinator.address, clean.store)


@pytest.fixture(scope="module")
def not_fedavg(
    tmp_path_factory: pytest.TempPathFactory,
    clean: Federation,
    chain: Chain,
    accounts: list[LocalAccount],
    verifiers: Verifiers,
    logreg_circuits: CircuitSet,
    full_round: ProvenRound,
) -> Federation:
    """A federation deployed around the CLI with a verifier that accepts anything as its aggregator
    verifier; the aggregator publishes FedAvg + 1 (one element nudged) as the next model."""
    store = LocalStore(tmp_path_factory.mktemp("rogue") / "store")
    broken, _ = deploy_contract(chain, accounts[0], ContractArtifact("AcceptAll", [], ACCEPT_ALL, "0x"))
    rogue = Verifiers(verifiers.client, broken, {})
    cids = [put_vector(store, u.vector) for u in full_round.updates]
    forged = full_round.aggregate.weights.copy()
    forged[3] += 1

    def finalize(coordinator: Coordinator) -> None:
        proof = bytearray(full_round.aggregate.proof.data)  # claims C(forged) as its output
        proof[POINT_BYTES : 2 * POINT_BYTES] = logreg_circuits.commitments.point(forged)
        coordinator.finalize_round(
            accounts[1], 0, bytes(proof), put_vector(store, forged), put_vector(store, full_round.aggregate.update_sum)
        )

    coordinator = _one_round(chain, accounts, rogue, logreg_circuits, full_round, store, cids, finalize)
    return Federation(coordinator.address, store.root)


@pytest.fixture(scope="module")
def skipped(
    tmp_path_factory: pytest.TempPathFactory,
    chain: Chain,
    accounts: list[LocalAccount],
    verifiers: Verifiers,
    logreg_circuits: CircuitSet,
    full_round: ProvenRound,
    partial_round: ProvenRound,
    second_batches: list[ClientData],
) -> Federation:
    """Round 0 finalized with three clients; round 1 gets no submission and, once its deadline and
    challenge window are over, is skipped by a stranger; round 2 starts from the same model (an
    empty CID on-chain) and is finalized with clients 0 and 2."""
    store, coordinator, clients = _first_round_finalized(
        tmp_path_factory.mktemp("skipped") / "store",
        chain,
        accounts,
        verifiers,
        logreg_circuits,
        full_round,
        second_batches,
    )
    mine_blocks(chain, WINDOW + coordinator.terms.challenge_window + 1)
    coordinator.skip_round(accounts[6], 1)
    for client, update in zip([clients[0], clients[2]], partial_round.updates, strict=True):
        coordinator.submit_update(client, 2, update.proof, put_vector(store, update.vector))
    mine_blocks(chain, WINDOW + 1)
    coordinator.finalize_round(
        accounts[1],
        2,
        partial_round.aggregate.proof,
        put_vector(store, partial_round.aggregate.weights),
        put_vector(store, partial_round.aggregate.update_sum),
    )
    return Federation(coordinator.address, store.root)


@dataclass(frozen=True)
class Disputed(Federation):
    opened_cid: str  # slot 1's update: opened on-chain, never in the store
    opening_tx: str


@pytest.fixture(scope="module")
def disputed(
    tmp_path_factory: pytest.TempPathFactory,
    chain: Chain,
    accounts: list[LocalAccount],
    verifiers: Verifiers,
    logreg_circuits: CircuitSet,
    full_round: ProvenRound,
) -> Disputed:
    """Round 0 with three clients, each update's opening requested by a stranger: client 1 (whose
    vector never reached the store) opens its update on-chain, client 2 answers nothing and is
    slashed (settleUnanswered); the aggregator then leaves the round open, and it is skipped."""
    store = LocalStore(tmp_path_factory.mktemp("disputed") / "store")
    coordinator = _deploy(chain, accounts, verifiers, logreg_circuits, store, full_round.genesis)
    clients, stranger = accounts[2:5], accounts[6]
    _register(coordinator, clients, [[d] for d in full_round.data], logreg_circuits)
    elsewhere = LocalStore(tmp_path_factory.mktemp("elsewhere") / "store")  # its CID, not in the federation's store
    cids = [
        put_vector(store, full_round.updates[0].vector),
        put_vector(elsewhere, full_round.updates[1].vector),
        put_vector(store, full_round.updates[2].vector),
    ]
    for client, update, cid in zip(clients, full_round.updates, cids, strict=True):
        coordinator.submit_update(client, 0, update.proof, cid)
    for slot in (1, 2):
        coordinator.request_opening(stranger, 0, slot)
    basis = logreg_circuits.commitments.vector_basis(coordinator.update_length)
    opening = coordinator.open_vector(clients[1], 0, 1, opening_values(full_round.updates[1].vector), basis)
    terms = coordinator.terms
    mine_blocks(chain, terms.reveal_window + 1)
    coordinator.settle_unanswered(stranger, 0, 2)
    mine_blocks(chain, WINDOW + terms.challenge_window + terms.finalization_grace + 1)
    coordinator.skip_round(stranger, 0)
    return Disputed(coordinator.address, store.root, cids[1], opening["transactionHash"].to_0x_hex())


@pytest.fixture(scope="module")
def rolled_back(
    tmp_path_factory: pytest.TempPathFactory,
    chain: Chain,
    accounts: list[LocalAccount],
    verifiers: Verifiers,
    logreg_circuits: CircuitSet,
    full_round: ProvenRound,
) -> Federation:
    """Round 0 finalized, but its output model never reaches the store: a stranger requests the
    opening of round 1's model, nobody answers, and settling it rolls round 1 back (ModelSlashed):
    round 2 starts from the genesis model again."""
    store = LocalStore(tmp_path_factory.mktemp("rolled-back") / "store")
    coordinator = _deploy(chain, accounts, verifiers, logreg_circuits, store, full_round.genesis)
    clients, stranger = accounts[2:5], accounts[6]
    _register(coordinator, clients, [[d] for d in full_round.data], logreg_circuits)
    for client, update in zip(clients, full_round.updates, strict=True):
        coordinator.submit_update(client, 0, update.proof, put_vector(store, update.vector))
    withheld = put_vector(LocalStore(tmp_path_factory.mktemp("withheld") / "store"), full_round.aggregate.weights)
    coordinator.finalize_round(
        accounts[1], 0, full_round.aggregate.proof, withheld, put_vector(store, full_round.aggregate.update_sum)
    )
    coordinator.request_opening(stranger, 1, MODEL_SLOT)
    mine_blocks(chain, coordinator.terms.reveal_window + 1)
    coordinator.settle_unanswered(stranger, 1, MODEL_SLOT)
    return Federation(coordinator.address, store.root)


def _audit(
    chain: Chain, federation: Federation, rpc_url: str | None = None, store: Path | None = None, **options: object
) -> AuditReport:
    return audit_federation(
        rpc_url or chain.rpc_url, federation.coordinator, store or federation.store, AuditOptions(**options)
    )


def _failed(report: AuditReport) -> dict[str, list[str]]:
    """{check id: [scope: detail, ...]} of the failed checks."""
    failed: dict[str, list[str]] = {}
    for f in report.failures:
        failed.setdefault(f.check, []).append(f"{f.scope}: {f.detail}")
    return failed


def _copy_store(federation: Federation, tmp_path: Path) -> Path:
    copy = tmp_path / "store"
    shutil.copytree(federation.store, copy)
    return copy


# ------------------------------------------------------------------------------------------ clean


def test_clean_federation_passes_from_a_fresh_process(
    clean: Federation, chain: Chain, tmp_path: Path, full_round: ProvenRound, partial_round: ProvenRound
) -> None:
    rng = np.random.default_rng(5)
    eval_set = tmp_path / "eval.npz"
    x = rng.uniform(0, 1, size=(40, LOGREG.features))
    np.savez(eval_set, x=x, y=rng.integers(0, LOGREG.classes, size=40))
    done = subprocess.run(
        [
            ZKFL,
            "audit",
            "--rpc-url",
            chain.rpc_url,
            "--coordinator",
            clean.coordinator,
            "--store",
            str(clean.store),
            "--eval",
            str(eval_set),
            "--out",
            str(tmp_path / "audit"),
            "--json",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["schema"] == "zkfl.audit-report/1" and report["ok"] is True and report["failures"] == []
    assert [r["round"] for r in report["rounds"]] == [0, 1, 2]
    round0, round1, open_round = report["rounds"]
    assert [u["slot"] for u in round0["updates"]] == [0, 1, 2] and [u["slot"] for u in round1["updates"]] == [0, 2]
    assert round0["updates"][1]["update_hash"] == hex(full_round.updates[1].update_hash)
    for row in round0["updates"] + round1["updates"] + [round0["aggregation"], round1["aggregation"]]:
        assert row["proof"]["offchain"] and row["proof"]["onchain"] and row["stored_ok"]
        assert row["proof"]["gas_used"] > 200_000 and row["proof"]["verify_seconds"] > 0
    assert round0["aggregation"]["fedavg_exact"] and round1["aggregation"]["fedavg_exact"]
    assert 0 < round0["aggregation"]["float_max_abs_diff"] < 1e-2  # the fixed-point mean rounds (1/3 ~ 1365/4096)
    assert open_round["aggregation"] is None and open_round["model_hash"] == hex(partial_round.aggregate.global_hash)
    assert report["federation"]["final_model_hash"] == hex(partial_round.aggregate.global_hash)
    assert report["federation"]["rounds_finalized"] == 2
    checks = {c["check"] for c in report["checks"]}
    assert {
        "event-origin",
        "events-match-state",
        "coordinator-code",
        "round-sequence",
        "model-chain",
        "manifest",
        "verifier-srs",
        "client-proof-offchain",
        "client-proof-onchain",
        "data-commitment",
        "update-hash",
        "aggregation-links",
        "fedavg",
        "verifier-rejects-invalid",
        "srs-security",
        "circuit-settings",
        "commitment-key",
        "client-links",
    } <= checks
    assert report["srs"]["client"]["dev"] is True and "INSECURE" in report["srs"]["warnings"][0]
    assert all(0.0 <= r["accuracy"] <= 1.0 for r in report["rounds"])
    assert len(report["timing"]["client_verify_seconds"]) == 5
    assert len(report["timing"]["aggregator_verify_seconds"]) == 2
    written = json.loads((tmp_path / "audit" / "audit.json").read_text())
    assert written["federation"] == report["federation"]
    page = (tmp_path / "audit" / "audit.md").read_text()
    assert "# zkFL audit: PASSED" in page and "INSECURE dev SRS" in page and "| 1 | FedAvg |" in page
    assert (tmp_path / "audit" / "accuracy.png").read_bytes().startswith(b"\x89PNG")


def test_dev_srs_fails_under_strict_srs(clean: Federation, chain: Chain) -> None:
    report = _audit(chain, clean, strict_srs=True, onchain=False)
    assert list(_failed(report)) == ["srs-security"]


def test_supplied_srs_file_is_checked_and_matched(
    clean: Federation, chain: Chain, logreg_circuits: CircuitSet, tmp_path: Path
) -> None:
    client_srs = logreg_circuits.client.srs.path
    bad = tmp_path / "bad.srs"
    raw = bytearray(client_srs.read_bytes())
    raw[4 + 64 : 4 + 64 * 2] = raw[4 + 64 * 2 : 4 + 64 * 3]  # g[1] replaced by g[2]: not s·G any more
    bad.write_bytes(bytes(raw))
    report = _audit(chain, clean, onchain=False, srs_files=(client_srs, bad))
    good, broken = report.srs["file_checks"]
    assert good["ok"] and "client" in good["matches"] and good["sha256"] == logreg_circuits.client.srs.sha256
    assert not broken["ok"] and not broken["checks"]["consecutive powers share one s (pairing check)"]
    assert set(_failed(report)) == {"srs-file-structure", "srs-file-match"}
    assert all(str(bad) in line for lines in _failed(report).values() for line in lines)


# ------------------------------------------------------------------------------------ the store


def test_changed_bytes_of_a_stored_update_are_detected(
    clean: Federation, chain: Chain, partial_round: ProvenRound, tmp_path: Path
) -> None:
    store = _copy_store(clean, tmp_path)
    cid = LocalStore(store).put(np.asarray(partial_round.updates[1].vector, dtype="<i8").tobytes())
    block = store / "blocks" / cid
    data = bytearray(block.read_bytes())
    data[8] ^= 0x40
    block.write_bytes(bytes(data))
    failed = _failed(_audit(chain, clean, store=store))
    assert "update-stored" in failed and failed["update-stored"][0].startswith("round 1 slot 2:")
    assert "does not match its CID" in failed["update-stored"][0]


def test_cid_pointing_to_other_content_is_detected(
    other_content: Federation, chain: Chain, full_round: ProvenRound
) -> None:
    failed = _failed(_audit(chain, other_content))
    client0_cid = put_vector(LocalStore(other_content.store), full_round.updates[0].vector)
    assert failed["update-hash"] == [
        f"round 0 slot 1: the accepted update at {client0_cid} commits to "
        f"{full_round.updates[0].update_hash:#x}, not to "
        f"{full_round.updates[1].update_hash:#x}"
    ]
    assert "client-proof-offchain" not in failed and "client-proof-onchain" not in failed


def test_a_stored_sum_that_differs_from_the_chains_sum_is_detected(other_sum: Federation, chain: Chain) -> None:
    failed = _failed(_audit(chain, other_sum))
    assert set(failed) == {"sum-hash", "sum-exact", "fedavg"}, failed
    [wrong] = failed["sum-hash"]
    assert wrong.startswith("round 0 aggregation: the sum of the accepted updates at "), wrong
    # nothing is replayed from a sum that is not the one the proof took
    assert failed["sum-exact"] == [
        "round 0 aggregation: cannot recompute: the stored sum or an accepted update is unavailable"
    ]
    assert failed["fedavg"] == [
        "round 0 aggregation: cannot recompute: the stored sum or the next model is unavailable"
    ]


def test_verification_key_swapped_in_the_store_is_detected(
    clean: Federation, chain: Chain, logreg_circuits: CircuitSet, tmp_path: Path
) -> None:
    store = _copy_store(clean, tmp_path)
    raw, _ = build_manifest(logreg_circuits)
    vk_cid = json.loads(raw)["client"]["vk_cid"]
    (store / "blocks" / vk_cid).write_bytes(logreg_circuits.aggregator.vk_path.read_bytes())
    done = subprocess.run(
        [
            ZKFL,
            "audit",
            "--rpc-url",
            chain.rpc_url,
            "--coordinator",
            clean.coordinator,
            "--store",
            str(store),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 1, done.stderr[-2000:]
    body = json.loads(done.stdout)
    assert body["ok"] is False and body["error"] == "AuditFailed" and body["exit_code"] == 1
    assert body["reason"].startswith(f"client circuit: verification-key: content under {vk_cid}")
    failed = {f["check"] for f in body["failures"]}
    # the client vk is also what commitments are recomputed with: without it, none is checked
    assert {"verification-key", "client-proof-offchain", "commitment-key"} <= failed
    assert failed <= {
        "verification-key",
        "client-proof-offchain",
        "commitment-key",
        "model-hash",
        "update-hash",
        "update-sum",  # no trusted key: C(0) is unknown
        "sum-hash",
        "sum-exact",
        "next-model-hash",
        "fedavg",
    }


def test_manifest_whose_shapes_disagree_with_the_circuits_is_detected(
    chain: Chain,
    accounts: list[LocalAccount],
    verifiers: Verifiers,
    logreg_circuits: CircuitSet,
    full_round: ProvenRound,
    tmp_path: Path,
) -> None:
    """A coordinator committed to a manifest that claims batches twice the size the client circuit
    was compiled for: the manifest is intact (its CID is the on-chain digest), but it is not the
    description of these circuits."""
    store = LocalStore(tmp_path / "store")
    raw, blobs = build_manifest(logreg_circuits)
    body = json.loads(raw)
    body["model"]["batch_size"] *= 2
    lying = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    for data in [*blobs.values(), lying]:
        store.put(data)
    config = FederationConfig.starting_from(
        logreg_circuits, full_round.genesis, put_vector(store, full_round.genesis), accounts[1].address, PUBLIC_TERMS
    )
    address, _ = deploy_contract(
        chain,
        accounts[0],
        project_artifact("Coordinator"),
        verifiers.client,
        verifiers.aggregator,
        config.aggregator,
        logreg_circuits.slots,
        config.genesis_hash,
        config.genesis_cid,
        hashlib.sha256(lying).digest(),
        config.terms.as_tuple(),
        config.federation_salt,
        config.commitment_key_args(),
    )
    failed = _failed(_audit(chain, Federation(address, store.root), onchain=False))
    assert list(failed) == ["circuit-settings"]
    (detail,) = failed["circuit-settings"]
    assert (
        detail.startswith("client circuit: the circuit commits to tensors of lengths ")
        and "the manifest's are" in detail
    )


def test_coordinator_created_with_another_commitment_key_is_detected(
    chain: Chain, accounts: list[LocalAccount], verifiers: Verifiers, logreg_circuits: CircuitSet, tmp_path: Path
) -> None:
    """The context basis points in another order: every point is on the curve, so the contract
    takes them, but it would bind clients' proofs to contexts no honest prover computes."""
    store = LocalStore(tmp_path / "store")
    publish_manifest(store, logreg_circuits)
    genesis = quantize(LOGREG.model.init_params(seed=0))
    honest = FederationConfig.starting_from(
        logreg_circuits,
        genesis,
        put_vector(store, genesis),
        accounts[1].address,
        TERMS,
    )
    config = replace(honest, context_basis=honest.context_basis[::-1])
    deployment = deploy_coordinator(chain, accounts[0], verifiers, logreg_circuits, config)
    failed = _failed(_audit(chain, Federation(deployment.coordinator, store.root), onchain=False))
    assert failed == {
        "coordinator-code": [
            "federation: constructor arguments disagree with the contract's state or events: key.contextBasis"
        ]
    }


# ------------------------------------------------------------------------------------ the chain


def test_a_model_rolled_back_by_the_chain_may_be_missing_and_the_next_round_starts_from_the_one_before(
    rolled_back: Federation, chain: Chain, full_round: ProvenRound
) -> None:
    report = _audit(chain, rolled_back, onchain=False)
    assert report.ok, report.reason
    round0, round1, round2 = report.rounds
    assert round1.skipped and round1.model_rolled_back and round1.model_hash == hex(full_round.aggregate.global_hash)
    assert (round2.model_hash, round2.model_cid) == (round0.model_hash, round0.model_cid)  # genesis again
    checks = {(c.check, c.scope): c for c in report.checks}
    for check, scope in (
        ("model-stored", "round 1"),
        ("next-model-stored", "round 0 aggregation"),
        ("fedavg", "round 0 aggregation"),
    ):
        assert "rolled round 1 back to the model before it" in checks[(check, scope)].detail, check
    assert "round 2 starts from the model before it" in checks[("round-skipped", "round 1")].detail
    assert "| 1 | skipped | — | next round from the model before it |" in markdown(report)


def test_an_update_opened_on_chain_is_read_from_its_opening_and_a_slashed_one_is_left_out(
    disputed: Disputed, chain: Chain, full_round: ProvenRound
) -> None:
    report = _audit(chain, disputed, onchain=False)
    assert report.ok, report.reason
    (round0, round1) = report.rounds
    assert round0.skipped and not round0.model_rolled_back and round1.model_hash == round0.model_hash
    assert [(u.slot, u.stored_ok) for u in round0.updates] == [(0, True), (1, True)]  # slot 2 slashed out
    checks = {(c.check, c.scope): c for c in report.checks}
    stored = checks[("update-stored", "round 0 slot 1")].detail
    assert f"read from its on-chain opening, transaction {disputed.opening_tx}" in stored
    assert checks[("update-hash", "round 0 slot 1")].ok
    assert "2 accepted update(s) dropped" in checks[("round-skipped", "round 0")].detail
    assert not any(c.scope.startswith("round 0 slot 2") for c in report.checks)


ROUND_SKIPPED = "0x" + keccak(b"RoundSkipped(uint256,uint256,bool)").hex()


def test_a_federation_with_a_skipped_round_audits_clean_and_its_model_chain_runs_through_the_skip(
    skipped: Federation, chain: Chain, full_round: ProvenRound, logreg_circuits: CircuitSet, lying_rpc
) -> None:
    coordinator = Coordinator(chain, skipped.coordinator)
    opened = coordinator.contract.events.RoundOpened.get_logs(from_block=0)
    assert [e.args.modelCid == "" for e in opened] == [False, False, True, False]  # the skip names no CID
    report = _audit(chain, skipped, onchain=False)
    assert report.ok, report.reason
    assert [(r.round, r.finalized, r.skipped) for r in report.rounds] == [
        (0, True, False),
        (1, False, True),
        (2, True, False),
        (3, False, False),
    ]
    round1, round2 = report.rounds[1:3]
    assert round1.aggregation is None and round1.updates == []
    assert (round2.model_hash, round2.model_cid) == (round1.model_hash, round1.model_cid)  # the CID resolved
    assert round1.model_hash == hex(full_round.aggregate.global_hash)
    assert report.federation["rounds_finalized"] == 2 and report.federation["rounds_skipped"] == 1
    assert report.federation["updates"] == "public" and report.federation["update_bound"] == "none"
    checks = {(c.check, c.scope): c for c in report.checks}
    assert "0 accepted update(s) dropped" in checks[("round-skipped", "round 1")].detail
    assert "after skipped round(s) 1" in checks[("model-chain", "federation")].detail
    assert "round 2 starts from the same model" in checks[("round-skipped", "round 1")].detail

    # `zkfl verify --round 1` runs the same checker on the round alone: it passes, as skipped
    keys = {kind: k.verifier for kind, k in logreg_circuits.keys_by_kind().items()}
    view = FederationView.read(
        coordinator, LocalStore(skipped.store), keys, logreg_circuits.commitments, logreg_circuits.fedavg, onchain=False
    )
    checker = RoundChecker(view)
    one = checker.check_round(1)
    assert one.skipped and checker.findings.ok
    assert [f.check for f in checker.findings.items] == ["model-stored", "model-hash", "round-skipped"]

    # without its RoundSkipped event, round 1 closed neither way and round 2 has no model to come from
    proxy = lying_rpc(
        lambda params, get_logs: [log for log in get_logs(params) if log["topics"][:1] != [ROUND_SKIPPED]]
    )
    failed = _failed(_audit(chain, skipped, rpc_url=proxy.url, onchain=False))
    assert failed["model-chain"] == [
        f"federation: round 2 starts from {full_round.aggregate.global_hash:#x}, but "
        "round 1 has no finalized aggregation (nor a skip) to come from"
    ]
    assert failed["round-sequence"] == ["round 1: round 1 was never finalized nor skipped but round 2 exists"]
    assert "round 1: skipped is True on-chain, False in the events" in failed["events-match-state"][0]


def test_global_model_that_is_not_fedavg_is_detected(not_fedavg: Federation, chain: Chain) -> None:
    failed = _failed(_audit(chain, not_fedavg))
    assert failed["fedavg"][0].startswith(
        "round 0 aggregation: the published next model is not the FedAvg of the stored sum: "
        f"1 of {LOGREG.num_params} elements differ (first at index 3: published "
    )
    assert "aggregator-proof-offchain" in failed  # the proof does not prove this output
    assert failed["verifier-rejects-invalid"][0].startswith("aggregator verifier:")
    assert "ACCEPTS a proof with one flipped byte" in failed["verifier-rejects-invalid"][0]


GetLogs = Callable[[dict], list]


class LyingRpc:
    """A JSON-RPC endpoint in front of anvil whose eth_getLogs answers are `rewrite(params, get_logs)`
    (an RPC node or indexer that lies); every other call is passed through."""

    def __init__(self, upstream: str, rewrite: Callable[[dict, GetLogs], list]):
        self.upstream = upstream
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server's method name
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if request.get("method") == "eth_getLogs":
                    response = {
                        "jsonrpc": "2.0",
                        "id": request["id"],
                        "result": rewrite(request["params"][0], proxy.get_logs),
                    }
                else:
                    response = proxy.call(request)
                body = json.dumps(response).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def call(self, body: dict) -> dict:
        request = urllib.request.Request(self.upstream, json.dumps(body).encode(), {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as reply:
            return json.loads(reply.read())

    def get_logs(self, params: dict) -> list:
        return self.call({"jsonrpc": "2.0", "id": 1, "method": "eth_getLogs", "params": [params]})["result"]


@pytest.fixture
def lying_rpc(chain: Chain) -> Iterator[Callable[[Callable[[dict, GetLogs], list]], LyingRpc]]:
    servers: list[LyingRpc] = []

    def start(rewrite: Callable[[dict, GetLogs], list]) -> LyingRpc:
        servers.append(LyingRpc(chain.rpc_url, rewrite))
        return servers[-1]

    yield start
    for server in servers:
        server.server.shutdown()


def test_event_log_from_another_coordinator_is_detected(
    clean: Federation, other_content: Federation, chain: Chain, lying_rpc
) -> None:
    """The endpoint answers log queries for the audited coordinator with another coordinator's logs,
    relabelled with the audited address."""

    def other_logs(params: dict, get_logs: GetLogs) -> list:
        if [a.lower() for a in params.get("address", [])] != [clean.coordinator.lower()]:
            return get_logs(params)
        return [
            {**log, "address": clean.coordinator.lower()}
            for log in get_logs({**params, "address": [other_content.coordinator]})
        ]

    proxy = lying_rpc(other_logs)
    failed = _failed(_audit(chain, clean, rpc_url=proxy.url))
    assert f"not the coordinator {clean.coordinator}'s own" in failed["event-origin"][0]
    assert other_content.coordinator in failed["event-origin"][0]
    assert "coordinator-code" in failed and "events-match-state" in failed


def test_round_missing_from_the_event_log_is_detected(clean: Federation, chain: Chain, lying_rpc) -> None:
    """The endpoint drops every event of round 1, so the log jumps from round 0 to round 2."""
    round_one = "0x" + (1).to_bytes(32, "big").hex()
    proxy = lying_rpc(lambda params, get_logs: [log for log in get_logs(params) if log["topics"][1:2] != [round_one]])
    failed = _failed(_audit(chain, clean, rpc_url=proxy.url))
    assert failed["round-sequence"] == ["federation: round(s) 1 missing from the event log (rounds seen: 0, 2)"]
    assert "round 2 starts from" in failed["model-chain"][0]
    assert "round 1 is on-chain" in failed["events-match-state"][0]


@pytest.mark.parametrize("case", ["no contract", "not a coordinator", "no store", "no chain", "no eval set"])
def test_audit_of_what_cannot_be_read_exits_2_naming_it(
    case: str, clean: Federation, chain: Chain, verifiers: Verifiers, tmp_path: Path
) -> None:
    args = {"--rpc-url": chain.rpc_url, "--coordinator": clean.coordinator, "--store": str(clean.store)}
    expected = {
        "no contract": "no contract at",
        "not a coordinator": "is not a zkFL coordinator",
        "no store": "store not found",
        "no chain": "cannot reach a JSON-RPC node",
        "no eval set": "evaluation set not found",
    }[case]
    extra: list[str] = []
    if case == "no contract":
        args["--coordinator"] = "0x" + "00" * 19 + "01"
    elif case == "not a coordinator":
        args["--coordinator"] = verifiers.client
    elif case == "no store":
        args["--store"] = str(tmp_path / "missing")
    elif case == "no chain":
        args["--rpc-url"] = "http://127.0.0.1:9"
    else:
        extra = ["--eval", str(tmp_path / "missing.npz")]
    done = subprocess.run(
        [ZKFL, "audit", *sum(args.items(), ()), *extra, "--json"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 2, done.stdout + done.stderr[-2000:]
    assert expected in json.loads(done.stdout)["message"]


def test_audit_reads_the_store_through_an_ipfs_api(clean: Federation, chain: Chain) -> None:
    """The same federation audited from an IPFS node's block API (a fake Kubo serving the store's blocks)."""
    from helpers import fake_kubo

    blocks = {path.name: path.read_bytes() for path in (clean.store / "blocks").iterdir()}
    with fake_kubo(blocks) as kubo:
        report = audit_federation(chain.rpc_url, clean.coordinator, kubo.url, AuditOptions(onchain=False))
    assert report.ok, report.reason
    assert report.federation["rounds_finalized"] == 2 and all(r.aggregation.fedavg_exact for r in report.rounds[:2])
