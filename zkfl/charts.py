"""Accuracy curves as PNG bytes (matplotlib, headless), for the run and audit reports."""

from __future__ import annotations

import io
from collections.abc import Sequence


def accuracy_png(
    series: Sequence[tuple[str, str, Sequence[float], Sequence[float]]],
    xlabel: str,
    ylabel: str,
    title: str | None = None,
) -> bytes:
    """One line per (label, matplotlib style, xs, ys)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4), dpi=100)
    for label, style, xs, ys in series:
        axes.plot(list(xs), list(ys), style, label=label)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    if title:
        axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right")
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    plt.close(figure)
    return buffer.getvalue()
