"""The auditor role: replay a whole federation from the chain and the store alone.

Trust roots are the chain (through the RPC URL) and the coordinator address; everything else is
fetched by CID and checked. From the coordinator's `circuitsDigest` the auditor derives the
federation manifest's CID, which names the verification keys; the federation-level checks (event
origin, events against state, the coordinator's code, the round sequence, the manifest against the
circuits' settings) are here, and every round goes through the same round checker as
`zkfl verify --round` (`zkfl.verification.round_checker`).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from eth_typing import HexStr
from web3 import Web3
from web3.exceptions import BadFunctionCallOutput, ContractLogicError, Web3RPCError

from zkfl.audit.audit_report import AuditReport, median_or_none
from zkfl.audit.events import check_against_state, check_origin, check_round_sequence
from zkfl.audit.srs_check import SrsReport, check_srs
from zkfl.chain.coordinator import Coordinator
from zkfl.chain.history import FederationLog
from zkfl.chain.rpc import connect
from zkfl.circuits.kinds import CircuitKind
from zkfl.circuits.training import TrainingStepSpec
from zkfl.data.batches import load_dataset
from zkfl.data.evaluation import accuracy
from zkfl.errors import ChainError, ConfigError, ZkflError
from zkfl.federation.manifest import (
    FederationManifest,
    circuits_digest,
    commitment_key_of,
    load_manifest,
    manifest_cid,
    rebuild_circuits,
    verifier_keys,
)
from zkfl.fixedpoint import dequantize
from zkfl.pipeline.progress import Progress, silent
from zkfl.protocol import federation_id
from zkfl.store.artifacts import ArtifactStore, open_store
from zkfl.verification.findings import Findings
from zkfl.verification.round_checker import FederationView, RoundAudit, RoundChecker
from zkfl.zk.build import fedavg_config
from zkfl.zk.commitments import CommitmentKey
from zkfl.zk.prover import ProverConfig, VerifierKeys, settings_problems


@dataclass(frozen=True)
class AuditOptions:
    onchain: bool = True  # also eth_call every proof against the deployed verifiers
    srs_files: tuple[Path, ...] = ()  # SRS files to check (powers of tau) and match to the federation
    eval_set: Path | None = None  # .npz (x, y): accuracy of every round's model
    strict_srs: bool = False  # an insecure dev SRS fails the audit (for production federations)
    rebuild: bool = False  # compile the published graphs with the published settings: the same manifest?


@dataclass
class _Circuits:
    """What the manifest gave the audit: the model's shape and each circuit's verification keys."""

    manifest: FederationManifest | None = None
    keys: dict[CircuitKind, VerifierKeys | None] = field(default_factory=lambda: dict.fromkeys(CircuitKind))
    commitments: CommitmentKey | None = None


def audit_federation(
    rpc_url: str,
    coordinator_address: str,
    store_location: str | os.PathLike[str],
    options: AuditOptions = AuditOptions(),
    progress: Progress = silent,
) -> AuditReport:
    """Every check of the federation at `coordinator_address`; never raises for a failed check
    (it is a finding), only for input that cannot be audited at all (ChainError, ConfigError)."""
    start = time.perf_counter()
    if not str(store_location).startswith(("http://", "https://")) and not Path(store_location).is_dir():
        raise ConfigError(f"store not found: {store_location} is not a directory (or an http(s):// IPFS API URL)")
    if not Web3.is_address(coordinator_address):
        raise ConfigError(f"not an address: {coordinator_address!r}")
    if options.eval_set is not None and not Path(options.eval_set).is_file():
        raise ConfigError(f"evaluation set not found: {options.eval_set}")
    chain = connect(rpc_url)
    coordinator = Coordinator(chain, coordinator_address)
    progress(f"auditor: reading the coordinator and its event log {coordinator.address}")
    try:
        digest = coordinator.circuits_digest
        view = FederationView.read(
            coordinator, open_store(store_location), dict.fromkeys(CircuitKind), None, None, options.onchain
        )
    except (ContractLogicError, BadFunctionCallOutput, Web3RPCError) as exc:
        raise ChainError(f"the contract at {coordinator_address} is not a zkFL coordinator: {exc}") from exc
    log, slots, verifiers = view.log, view.slots, view.verifiers
    findings = Findings()
    check_origin(log, coordinator, findings)
    check_against_state(log, coordinator, findings)
    rounds_present = check_round_sequence(log, findings)
    with ExitStack() as stack:
        circuits, srs_report = _load_circuits(view.store, digest, view.slots, options, findings, stack)
        manifest = circuits.manifest
        if options.rebuild and manifest is not None:
            progress("auditor: compiling the published graphs with the published settings and making keys")
            check_rebuild(view.store, manifest, digest, findings)
        check_coordinator_code(
            view, digest, findings, circuits.commitments, manifest.fedavg.update_len if manifest else None
        )
        checker = RoundChecker(
            replace(
                view, keys=circuits.keys, commitments=circuits.commitments, fedavg=manifest.fedavg if manifest else None
            ),
            findings,
        )
        rounds = []
        for r in rounds_present:
            progress(f"auditor: round {r}")
            rounds.append(checker.check_round(r))
    if options.eval_set is not None and manifest is not None:
        _add_accuracy(checker, manifest, options.eval_set, rounds)
    finalized = [r for r in rounds if r.finalized]
    terms = coordinator.terms
    if terms.optimistic:
        check_no_invalid_update_survived(log, finalized, findings)
    last = rounds[-1] if rounds else None
    federation = {
        "chain_id": chain.chain_id,
        "rpc_url": rpc_url,
        "coordinator": coordinator.address,
        "client_verifier": verifiers[CircuitKind.CLIENT],
        "aggregator_verifier": verifiers[CircuitKind.AGGREGATOR],
        "slots": slots,
        "verification": terms.verification,
        "updates": terms.updates,
        # the client circuit's proven bound on an update, as its manifest (hashed on-chain) states it
        "update_bound": _update_bound(manifest.training) if manifest else None,
        "circuits_digest": "0x" + digest.hex(),
        "manifest_cid": manifest_cid(digest),
        "model": manifest.model if manifest else None,
        "events": log.count,
        "current_round": coordinator.current_round,
        "rounds_finalized": len(finalized),
        "rounds_skipped": sum(r.skipped for r in rounds),
        "federation_id": "0x" + view.federation_id.hex(),
        "genesis_model_hash": rounds[0].model_hash if rounds else None,
        "final_model_hash": last.model_hash if last else None,
        "final_model_cid": last.model_cid if last else None,
    }
    seconds = checker.verify_seconds
    timing = {
        "total_seconds": round(time.perf_counter() - start, 2),
        "client_verify_median": median_or_none(seconds[CircuitKind.CLIENT]),
        "aggregator_verify_median": median_or_none(seconds[CircuitKind.AGGREGATOR]),
        "client_verify_seconds": [round(s, 4) for s in seconds[CircuitKind.CLIENT]],
        "aggregator_verify_seconds": [round(s, 4) for s in seconds[CircuitKind.AGGREGATOR]],
    }
    return AuditReport(federation, srs_report.to_json(), rounds, findings.items, timing)


def _update_bound(spec: TrainingStepSpec) -> dict[str, Any] | str:
    if spec.update_bound is None:
        return "none"
    return {"bound": spec.update_bound, "norm": spec.update_norm}


def check_no_invalid_update_survived(log: FederationLog, finalized: list[RoundAudit], findings: Findings) -> None:
    """Optimistic federations: every update left in a finalized round (its challenge window closed)
    must have a proof that verifies off-chain; the ones challenged out are counted."""
    kept = [u for r in finalized for u in r.updates]
    bad = [f"round {r.round} slot {u.slot}" for r in finalized for u in r.updates if not u.proof.offchain]
    slashed = sum(len(v) for v in log.slashed.values())
    findings.add(
        "no-invalid-update-survived",
        "federation",
        not bad,
        f"{len(kept)} update(s) left in finalized rounds, every proof verifies; {slashed} slashed "
        "(an invalid proof challenged, or a request nobody answered)"
        if not bad
        else f"invalid or unreadable proof(s) survived their challenge window: {', '.join(bad)}",
    )


def check_coordinator_code(
    view: FederationView,
    digest: bytes,
    findings: Findings,
    commitments: CommitmentKey | None = None,
    update_length: int | None = None,
) -> None:
    """The coordinator must have been created from zkFL's Coordinator bytecode (so it enforces the
    rules the audit relies on), with constructor arguments that match what it reports (`view`, and
    its `circuitsDigest`, as read from the chain): its federation id derived from the creator and
    the salt, and its commitment key the trusted one (`commitments`, from the manifest) where known."""
    coordinator, log = view.coordinator, view.log
    w3 = coordinator.chain.w3
    if log.creation_tx is None:
        findings.add("coordinator-code", "federation", False, "no creation transaction in the event log")
        return
    tx = w3.eth.get_transaction(HexStr(log.creation_tx))
    created = w3.eth.get_transaction_receipt(HexStr(log.creation_tx))["contractAddress"]
    if created != coordinator.address:
        findings.add(
            "coordinator-code",
            "federation",
            False,
            f"the federation's creation transaction {log.creation_tx} created {created}, not the "
            f"audited coordinator {coordinator.address}",
        )
        return
    data, code = bytes(tx["input"]), bytes.fromhex(coordinator.artifact.bytecode[2:])
    if tx.get("to") is not None or not data.startswith(code):  # a creation has no `to`
        findings.add(
            "coordinator-code",
            "federation",
            False,
            f"the contract was not created from zkFL's Coordinator bytecode (transaction {log.creation_tx})",
        )
        return
    args = _constructor_args(coordinator, data[len(code) :])
    actual = {**args, "federationSalt": federation_id(tx["from"], args["federationSalt"])}
    expected = _expected_constructor_args(view, digest)
    wrong = [name for name, value in expected.items() if _canonical(actual[name]) != _canonical(value)]
    wrong += _key_disagreements(args["key"], coordinator, commitments, update_length)
    wrong = [
        f"{name} (the id it derives with the creator {tx['from']} is not federationId)"
        if name == "federationSalt"
        else name
        for name in wrong
    ]
    unchecked = "" if commitments is not None else " (the key's C(0) and context basis not checked: no trusted key)"
    findings.add(
        "coordinator-code",
        "federation",
        not wrong,
        f"created from zkFL's Coordinator in {log.creation_tx}{unchecked}"
        if not wrong
        else f"constructor arguments disagree with the contract's state or events: {', '.join(wrong)}",
    )


def _constructor_args(coordinator: Coordinator, encoded: bytes) -> dict[str, Any]:
    """The coordinator's constructor arguments by name, decoded from its creation calldata."""
    constructor = next(item for item in coordinator.artifact.abi if item["type"] == "constructor")
    types = [_abi_type(i) for i in constructor["inputs"]]
    return dict(
        zip([i["name"] for i in constructor["inputs"]], coordinator.chain.w3.codec.decode(types, encoded), strict=True)
    )


