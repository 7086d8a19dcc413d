"""An optimistic federation on a real anvil with a watchtower running as a real process
(`zkfl watch`): an honest client's update is left alone; a cheater's invalid proof is challenged
as soon as it is seen, slashed and removed; a proof withheld from the store is requested, and its
client slashed when nobody reveals it. The round finalizes without both after the challenge
window, and the audit of the whole run passes. Without a watchtower, the audit fails. A request
for a valid proof that is in the store is answered by the watchtower, so the requester loses its
bond to it; in an eager federation, the aggregator's wait answers openings of an update and of
the model, and a round left without updates is skipped; an update the store lost is requested by
the aggregator, opened by its client from what it kept, and aggregated from the chain."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import LOGREG, reject, tampered
from eth_account import Account
from eth_account.signers.local import LocalAccount
from helpers import use_session_cache, write_data

from zkfl.audit import audit_federation
from zkfl.chain.coordinator import MODEL_SLOT
from zkfl.chain.devnet import DEV_MNEMONIC, mine_blocks
from zkfl.errors import ConfigError
from zkfl.federation.terms import OPTIMISTIC, PUBLIC, FederationTerms
from zkfl.pipeline import aggregate_round, prove_update, register_client, setup_federation, submit_update
from zkfl.pipeline.aggregation import wait_until_finalizable
from zkfl.pipeline.devnet_clock import DevnetClock
from zkfl.pipeline.participant import answer_as_client
from zkfl.pipeline.round_model import round_model
from zkfl.pipeline.workspace import AGGREGATOR, Workspace, WorkspaceConfig
from zkfl.store.artifacts import get_vector
from zkfl.zk.prover import Proof

pytestmark = pytest.mark.prover
ZKFL = str(Path(sys.executable).with_name("zkfl"))
TERMS = FederationTerms(submission_window=40, verification=OPTIMISTIC, challenge_window=10, updates=PUBLIC)
EAGER_TERMS = FederationTerms(submission_window=40, challenge_window=10, updates=PUBLIC)


def test_a_watchtower_process_slashes_an_invalid_optimistic_update_and_the_audit_passes(
    tmp_path: Path, cache_dir: Path, logreg_circuits
) -> None:
    ws, _ = Workspace.init(tmp_path / "fed", WorkspaceConfig(LOGREG, slots=3, terms=TERMS))
    use_session_cache(ws.root, cache_dir)
    watcher = None
    try:
        setup = setup_federation(ws)
        Account.enable_unaudited_hdwallet_features()
        tower_key = Account.from_mnemonic(DEV_MNEMONIC, account_path="m/44'/60'/0'/0/7").key.hex()
        watcher = subprocess.Popen(
            [
                ZKFL,
                "watch",
                "--rpc-url",
                ws.chain.rpc_url,
                "--coordinator",
                setup.coordinator,
                "--store",
                str(ws.root / "store"),
                "--interval",
                "0.2",
                "--until-round",
                "1",
                "--json",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "ZKFL_WATCHTOWER_KEY": "0x" + tower_key.removeprefix("0x")},
        )
        for i, name in enumerate(("honest", "cheat", "withholder")):
            register_client(ws, name, write_data(tmp_path / f"{name}.npz", 40 + i), batches=2, seed=i)
            prove_update(ws, name)
        submit_update(ws, "honest")
        coordinator = ws.coordinator()
        cheat = ws.signer("client", 1)
        proof = tampered(Proof.load(ws.client_proof_path("cheat", 0)).data)
        ws.store.put(proof)  # the bytes are available: a watchtower can challenge with them
        cid = ws.read_record(ws.client_round_path("cheat", 0))["update_cid"]  # a real vector
        submitted = coordinator.submit_update_optimistic(cheat, 0, proof, cid)
        slot = coordinator.client(cheat.address).slot
        assert coordinator.accepted_update_hash(0, slot) != 0  # accepted: no verifier ran

        _wait_for(lambda: coordinator.accepted_update_hash(0, slot) == 0, "the watchtower to challenge")
        assert not coordinator.client(cheat.address).registered

        withholder = ws.signer("client", 2)  # a valid proof, but its bytes never reach the store
        held = Proof.load(ws.client_proof_path("withholder", 0)).data
        cid = ws.read_record(ws.client_round_path("withholder", 0))["update_cid"]
        coordinator.submit_update_optimistic(withholder, 0, held, cid)
        held_slot = coordinator.client(withholder.address).slot
        _wait_for(lambda: coordinator.proof_request(0, held_slot) is not None, "the watchtower to request the proof")
        mine_blocks(ws.chain, coordinator.proof_request(0, held_slot)[1] + 1 - ws.chain.w3.eth.block_number)
        _wait_for(lambda: coordinator.accepted_update_hash(0, held_slot) == 0, "the watchtower to slash it")

        wait_until_finalizable(ws, 0, clock=DevnetClock(ws.chain))  # past the deadline and the challenge window
        outcome = aggregate_round(ws)
        assert outcome.accepted == 1 and coordinator.current_round == 1
        stdout, stderr = watcher.communicate(timeout=120)
        assert watcher.returncode == 0, stderr[-3000:]
        seen = {line["client"]: line for line in map(json.loads, stdout.splitlines())}
        assert seen[ws.signer("client", 0).address]["verdict"] == "valid"
        caught = seen[cheat.address]
        assert caught["verdict"] == "invalid" and caught["outcome"] == "slashed"
        assert caught["challenge_block"] - submitted["blockNumber"] <= 2  # challenged as soon as seen
        assert seen[withholder.address]["verdict"] == "unavailable" and seen[withholder.address]["outcome"] == "slashed"

        report = audit_federation(ws.chain.rpc_url, setup.coordinator, ws.root / "store")
        assert report.ok, report.reason
        assert [len(r.updates) for r in report.rounds if r.aggregation is not None] == [1]
        survived = [c for c in report.checks if c.check == "no-invalid-update-survived"]
        assert [c.ok for c in survived] == [True] and "2 slashed" in survived[0].detail
    finally:
        if watcher is not None and watcher.poll() is None:
            watcher.kill()
        ws.stop_devnet()


def _dev_account(index: int) -> LocalAccount:
    Account.enable_unaudited_hdwallet_features()
    return Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")


def _watcher(ws: Workspace, coordinator: str, tower: LocalAccount) -> subprocess.Popen:
    """`zkfl watch` until round 1 opens, with `tower`'s key, printing JSON Lines."""
    return subprocess.Popen(
        [
            ZKFL,
            "watch",
            "--rpc-url",
            ws.chain.rpc_url,
            "--coordinator",
            coordinator,
            "--store",
            str(ws.root / "store"),
            "--interval",
            "0.2",
            "--until-round",
            "1",
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "ZKFL_WATCHTOWER_KEY": "0x" + tower.key.hex().removeprefix("0x")},
    )


