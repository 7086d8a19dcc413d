"""The library API behind every `zkfl` command: one function per step of a federation's life.
Each is restartable: it reads what the workspace and the chain already hold and does only what
is missing, writing every artifact atomically."""

from zkfl.pipeline.aggregation import AggregateOutcome, aggregate_round
from zkfl.pipeline.inspection import (
    FederationStatus,
    RoundVerification,
    federation_status,
    verify_proof_file,
    verify_round,
)
from zkfl.pipeline.join import JoinOutcome, join_federation
from zkfl.pipeline.participant import (
    ProveOutcome,
    RegisterOutcome,
    SubmitOutcome,
    prove_update,
    register_client,
    submit_update,
)
from zkfl.pipeline.setup import ExportOutcome, SetupOutcome, export_graphs, setup_federation
from zkfl.pipeline.simulation import RoundReport, RunOutcome, run_federation

__all__ = [
    "AggregateOutcome",
    "ExportOutcome",
    "FederationStatus",
    "JoinOutcome",
    "ProveOutcome",
    "RegisterOutcome",
    "RoundReport",
    "RoundVerification",
    "RunOutcome",
    "SetupOutcome",
    "SubmitOutcome",
    "aggregate_round",
    "export_graphs",
    "federation_status",
    "join_federation",
    "prove_update",
    "register_client",
    "run_federation",
    "setup_federation",
    "submit_update",
    "verify_proof_file",
    "verify_round",
]
