"""`export` and `setup`: from the workspace config to ONNX graphs, keys, verifiers and a deployed
coordinator whose genesis model is in the store."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from zkfl.chain.deploy import FederationConfig, deploy_federation
from zkfl.circuits.kinds import CircuitKind
from zkfl.errors import ConfigError, IntegrityError
from zkfl.federation.manifest import circuits_digest, publish_manifest
from zkfl.pipeline.progress import Progress, silent
from zkfl.pipeline.workspace import AGGREGATOR, OWNER, Workspace
from zkfl.store.artifacts import put_vector
from zkfl.zk.build import export_circuits, spec_tag


@dataclass(frozen=True)
class ExportOutcome:
    training_step: str
    fedavg: str


@dataclass(frozen=True)
class SetupOutcome:
    client_logrows: int
    aggregator_logrows: int
    srs: list[dict[str, Any]]
    coordinator: str
    client_verifier: str
    aggregator_verifier: str
    chain_id: int
    genesis_hash: str
    genesis_cid: str
    manifest_cid: str
    deployed_now: bool
    seconds: float
    deploy_gas: dict[str, int] = field(default_factory=dict)


def _refuse_joined(ws: Workspace, verb: str) -> None:
    """A joined workspace proves for a federation someone else deployed: it never exports (its model's
    Python is the owner's) nor deploys."""
    if ws.published_circuits() is not None:
        raise ConfigError(
            f"{ws.root} joined a federation someone else deployed (its circuits are the published ones); it does "
            f"not {verb}. `zkfl prove` and `zkfl submit` use it as it is"
        )


def export_graphs(ws: Workspace) -> ExportOutcome:
    """Write the training-step and FedAvg ONNX graphs of the workspace's model."""
    _refuse_joined(ws, "export graphs")
    config = ws.config
    graphs = export_circuits(config.training, ws.build_dir / "onnx" / spec_tag(config.training))
    return ExportOutcome(str(graphs[CircuitKind.CLIENT]), str(graphs[CircuitKind.AGGREGATOR]))


def setup_federation(ws: Workspace, progress: Progress = silent) -> SetupOutcome:
    """Compile the circuits, make keys (dev SRS or the configured ceremony file), build and deploy
    the verifiers and the coordinator, and publish the genesis model. A finished setup is reused:
    only a deployment whose contracts are gone from the chain (a wiped devnet) is redone. One made
    with other circuits (by another zkFL or ezkl version) is refused: this build's proofs would
    not verify there."""
    _refuse_joined(ws, "set up a federation")
    start = time.perf_counter()
    record = ws.read_record(ws.deployment_path)
    if record is not None:
        ws.deployment()  # refuses a config changed since the recorded deployment
    progress("compiling the circuits and making their keys (minutes the first time, then read from the cache)")
    circuits = ws.circuits
    progress("publishing the genesis model and the circuits manifest to the store")
    genesis = ws.config.genesis_weights()
    genesis_cid = put_vector(ws.store, genesis)
    manifest = publish_manifest(
        ws.store, circuits, ws.config.terms.verification
    )  # the coordinator will hold its digest
    progress("connecting to the chain")
    chain = ws.chain
    deployed_now = record is None or not chain.w3.eth.get_code(chain.w3.to_checksum_address(record["coordinator"]))
    verification = ws.config.terms.verification
    if (
        record is not None
        and not deployed_now
        and ws.coordinator().circuits_digest != circuits_digest(circuits, verification)
    ):
        raise IntegrityError(
            f"the federation at {record['coordinator']} was deployed with other circuits than this "
            f"zkFL builds (another zkFL or ezkl version?): its proofs would not verify there. Keep "
            f"using the zkFL that set it up, or start a new workspace (not {ws.root})"
        )
    if record is None or deployed_now:
        progress(
            "building the verifier contracts and deploying them and the coordinator (a transaction each, "
            "waiting for its receipt)"
        )
        config = FederationConfig.starting_from(
            circuits, genesis, genesis_cid, ws.signer(AGGREGATOR).address, ws.config.terms
        )  # a fresh random salt: a new federation id
        owner = ws.signer(OWNER)
        deployment = deploy_federation(chain, owner, circuits, config, ws.build_dir)
        record = {
            **deployment.to_json(),
            "config_digest": ws.config.digest(),
            "genesis_hash": hex(config.genesis_hash),
            "genesis_cid": genesis_cid,
            "manifest_cid": manifest,
            "rpc_url": ws.config.rpc_url,
            "federation_id": "0x" + config.federation_id(owner.address).hex(),
        }
        ws.write_record(ws.deployment_path, record)
    return SetupOutcome(
        client_logrows=circuits.client.circuit.logrows,
        aggregator_logrows=circuits.aggregator.circuit.logrows,
        srs=[circuits.client.srs.to_json(), circuits.aggregator.srs.to_json()],
        coordinator=record["coordinator"],
        client_verifier=record["client_verifier"],
        aggregator_verifier=record["aggregator_verifier"],
        chain_id=record["chain_id"],
        genesis_hash=record["genesis_hash"],
        genesis_cid=record["genesis_cid"],
        manifest_cid=manifest,
        deployed_now=deployed_now,
        seconds=round(time.perf_counter() - start, 2),
        deploy_gas=record["deploy_gas"] if deployed_now else {},
    )
