"""Secure aggregation in a workspace's federation (`updates = "private"`): a client's channel key,
its round keys and sealed shares, its masked upload and its reveal; the aggregator's unmasking.
The protocol is `zkfl.privacy`; the coordinator fixes its stages (`setChannelKey`, `shareKeys`
in the share window, masked submissions after it, `excludeUpdate`), and the store carries the
records (key bundles, masked uploads, reveals, the round's unmasking record).

A client's secrets never leave its directory (mode 0600): its channel key, and each round's mask
key and self-mask seed, written before anything that depends on them is published, so a run that
is killed and started again publishes nothing twice with other secrets."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zkfl.atomic import write_atomic
from zkfl.errors import CheatingError, ConfigError, LinkError, MaskingError, RevealAgain, ZkflError
from zkfl.fixedpoint import FixedArray
from zkfl.pipeline.blocks import reach_block
from zkfl.pipeline.progress import Progress, silent
from zkfl.pipeline.workspace import Workspace
from zkfl.privacy import prg
from zkfl.privacy.checks import masking_problem, sum_problem
from zkfl.privacy.keys import KeyPair
from zkfl.privacy.masking import ClientSecrets, mask_update, reveal
from zkfl.privacy.masking import share_secrets as seal_shares
from zkfl.privacy.records import (
    bundle_to_json,
    reveal_from_json,
    reveal_to_json,
    secrets_from_json,
    secrets_to_json,
    upload_from_json,
    upload_to_json,
)
from zkfl.privacy.terms import unmask_problem
from zkfl.privacy.unmasking import Unmasked, unmask
from zkfl.protocol import vector_from_opening
from zkfl.store.artifacts import get_json
from zkfl.store.cid import raw_cid
from zkfl.verification.masking import adverts_of, masking_round, shared_bundles, summed_clients, unshared_submitters

# ---------------------------------------------------------------------------------------- a client


def _secagg_dir(ws: Workspace, name: str) -> Path:
    return ws.client_dir(name) / "secagg"


def channel_key(ws: Workspace, name: str) -> KeyPair:
    """The client's long-term channel key, made on first use and kept privately."""
    path = _secagg_dir(ws, name) / "channel.json"
    if not path.is_file():
        write_atomic(path, json.dumps({"secret": f"{KeyPair.generate().secret:064x}"}), mode=0o600)
    return KeyPair.from_secret(int(json.loads(path.read_text())["secret"], 16))


def ensure_channel_key(ws: Workspace, name: str, signer: Any, progress: Progress = silent) -> bool:
    """Publish the client's channel key unless the chain has it already; True if it was sent now."""
    coordinator = ws.coordinator()
    key = channel_key(ws, name).public.to_bytes()
    published = [k for c, k, *_ in coordinator.channel_keys() if c.lower() == signer.address.lower()]
    if published and published[-1] == key:
        return False
    progress(f"{name}: publishing its channel key (it takes part in masking from the next round's cohort)")
    coordinator.set_channel_key(signer, key)
    return True


def masking_record_path(ws: Workspace, name: str, round_no: int) -> Path:
    """What the client published in a round's masking (bundle, reveal): public CIDs, kept to resume."""
    return _secagg_dir(ws, name) / f"round-{round_no}-record.json"


def revealed(ws: Workspace, round_no: int) -> list[str]:
    """The reveal CIDs the workspace's clients stored for a round's current sum (a reveal made for
    a sum that changed since answers for another)."""
    summed = summed_clients(ws.coordinator(), round_no)
    found = (ws.read_record(masking_record_path(ws, n, round_no)) for n in ws.client_names())
    return sorted(r["reveal_cid"] for r in found if r and "reveal_cid" in r and r.get("summed") == summed)


def _round_secrets(ws: Workspace, name: str, address: str, round_no: int) -> ClientSecrets:
    path = _secagg_dir(ws, name) / f"round-{round_no}.json"
    if not path.is_file():
        fresh = ClientSecrets.generate(address)
        mine = ClientSecrets(fresh.client, channel_key(ws, name), fresh.mask, fresh.self_seed)
        write_atomic(path, json.dumps(secrets_to_json(mine)), mode=0o600)
    return secrets_from_json(json.loads(path.read_text()))


def _put_record(ws: Workspace, body: dict[str, Any]) -> tuple[str, bytes]:
    data = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    digest = hashlib.sha256(data).digest()
    cid = ws.store.put(data)
    if cid != raw_cid(digest):
        raise ConfigError(f"the store named a record {cid}, not its CIDv1 raw sha2-256 {raw_cid(digest)}")
    return cid, digest


