"""The auditor role: replay a whole federation from the chain and the store alone.

Trust roots are the chain (through the RPC URL) and the coordinator address; everything else is
fetched by CID and checked. From the coordinator's `circuitsDigest` the auditor derives the
federation manifest's CID, which names the verification keys; every proof is read from the
transaction that carried it, verified off-chain with ezkl and on-chain by `eth_call`; every
artifact is re-hashed (CID and Poseidon); FedAvg is recomputed in fixed point; and the model
hashes are followed from genesis to the open round.
"""

from __future__ import annotations

import os
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from web3 import Web3
from web3.exceptions import BadFunctionCallOutput, ContractLogicError, Web3RPCError

from zkfl.aggregator import empty_slot
from zkfl.audit.events import (
    FederationLog,
    check_against_state,
    check_origin,
    check_round_sequence,
)
from zkfl.audit.fedavg import fedavg_float_gap, fixed_point_fedavg
from zkfl.audit.findings import Findings
from zkfl.audit.report import (
    AggregationRow,
    AuditReport,
    ProofVerdict,
    RoundAudit,
    UpdateRow,
    median_or_none,
)
from zkfl.audit.srs import SrsReport, check_srs
from zkfl.chain.coordinator import Coordinator, FinalizedRound
from zkfl.chain.rpc import connect
from zkfl.circuits import TrainingStepSpec
from zkfl.commitments import poseidon
from zkfl.data import load_dataset
from zkfl.errors import ChainError, ConfigError, ProofError, ZkflError
from zkfl.evaluation import accuracy
from zkfl.fixedpoint import FixedArray, dequantize
from zkfl.manifest import FederationManifest, load_manifest, manifest_cid, verifier_keys
from zkfl.pipeline.progress import Progress, silent
from zkfl.prover import VerifierKeys
from zkfl.store import ArtifactStore, get_vector, open_store
from zkfl.verification import (
    SubmittedProof,
    submitted_proof,
    verify_offchain,
    verify_onchain,
)


@dataclass(frozen=True)
class AuditOptions:
    onchain: bool = True  # also eth_call every proof against the deployed verifiers
    srs_files: tuple[Path, ...] = ()  # SRS files to check (powers of tau) and match to the federation
    eval_set: Path | None = None  # .npz (x, y): accuracy of every round's model
    strict_srs: bool = False  # an insecure dev SRS fails the audit (for production federations)
    cache_dir: Path | None = None  # compiled contract ABI; default $ZKFL_CACHE_DIR or ~/.cache/zkfl


def default_cache_dir() -> Path:
    return Path(os.environ.get("ZKFL_CACHE_DIR") or Path.home() / ".cache" / "zkfl")


@dataclass
class _Context:
    coordinator: Coordinator
    store: ArtifactStore
    log: FederationLog
    findings: Findings
    options: AuditOptions
    slots: int
    empty_slot_hash: int
    client_keys: VerifierKeys | None = None
    aggregator_keys: VerifierKeys | None = None
    manifest: FederationManifest | None = None
    verify_seconds: dict[str, list[float]] = field(default_factory=lambda: {"client": [], "aggregator": []})
    used_commitments: set[int] = field(default_factory=set)
    control_done: set[str] = field(default_factory=set)
    verifiers: dict[str, str] = field(default_factory=dict)  # the deployed verifier of each circuit
    intact: dict[str, tuple[FixedArray, int | None, str]] = field(default_factory=dict)
    """Vectors whose bytes match their CID, with their Poseidon hash (or why it failed): a round's
    next model is the next round's model, and the accuracy pass reads every model again."""


