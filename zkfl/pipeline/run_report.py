"""The run report: JSON for programs, Markdown for people, a PNG of the accuracy curves; each file
also goes into the artifact store, so a report can be cited by CID."""

from __future__ import annotations

import json
import os
import statistics
from dataclasses import asdict
from pathlib import Path

from zkfl.atomic import write_atomic
from zkfl.charts import accuracy_png
from zkfl.pipeline.simulation import RoundReport, RunOutcome
from zkfl.store.artifacts import ArtifactStore


def write_run_report(
    outcome: RunOutcome, directory: str | os.PathLike[str], store: ArtifactStore, title: str = "zkFL run"
) -> dict[str, str]:
    """Write report.json, report.md and (with accuracies) accuracy.png; returns {file name: CID}."""
    directory = Path(directory)
    files: dict[str, bytes] = {"report.json": json.dumps(asdict(outcome), indent=2).encode()}
    has_accuracy = any(r.proven_accuracy is not None for r in outcome.rounds)
    if has_accuracy:
        files["accuracy.png"] = _plot(outcome, title)
    files["report.md"] = _markdown(outcome, title, has_accuracy).encode()
    cids = {}
    for name, content in files.items():
        write_atomic(directory / name, content)
        cids[name] = store.put(content)
    return cids


def _markdown(outcome: RunOutcome, title: str, has_accuracy: bool) -> str:
    lines = [
        f"# {title}",
        "",
        f"Coordinator `{outcome.coordinator}`; client circuit logrows {outcome.client_logrows}, "
        f"aggregation circuit logrows {outcome.aggregator_logrows}. Every update and every aggregation below "
        "was proven with ezkl and accepted by the on-chain verifiers.",
        "",
    ]
    if has_accuracy:
        lines += [
            "## Accuracy on held-out data",
            "",
            "| round | proven global model | float FedAvg (same batches) | difference |",
            "|---|---|---|---|",
        ]
        if outcome.genesis_accuracy is not None:
            lines.append(f"| genesis | {outcome.genesis_accuracy:.4f} | {outcome.genesis_accuracy:.4f} | 0 |")
        for r in outcome.rounds:
            diff = (r.proven_accuracy or 0) - (r.float_accuracy or 0)
            lines.append(f"| {_label(r)} | {r.proven_accuracy:.4f} | {r.float_accuracy:.4f} | {diff:+.4f} |")
        lines += ["", "![accuracy per round](accuracy.png)", ""]
    lines += [
        "## Cost per round",
        "",
        "| round | clients | prove per client (s, median) | aggregation prove (s) | round wall (s) | "
        "submit gas (median) | finalize gas |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in outcome.rounds:
        prove = statistics.median(r.prove_seconds.values()) if r.prove_seconds else 0.0
        gas = int(statistics.median(r.submit_gas.values())) if r.submit_gas else 0
        wall = f"{r.wall_seconds:.1f}" if r.wall_seconds is not None else "(earlier run)"
        lines.append(
            f"| {_label(r)} | {len(r.clients)} | {prove:.1f} | {r.aggregate_seconds:.1f} | {wall} | "
            f"{gas:,} | {r.finalize_gas:,} |"
        )
    return "\n".join(lines) + "\n"


def _label(r: RoundReport) -> str:
    """A round's row label: a skipped round closed without aggregation (its model is unchanged)."""
    return f"{r.round} (skipped)" if r.skipped else str(r.round)


def _plot(outcome: RunOutcome, title: str) -> bytes:
    rounds = [r.round + 1 for r in outcome.rounds]
    proven = [r.proven_accuracy for r in outcome.rounds]
    floats = [r.float_accuracy for r in outcome.rounds]
    if outcome.genesis_accuracy is not None:
        rounds, proven, floats = [0, *rounds], [outcome.genesis_accuracy, *proven], [outcome.genesis_accuracy, *floats]
    return accuracy_png(
        [
            ("float FedAvg (same batches)", "o--", rounds, floats),
            ("proven global model (ezkl, fixed point)", "s-", rounds, proven),
        ],
        "rounds finalized",
        "test accuracy",
        title,
    )
