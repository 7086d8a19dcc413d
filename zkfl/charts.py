"""Accuracy curves as PNG bytes (matplotlib, headless), for the run and audit reports: integer
round ticks, the legend outside the plot (it never covers a curve), and optionally a small panel
below with the difference of two curves, which shows what coinciding curves hide."""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

Series = (
    tuple[str, str, Sequence[float], Sequence[float | None]]
    | tuple[str, str, Sequence[float], Sequence[float | None], dict]
)
"""(label, matplotlib format such as "s-", xs, ys; a None y is a gap in the line), optionally with a
dict of further plot keywords."""


def accuracy_png(
    series: Sequence[Series],
    xlabel: str,
    ylabel: str,
    title: str | None = None,
    difference: tuple[str, Sequence[float], Sequence[float]] | None = None,
    tick_label: Callable[[int], str] | None = None,
) -> bytes:
    """The chart of `accuracy_figure` as PNG bytes."""
    return png_bytes(accuracy_figure(series, xlabel, ylabel, title, difference, tick_label))


def png_bytes(figure: Figure) -> bytes:
    """A figure as PNG bytes (no timestamp or software tag, so equal charts are equal bytes); closes it."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    plt.close(figure)
    return buffer.getvalue()


def accuracy_figure(
    series: Sequence[Series],
    xlabel: str,
    ylabel: str,
    title: str | None = None,
    difference: tuple[str, Sequence[float], Sequence[float]] | None = None,
    tick_label: Callable[[int], str] | None = None,
) -> Figure:
    """One line per series; with `difference` (label, xs, ys) a small panel below it, on the same
    x axis, around zero. X ticks are whole numbers, labelled by `tick_label` (default: the number)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    if difference is None:
        figure, main = plt.subplots(figsize=(6.4, 4.4), dpi=100, layout="constrained")
        panels = [main]
    else:
        figure, (main, below) = plt.subplots(
            2, 1, figsize=(6.4, 5.6), dpi=100, sharex=True, height_ratios=(3, 1), layout="constrained"
        )
        panels = [main, below]
    for label, style, xs, ys, *extra in series:
        options: dict[str, Any] = extra[0] if extra else {}
        main.plot(list(xs), [math.nan if y is None else y for y in ys], style, label=label, **options)
    main.set_ylabel(ylabel)
    if difference is not None:
        label, xs, ys = difference
        below.axhline(0.0, color="grey", linewidth=0.8)
        below.plot(list(xs), list(ys), "D-", color="tab:red", markersize=4)
        extent = max([0.01, *(abs(y) for y in ys)]) * 1.3  # an all-zero difference is a flat line, not noise
        below.set_ylim(-extent, extent)
        below.set_ylabel(label)
    for axes in panels:
        axes.grid(alpha=0.3)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        if tick_label is not None:
            axes.xaxis.set_major_formatter(FuncFormatter(lambda x, _: tick_label(round(x))))
    panels[-1].set_xlabel(xlabel)
    if title:
        figure.suptitle(title)
    figure.legend(loc="outside lower center", ncols=min(len(series), 2), frameon=False)
    return figure
