"""The federation manifest: everything an outsider needs to verify the federation's proofs, in the
store, and bound to the chain.

It names, by CID, each circuit's settings, verification key and verifier SRS (the k = 1 cut of the
SRS, `zkfl.zk.powers_of_tau.verifier_srs`), and the full SRS that commitments are computed with
(`commitment_srs_cid`: recomputing a KZG commitment takes all 2^logrows powers); records the prover
SRS's SHA-256 and whether it is an insecure dev SRS, and the model the circuits train. The
coordinator's immutable `circuitsDigest` is the SHA-256 of the manifest's bytes, which is also the
digest inside the manifest's CID
(CIDv1, raw, sha2-256): from the chain alone an auditor derives the CID, and the store can only
hand back the manifest the federation deployed.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from zkfl.atomic import write_atomic
from zkfl.circuits import FedAvgSpec, TrainingStepSpec
from zkfl.circuits.kinds import CircuitKind
from zkfl.errors import IntegrityError, StoreError, ZkflError
from zkfl.federation.terms import EAGER, VERIFICATION_MODES
from zkfl.fixedpoint import SCALE
from zkfl.store.artifacts import ArtifactStore
from zkfl.store.cid import content_id, raw_cid
from zkfl.zk.build import CircuitSet, PublishedCircuit, build_circuits, fedavg_spec
from zkfl.zk.commitments import CommitmentKey, commitment_key
from zkfl.zk.powers_of_tau import SrsFile, verifier_srs
from zkfl.zk.prover import EZKL_VERSION, CircuitKeys, VerifierKeys
from zkfl.zk.srs import DEV_SRS_WARNING, CeremonySrsSource

SCHEMA = "zkfl.federation-manifest/5"
"""Version 5: each circuit's entry names its ONNX graph (`graph_cid`, with its SHA-256), which a
participant or an auditor compiles with the published settings, never running the model's Python.
(4: the aggregator circuit is FedAvg over the sum of the accepted updates (one input),
each update ending with 1; no aggregation tree. (3: proofs link by KZG commitments, and
`commitment_srs_cid` names the SRS to recompute them with; 2: `model` is the training step as
`TrainingStepSpec.to_json()`.)"""


@dataclass(frozen=True)
class CircuitEntry:
    settings_cid: str
    vk_cid: str
    verifier_srs_cid: str
    logrows: int
    srs_sha256: str  # of the full SRS the keys were made with
    srs_logrows: int
    dev_srs: bool
    graph_cid: str  # the ONNX graph the circuit was compiled from
    graph_sha256: str  # of the graph's bytes (also the digest inside its CID)


@dataclass(frozen=True)
class FederationManifest:
    schema: str
    ezkl_version: str
    scale: int
    model: dict[str, Any]
    slots: int
    client: CircuitEntry
    aggregator: CircuitEntry
    commitment_srs_cid: str  # the full SRS every circuit's keys were made with
    verification: str = EAGER  # how the coordinator checks client proofs; written only when optimistic

    @property
    def training(self) -> TrainingStepSpec:
        return TrainingStepSpec.from_json(self.model)

    @property
    def fedavg(self) -> FedAvgSpec:
        return fedavg_spec(self.training)

    def entries(self) -> dict[CircuitKind, CircuitEntry]:
        """Each circuit's entry by kind."""
        return {CircuitKind.CLIENT: self.client, CircuitKind.AGGREGATOR: self.aggregator}

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> FederationManifest:
        if body.get("schema") != SCHEMA:
            raise StoreError(f"not a zkFL federation manifest of schema {SCHEMA!r}: schema is {body.get('schema')!r}")
        try:
            manifest = cls(
                SCHEMA,
                body["ezkl_version"],
                body["scale"],
                body["model"],
                body["slots"],
                CircuitEntry(**body["client"]),
                CircuitEntry(**body["aggregator"]),
                body["commitment_srs_cid"],
                body.get("verification", EAGER),
            )
            manifest.training  # noqa: B018 - the model must parse
            if not isinstance(manifest.slots, int) or manifest.slots < 1:
                raise TypeError(f"slots {manifest.slots!r} is not a number of clients")
            if manifest.verification not in VERIFICATION_MODES:
                raise TypeError(f"verification {manifest.verification!r} is not one of {VERIFICATION_MODES}")
        except (KeyError, TypeError, ZkflError) as exc:
            raise StoreError(f"malformed federation manifest: {exc}") from exc
        return manifest


def _entry(keys: CircuitKeys) -> tuple[CircuitEntry, dict[str, bytes]]:
    blobs = {
        "settings": keys.circuit.settings_path.read_bytes(),
        "vk": keys.vk_path.read_bytes(),
        "srs": verifier_srs(SrsFile.read(keys.srs.path)),
        "graph": keys.circuit.graph_path.read_bytes(),
    }
    cids = {name: content_id(data) for name, data in blobs.items()}
    entry = CircuitEntry(
        cids["settings"],
        cids["vk"],
        cids["srs"],
        keys.circuit.logrows,
        keys.srs.sha256,
        keys.srs.logrows,
        keys.srs.dev,
        cids["graph"],
        hashlib.sha256(blobs["graph"]).hexdigest(),
    )
    return entry, {cids[name]: data for name, data in blobs.items()}


def build_manifest(circuits: CircuitSet, verification: str = EAGER) -> tuple[bytes, dict[str, bytes]]:
    """The manifest's canonical bytes and the artifacts it names ({cid: bytes}). An eager
    federation's manifest has no `verification` key (it reads as eager)."""
    entries: dict[CircuitKind, CircuitEntry] = {}
    blobs: dict[str, bytes] = {}
    for kind, keys in circuits.keys_by_kind().items():
        entries[kind], circuit_blobs = _entry(keys)
        blobs |= circuit_blobs
    srs = circuits.client.srs.path.read_bytes()
    srs_cid = content_id(srs)
    manifest = FederationManifest(
        SCHEMA,
        EZKL_VERSION,
        SCALE,
        circuits.training.to_json(),
        circuits.slots,
        entries[CircuitKind.CLIENT],
        entries[CircuitKind.AGGREGATOR],
        srs_cid,
        verification,
    )
    body = asdict(manifest)
    if verification == EAGER:
        del body["verification"]
    raw = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    return raw, {**blobs, srs_cid: srs}


def circuits_digest(circuits: CircuitSet, verification: str = EAGER) -> bytes:
    """What the coordinator records: SHA-256 of the manifest bytes."""
    return hashlib.sha256(build_manifest(circuits, verification)[0]).digest()


def publish_manifest(store: ArtifactStore, circuits: CircuitSet, verification: str = EAGER) -> str:
    """Put the manifest and everything it names in the store; returns the manifest's CID."""
    raw, blobs = build_manifest(circuits, verification)
    for data in blobs.values():
        store.put(data)
    return store.put(raw)


def manifest_cid(digest: bytes) -> str:
    """The CID of the manifest whose SHA-256 the coordinator holds."""
    return raw_cid(digest)


def load_manifest(store: ArtifactStore, digest: bytes) -> FederationManifest:
    raw = store.get(manifest_cid(digest))  # checked against the CID, i.e. against the on-chain digest
    try:
        return FederationManifest.from_json(json.loads(raw))
    except ValueError as exc:
        raise StoreError(f"the federation manifest {manifest_cid(digest)} is not JSON: {exc}") from exc


def published_circuits(store: ArtifactStore, manifest: FederationManifest) -> dict[CircuitKind, PublishedCircuit]:
    """Each circuit's graph and settings as the federation published them, fetched by CID (the
    store checks every blob against its CID; the graph is checked against its recorded SHA-256 too)."""
    published = {}
    for kind, entry in manifest.entries().items():
        graph = store.get(entry.graph_cid)
        if hashlib.sha256(graph).hexdigest() != entry.graph_sha256:
            raise IntegrityError(
                f"the {kind} circuit's graph {entry.graph_cid} does not have the SHA-256 its manifest records "
                f"({entry.graph_sha256}); the manifest is inconsistent and no circuit can be built from it"
            )
        published[kind] = PublishedCircuit(graph, store.get(entry.settings_cid))
    return published


def fetch_srs(store: ArtifactStore, manifest: FederationManifest, path: Path) -> None:
    """Write the federation's SRS to `path`, flagged as the manifest flags it (a dev SRS keeps its
    flag, so the manifest built with it here is the federation's)."""
    if manifest.client.dev_srs:
        write_atomic(path.with_name(path.name + ".json"), json.dumps({"dev": True, "warning": DEV_SRS_WARNING}))
    write_atomic(path, store.get(manifest.commitment_srs_cid))


def rebuild_circuits(store: ArtifactStore, manifest: FederationManifest, directory: Path) -> CircuitSet:
    """The federation's circuits and keys, built in `directory` from what its manifest publishes: the
    graphs, the settings and the SRS (flagged as the manifest flags it, so the manifest built from
    them can be compared)."""
    srs = directory / "federation.srs"
    fetch_srs(store, manifest, srs)
    return build_circuits(
        manifest.training,
        manifest.slots,
        directory,
        CeremonySrsSource(srs),
        published=published_circuits(store, manifest),
    )


@contextmanager
def verifier_keys(store: ArtifactStore, entry: CircuitEntry, name: str) -> Iterator[VerifierKeys]:
    """A circuit's settings, verification key and verifier SRS, fetched by CID into a temporary
    directory (what ezkl's verify reads)."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = {"settings.json": entry.settings_cid, "vk.key": entry.vk_cid, "verifier.srs": entry.verifier_srs_cid}
        for filename, cid in paths.items():
            (Path(tmp) / filename).write_bytes(store.get(cid))
        yield VerifierKeys(name, Path(tmp) / "settings.json", Path(tmp) / "vk.key", Path(tmp) / "verifier.srs")


@contextmanager
def commitment_key_of(store: ArtifactStore, manifest: FederationManifest) -> Iterator[CommitmentKey]:
    """The federation's commitment key (the client circuit's settings and vk, and the full SRS),
    fetched by CID into a temporary directory."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = {
            "settings.json": manifest.client.settings_cid,
            "vk.key": manifest.client.vk_cid,
            "kzg.srs": manifest.commitment_srs_cid,
        }
        for filename, cid in paths.items():
            (Path(tmp) / filename).write_bytes(store.get(cid))
        yield commitment_key(Path(tmp) / "settings.json", Path(tmp) / "vk.key", Path(tmp) / "kzg.srs")
