"""The `zkfl run` report, from a run's outcome: it states the config, warns about a dev SRS, gives
the audit verdict (or says it was not audited and how to audit), and numbers the global models
the same way in the accuracy table and on the plot, whose x ticks are whole rounds, whose legend
covers no curve, and whose lower panel shows proven - float."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from zkfl.pipeline.run_report import accuracy_chart, report_markdown, write_run_report
from zkfl.pipeline.simulation import RoundReport, RoundVerdict, RunOutcome
from zkfl.store.artifacts import LocalStore
from zkfl.zk.srs import DEV_SRS_WARNING

CONFIG = {
    "model": {"family": "logreg", "features": 4, "classes": 3},
    "batch_size": 2,
    "local_steps": 1,
    "learning_rate": 0.25,
    "slots": 2,
    "clients": ["alice", "bob"],
    "rounds": 3,
    "batches_per_commit": 5,
    "verification": "optimistic",
    "chain": "devnet",
    "srs": "dev",
}
PROVEN = [0.6, 0.7, 0.7]
FLOAT = [0.6, 0.72, 0.7]


def _outcome(dev_srs: bool = True, verification: list[RoundVerdict] | None = None) -> RunOutcome:
    rounds = [
        RoundReport(
            round=r,
            clients=["alice", "bob"],
            prove_seconds={"alice": 1.5, "bob": 1.7},
            submit_gas={"alice": 300_000, "bob": 310_000},
            aggregate_seconds=3.0,
            finalize_gas=0 if r == 2 else 500_000,
            wall_seconds=9.0,
            model_hash=hex(r + 1),
            proven_accuracy=PROVEN[r],
            float_accuracy=FLOAT[r],
            skipped=r == 2,
        )
        for r in range(3)
    ]
    return RunOutcome(rounds, "0xC0", 12, 14, 0.33, config=CONFIG, dev_srs=dev_srs, verification=verification)


def _table_labels(markdown: str) -> list[str]:
    section = markdown.split("## Accuracy on held-out data", 1)[1].split("##", 1)[0]
    return [row.split("|")[1].strip() for row in section.splitlines() if re.match(r"\| [^-|]", row)][1:]


def test_the_report_states_the_config_of_the_run() -> None:
    markdown = report_markdown(_outcome())
    for row in (
        "| model | logreg (features 4, classes 3) |",
        "| batch size | 2 |",
        "| local steps per round | 1 |",
        "| learning rate | 0.25 |",
        "| client slots | 2 (one FedAvg proof over the sum of the updates) |",
        "| rounds | 3 |",
        "| batches committed at a time | 5 |",
        "| verification mode | optimistic |",
    ):
        assert row in markdown, row
    assert "accepted optimistically" in markdown  # not "every update verified on submission"


def test_a_dev_srs_is_warned_about_and_a_ceremony_srs_is_not() -> None:
    assert DEV_SRS_WARNING in report_markdown(_outcome(dev_srs=True))
    assert DEV_SRS_WARNING not in report_markdown(_outcome(dev_srs=False))


def test_the_audit_verdict_is_reported_and_an_unaudited_run_says_how_to_audit() -> None:
    unaudited = report_markdown(_outcome(verification=None))
    assert "**Not audited**" in unaudited and "zkfl verify" in unaudited and "zkfl audit" in unaudited
    passed = report_markdown(_outcome(verification=[RoundVerdict(r, True, 10, []) for r in range(3)]))
    assert "**PASSED**: all 3 rounds verify (30 checks)" in passed
    failed = report_markdown(
        _outcome(
            verification=[
                RoundVerdict(0, True, 10, []),
                RoundVerdict(1, False, 10, ["round 1 slot 0: fedavg: recomputed FedAvg differs"]),
                RoundVerdict(2, True, 1, []),
            ]
        )
    )
    assert "**FAILED**: 1 of 3 rounds do not verify" in failed
    assert "| 1 | FAIL | 10 | round 1 slot 0: fedavg: recomputed FedAvg differs |" in failed


def test_table_and_plot_number_the_global_models_alike_on_whole_round_ticks() -> None:
    outcome = _outcome()
    labels = _table_labels(report_markdown(outcome))
    assert labels == ["genesis", "0", "1", "2 (skipped)"]  # the chain's round numbers, as in the cost table
    figure = accuracy_chart(outcome)
    figure.canvas.draw()
    _, below = figure.axes
    ticks = [(t.get_loc(), t.label1.get_text()) for t in below.xaxis.get_major_ticks()]
    low, high = below.get_xlim()
    visible = [(x, text) for x, text in ticks if low <= x <= high]
    assert all(float(x).is_integer() for x, _ in visible)
    assert [text for _, text in visible] == labels  # position i is the table's i-th row


def test_the_plot_shows_proven_minus_float_and_its_legend_covers_no_curve() -> None:
    figure = accuracy_chart(_outcome())
    figure.canvas.draw()
    _, below = figure.axes
    (difference,) = [line for line in below.get_lines() if len(line.get_ydata()) > 2]
    assert list(difference.get_ydata()) == pytest.approx([0.0] + [p - f for p, f in zip(PROVEN, FLOAT, strict=True)])
    renderer = figure.canvas.get_renderer()
    (legend,) = figure.legends
    box = legend.get_window_extent(renderer)
    assert not any(box.overlaps(axes.get_window_extent(renderer)) for axes in figure.axes)


def test_the_report_files_are_written_and_stored(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    cids = write_run_report(_outcome(), tmp_path / "reports", store)
    assert sorted(cids) == ["accuracy.png", "report.json", "report.md"]
    for name, cid in cids.items():
        assert store.get(cid) == (tmp_path / "reports" / name).read_bytes()
    assert (tmp_path / "reports" / "accuracy.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
