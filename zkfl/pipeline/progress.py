"""How long steps report progress: the library announces steps, the CLI renders them (a line per
step and a spinner on stderr; nothing with `--json`). A pipeline function announces each step that
can take seconds before it starts it, naming what it waits for: compiling circuits and making
keys, a proof (witness, proof, self-verification), a verification, a transaction and its receipt,
the chain's blocks."""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str], None]
"""Called with one line saying what starts now, e.g. "alice: proving round 2 on batch 0"."""


def silent(_: str) -> None:
    """The default: library calls print nothing."""
