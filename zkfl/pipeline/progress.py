"""How long steps report progress: the library announces steps, the CLI renders them."""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str], None]


def silent(_: str) -> None:
    """The default: library calls print nothing."""