def _expected_constructor_args(view: FederationView, digest: bytes) -> dict[str, Any]:
    """What each constructor argument but the commitment key must have been, from the contract's
    views and events (the salt as the federation id it derives: `federationId`)."""
    coordinator, log, verifiers = view.coordinator, view.log, view.verifiers
    expected = {
        "clientVerifier_": verifiers[CircuitKind.CLIENT],
        "aggregatorVerifier_": verifiers[CircuitKind.AGGREGATOR],
        "slots_": view.slots,
        "circuitsDigest_": digest,
        "terms": coordinator.terms.as_tuple(),
        "federationSalt": view.federation_id,
    }
    if log.raw["AggregatorChanged"]:
        expected["aggregator_"] = log.raw["AggregatorChanged"][0].args.current
    opened = log.opened.get(0)
    if opened is not None:
        expected |= {"genesisModelHash": opened.model_hash, "genesisModelCid": opened.model_cid}
    return expected


def _key_disagreements(
    key: tuple, coordinator: Coordinator, commitments: CommitmentKey | None, update_length: int | None
) -> list[str]:
    """The constructor's commitment key fields that are not the federation's: the basis hash and
    length as the contract reports them (and the length as the manifest's FedAvg shape), C(0) and
    the context basis as the trusted key computes them (where there is one)."""
    zero, context_basis, basis_hash, length = key
    wrong = []
    if bytes(basis_hash) != coordinator.vector_basis_hash:
        wrong.append("key.vectorBasisHash")
    if length != coordinator.update_length or (update_length is not None and length != update_length):
        wrong.append("key.updateLength")
    if commitments is not None:
        trusted_zero, trusted_basis = commitments.context_basis()
        if tuple(zero) != _words(trusted_zero):
            wrong.append("key.zero")
        if [tuple(p) for p in context_basis] != [_words(p) for p in trusted_basis]:
            wrong.append("key.contextBasis")
    return wrong