def audit_federation(rpc_url: str, coordinator_address: str, store_location: str | os.PathLike[str],
                     options: AuditOptions = AuditOptions(), progress: Progress = silent) -> AuditReport:
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
    coordinator = Coordinator(chain, coordinator_address, options.cache_dir or default_cache_dir())
    functions = coordinator.contract.functions
    try:
        slots, empty = int(functions.slots().call()), int(functions.emptySlotHash().call())
        verifiers = {"client": functions.clientVerifier().call(), "aggregator": functions.aggregatorVerifier().call()}
    except (ContractLogicError, BadFunctionCallOutput, Web3RPCError) as exc:
        raise ChainError(f"the contract at {coordinator_address} is not a zkFL coordinator: {exc}") from exc
    progress(f"auditor: reading the event log of {coordinator.contract.address}")
    context = _Context(coordinator, open_store(store_location), FederationLog.read(coordinator), Findings(), options,
                       slots, empty, verifiers=verifiers)
    findings = context.findings
    check_origin(context.log, coordinator, findings)
    check_against_state(context.log, coordinator, findings)
    check_coordinator_code(context)
    rounds_present = check_round_sequence(context.log, findings)
    digest = bytes(functions.circuitsDigest().call())
    with ExitStack() as stack:
        srs_report = _load_circuits(context, digest, stack)
        rounds = []
        for r in rounds_present:
            progress(f"auditor: round {r}")
            rounds.append(audit_round(context, r))
    if options.eval_set is not None and context.manifest is not None:
        _add_accuracy(context, rounds)
    finalized = [r for r in rounds if r.finalized]
    last = rounds[-1] if rounds else None
    federation = {
        "chain_id": chain.chain_id, "rpc_url": rpc_url, "coordinator": coordinator.contract.address,
        "client_verifier": context.verifiers["client"], "aggregator_verifier": context.verifiers["aggregator"],
        "slots": context.slots, "circuits_digest": "0x" + digest.hex(), "manifest_cid": manifest_cid(digest),
        "model": context.manifest.model if context.manifest else None, "events": context.log.count,
        "current_round": coordinator.current_round, "rounds_finalized": len(finalized),
        "genesis_model_hash": rounds[0].model_hash if rounds else None,
        "final_model_hash": last.model_hash if last else None, "final_model_cid": last.model_cid if last else None,
    }
    timing = {"total_seconds": round(time.perf_counter() - start, 2),
              "client_verify_median": median_or_none(context.verify_seconds["client"]),
              "aggregator_verify_median": median_or_none(context.verify_seconds["aggregator"]),
              "client_verify_seconds": [round(s, 4) for s in context.verify_seconds["client"]],
              "aggregator_verify_seconds": [round(s, 4) for s in context.verify_seconds["aggregator"]]}
    return AuditReport(federation, srs_report.to_json(), rounds, findings.items, timing)


def check_coordinator_code(context: _Context) -> None:
    """The coordinator must have been created from zkFL's Coordinator bytecode (so it enforces the
    rules the audit relies on), with constructor arguments that match what it reports."""
    coordinator, log = context.coordinator, context.log
    w3, artifact = coordinator.chain.w3, coordinator.artifact
    if log.creation_tx is None:
        context.findings.add("coordinator-code", "federation", False, "no creation transaction in the event log")
        return
    tx = w3.eth.get_transaction(log.creation_tx)
    created = w3.eth.get_transaction_receipt(log.creation_tx)["contractAddress"]
    if created != coordinator.contract.address:
        context.findings.add("coordinator-code", "federation", False,
                             f"the federation's creation transaction {log.creation_tx} created {created}, not the "
                             f"audited coordinator {coordinator.contract.address}")
        return
    data, code = bytes(tx["input"]), bytes.fromhex(artifact.bytecode[2:])
    if tx["to"] is not None or not data.startswith(code):
        context.findings.add("coordinator-code", "federation", False,
                             f"the contract was not created from zkFL's Coordinator bytecode (transaction {log.creation_tx})")
        return
    constructor = next(item for item in artifact.abi if item["type"] == "constructor")
    args = dict(zip([i["name"] for i in constructor["inputs"]],
                    w3.codec.decode([i["type"] for i in constructor["inputs"]], data[len(code):]), strict=True))
    expected = {"clientVerifier_": context.verifiers["client"], "aggregatorVerifier_": context.verifiers["aggregator"],
                "slots_": context.slots, "emptySlotHash_": context.empty_slot_hash,
                "circuitsDigest_": bytes(coordinator.contract.functions.circuitsDigest().call())}
    opened = log.opened.get(0)
    if opened is not None:
        expected |= {"genesisModelHash": opened.model_hash, "genesisModelCid": opened.model_cid}
    wrong = [name for name, value in expected.items()
             if (Web3.to_checksum_address(args[name]) if isinstance(value, str) and name.endswith("Verifier_")
                 else args[name]) != value]
    context.findings.add("coordinator-code", "federation", not wrong,
                         f"created from zkFL's Coordinator in {log.creation_tx}" if not wrong else
                         f"constructor arguments disagree with the contract's state or events: {', '.join(wrong)}")