def test_a_watchtower_reveals_a_requested_valid_proof_so_the_requester_loses_its_bond_and_the_update_stays(
    tmp_path: Path, cache_dir: Path, logreg_circuits
) -> None:
    ws, _ = Workspace.init(tmp_path / "fed", WorkspaceConfig(LOGREG, slots=2, terms=TERMS))
    use_session_cache(ws.root, cache_dir)
    tower, attacker = _dev_account(7), _dev_account(8)
    watcher = None
    try:
        setup = setup_federation(ws)
        watcher = _watcher(ws, setup.coordinator, tower)
        register_client(ws, "honest", write_data(tmp_path / "honest.npz", 50), batches=2, seed=0)
        prove_update(ws, "honest")
        submit_update(ws, "honest")  # the proof bytes are in the store
        coordinator = ws.coordinator()
        client = ws.signer("client", 0)
        slot = coordinator.client(client.address).slot

        receipt = coordinator.request_proof(attacker, 0, slot)  # hoping nobody reveals it in time
        reveal_by = coordinator.contract.events.ProofRequested().process_receipt(receipt)[0].args.revealBy
        _wait_for(lambda: coordinator.dispute(0, slot).defended, "the watchtower to reveal the proof")
        mine_blocks(ws.chain, reveal_by + 1 - ws.chain.w3.eth.block_number)
        reject("NoRequest", coordinator.settle_unanswered, attacker, 0, slot)

        assert coordinator.accepted_update_hash(0, slot) != 0 and coordinator.round(0).accepted == 1
        state = coordinator.client(client.address)
        assert state.registered and state.stake == coordinator.stake_wei
        assert coordinator.payments(tower.address) == coordinator.challenge_bond_wei  # the revealer has the bond
        assert coordinator.payments(attacker.address) == 0

        wait_until_finalizable(ws, 0, clock=DevnetClock(ws.chain))
        assert aggregate_round(ws).accepted == 1 and coordinator.round(0).finalized
        stdout, stderr = watcher.communicate(timeout=120)
        assert watcher.returncode == 0, stderr[-3000:]
        last = [line for line in map(json.loads, stdout.splitlines()) if line["client"] == client.address][-1]
        assert last["verdict"] == "valid" and last["outcome"].startswith(f"revealed on {attacker.address}'s request")
    finally:
        if watcher is not None and watcher.poll() is None:
            watcher.kill()
        ws.stop_devnet()