def _words(point: bytes) -> tuple[int, int]:
    """A 64-byte point as the constructor's (x, y) words."""
    return int.from_bytes(point[:32], "big"), int.from_bytes(point[32:], "big")


def _canonical(value: object) -> object:
    """An ABI value comparable across decodings: addresses checksummed, structs as tuples."""
    if isinstance(value, (tuple, list)):
        return tuple(_canonical(v) for v in value)
    if isinstance(value, str) and Web3.is_address(value):
        return Web3.to_checksum_address(value)
    return value


def _abi_type(item: dict) -> str:
    """An ABI input's canonical type (a struct is the tuple of its components)."""
    if item["type"] == "tuple":
        return f"({','.join(_abi_type(c) for c in item['components'])})"
    return str(item["type"])


def _load_circuits(
    store: ArtifactStore,
    digest: bytes,
    slots: int,
    options: AuditOptions,
    findings: Findings,
    stack: ExitStack,
) -> tuple[_Circuits, SrsReport]:
    """Fetch the manifest named by the on-chain digest and the verification keys it names, and check
    it against the coordinator (its slots) and the circuits' own settings."""
    circuits = _Circuits()
    try:
        manifest = load_manifest(store, digest)
    except ZkflError as exc:
        findings.add("manifest", "federation", False, f"federation manifest {manifest_cid(digest)}: {exc}")
        return circuits, check_srs(None, store, options.srs_files, options.strict_srs, findings)
    circuits.manifest = manifest
    findings.add(
        "manifest",
        "federation",
        manifest.slots == slots,
        f"{manifest_cid(digest)} (hash recorded on-chain)"
        if manifest.slots == slots
        else f"the manifest is for {manifest.slots} slots, the coordinator has {slots}",
    )
    io_lengths = {
        CircuitKind.CLIENT: manifest.training.io_lengths(),
        CircuitKind.AGGREGATOR: manifest.fedavg.io_lengths(),
    }
    output_scales = {
        CircuitKind.CLIENT: manifest.scale,
        CircuitKind.AGGREGATOR: fedavg_config(ProverConfig(scale=manifest.scale)).output_scale,
    }
    for name, entry in manifest.entries().items():
        io = io_lengths[name]
        try:
            keys = stack.enter_context(verifier_keys(store, entry, name))
        except ZkflError as exc:
            findings.add("verification-key", f"{name} circuit", False, str(exc))
            continue
        findings.add("verification-key", f"{name} circuit", True, f"vk {entry.vk_cid}")
        problems = settings_problems(
            json.loads(keys.settings_path.read_text()), manifest.scale, *io, output_scales[name]
        )
        findings.add(
            "circuit-settings",
            f"{name} circuit",
            not problems,
            "; ".join(problems)
            if problems
            else f"scale {manifest.scale}, {len(io[0])} input(s) and {len(io[1])} output(s) of the manifest's shapes",
        )
        circuits.keys[name] = keys
    try:
        circuits.commitments = stack.enter_context(commitment_key_of(store, manifest))
    except ZkflError as exc:
        findings.add("commitment-key", "federation", False, f"cannot recompute commitments: {exc}")
    if circuits.commitments is not None:
        findings.add("commitment-key", "federation", True, f"SRS {manifest.commitment_srs_cid}")
    return circuits, check_srs(manifest, store, options.srs_files, options.strict_srs, findings)


