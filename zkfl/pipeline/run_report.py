"""The run report: JSON for programs, Markdown for people, a PNG of the accuracy curves; each file
also goes into the artifact store, so a report can be cited by CID.

The report says what was run (the config), whether its keys can be trusted (an insecure dev SRS is
warned about), whether its rounds were re-checked (the round checker's verdict, or how to check
them), and numbers the global models one way in the table and the plot: "genesis", then the round
whose aggregation produced each model (the chain's round numbers, as `zkfl status` shows them)."""

from __future__ import annotations

import json
import os
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from zkfl.atomic import write_atomic
from zkfl.charts import accuracy_figure, png_bytes
from zkfl.federation.terms import OPTIMISTIC
from zkfl.pipeline.simulation import RoundReport, RunOutcome
from zkfl.store.artifacts import ArtifactStore
from zkfl.zk.srs import DEV_SRS_WARNING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

GENESIS = "genesis"


@dataclass(frozen=True)
class AccuracyPoint:
    """One global model's accuracy: `label` names it in the table and on the plot's axis alike."""

    label: str
    proven: float | None
    float_reference: float | None

    @property
    def difference(self) -> float | None:
        if self.proven is None or self.float_reference is None:
            return None
        return self.proven - self.float_reference


def write_run_report(
    outcome: RunOutcome, directory: str | os.PathLike[str], store: ArtifactStore, title: str = "zkFL run"
) -> dict[str, str]:
    """Write report.json, report.md and (with accuracies) accuracy.png; returns {file name: CID}."""
    directory = Path(directory)
    files: dict[str, bytes] = {"report.json": json.dumps(asdict(outcome), indent=2).encode()}
    chart = accuracy_chart(outcome, title)
    if chart is not None:
        files["accuracy.png"] = png_bytes(chart)
    files["report.md"] = report_markdown(outcome, title).encode()
    cids = {}
    for name, content in files.items():
        write_atomic(directory / name, content)
        cids[name] = store.put(content)
    return cids


def _float_curve_section(curve: list[float] | None, per_row: int = 10) -> list[str]:
    """Float FedAvg's accuracy after each of its rounds (each client drawing its batches as the
    proven run does), ten rounds to a row: how far training goes past the rounds proven here."""
    if not curve:
        return []
    lines = [
        f"## Float FedAvg to {len(curve)} rounds",
        "",
        "Test accuracy after each round of float FedAvg from the same genesis model, each client drawing its "
        "batches as in the proven run (its first rounds are the float column above). Nothing here is proven.",
        "",
        "| rounds | " + " | ".join(f"+{i}" for i in range(1, per_row + 1)) + " |",
        "|---|" + "---|" * per_row,
    ]
    for start in range(0, len(curve), per_row):
        row = [_fmt(a) for a in curve[start : start + per_row]]
        lines.append(f"| {start + 1}-{start + len(row)} | " + " | ".join(row) + " |" + " |" * (per_row - len(row)))
    return [*lines, ""]


def round_label(r: RoundReport) -> str:
    """A round's label: its number on the chain; a skipped round closed without aggregation (its model
    is unchanged)."""
    return f"{r.round} (skipped)" if r.skipped else str(r.round)


def accuracy_points(outcome: RunOutcome) -> list[AccuracyPoint]:
    """The genesis model, then the model each round produced, labelled as table rows and plot ticks
    both; empty without held-out data."""
    if not any(r.proven_accuracy is not None for r in outcome.rounds):
        return []
    points = []
    if outcome.genesis_accuracy is not None:
        points.append(AccuracyPoint(GENESIS, outcome.genesis_accuracy, outcome.genesis_accuracy))
    points += [AccuracyPoint(round_label(r), r.proven_accuracy, r.float_accuracy) for r in outcome.rounds]
    return points


def report_markdown(outcome: RunOutcome, title: str = "zkFL run") -> str:
    lines = [f"# {title}", ""]
    if outcome.dev_srs:
        lines += [f"> **WARNING**: {DEV_SRS_WARNING}", ""]
    lines += [_proof_sentence(outcome), ""]
    lines += _config_section(outcome)
    lines += _audit_section(outcome)
    points = accuracy_points(outcome)
    if points:
        lines += [
            "## Accuracy on held-out data",
            "",
            "Each row is the global model after the round named (the chain's round numbers); the plot's x axis "
            "uses the same labels.",
            "",
            "| global model after round | proven global model | float FedAvg (same batches) | proven - float |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {p.label} | {_fmt(p.proven)} | {_fmt(p.float_reference)} | {_fmt(p.difference, signed=True)} |"
            for p in points
        ]
        lines += ["", "![accuracy per round](accuracy.png)", ""]
    lines += _float_curve_section(outcome.float_curve)
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
            f"| {round_label(r)} | {len(r.clients)} | {prove:.1f} | {r.aggregate_seconds:.1f} | {wall} | "
            f"{gas:,} | {r.finalize_gas:,} |"
        )
    return "\n".join(lines) + "\n"


