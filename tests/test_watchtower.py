"""An optimistic federation on a real anvil with a watchtower running as a real process
(`zkfl watch`): an honest client's update is left alone; a cheater's invalid proof is challenged
as soon as it is seen, slashed and removed; a proof withheld from the store is requested, and its
client slashed when nobody reveals it. The round finalizes without both after the challenge
window, and the audit of the whole run passes. Without a watchtower, the audit fails."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from eth_account import Account

from zkfl.audit import audit_federation
from zkfl.chain.coordinator import OPTIMISTIC, FederationTerms
from zkfl.chain.devnet import DEV_MNEMONIC, mine_blocks
from zkfl.pipeline import aggregate_round, prove_update, register_client, setup_federation, submit_update
from zkfl.pipeline.aggregation import wait_until_finalizable
from zkfl.prover import Proof
from zkfl.workspace import Workspace, WorkspaceConfig

from conftest import LOGREG, tampered
from test_cli import write_data

pytestmark = pytest.mark.prover
ZKFL = str(Path(sys.executable).with_name("zkfl"))
TERMS = FederationTerms(submission_window=40, verification=OPTIMISTIC, challenge_window=10)


def test_a_watchtower_process_slashes_an_invalid_optimistic_update_and_the_audit_passes(
        tmp_path: Path, cache_dir: Path, logreg_circuits) -> None:
    ws, _ = Workspace.init(tmp_path / "fed", WorkspaceConfig(LOGREG, slots=3, terms=TERMS))
    (ws.root / "build").symlink_to(cache_dir, target_is_directory=True)  # the session's circuits and keys
    watcher = None
    try:
        setup = setup_federation(ws)
        Account.enable_unaudited_hdwallet_features()
        tower_key = Account.from_mnemonic(DEV_MNEMONIC, account_path="m/44'/60'/0'/0/7").key.hex()
        watcher = subprocess.Popen(
            [ZKFL, "watch", "--rpc-url", ws.chain.rpc_url, "--coordinator", setup.coordinator, "--store",
             str(ws.root / "store"), "--interval", "0.2", "--until-round", "1", "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "ZKFL_WATCHTOWER_KEY": "0x" + tower_key.removeprefix("0x")})
        for i, name in enumerate(("honest", "cheat", "withholder")):
            register_client(ws, name, write_data(tmp_path / f"{name}.npz", 40 + i), batches=2, seed=i)
            prove_update(ws, name)
        submit_update(ws, "honest")
        coordinator = ws.coordinator()
        cheat = ws.signer("client", 1)
        proof = tampered(Proof.load(ws.client_dir("cheat") / "proofs" / "round-0.json").data)
        ws.store.put(proof)  # the bytes are available: a watchtower can challenge with them
        cid = ws.read_record(ws.client_dir("cheat") / "rounds" / "0.json")["update_cid"]  # a real vector
        submitted = coordinator.submit_update_optimistic(cheat, 0, proof, cid)
        slot = coordinator.client(cheat.address).slot
        assert coordinator.accepted_update_hash(0, slot) != 0  # accepted: no verifier ran

        _wait_for(lambda: coordinator.accepted_update_hash(0, slot) == 0, "the watchtower to challenge")
        assert not coordinator.client(cheat.address).registered

        withholder = ws.signer("client", 2)  # a valid proof, but its bytes never reach the store
        held = Proof.load(ws.client_dir("withholder") / "proofs" / "round-0.json").data
        cid = ws.read_record(ws.client_dir("withholder") / "rounds" / "0.json")["update_cid"]
        coordinator.submit_update_optimistic(withholder, 0, held, cid)
        held_slot = coordinator.client(withholder.address).slot
        _wait_for(lambda: coordinator.proof_request(0, held_slot) is not None, "the watchtower to request the proof")
        mine_blocks(ws.chain, coordinator.proof_request(0, held_slot)[1] + 1 - ws.chain.w3.eth.block_number)
        _wait_for(lambda: coordinator.accepted_update_hash(0, held_slot) == 0, "the watchtower to slash it")

        wait_until_finalizable(ws, 0)  # past the deadline and the challenge window
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


def _wait_for(condition, what: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_an_invalid_update_no_watchtower_challenged_fails_the_audit(tmp_path: Path, cache_dir: Path,
                                                                     logreg_circuits) -> None:
    ws, _ = Workspace.init(tmp_path / "fed", WorkspaceConfig(LOGREG, slots=2, terms=TERMS))
    (ws.root / "build").symlink_to(cache_dir, target_is_directory=True)
    try:
        setup = setup_federation(ws)
        register_client(ws, "cheat", write_data(tmp_path / "cheat.npz", 41), batches=2, seed=1)
        prove_update(ws, "cheat")
        proof = tampered(Proof.load(ws.client_dir("cheat") / "proofs" / "round-0.json").data)
        ws.store.put(proof)
        cid = ws.read_record(ws.client_dir("cheat") / "rounds" / "0.json")["update_cid"]
        ws.coordinator().submit_update_optimistic(ws.signer("client", 0), 0, proof, cid)
        wait_until_finalizable(ws, 0)  # nobody challenges in the window
        aggregate_round(ws)  # FedAvg's proof is valid: it does not look at the client proofs
        report = audit_federation(ws.chain.rpc_url, setup.coordinator, ws.root / "store")
        assert not report.ok
        failed = {c.check for c in report.failures}
        assert {"client-proof-offchain", "no-invalid-update-survived"} <= failed, failed
    finally:
        ws.stop_devnet()