def check_rebuild(store: ArtifactStore, manifest: FederationManifest, digest: bytes, findings: Findings) -> None:
    """The federation's circuits, compiled here from the graphs and settings its manifest publishes
    (never from anyone's Python) with keys made from its SRS, must give the very manifest whose
    digest the coordinator holds: the published graphs are what the verification keys check."""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            circuits = rebuild_circuits(store, manifest, Path(tmp))
            same = circuits_digest(circuits, manifest.verification) == digest
            detail = (
                f"compiled from graphs {manifest.client.graph_cid} and {manifest.aggregator.graph_cid}: the same "
                "verification keys and manifest"
                if same
                else "the circuits compiled from the published graphs and settings give another manifest digest "
                "(other verification keys): the published graphs are not what the federation proves"
            )
        except ZkflError as exc:
            same, detail = False, f"cannot rebuild the circuits from the published graphs: {exc}"
    findings.add("rebuild", "federation", same, detail)


def _add_accuracy(
    checker: RoundChecker, manifest: FederationManifest, eval_set: Path, rounds: list[RoundAudit]
) -> None:
    spec = manifest.training
    if spec.model.user_code:  # an audit never imports a model's Python (a manifest could name any file)
        return
    x, y = load_dataset(eval_set, spec)
    for audit in rounds:
        weights = checker.intact_vector(audit.model_cid)
        if weights is not None and weights.shape == (spec.num_params,):  # else already a finding
            audit.accuracy = accuracy(spec, dequantize(weights), x, y)
