"""`zkfl run` with private updates (issue 24), on the workspace's devnet with real proofs: clients
publish channel keys, share masking keys, upload only masked updates, and the aggregator unmasks
exactly their sum, which the chain's sum of commitments checks. One client, eve, uploads a masked
vector that is not her proven update plus her masks: the sum misses the chain's, her masking
check names her, the aggregator excludes her (unslashed), the others reveal again and the round
finalizes FedAvg of the three honest updates. The store holds no client's update, and the round
checker passes with no secret. One round: every later round starts the same way."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import LOGREG, PUBLIC_TERMS, SLOTS
from helpers import use_session_cache, write_data

from zkfl.errors import ConfigError
from zkfl.fedavg import fixed_point_fedavg
from zkfl.federation.terms import PRIVATE, FederationTerms
from zkfl.pipeline import masking, reveal_for_unmasking, run_federation, share_keys
from zkfl.pipeline.inspection import verify_round
from zkfl.pipeline.workspace import Workspace, WorkspaceConfig
from zkfl.privacy import prg
from zkfl.store.artifacts import get_vector
from zkfl.store.cid import vector_bytes

pytestmark = pytest.mark.prover

TERMS = FederationTerms(updates=PRIVATE, share_window=6, registration_window=14, submission_window=44)
"""On the devnet each transaction is a block: the share window holds one block per client, and more."""
HONEST = ("alice", "bob", "carol")
CHEAT = "eve"
CLIENTS = (*HONEST, CHEAT)


@pytest.fixture(scope="module")
def private_run(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path, logreg_circuits) -> Workspace:
    root = tmp_path_factory.mktemp("private")
    ws, _ = Workspace.init(root / "fed", WorkspaceConfig(LOGREG, slots=len(CLIENTS), terms=TERMS))
    use_session_cache(ws.root, cache_dir)
    data = [write_data(root / f"{n}.npz", i) for i, n in enumerate(CLIENTS)]
    honest_mask = masking.mask_update

    def eve_cheats(terms, me, update, neighbours, shared, commit):
        upload = honest_mask(terms, me, update, neighbours, shared, commit)
        if me.client == ws.signer("client", CLIENTS.index(CHEAT)).address.lower():
            return dataclasses.replace(upload, masked=[(upload.masked[0] + 1) % prg.FIELD, *upload.masked[1:]])
        return upload

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(masking, "mask_update", eve_cheats)
        run_federation(ws, data, 1, seed=1)
    yield ws
    ws.stop_devnet()


def _held(ws: Workspace, name: str, round_no: int) -> np.ndarray:
    return np.frombuffer((ws.client_dir(name) / "updates" / f"round-{round_no}.bin").read_bytes(), dtype="<i8")


def test_a_private_run_finalizes_fedavg_of_the_exact_sum_of_the_hidden_updates(private_run: Workspace) -> None:
    ws = private_run
    coordinator = ws.coordinator()
    assert coordinator.current_round == 1 and coordinator.round(0).finalized
    assert coordinator.round(0).accepted == len(HONEST)
    eve = ws.signer("client", CLIENTS.index(CHEAT)).address
    [(_, _, excluded, _)] = coordinator.excluded_updates(0)
    assert excluded == eve and coordinator.client(eve).registered and coordinator.client(eve).stake > 0
    total = np.sum([_held(ws, n, 0) for n in HONEST], axis=0)
    record = ws.read_record(ws.round_record_path(0))
    assert json.loads(ws.store.get(record["sum_cid"]))["sum"] == [int(v) for v in total]
    assert np.array_equal(get_vector(ws.store, record["next_model_cid"]), fixed_point_fedavg(total))


def test_the_store_holds_no_clients_update(private_run: Workspace) -> None:
    ws = private_run
    stored = [p.read_bytes() for p in (ws.root / "store").rglob("*") if p.is_file()]
    for name in CLIENTS:
        update = vector_bytes(_held(ws, name, 0))
        assert not any(update in blob for blob in stored), f"{name}'s update is in the store"
    for event in ws.coordinator().accepted_updates():
        assert json.loads(ws.store.get(event.cid))["format"] == "zkfl-secagg-v1"


def test_the_round_checker_passes_a_private_round_with_no_secret_and_fails_a_tampered_upload(
    private_run: Workspace,
) -> None:
    ws = private_run
    checked = verify_round(ws, 0)
    assert checked.ok, [str(f) for f in checked.failures]
    ran = {c.check for c in checked.checks}
    assert {"masking-check", "unmask-replay", "sum-hash", "update-sum", "fedavg", "masked-upload-stored"} <= ran
    assert next(f.detail for f in checked.checks if f.check == "update-excluded").count("does not commit") == 1
    assert not {"update-stored", "sum-exact"} & ran  # nothing is read in the clear
    event = ws.coordinator().accepted_updates(0)[0]
    path = ws.root / "store" / "blocks" / event.cid
    original = path.read_bytes()
    body = json.loads(original)
    body["masked"][0] = f"{(int(body['masked'][0], 16) + 1) % 2**250:064x}"
    path.write_text(json.dumps(body))
    try:
        failed = {f.check for f in verify_round(ws, 0).failures}
        assert "masked-upload-stored" in failed
    finally:
        path.write_bytes(original)


def test_a_reveal_before_the_rounds_updates_are_final_is_refused_and_writes_nothing(private_run: Workspace) -> None:
    ws = private_run
    open_round = ws.coordinator().current_round
    record = masking.masking_record_path(ws, "alice", open_round)
    with pytest.raises(ConfigError, match=rf"round {open_round}'s accepted updates are not final until block"):
        reveal_for_unmasking(ws, "alice")
    assert not record.exists()


def test_masking_steps_in_a_public_federation_are_refused_by_name(tmp_path: Path) -> None:
    ws, _ = Workspace.init(tmp_path / "public", WorkspaceConfig(LOGREG, slots=SLOTS, terms=PUBLIC_TERMS))
    with pytest.raises(ConfigError, match="updates are public: it has no masking keys to share"):
        share_keys(ws, "alice")
    with pytest.raises(ConfigError, match="updates are public: there is nothing to unmask"):
        reveal_for_unmasking(ws, "alice")
    assert not (ws.root / "clients").exists()


def test_a_clients_own_update_and_secrets_are_readable_by_it_alone(private_run: Workspace) -> None:
    ws = private_run
    private = [ws.client_dir(n) / "updates" / "round-0.bin" for n in CLIENTS]
    private += [ws.client_dir(n) / "secagg" / f for n in CLIENTS for f in ("channel.json", "round-0.json")]
    assert all(p.is_file() and p.stat().st_mode & 0o777 == 0o600 for p in private), [
        (str(p), oct(p.stat().st_mode & 0o777)) for p in private if p.is_file()
    ]
