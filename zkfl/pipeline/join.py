"""`join`: a client's own workspace for a federation someone else deployed, built from what the
chain and the store say, as a participant on another machine needs it.

The coordinator's `circuitsDigest` names the federation's manifest in the store: the model and
shapes, each circuit's settings and verification key, and the SRS the keys were made with. `join`
writes a workspace config from it (with the chain's terms, the RPC URL and the store), fetches the
SRS and both circuits' published ONNX graphs and settings, compiles the circuits from those (never
running the model's Python, which stays with the federation's owner) and makes the keys locally (a
proving key is too large to ship), and refuses to finish unless the local build is
exactly the federation's: the manifest it would publish has the digest the coordinator holds.

The settings must come from the store: ezkl's generated settings carry a timestamp and an
unordered set, so settings generated here would give another verification key.

A refused join leaves nothing behind: the workspace it started is removed again (a folder that
was there, empty, stays, emptied); a workspace that was there before is never touched.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from zkfl.atomic import write_atomic
from zkfl.chain.coordinator import Coordinator
from zkfl.chain.rpc import connect
from zkfl.errors import ConfigError, IntegrityError
from zkfl.federation.manifest import (
    FederationManifest,
    circuits_digest,
    fetch_srs,
    load_manifest,
    published_circuits,
)
from zkfl.pipeline.progress import Progress, silent
from zkfl.pipeline.workspace import Workspace, WorkspaceConfig
from zkfl.store.artifacts import ArtifactStore, open_store
from zkfl.zk.prover import ProverConfig


@dataclass(frozen=True)
class JoinOutcome:
    workspace: str
    coordinator: str
    chain_id: int
    client_logrows: int
    dev_srs: bool
    joined_now: bool


def join_federation(
    root: str | os.PathLike[str], rpc_url: str, coordinator_address: str, store: str, progress: Progress = silent
) -> JoinOutcome:
    """Create (or confirm) a workspace at `root` for the federation at `coordinator_address`.
    `store` is the federation's store: an IPFS API URL, or a store directory this machine shares."""
    if not rpc_url.startswith(("http://", "https://")):
        raise ConfigError(f"--rpc-url must be the federation's http(s) JSON-RPC URL, got {rpc_url!r}")
    chain = connect(rpc_url)
    coordinator = Coordinator(chain, coordinator_address)  # ChainError if no contract is there
    location = store if store.startswith(("http://", "https://")) else str(Path(store).resolve())
    artifacts = open_store(location)
    manifest = load_manifest(artifacts, coordinator.circuits_digest)
    root = Path(root).resolve()
    srs_path = root / "build" / "federation.srs"
    config = WorkspaceConfig(
        manifest.training,
        manifest.slots,
        terms=coordinator.terms,
        rpc_url=rpc_url,
        chain_id=chain.chain_id,
        ipfs_api=location,
        srs=str(srs_path),
        prover=_published_layout(artifacts, manifest),
    )
    folder_was_there = root.exists()
    ws, created = Workspace.init(root, config)
    try:
        return _build(ws, created, coordinator, manifest, artifacts, srs_path, progress)
    except BaseException:  # a refused, failed or interrupted join of a new workspace leaves nothing half-built
        if created:
            _remove_contents(root, keep_folder=folder_was_there)
        raise


def _build(
    ws: Workspace,
    created: bool,
    coordinator: Coordinator,
    manifest: FederationManifest,
    artifacts: ArtifactStore,
    srs_path: Path,
    progress: Progress,
) -> JoinOutcome:
    """Fetch the SRS and settings, build the circuits and keys, check them against the chain's
    digest and record the deployment."""
    root, chain, config = ws.root, coordinator.chain, ws.config
    if not srs_path.is_file():
        progress(f"fetching the federation's SRS ({manifest.commitment_srs_cid})")
        fetch_srs(artifacts, manifest, srs_path)
    if ws.published_circuits() is None:  # kept once fetched: the digest check below judges what is there
        for kind, circuit in published_circuits(artifacts, manifest).items():
            graph_path, settings_path = ws.published_paths[kind]
            write_atomic(graph_path, circuit.graph)
            write_atomic(settings_path, circuit.settings)
    progress("compiling the federation's published circuits from their graphs and settings and making keys locally")
    if circuits_digest(ws.circuits, manifest.verification) != coordinator.circuits_digest:
        raise IntegrityError(
            f"the circuits built here from the federation's manifest do not match its on-chain digest "
            f"{coordinator.circuits_digest.hex()} (another zkFL or ezkl version?); {root} cannot "
            "prove for this federation"
        )
    if ws.read_record(ws.deployment_path) is None:
        ws.write_record(
            ws.deployment_path,
            {
                "coordinator": coordinator.address,
                "chain_id": chain.chain_id,
                "config_digest": config.digest(),
                "rpc_url": config.rpc_url,
                "joined": True,
            },
        )
    return JoinOutcome(
        str(root),
        coordinator.address,
        chain.chain_id,
        ws.circuits.client.circuit.logrows,
        manifest.client.dev_srs,
        created,
    )


def _published_layout(artifacts: ArtifactStore, manifest: FederationManifest) -> ProverConfig:
    """The client circuit's columns and decomposition, as its published settings fix them (for the
    joined workspace's config: the circuits compile from those settings whatever it says)."""
    try:
        run_args = json.loads(artifacts.get(manifest.client.settings_cid))["run_args"]
        return ProverConfig(
            num_inner_cols=int(run_args["num_inner_cols"]),
            decomp_base=int(run_args["decomp_base"]),
            decomp_legs=int(run_args["decomp_legs"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise IntegrityError(
            f"the federation's published client settings {manifest.client.settings_cid} are not ezkl settings "
            f"({type(exc).__name__}: {exc}); no circuit can be built from them"
        ) from exc


def _remove_contents(root: Path, keep_folder: bool) -> None:
    """Remove what a refused join wrote under `root` (and `root` itself unless it was there before)."""
    if not keep_folder:
        shutil.rmtree(root, ignore_errors=True)
        return
    for entry in root.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
