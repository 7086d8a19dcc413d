"""The quality gates, as part of the suite: `make check` (ruff lint and format, mypy over `zkfl/`,
and the documentation site built with `mkdocs build --strict`) must pass. Running it here lets it
overlap the other tests on the suite's second worker."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_lint_format_types_and_the_docs_site_pass() -> None:
    done = subprocess.run(
        ["make", "--no-print-directory", "check"], cwd=REPO, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, (done.stdout[-6000:], done.stderr[-6000:])