def _load_circuits(context: _Context, digest: bytes, stack: ExitStack) -> SrsReport:
    """Fetch the manifest named by the on-chain digest, and the verification keys it names."""
    findings = context.findings
    try:
        manifest = load_manifest(context.store, digest)
    except ZkflError as exc:
        findings.add("manifest", "federation", False, f"federation manifest {manifest_cid(digest)}: {exc}")
        return check_srs(None, context.store, context.options.srs_files, context.options.strict_srs, findings)
    context.manifest = manifest
    findings.add("manifest", "federation", manifest.slots == context.slots,
                 f"{manifest_cid(digest)} (hash recorded on-chain)" if manifest.slots == context.slots else
                 f"the manifest is for {manifest.slots} slots, the coordinator has {context.slots}")
    empty = poseidon(empty_slot(manifest.fedavg))
    findings.add("empty-slot-hash", "federation", empty == context.empty_slot_hash,
                 "" if empty == context.empty_slot_hash else
                 f"the coordinator's emptySlotHash {context.empty_slot_hash:#x} is not H(0^{manifest.fedavg.update_len}) = {empty:#x}")
    for name, entry in (("client", manifest.client), ("aggregator", manifest.aggregator)):
        try:
            keys = stack.enter_context(verifier_keys(context.store, entry, name))
        except ZkflError as exc:
            findings.add("verification-key", f"{name} circuit", False, str(exc))
            continue
        findings.add("verification-key", f"{name} circuit", True, f"vk {entry.vk_cid}")
        setattr(context, f"{name}_keys", keys)
    return check_srs(manifest, context.store, context.options.srs_files, context.options.strict_srs, findings)


def audit_round(context: _Context, r: int) -> RoundAudit:
    log, findings = context.log, context.findings
    opened = log.opened[r]
    scope = f"round {r}"
    _fetch(context, "model", scope, opened.model_cid, opened.model_hash, f"round {r}'s model")
    audit = RoundAudit(r, hex(opened.model_hash), opened.model_cid, r in log.finalized)
    vectors: dict[int, FixedArray | None] = {}
    for update in sorted(log.accepted.get(r, []), key=lambda u: u.slot):
        where = f"round {r} slot {update.slot}"
        sub = _submitted(context, "client", where, update.tx_hash)
        verdict = ProofVerdict(False, None, None, update.tx_hash, 0)
        if sub is not None:
            findings.add("client-links", where,
                         sub.instances[0] == opened.model_hash and sub.instances[2] == update.update_hash,
                         "" if sub.instances[0] == opened.model_hash and sub.instances[2] == update.update_hash else
                         f"the proof's instances {[hex(i) for i in sub.instances]} do not start from the round's model "
                         f"{opened.model_hash:#x} and end at the accepted update {update.update_hash:#x}")
            _check_commitment(context, where, sub)
            verdict = _verify_proof(context, "client", where, sub)
        vector = _fetch(context, "update", where, update.cid, update.update_hash, "accepted update")
        vectors[update.slot] = vector
        audit.updates.append(UpdateRow(update.slot, update.client, hex(update.update_hash), update.cid, verdict,
                                       vector is not None))
    finalized = log.finalized.get(r)
    if finalized is not None:
        audit.aggregation = _audit_aggregation(context, r, finalized, vectors)
    return audit


def _audit_aggregation(context: _Context, r: int, finalized: FinalizedRound, vectors: dict[int, FixedArray | None]) -> AggregationRow:
    findings = context.findings
    scope = f"round {r} aggregation"
    accepted = {u.slot: u.update_hash for u in context.log.accepted.get(r, [])}
    expected = tuple(accepted.get(i, context.empty_slot_hash) for i in range(context.slots))
    sub = _submitted(context, "aggregator", scope, finalized.tx_hash)
    verdict = ProofVerdict(False, None, None, finalized.tx_hash, 0)
    if sub is not None:
        links = sub.instances[:-1] == expected and sub.instances[-1] == finalized.next_model_hash
        findings.add("aggregation-links", scope, links,
                     "" if links else "the aggregation proof's slot hashes are not the round's accepted updates "
                     "(empty slots: emptySlotHash) or its output is not the published next model")
        verdict = _verify_proof(context, "aggregator", scope, sub)
    published = _fetch(context, "next-model", scope, finalized.next_model_cid, finalized.next_model_hash, "next model")
    exact, float_gap = False, None
    missing = [slot for slot in accepted if vectors.get(slot) is None]
    if context.manifest is None:
        findings.add("fedavg", scope, False, "cannot recompute: no trusted federation manifest (model shape)")
    elif missing or published is None:
        findings.add("fedavg", scope, False, f"cannot recompute: slot(s) {missing} or the next model unavailable")
    else:
        spec = context.manifest.fedavg
        inputs = [vectors[i] if i in accepted else empty_slot(spec) for i in range(context.slots)]
        recomputed = fixed_point_fedavg(inputs, spec.num_params)
        exact = bool(np.array_equal(recomputed, published))
        float_gap = float(np.max(np.abs(fedavg_float_gap(inputs, published, spec.num_params))))
        diff = np.flatnonzero(recomputed != published)
        findings.add("fedavg", scope, exact,
                     f"the published next model equals the fixed-point FedAvg of {len(accepted)} accepted update(s)"
                     if exact else
                     f"the published next model is not the FedAvg of the accepted updates: {diff.size} of "
                     f"{spec.num_params} elements differ (first at index {diff[0]}: published {published[diff[0]]}, "
                     f"FedAvg {recomputed[diff[0]]})")
    return AggregationRow(hex(finalized.next_model_hash), finalized.next_model_cid, verdict, published is not None, exact,
                          float_gap)


