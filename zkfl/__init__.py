"""zkFL: verifiable federated learning. Every local SGD step and every FedAvg is proven with ezkl
(halo2/KZG); proofs link through KZG commitments to fixed-point vectors, and a coordinator contract
checks them on-chain.

The names below are the library's entry points, from the highest level down:

- a federation in a workspace, one function per step (what every `zkfl` command calls):
  `Workspace`, `setup_federation`, `join_federation`, `register_client`, `prove_update`,
  `submit_update`, `aggregate_round`, `verify_round`, `federation_status`, `run_federation`;
- a third party's audit from the chain and the store: `audit_federation`;
- the roles on their own: `train_and_prove` (a client), `aggregate_and_prove` (the aggregator),
  `Watchtower`, `answer_requests` (the responder to disputes);
- what gets proven and how: `TrainingStepSpec` with a model family (`LogisticRegression`, `Mlp`),
  `build_circuits`, `CircuitKind`, `ProverConfig`, `prove`, `verify`, `CommitmentKey`;
- data: `make_client_data`, `load_dataset`, `make_batches`;
- the pure FedAvg arithmetic: `update_sum`, `fixed_point_fedavg`, `float_fedavg`;
- the chain and the store: `connect`, `start_devnet`, `stop_devnet`, `Coordinator`,
  `FederationTerms`, `deploy_federation`, `LocalStore`, `IpfsStore`, `open_store`;
- errors: `ZkflError` and its subclasses.

Importing `zkfl` is cheap: each name is imported from its module on first use (torch and ezkl
load only when a name that needs them is touched)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from zkfl.lazy import lazy_getattr

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # a federation in a workspace (zkfl.pipeline)
    "Workspace": "zkfl.pipeline.workspace",
    "WorkspaceConfig": "zkfl.pipeline.workspace",
    "setup_federation": "zkfl.pipeline.setup",
    "join_federation": "zkfl.pipeline.join",
    "register_client": "zkfl.pipeline.participant",
    "prove_update": "zkfl.pipeline.participant",
    "submit_update": "zkfl.pipeline.participant",
    "aggregate_round": "zkfl.pipeline.aggregation",
    "verify_round": "zkfl.pipeline.inspection",
    "federation_status": "zkfl.pipeline.inspection",
    "run_federation": "zkfl.pipeline.simulation",
    # the audit
    "audit_federation": "zkfl.audit.auditor",
    "AuditOptions": "zkfl.audit.auditor",
    "AuditReport": "zkfl.audit.audit_report",
    # the roles
    "train_and_prove": "zkfl.roles.client",
    "ClientUpdate": "zkfl.roles.client",
    "aggregate_and_prove": "zkfl.roles.aggregator",
    "AggregateResult": "zkfl.roles.aggregator",
    "check_round_links": "zkfl.roles.aggregator",
    "Watchtower": "zkfl.roles.watchtower",
    "answer_requests": "zkfl.roles.responder",
    # what gets proven, and how
    "TrainingStepSpec": "zkfl.circuits",
    "LogisticRegression": "zkfl.circuits",
    "Mlp": "zkfl.circuits",
    "FedAvgSpec": "zkfl.circuits",
    "CircuitKind": "zkfl.circuits.kinds",
    "build_circuits": "zkfl.zk.build",
    "CircuitSet": "zkfl.zk.build",
    "ProverConfig": "zkfl.zk.prover",
    "Proof": "zkfl.zk.prover",
    "prove": "zkfl.zk.prover",
    "verify": "zkfl.zk.prover",
    "DevSrsSource": "zkfl.zk.srs",
    "CeremonySrsSource": "zkfl.zk.srs",
    "CommitmentKey": "zkfl.zk.commitments",
    # data
    "ClientData": "zkfl.data.batches",
    "make_client_data": "zkfl.data.batches",
    "load_dataset": "zkfl.data.batches",
    "make_batches": "zkfl.data.batches",
    # FedAvg arithmetic
    "update_sum": "zkfl.fedavg",
    "fixed_point_fedavg": "zkfl.fedavg",
    "float_fedavg": "zkfl.fedavg",
    # the chain and the store
    "connect": "zkfl.chain.rpc",
    "start_devnet": "zkfl.chain.devnet",
    "stop_devnet": "zkfl.chain.devnet",
    "Coordinator": "zkfl.chain.coordinator",
    "FederationConfig": "zkfl.chain.deploy",
    "deploy_federation": "zkfl.chain.deploy",
    "FederationTerms": "zkfl.federation.terms",
    "EAGER": "zkfl.federation.terms",
    "OPTIMISTIC": "zkfl.federation.terms",
    "LocalStore": "zkfl.store.artifacts",
    "IpfsStore": "zkfl.store.artifacts",
    "open_store": "zkfl.store.artifacts",
    "put_vector": "zkfl.store.artifacts",
    "get_vector": "zkfl.store.artifacts",
    # errors
    "ZkflError": "zkfl.errors",
    "ConfigError": "zkfl.errors",
    "DataRangeError": "zkfl.errors",
    "AggregationRangeError": "zkfl.errors",
    "ArtifactError": "zkfl.errors",
    "StoreError": "zkfl.errors",
    "ChainError": "zkfl.errors",
    "ProofError": "zkfl.errors",
    "IntegrityError": "zkfl.errors",
    "LinkError": "zkfl.errors",
    "ContentMismatchError": "zkfl.errors",
}

__all__ = [
    "EAGER",
    "OPTIMISTIC",
    "AggregateResult",
    "AggregationRangeError",
    "ArtifactError",
    "AuditOptions",
    "AuditReport",
    "CeremonySrsSource",
    "ChainError",
    "CircuitKind",
    "CircuitSet",
    "ClientData",
    "ClientUpdate",
    "CommitmentKey",
    "ConfigError",
    "ContentMismatchError",
    "Coordinator",
    "DataRangeError",
    "DevSrsSource",
    "FedAvgSpec",
    "FederationConfig",
    "FederationTerms",
    "IntegrityError",
    "IpfsStore",
    "LinkError",
    "LocalStore",
    "LogisticRegression",
    "Mlp",
    "Proof",
    "ProofError",
    "ProverConfig",
    "StoreError",
    "TrainingStepSpec",
    "Watchtower",
    "Workspace",
    "WorkspaceConfig",
    "ZkflError",
    "__version__",
    "aggregate_and_prove",
    "aggregate_round",
    "answer_requests",
    "audit_federation",
    "build_circuits",
    "check_round_links",
    "connect",
    "deploy_federation",
    "federation_status",
    "fixed_point_fedavg",
    "float_fedavg",
    "get_vector",
    "join_federation",
    "load_dataset",
    "make_batches",
    "make_client_data",
    "open_store",
    "prove",
    "prove_update",
    "put_vector",
    "register_client",
    "run_federation",
    "setup_federation",
    "start_devnet",
    "stop_devnet",
    "submit_update",
    "train_and_prove",
    "update_sum",
    "verify",
    "verify_round",
]


__getattr__ = lazy_getattr(globals(), _EXPORTS)


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # what type checkers and IDEs see; at run time __getattr__ imports lazily
    from zkfl.audit.audit_report import AuditReport
    from zkfl.audit.auditor import AuditOptions, audit_federation
    from zkfl.chain.coordinator import Coordinator
    from zkfl.chain.deploy import FederationConfig, deploy_federation
    from zkfl.chain.devnet import start_devnet, stop_devnet
    from zkfl.chain.rpc import connect
    from zkfl.circuits import FedAvgSpec, LogisticRegression, Mlp, TrainingStepSpec
    from zkfl.circuits.kinds import CircuitKind
    from zkfl.data.batches import ClientData, load_dataset, make_batches, make_client_data
    from zkfl.errors import (
        AggregationRangeError,
        ArtifactError,
        ChainError,
        ConfigError,
        ContentMismatchError,
        DataRangeError,
        IntegrityError,
        LinkError,
        ProofError,
        StoreError,
        ZkflError,
    )
    from zkfl.fedavg import fixed_point_fedavg, float_fedavg, update_sum
    from zkfl.federation.terms import EAGER, OPTIMISTIC, FederationTerms
    from zkfl.pipeline.aggregation import aggregate_round
    from zkfl.pipeline.inspection import federation_status, verify_round
    from zkfl.pipeline.join import join_federation
    from zkfl.pipeline.participant import prove_update, register_client, submit_update
    from zkfl.pipeline.setup import setup_federation
    from zkfl.pipeline.simulation import run_federation
    from zkfl.pipeline.workspace import Workspace, WorkspaceConfig
    from zkfl.roles.aggregator import AggregateResult, aggregate_and_prove, check_round_links
    from zkfl.roles.client import ClientUpdate, train_and_prove
    from zkfl.roles.responder import answer_requests
    from zkfl.roles.watchtower import Watchtower
    from zkfl.store.artifacts import IpfsStore, LocalStore, get_vector, open_store, put_vector
    from zkfl.zk.build import CircuitSet, build_circuits
    from zkfl.zk.commitments import CommitmentKey
    from zkfl.zk.prover import Proof, ProverConfig, prove, verify
    from zkfl.zk.srs import CeremonySrsSource, DevSrsSource
