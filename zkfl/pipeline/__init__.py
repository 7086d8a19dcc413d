"""The library API behind every `zkfl` command: one function per step of a federation's life.
Each is restartable: it reads what the workspace and the chain already hold and does only what
is missing, writing every artifact atomically.

Each name loads its module on first use, so that a command imports only what it runs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from zkfl.lazy import lazy_getattr

if TYPE_CHECKING:
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
        RevealOutcome,
        ShareOutcome,
        SubmitOutcome,
        prove_update,
        register_client,
        reveal_for_unmasking,
        share_keys,
        submit_update,
    )
    from zkfl.pipeline.setup import ExportOutcome, SetupOutcome, export_graphs, setup_federation
    from zkfl.pipeline.simulation import RoundReport, RunOutcome, run_federation

_EXPORTS: dict[str, str] = {
    "AggregateOutcome": "zkfl.pipeline.aggregation",
    "aggregate_round": "zkfl.pipeline.aggregation",
    "FederationStatus": "zkfl.pipeline.inspection",
    "RoundVerification": "zkfl.pipeline.inspection",
    "federation_status": "zkfl.pipeline.inspection",
    "verify_proof_file": "zkfl.pipeline.inspection",
    "verify_round": "zkfl.pipeline.inspection",
    "JoinOutcome": "zkfl.pipeline.join",
    "join_federation": "zkfl.pipeline.join",
    "ProveOutcome": "zkfl.pipeline.participant",
    "RegisterOutcome": "zkfl.pipeline.participant",
    "SubmitOutcome": "zkfl.pipeline.participant",
    "ShareOutcome": "zkfl.pipeline.participant",
    "RevealOutcome": "zkfl.pipeline.participant",
    "share_keys": "zkfl.pipeline.participant",
    "reveal_for_unmasking": "zkfl.pipeline.participant",
    "prove_update": "zkfl.pipeline.participant",
    "register_client": "zkfl.pipeline.participant",
    "submit_update": "zkfl.pipeline.participant",
    "ExportOutcome": "zkfl.pipeline.setup",
    "SetupOutcome": "zkfl.pipeline.setup",
    "export_graphs": "zkfl.pipeline.setup",
    "setup_federation": "zkfl.pipeline.setup",
    "RoundReport": "zkfl.pipeline.simulation",
    "RunOutcome": "zkfl.pipeline.simulation",
    "run_federation": "zkfl.pipeline.simulation",
}

__all__ = [
    "AggregateOutcome",
    "ExportOutcome",
    "FederationStatus",
    "JoinOutcome",
    "ProveOutcome",
    "RegisterOutcome",
    "RevealOutcome",
    "RoundReport",
    "RoundVerification",
    "RunOutcome",
    "SetupOutcome",
    "ShareOutcome",
    "SubmitOutcome",
    "aggregate_round",
    "export_graphs",
    "federation_status",
    "join_federation",
    "prove_update",
    "register_client",
    "reveal_for_unmasking",
    "run_federation",
    "setup_federation",
    "share_keys",
    "submit_update",
    "verify_proof_file",
    "verify_round",
]


__getattr__ = lazy_getattr(globals(), _EXPORTS)
