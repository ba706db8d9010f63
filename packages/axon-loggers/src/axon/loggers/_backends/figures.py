"""Charts drawn with matplotlib, loaded with the first plot logger (never by ``axon.loggers``).

Figures are made with matplotlib's object API on the Agg canvas, not with pyplot:
no GUI backend is chosen, no window opens (CI has no display), and no global figure
is left behind for a notebook to show a second time.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

import matplotlib
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .charts import Chart

#: Charts per row of a figure.
COLUMNS = 2

#: A series with at most this many points marks each of them (per-epoch values).
MARKED_POINTS = 30

#: The formats a figure is written in.
FORMATS = ("png", "svg")


def draw(charts: Sequence[Chart], *, size: tuple[float, float], dpi: float) -> Figure:
    """A figure with ``charts`` in a grid, each ``size`` inches (width, height)."""
    columns = max(1, min(len(charts), COLUMNS))
    rows = max(1, math.ceil(len(charts) / columns))
    figure = Figure(figsize=(size[0] * columns, size[1] * rows), dpi=dpi, layout="constrained")
    FigureCanvasAgg(figure)
    grid = figure.subplots(rows, columns, squeeze=False).ravel()
    for axes, chart in zip(grid, charts, strict=False):
        _draw_chart(axes, chart)
    for axes in grid[len(charts) :]:
        axes.set_axis_off()
    if not charts:
        _say(grid[0], "nothing logged yet")
    return figure


def encode(figure: Figure, format: str) -> bytes:
    """The figure as a PNG or SVG file's bytes; the same figure gives the same bytes (an SVG
    without a date, and with ids that are not random)."""
    buffer = io.BytesIO()
    metadata = {"Date": None} if format == "svg" else None
    with matplotlib.rc_context({"svg.hashsalt": "axon-loggers"}):
        figure.savefig(buffer, format=format, metadata=metadata)
    return buffer.getvalue()


def _draw_chart(axes: Axes, chart: Chart) -> None:
    axes.set_title(chart.metric)
    axes.set_xlabel("step")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.grid(alpha=0.3)
    for series in chart.series:
        axes.plot(
            series.steps,
            series.values,
            label=series.tag,
            linestyle="--" if series.validation else "-",
            marker="o" if len(series.steps) <= MARKED_POINTS else None,
            markersize=4,
            gid=series.tag,  # names the curve in an SVG
        )
    if chart.series:
        axes.legend()
    else:
        _say(axes, f"no {chart.metric} logged yet")


def _say(axes: Axes, text: str) -> None:
    axes.text(0.5, 0.5, text, ha="center", va="center", transform=axes.transAxes, color="gray")