def _proof_sentence(outcome: RunOutcome) -> str:
    circuits = (
        f"Coordinator `{outcome.coordinator}`; client circuit logrows {outcome.client_logrows}, aggregation "
        f"circuit logrows {outcome.aggregator_logrows}."
    )
    if outcome.config.get("verification") == OPTIMISTIC:
        return (
            f"{circuits} Every update and aggregation was proven with ezkl. Updates were accepted optimistically "
            "(their proofs are in the store and verified on-chain only if challenged); every aggregation was "
            "verified on-chain when its round was finalized."
        )
    return (
        f"{circuits} Every update and aggregation was proven with ezkl; the on-chain verifiers checked each "
        "update on submission and each aggregation on finalization."
    )


def _config_section(outcome: RunOutcome) -> list[str]:
    config = outcome.config
    if not config:
        return []
    model = dict(config.get("model") or {})
    family = model.pop("family", "?")
    shape = ", ".join(f"{key} {value}" for key, value in model.items())
    aggregation = f"{config.get('slots')} (one FedAvg proof over the sum of the updates)"
    batches = config.get("batches_per_commit")
    rows = [
        ("model", f"{family} ({shape})" if shape else str(family)),
        ("batch size", config.get("batch_size")),
        ("local steps per round", config.get("local_steps")),
        ("learning rate", config.get("learning_rate")),
        ("client slots", aggregation),
        ("clients", ", ".join(config.get("clients") or [])),
        ("rounds", config.get("rounds")),
        ("batches committed at a time", batches if batches is not None else "the rounds still to run"),
        ("verification mode", config.get("verification")),
        ("chain", config.get("chain")),
        ("SRS", "dev (INSECURE, see the warning above)" if outcome.dev_srs else config.get("srs")),
    ]
    return ["## Configuration", "", "| setting | value |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows), ""]


def _audit_section(outcome: RunOutcome) -> list[str]:
    lines = ["## Audit", ""]
    verdicts = outcome.verification
    if verdicts is None:
        return [
            *lines,
            "**Not audited**: this run did not re-check its rounds. Check a round with "
            "`zkfl verify -w WORKSPACE --round R`, or the whole federation from the chain and the store alone "
            "with `zkfl audit --rpc-url URL --coordinator ADDRESS --store STORE`.",
            "",
        ]
    failed = [v for v in verdicts if not v.ok]
    checks = sum(v.checks for v in verdicts)
    if failed:
        verdict = f"**FAILED**: {len(failed)} of {len(verdicts)} rounds do not verify."
    else:
        verdict = f"**PASSED**: all {len(verdicts)} rounds verify ({checks} checks)."
    lines += [
        f"{verdict} Each round was re-checked from the chain and the store with the round checker of "
        "`zkfl verify` (every proof off-chain and on-chain, every link and data commitment, every stored vector, "
        "FedAvg recomputed); `zkfl audit` replays the whole federation with the same checks.",
        "",
        "| round | verdict | checks | first failure |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {v.round} | {'pass' if v.ok else 'FAIL'} | {v.checks} | {v.failures[0] if v.failures else ''} |"
        for v in verdicts
    ]
    return [*lines, ""]


def _fmt(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "n/a"
    return f"{value:+.4f}" if signed else f"{value:.4f}"


def accuracy_chart(outcome: RunOutcome, title: str = "zkFL run") -> Figure | None:
    """Both accuracy curves over the labels of `accuracy_points` (position i is the i-th label, as
    the table's i-th row), the float one with large hollow markers under the proven one's, and
    proven - float in a panel below; None without held-out data."""
    points = accuracy_points(outcome)
    if not points:
        return None
    xs = list(range(len(points)))
    labels = [p.label for p in points]
    return accuracy_figure(
        [
            (
                "float FedAvg (same batches)",
                "o--",
                xs,
                [p.float_reference for p in points],
                {"markersize": 9, "markerfacecolor": "none", "color": "tab:blue"},
            ),
            (
                "proven global model (ezkl, fixed point)",
                "s-",
                xs,
                [p.proven for p in points],
                {"markersize": 4, "color": "tab:orange"},
            ),
        ],
        "global model after round",
        "test accuracy",
        title,
        difference=("proven - float", xs, [p.difference or 0.0 for p in points]),
        tick_label=lambda i: labels[i] if 0 <= i < len(labels) else "",
    )