def share_round_keys(ws: Workspace, name: str, signer: Any, progress: Progress = silent) -> dict[str, Any] | None:
    """The client's key bundle for the open round, sealed for its neighbours, stored and pinned
    on-chain (`shareKeys`); None when it is not in the round's cohort (it sits the round out)."""
    coordinator = ws.coordinator()
    round_no = coordinator.current_round
    me = signer.address.lower()
    setting = masking_round(coordinator, ws.config.training.update_len, round_no)
    if me not in setting.cohort:
        progress(f"{name}: not in round {round_no}'s masking cohort (its channel key is newer); sitting it out")
        return None
    shared = [k for k in coordinator.shared_keys(round_no) if k.client.lower() == me]
    if shared:  # shared before a crash: the chain has it
        return {"bundle_cid": raw_cid(shared[-1].bundle_sha256), "share_gas": None}
    secrets_ = _round_secrets(ws, name, me, round_no)
    neighbours = setting.graph[me]
    bundle = seal_shares(setting.terms, secrets_, neighbours, setting.cohort)
    cid, digest = _put_record(ws, bundle_to_json(bundle))
    progress(f"{name}: sharing its round-{round_no} masking keys with {len(neighbours)} neighbours")
    receipt = coordinator.share_keys(signer, round_no, digest)
    return {"bundle_cid": cid, "share_gas": receipt["gasUsed"]}


def mask_round_update(ws: Workspace, name: str, signer: Any, update: FixedArray) -> str:
    """The client's masked upload for the open round (after its share window), stored; its CID."""
    coordinator = ws.coordinator()
    round_no = coordinator.current_round
    me = signer.address.lower()
    setting = masking_round(coordinator, ws.config.training.update_len, round_no)
    adverts = adverts_of(setting, shared_bundles(ws.store, coordinator, setting))
    if me not in adverts:
        raise MaskingError(f"client {name!r} has no key bundle shared in round {round_no}: it cannot mask an update")
    secrets_ = _round_secrets(ws, name, me, round_no)
    upload = mask_update(
        setting.terms,
        secrets_,
        prg.field_vector(update),
        setting.graph[me],
        adverts,
        ws.circuits.commitments.field_point,
    )
    cid, _ = _put_record(ws, upload_to_json(upload))
    return cid


def reveal_round(ws: Workspace, name: str, signer: Any, round_no: int) -> tuple[str, list[str]]:
    """The client's answer at unmasking for the round's current sum, stored; its CID and the summed
    clients it answers for. Refuses, revealing nothing, when the round may not be unmasked
    (`unmask_problem`)."""
    coordinator = ws.coordinator()
    setting = masking_round(coordinator, ws.config.training.update_len, round_no)
    bundles = shared_bundles(ws.store, coordinator, setting)
    me = signer.address.lower()
    secrets_ = _round_secrets(ws, name, me, round_no)
    summed = summed_clients(coordinator, round_no)
    answer = reveal(setting.terms, secrets_, setting.graph, bundles, adverts_of(setting, bundles), summed)
    cid, _ = _put_record(ws, reveal_to_json(answer))
    return cid, summed


# ------------------------------------------------------------------------------------ the aggregator


@dataclass(frozen=True)
class UnmaskedRound:
    total: FixedArray  # the exact sum of the summed clients' updates
    record_cid: str  # the round's unmasking record: everything needed to redo it
    summed: list[str]