def _submitted(context: _Context, kind: str, scope: str, tx_hash: str) -> SubmittedProof | None:
    try:
        sub = submitted_proof(context.coordinator, tx_hash)
    except ZkflError as exc:
        context.findings.add(f"{kind}-proof-transaction", scope, False, str(exc))
        return None
    if sub.kind != kind:
        context.findings.add(f"{kind}-proof-transaction", scope, False, f"transaction {tx_hash} carries a {sub.kind} proof")
        return None
    return sub


def _verify_proof(context: _Context, kind: str, scope: str, sub: SubmittedProof) -> ProofVerdict:
    findings = context.findings
    keys = context.client_keys if kind == "client" else context.aggregator_keys
    seconds = None
    if keys is None:
        offchain = findings.add(f"{kind}-proof-offchain", scope, False, "no trusted verification key to verify with")
    else:
        try:
            seconds = verify_offchain(keys, sub.proof, sub.instances)
            offchain = findings.add(f"{kind}-proof-offchain", scope, True, f"{seconds:.3f} s")
            context.verify_seconds[kind].append(seconds)
        except ProofError as exc:
            offchain = findings.add(f"{kind}-proof-offchain", scope, False, str(exc))
    onchain = None
    if context.options.onchain:
        verifier = context.verifiers[kind]
        onchain = verify_onchain(context.coordinator.chain, verifier, sub.proof, sub.instances)
        findings.add(f"{kind}-proof-onchain", scope, onchain, "" if onchain else f"the verifier {verifier} rejects it")
        if kind not in context.control_done:  # once per verifier: a corrupted proof must be rejected
            context.control_done.add(kind)
            corrupted = bytearray(sub.proof)
            corrupted[len(corrupted) // 2] ^= 0x01
            rejects = not verify_onchain(context.coordinator.chain, verifier, bytes(corrupted), sub.instances)
            findings.add("verifier-rejects-invalid", f"{kind} verifier", rejects,
                         f"{verifier} rejects a proof with one flipped byte" if rejects else
                         f"{verifier} ACCEPTS a proof with one flipped byte: it does not verify proofs")
    return ProofVerdict(offchain, onchain, round(seconds, 4) if seconds is not None else None, sub.tx_hash, sub.gas_used)


def _check_commitment(context: _Context, scope: str, sub: SubmittedProof) -> None:
    commitment = sub.instances[1]
    owner = context.log.commitments.get(commitment)
    reused = commitment in context.used_commitments
    context.used_commitments.add(commitment)
    ok = owner is not None and owner == sub.sender and not reused
    context.findings.add("data-commitment", scope, ok,
                         "" if ok else f"data commitment {commitment:#x} was "
                         + ("already used" if reused else f"committed by {owner}, not the sender {sub.sender}"))


def _fetch(context: _Context, check: str, scope: str, cid: str, expected_hash: int, what: str) -> FixedArray | None:
    """The vector under `cid`, which must be intact (CID) and hash (Poseidon) to the chain's hash."""
    if cid not in context.intact:
        try:
            vector = get_vector(context.store, cid)
        except ZkflError as exc:
            context.findings.add(f"{check}-stored", scope, False, f"{what} {cid}: {exc}")
            return None
        try:
            context.intact[cid] = (vector, poseidon(vector), "")
        except ZkflError as exc:
            context.intact[cid] = (vector, None, str(exc))
    vector, actual, reason = context.intact[cid]
    context.findings.add(f"{check}-stored", scope, True, cid)
    ok = actual == expected_hash
    context.findings.add(f"{check}-hash", scope, ok, f"Poseidon {expected_hash:#x}" if ok else
                         f"the {what} at {cid} hashes to {actual:#x}, the chain holds {expected_hash:#x}"
                         if actual is not None else f"the {what} at {cid} cannot be hashed: {reason}")
    return vector if ok else None


def _add_accuracy(context: _Context, rounds: list[RoundAudit]) -> None:
    spec: TrainingStepSpec = context.manifest.training
    x, y = load_dataset(context.options.eval_set, spec)
    for audit in rounds:
        if audit.model_cid not in context.intact:  # missing or corrupt: already a finding
            continue
        weights = context.intact[audit.model_cid][0]
        if weights.shape == (spec.num_params,):
            audit.accuracy = accuracy(spec, dequantize(weights), x, y)