def test_in_an_eager_federation_the_aggregators_wait_answers_openings_of_an_update_and_of_the_model(
    tmp_path: Path, cache_dir: Path, logreg_circuits
) -> None:
    """...and the rounds close: the first finalizes with the opened update; the second, without
    updates, is skipped after its window and the next round starts from the same model."""
    ws, _ = Workspace.init(tmp_path / "fed", WorkspaceConfig(LOGREG, slots=2, terms=EAGER_TERMS))
    use_session_cache(ws.root, cache_dir)
    attacker, aggregator = _dev_account(8), ws.signer(AGGREGATOR)
    try:
        setup_federation(ws)
        register_client(ws, "alice", write_data(tmp_path / "alice.npz", 51), batches=2, seed=0)
        prove_update(ws, "alice")
        submitted = submit_update(ws, "alice")
        coordinator = ws.coordinator()
        slot = coordinator.client(ws.signer("client", 0).address).slot
        bond = coordinator.challenge_bond_wei

        coordinator.request_opening(attacker, 0, slot)
        # every client submitted: it only had to answer the request
        wait_until_finalizable(ws, 0, clock=DevnetClock(ws.chain))
        assert coordinator.open_requests(0) == [] and coordinator.dispute(0, slot).opened
        np.testing.assert_array_equal(coordinator.opened_vector(0, slot), get_vector(ws.store, submitted.update_cid))
        assert coordinator.payments(aggregator.address) == bond and coordinator.payments(attacker.address) == 0
        outcome = aggregate_round(ws)
        assert outcome.accepted == 1 and coordinator.round(0).finalized and outcome.withdrawn_wei == bond

        coordinator.request_opening(attacker, 1, MODEL_SLOT)
        # answers, then waits out the deadline and the window: nobody submits
        state = wait_until_finalizable(ws, 1, clock=DevnetClock(ws.chain))
        assert not state.closed and coordinator.dispute(1, MODEL_SLOT).opened
        np.testing.assert_array_equal(
            coordinator.opened_vector(1, MODEL_SLOT),
            round_model(ws.circuits.commitments, ws.store, coordinator, 1).weights,
        )
        skipped = aggregate_round(ws)
        assert skipped.skipped and skipped.accepted == 0 and coordinator.round(1).skipped
        assert coordinator.current_round == 2 and coordinator.round(2).model_hash == coordinator.round(1).model_hash
        assert skipped.next_model_cid == coordinator.opened_rounds()[1].model_cid
        assert skipped.withdrawn_wei == bond + coordinator.stake_wei  # the opening's bond, and round 1's model bond
    finally:
        ws.stop_devnet()


def test_an_update_the_store_lost_is_requested_by_aggregate_opened_by_its_client_and_aggregated_from_the_chain(
    tmp_path: Path, cache_dir: Path, logreg_circuits
) -> None:
    ws, _ = Workspace.init(tmp_path / "fed", WorkspaceConfig(LOGREG, slots=2, terms=EAGER_TERMS))
    use_session_cache(ws.root, cache_dir)
    try:
        setup_federation(ws)
        register_client(ws, "alice", write_data(tmp_path / "alice.npz", 52), batches=2, seed=0)
        prove_update(ws, "alice")
        submitted = submit_update(ws, "alice")
        lost = get_vector(ws.store, submitted.update_cid)
        (ws.root / "store" / "blocks" / submitted.update_cid).unlink()
        coordinator = ws.coordinator()

        with pytest.raises(ConfigError, match="its opening was requested on-chain; run aggregate again after block"):
            aggregate_round(ws)
        assert [r.requester for r in coordinator.open_requests(0)] == [ws.signer(AGGREGATOR).address]
        answers = answer_as_client(ws, "alice", 0)  # from the vector it kept
        assert [(a.answered, a.source) for a in answers] == [(True, "held")]

        outcome = aggregate_round(ws)
        assert outcome.accepted == 1 and coordinator.round(0).finalized
        np.testing.assert_array_equal(coordinator.opened_vector(0, answers[0].slot), lost)
        assert coordinator.payments(ws.signer("client", 0).address) == coordinator.challenge_bond_wei
    finally:
        ws.stop_devnet()


def _wait_for(condition, what: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_an_invalid_update_no_watchtower_challenged_fails_the_audit(
    tmp_path: Path, cache_dir: Path, logreg_circuits
) -> None:
    ws, _ = Workspace.init(tmp_path / "fed", WorkspaceConfig(LOGREG, slots=2, terms=TERMS))
    use_session_cache(ws.root, cache_dir)
    try:
        setup = setup_federation(ws)
        register_client(ws, "cheat", write_data(tmp_path / "cheat.npz", 41), batches=2, seed=1)
        prove_update(ws, "cheat")
        proof = tampered(Proof.load(ws.client_proof_path("cheat", 0)).data)
        ws.store.put(proof)
        cid = ws.read_record(ws.client_round_path("cheat", 0))["update_cid"]
        ws.coordinator().submit_update_optimistic(ws.signer("client", 0), 0, proof, cid)
        wait_until_finalizable(ws, 0, clock=DevnetClock(ws.chain))  # nobody challenges in the window
        aggregate_round(ws)  # FedAvg's proof is valid: it does not look at the client proofs
        report = audit_federation(ws.chain.rpc_url, setup.coordinator, ws.root / "store")
        assert not report.ok
        failed = {c.check for c in report.failures}
        assert {"client-proof-offchain", "no-invalid-update-survived"} <= failed, failed
    finally:
        ws.stop_devnet()