def unmask_round(
    ws: Workspace, round_no: int, reveal_cids: list[str], signer: Any, progress: Progress = silent
) -> UnmaskedRound:
    """Unmask the round's sum from the live clients' reveals; check it commits to the chain's sum.
    When it does not, redo it from shares alone (`verify`), run every client's masking check, and
    exclude the clients they name (on-chain, with the evidence stored); then raise RevealAgain: the
    reveals answer for the old sum, and the live clients answer again for the rest."""
    coordinator = ws.coordinator()
    setting = masking_round(coordinator, ws.config.training.update_len, round_no)
    key = ws.circuits.commitments
    bundles = shared_bundles(ws.store, coordinator, setting)
    adverts = adverts_of(setting, bundles)
    reveals = _readable_reveals(ws, reveal_cids, progress)
    events = {
        e.client.lower(): e
        for e in coordinator.accepted_updates(round_no)
        if coordinator.accepted_update_hash(round_no, e.slot) == e.update_hash
    }
    culprits = _unreadable_or_unshared(ws, events, bundles)
    uploads = {c: upload_from_json(get_json(ws.store, e.cid)) for c, e in events.items() if c not in culprits}
    if not culprits:
        summed = sorted(uploads)
        problem = unmask_problem(setting.graph, summed, setting.terms.threshold)
        if problem:
            raise MaskingError(problem)
        try:
            result = unmask(setting.terms, setting.graph, adverts, bundles, uploads, summed, reveals)
            if sum_problem(key.field_point, result.total, coordinator.accepted_sum()) is None:
                return _publish(ws, round_no, result, summed, reveal_cids)
            progress(f"aggregator: round {round_no}'s unmasked sum misses the chain's; checking every upload")
            culprits = _masking_culprits(ws, setting, adverts, bundles, uploads, events, reveals)
        except CheatingError as cheat:
            culprits = {c: why for c, why in cheat.culprits.items() if c in events}
            if not culprits:
                raise
    deadline = coordinator.round(round_no).deadline
    reach_block(ws, deadline + 1, progress)  # the coordinator excludes only once submissions have closed
    for client, why in sorted(culprits.items()):
        evidence, _ = _put_record(ws, {"format": "zkfl-exclusion-v1", "round": round_no, "client": client, "why": why})
        progress(f"aggregator: excluding {client} from round {round_no}: {why}")
        coordinator.exclude_update(signer, round_no, events[client].slot, evidence)
    raise RevealAgain(
        f"excluded {sorted(culprits)} from round {round_no}: the live clients reveal again for the remaining sum "
        "(`zkfl reveal`), then aggregate again"
    )


def _readable_reveals(ws: Workspace, cids: list[str], progress: Progress) -> list[Any]:
    """The reveals the store serves, well formed; the others are skipped, named (a reveal comes from
    a client, or from whoever handed the aggregator its CID: none may stop the unmasking, which the
    others' shares complete, or which fails naming who is missing)."""
    reveals = []
    for cid in sorted(set(cids)):
        try:
            reveals.append(reveal_from_json(get_json(ws.store, cid)))
        except (ValueError, KeyError, TypeError, ZkflError) as exc:
            progress(f"aggregator: skipping reveal {cid}, which the store does not serve well formed: {exc}")
    return reveals


def _unreadable_or_unshared(ws: Workspace, events: dict[str, Any], bundles: dict[str, Any]) -> dict[str, str]:
    """Summed clients whose masked upload the store cannot serve, or who shared no usable bundle."""
    culprits = unshared_submitters(list(events), list(bundles))
    for client, event in events.items():
        try:
            upload_from_json(get_json(ws.store, event.cid))
        except (ValueError, KeyError, TypeError, ZkflError) as exc:
            culprits[client] = f"its masked upload {event.cid} is missing or malformed: {exc}"
    return culprits


def _masking_culprits(
    ws: Workspace,
    setting: Any,
    adverts: dict[str, Any],
    bundles: dict[str, Any],
    uploads: dict[str, Any],
    events: dict[str, Any],
    reveals: list[Any],
) -> dict[str, str]:
    """The slow path: unmask from shares alone, and run every client's masking check."""
    key = ws.circuits.commitments
    summed = sorted(uploads)
    result = unmask(setting.terms, setting.graph, adverts, bundles, uploads, summed, reveals, verify=True)
    culprits = {c: why for c, why in result.culprits.items() if c in events}
    zero = key.zero_point()
    for client in summed:
        problem = masking_problem(
            setting.terms,
            key.field_point,
            zero,
            uploads[client],
            events[client].update_point,
            result.self_seeds[client],
        )
        if problem:
            culprits[client] = problem
    if not culprits:
        raise LinkError(
            f"round {setting.round}'s unmasked sum misses the chain's and no masking check names a client: settle "
            "the pairs (zkfl.privacy.checks.settle_pairs) to find who moved an offset"
        )
    return culprits


def _publish(
    ws: Workspace, round_no: int, result: Unmasked, summed: list[str], reveal_cids: list[str]
) -> UnmaskedRound:
    total = vector_from_opening(result.total)
    record = {
        "format": "zkfl-unmasking-v1",
        "round": round_no,
        "summed": summed,
        "reveal_cids": sorted(reveal_cids),
        "self_seeds": {c: s.hex() for c, s in sorted(result.self_seeds.items())},
        "mask_keys": {c: f"{k:064x}" for c, k in sorted(result.mask_keys.items())},
        "sum": [int(v) for v in total],
    }
    cid, _ = _put_record(ws, record)
    return UnmaskedRound(total, cid, summed)
