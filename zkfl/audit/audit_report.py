"""The audit report: typed records, one JSON form with a versioned schema (documented in docs/audit.md,
"Report"), and a Markdown page with the per-round table and the accuracy plot."""

from __future__ import annotations

import json
import os
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from zkfl.atomic import write_atomic
from zkfl.charts import accuracy_png
from zkfl.circuits.kinds import CircuitKind
from zkfl.verification.findings import Finding
from zkfl.verification.round_checker import RoundAudit

SCHEMA = "zkfl.audit-report/1"


@dataclass
class AuditReport:
    federation: dict[str, Any]
    srs: dict[str, Any]
    rounds: list[RoundAudit]
    checks: list[Finding]
    timing: dict[str, Any]
    schema: str = SCHEMA

    @property
    def failures(self) -> list[Finding]:
        return [c for c in self.checks if not c.ok]

    @property
    def ok(self) -> bool:
        return bool(self.checks) and not self.failures

    @property
    def reason(self) -> str | None:
        """The first failed check, or None."""
        failures = self.failures
        if not failures:
            return None
        more = f" (and {len(failures) - 1} more failed check(s))" if len(failures) > 1 else ""
        return f"{failures[0]}{more}"

    def to_json(self) -> dict[str, Any]:
        body = asdict(self)
        return {
            "schema": self.schema,
            "ok": self.ok,
            "reason": self.reason,
            "federation": body["federation"],
            "srs": body["srs"],
            "rounds": body["rounds"],
            "failures": [asdict(f) for f in self.failures],
            "checks": body["checks"],
            "timing": body["timing"],
        }


def write_audit_report(
    report: AuditReport, directory: str | os.PathLike[str], plot: bytes | None = None
) -> dict[str, str]:
    """audit.json, audit.md and (with accuracies) accuracy.png, each written atomically."""
    directory = Path(directory)
    files = {"audit.json": json.dumps(report.to_json(), indent=2).encode(), "audit.md": markdown(report).encode()}
    if plot is not None:
        files["accuracy.png"] = plot
    for name, content in files.items():
        write_atomic(directory / name, content)
    return {name: str(directory / name) for name in files}


def _mark(ok: bool | None) -> str:
    return "n/a" if ok is None else ("ok" if ok else "**FAIL**")


def _short(text: str, keep: int = 10) -> str:
    return text if len(text) <= 2 * keep + 1 else f"{text[:keep]}…{text[-6:]}"


def markdown(report: AuditReport) -> str:
    fed = report.federation
    verdict = "PASSED" if report.ok else "FAILED"
    lines = [
        f"# zkFL audit: {verdict}",
        "",
        (
            f"Coordinator `{fed.get('coordinator')}` on chain {fed.get('chain_id')}; "
            f"{fed.get('rounds_finalized', 0)} finalized round(s), {fed.get('rounds_skipped', 0)} skipped; "
            f"manifest `{fed.get('manifest_cid')}`."
        ),
        "",
    ]
    if not report.ok:
        lines += ["## Failed checks", ""] + [f"- `{f.check}` ({f.scope}): {f.detail}" for f in report.failures] + [""]
    lines += ["## SRS", ""]
    for name in (CircuitKind.CLIENT, CircuitKind.AGGREGATOR):
        srs = report.srs.get(name) or {}
        flag = " — **INSECURE dev SRS** (its secret is known to whoever made it)" if srs.get("dev") else ""
        lines.append(f"- {name}: sha256 `{srs.get('sha256')}`, logrows {srs.get('logrows')}{flag}")
    for check in report.srs.get("file_checks", []):
        lines.append(
            f"- file `{check['path']}`: sha256 `{check['sha256']}`, powers-of-tau structure "
            f"{_mark(check['ok'])}, matches {check.get('matches') or 'no circuit of this federation'}"
        )
    lines += [
        "",
        "## Rounds",
        "",
        "| round | slot | client | update hash | CID | proof off-chain | proof on-chain | stored | gas |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report.rounds:
        for u in r.updates:
            lines.append(
                f"| {r.round} | {u.slot} | `{_short(u.client)}` | `{_short(u.update_hash)}` | `{_short(u.cid)}` "
                f"| {_mark(u.proof.offchain)} | {_mark(u.proof.onchain)} | {_mark(u.stored_ok)} "
                f"| {u.proof.gas_used:,} |"
            )
        if r.aggregation:
            a = r.aggregation
            lines.append(
                f"| {r.round} | FedAvg | aggregator | `{_short(a.next_model_hash)}` | `{_short(a.next_model_cid)}` "
                f"| {_mark(a.proof.offchain)} | {_mark(a.proof.onchain)} | {_mark(a.stored_ok)} "
                f"| {a.proof.gas_used:,} |"
            )
        if r.skipped:
            start = "the model before it" if r.model_rolled_back else "the same model"
            lines.append(f"| {r.round} | skipped | — | next round from {start} | — | n/a | n/a | n/a | — |")
    aggregations = [r.aggregation for r in report.rounds if r.aggregation]
    lines += [
        "",
        (
            f"FedAvg recomputed in fixed point: {sum(a.fedavg_exact for a in aggregations)} of {len(aggregations)} "
            "aggregations equal the published model bit for bit."
        ),
        "",
    ]
    if any(r.accuracy is not None for r in report.rounds):
        lines += ["## Accuracy of each round's global model", "", "| round | accuracy |", "|---|---|"]
        lines += [f"| {r.round} | {r.accuracy:.4f} |" for r in report.rounds if r.accuracy is not None]
        lines += ["", "![accuracy per round](accuracy.png)", ""]
    timing = report.timing
    lines += [
        "## Timing",
        "",
        (
            f"Audit wall time {timing.get('total_seconds')} s. Off-chain verification per proof "
            f"(median): client {timing.get('client_verify_median')} s, aggregation "
            f"{timing.get('aggregator_verify_median')} s."
        ),
        "",
    ]
    return "\n".join(lines)


def median_or_none(values: list[float]) -> float | None:
    return round(statistics.median(values), 4) if values else None


def accuracy_plot(rounds: list[RoundAudit]) -> bytes:
    points = [(r.round, r.accuracy) for r in rounds if r.accuracy is not None]
    return accuracy_png(
        [("global model (replayed from the chain)", "s-", [p[0] for p in points], [p[1] for p in points])],
        "round (model at its start)",
        "accuracy on the evaluation set",
    )
