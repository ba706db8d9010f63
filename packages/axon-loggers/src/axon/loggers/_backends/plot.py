"""Plots: chosen metrics against steps, drawn live in a notebook and into a PNG or SVG file."""

from __future__ import annotations

import json
import math
import os
import time
import warnings
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

from .._base import LoggerBase
from .._values import as_purge_step
from .charts import Chart, as_metrics, charts
from .files import LogExistsError, has_content, prepare_file, replace_file
from .jsonl import JSONLinesLogger
from .marks import RUN, as_mark
from .notebook import LiveImage, in_notebook
from .runs import as_run_id, check_continuation, new_run_id
from .steps import STEP_KEY

#: The plot ``loss.png`` keeps its points in ``loss.png.jsonl``, beside it.
DATA_SUFFIX = ".jsonl"

#: The image formats, by the file's suffix.
IMAGE_FORMATS = {".png": "png", ".svg": "svg"}

_IMAGE = "plot image"


class PlotLogger(LoggerBase):
    """Draws chosen metrics against steps, one chart per metric, training and validation overlaid.

    This is what Axon's ``kino_vega_lite_plot`` gives Livebook users. Each chart
    shows every logged tag of its metric: with axon-loop, ``metrics=["loss"]``
    draws ``train/loss`` (every ``every`` iterations), ``epoch/loss`` and
    ``epoch/validation_loss`` (validation dashed) on one axis. A tag belongs to
    the metric named by its last component, less a ``validation_`` or ``val_``
    prefix; listing ``"validation_loss"`` besides ``"loss"`` changes nothing.

    **Where it draws.** In a Jupyter notebook, the chart appears in the cell's
    output and is redrawn there in place as points arrive. With ``path``, a
    ``.png`` or ``.svg`` file is written, replaced atomically at each redraw, so
    a viewer never sees half a file. It is redrawn when a record or
    :meth:`flush` comes at least ``refresh_secs`` after the previous drawing,
    and on :meth:`close` if anything is left to draw (axon-loop closes a logger
    it created when the run completes, halts or fails). Files are drawn on
    matplotlib's Agg canvas: no display is needed.

    **The points are the run's log.** The image is only a view: the points go
    to a JSON Lines log beside it, ``<path>.jsonl`` (as :class:`JSONLinesLogger`
    writes, scalars only), and the image is drawn from that log. The log
    follows the rules of every file log: it belongs to one run, an existing log
    of the same ``run_id`` is continued (cut back to ``resume_mark``, or its
    steps ``>= purge_step`` dropped, before its points are read back), and
    another run's log is refused with :class:`LogExistsError` unless
    ``overwrite=True``. So a resumed run's plot shows each step once. An image
    at ``path`` without its log beside it is no plot of ours, and is refused.
    Without ``path`` (a notebook only) the points are kept in memory.

    Matplotlib is an optional dependency: ``pip install 'axon-loggers[plot]'``.
    ``import axon.loggers`` does not load it; the first plot logger does.

    Args:
        path: the ``.png`` or ``.svg`` file to draw into; its directory is
            created if missing. Needed unless the plot is shown live.
        metrics: the metrics to draw, one chart each, e.g. ``["loss",
            "accuracy"]``; ``None`` draws every metric logged.
        run_id: the id of the run (axon-loop passes ``State.run_id``); ``None``,
            a new run with a fresh id.
        purge_step: when continuing this run's plot, the first step the run
            will log again: the points of steps ``>= purge_step`` are dropped.
            Needs ``run_id``.
        resume_mark: when continuing this run's plot, what :meth:`mark` returned
            when the checkpoint to resume from was written: the points logged
            after it are dropped. Needs ``run_id``; not with ``purge_step``.
        overwrite: replace the plot of another run found at ``path``.
        live: show the plot in the notebook's output; ``None``, when running in
            a Jupyter kernel.
        refresh_secs: the least time between two redraws, in seconds (``0``
            redraws at every record).
        size: each chart's ``(width, height)`` in inches; charts stand two in a row.
        dpi: the PNG's pixels per inch.

    Attributes:
        path: the image file, as a :class:`pathlib.Path`, or ``None``.
        data_path: the points' log beside it, or ``None``.
        run_id: the id recorded in the log (generated when none was given).
        metrics: the chosen metrics, or ``None`` for all.

    Raises:
        ImportError: matplotlib is not installed (the message names the extra).
        ValueError: ``path`` is not a ``.png`` or ``.svg`` file, no ``path`` is
            given outside a notebook, or a bad option.
        LogPathError: the files cannot be created or written.
        LogExistsError: the log beside ``path`` is another run's, or ``path``
            is an image without its log.
        LogMarkError: the log does not fit ``resume_mark``.

    Example:
        >>> import pathlib, tempfile
        >>> from axon.loggers import PlotLogger
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "loss.png"
        >>> with PlotLogger(path, metrics=["loss"], run_id="run-1") as logger:
        ...     for step in (1, 2, 3, 4):
        ...         logger.log_scalars({"train/loss": 1 / step, "train/lr": 0.1}, step)
        ...     logger.log_scalars({"epoch/validation_loss": 0.5}, step=4)
        >>> logger.plotted["loss"]
        {'train/loss': [(1, 1.0), (2, 0.5), (3, 0.3333333333333333), (4, 0.25)], 'epoch/validation_loss': [(4, 0.5)]}
        >>> path.read_bytes()[:4]
        b'\\x89PNG'
        >>> print(path.with_name("loss.png.jsonl").read_text(), end="")  # the points
        {"axon_run": "run-1"}
        {"step": 1, "train/loss": 1.0, "train/lr": 0.1}
        {"step": 2, "train/loss": 0.5, "train/lr": 0.1}
        {"step": 3, "train/loss": 0.3333333333333333, "train/lr": 0.1}
        {"step": 4, "train/loss": 0.25, "train/lr": 0.1, "epoch/validation_loss": 0.5}
    """  # noqa: E501 (a doctest's output is one line)

    supported_kinds = frozenset({"scalars"})

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        metrics: Iterable[str] | None = None,
        run_id: str | None = None,
        purge_step: int | None = None,
        resume_mark: dict[str, Any] | None = None,
        overwrite: bool = False,
        live: bool | None = None,
        refresh_secs: float = 2.0,
        size: tuple[float, float] = (6.0, 4.0),
        dpi: float = 100,
    ) -> None:
        super().__init__()
        named_run, purge_step = as_run_id(run_id), as_purge_step(purge_step)
        check_continuation(named_run, purge_step, resume_mark)
        self.metrics = as_metrics(metrics)
        self.refresh_secs = _as_number("refresh_secs", refresh_secs, smallest=0.0)
        width, height = size
        self.size = (_as_number("width", width), _as_number("height", height))
        self.dpi = _as_number("dpi", dpi)
        if live not in (None, True, False):
            raise TypeError(f"live must be True, False or None (in Jupyter), got {live!r}.")
        self.path = None if path is None else Path(path)
        show = in_notebook() if live is None else live
        if self.path is None and not show:
            raise ValueError(
                "PlotLogger needs path=, a .png or .svg file to draw into: outside a Jupyter "
                "notebook nothing shows the plot live."
            )
        self._format = None if self.path is None else _format_of(self.path)
        self._figures = _load_figures()  # matplotlib: with the first plot logger, not at import
        self._live = LiveImage() if show else None
        self._data: _PlotData | None = None
        self.data_path: Path | None = None
        if self.path is None:
            self.run_id = named_run or new_run_id()
            self._points: dict[str, tuple[list[int], list[float]]] = {}
        else:
            self.data_path = self.path.with_name(self.path.name + DATA_SUFFIX)
            self._data = _open_data(
                self.path, self.data_path, named_run, purge_step, resume_mark, overwrite
            )
            self.run_id = self._data.run_id
            self._points = self._data.points()
        self._last_draw = -math.inf
        self._stale = True  # nothing drawn yet; an image on disk may show more than the log

    def mark(self) -> dict[str, Any]:
        """Flush the points' log, and return where it ends, to cut it back there with
        ``resume_mark=``.

        The mark is the one of its log, ``{"run_id": ..., "file": <the log's name>,
        "size": <bytes>}``; without ``path`` there is nothing to cut, and it is
        ``{"run_id": ...}``. axon-loop records it in every checkpoint, and a run
        resumed from that checkpoint plots the points logged before it, then its own.

        Example:
            >>> import pathlib, tempfile
            >>> from axon.loggers import PlotLogger
            >>> path = pathlib.Path(tempfile.mkdtemp()) / "loss.svg"
            >>> with PlotLogger(path, run_id="run-1") as killed:
            ...     for step in (1, 2, 3):
            ...         if step == 3:
            ...             mark = killed.mark()  # the checkpoint of iteration 2
            ...         killed.log_scalars({"loss": -step}, step)
            >>> mark
            {'run_id': 'run-1', 'file': 'loss.svg.jsonl', 'size': 74}
            >>> resumed = PlotLogger(path, run_id="run-1", resume_mark=mark)
            >>> resumed.plotted  # the killed run's step 3 is gone
            {'loss': {'loss': [(1, -1.0), (2, -2.0)]}}
            >>> resumed.close()
        """
        if self._data is None:
            return {RUN: self.run_id}
        return self._data.mark()

    @property
    def plotted(self) -> dict[str, dict[str, list[tuple[int, float]]]]:
        """What the plot shows: ``{metric: {tag: [(step, value), ...]}}``, one entry per chart.

        Example:
            >>> import pathlib, tempfile
            >>> from axon.loggers import PlotLogger
            >>> path = pathlib.Path(tempfile.mkdtemp()) / "plot.png"
            >>> with PlotLogger(path, metrics=["accuracy", "loss"]) as logger:
            ...     logger.log_scalars({"train/loss": 0.5, "train/accuracy": 0.75}, step=1)
            ...     logger.log_scalars({"epoch/val_accuracy": 0.5}, step=1)
            >>> logger.plotted
            {'accuracy': {'train/accuracy': [(1, 0.75)], 'epoch/val_accuracy': [(1, 0.5)]}, 'loss': {'train/loss': [(1, 0.5)]}}
        """  # noqa: E501 (a doctest's output is one line)
        return {
            chart.metric: {s.tag: list(zip(s.steps, s.values, strict=True)) for s in chart.series}
            for chart in self._charts()
        }

    def _write_scalars(self, scalars: dict[str, float], step: int) -> None:
        if self._data is not None:
            self._data.log_scalars(scalars, step)
        for tag, value in scalars.items():
            steps, values = self._points.setdefault(tag, ([], []))
            steps.append(step)
            values.append(value)
        self._stale = True
        self._draw_if_due()

    def _flush(self) -> None:
        if self._data is not None:
            self._data.flush()
        self._draw_if_due()

    def _close(self) -> None:
        try:
            if self._stale:
                self._draw()
            self._warn_of_empty_charts()
        finally:
            if self._data is not None:
                self._data.close()

    def _charts(self) -> list[Chart]:
        return charts(self._points, self.metrics)

    def _draw_if_due(self) -> None:
        if self._stale and time.monotonic() - self._last_draw >= self.refresh_secs:
            self._draw()

    def _draw(self) -> None:
        figure = self._figures.draw(self._charts(), size=self.size, dpi=self.dpi)
        png = self._figures.encode(figure, "png") if self._live or self._format == "png" else b""
        if self.path is not None and self._format is not None:  # both or neither
            image = png if self._format == "png" else self._figures.encode(figure, self._format)
            replace_file(self.path, image, _IMAGE)
        if self._live is not None:
            self._live.show(png)
        self._last_draw, self._stale = time.monotonic(), False

    def _warn_of_empty_charts(self) -> None:
        empty = [chart.metric for chart in self._charts() if not chart.series]
        if empty:
            logged = sorted(dict.fromkeys(chart.metric for chart in charts(self._points, None)))
            warnings.warn(
                f"PlotLogger: nothing was logged for the metrics {empty}, so their charts are "
                f"empty. The metrics logged are {logged}.",
                RuntimeWarning,
                stacklevel=4,  # the caller of close()
            )

    def __repr__(self) -> str:
        where = "live" if self.path is None else repr(str(self.path))
        metrics = None if self.metrics is None else list(self.metrics)
        return f"PlotLogger({where}, metrics={metrics})"


class _PlotData(JSONLinesLogger):
    """A plot's points: the JSON Lines log of its run, read back when the run continues."""

    _what = "plot data file"

    def _warn_once(self, tag: str, message: str) -> None:
        """Nothing: the PlotLogger that logs here has warned already, under its own name."""

    def points(self) -> dict[str, tuple[list[int], list[float]]]:
        """``{tag: (steps, values)}`` of the records in the file, in the order logged."""
        points: dict[str, tuple[list[int], list[float]]] = {}
        with open(self.path, encoding="utf-8") as file:
            for line in file:
                for tag, step, value in _scalars(line):
                    steps, values = points.setdefault(tag, ([], []))
                    steps.append(step)
                    values.append(value)
        return points


def _open_data(
    image: Path,
    path: Path,
    run_id: str | None,
    purge_step: int | None,
    resume_mark: dict[str, Any] | None,
    overwrite: bool,
) -> _PlotData:
    """The points' log of the plot ``image``, opened for run ``run_id`` (see PlotLogger)."""
    what = _PlotData._what
    if resume_mark is not None:  # checked here for an error that names PlotLogger
        as_mark(resume_mark, "PlotLogger", run_id or "", path, what, _PlotData._mark_fields)
    prepare_file(image, _IMAGE)
    if image.exists() and not has_content(path):
        raise LogExistsError(
            f"The {_IMAGE} {str(image)!r} exists and is no plot of axon-loggers: there is no "
            f"{what} {path.name!r} beside it. It may be your own picture, so it is left "
            f"untouched. Pass a new path, or move that file away."
        )
    return _PlotData(
        path, run_id=run_id, purge_step=purge_step, resume_mark=resume_mark, overwrite=overwrite
    )


def _scalars(line: str) -> Iterable[tuple[str, int, float]]:
    """``(tag, step, value)`` of each number in a log line (the run's header has no step)."""
    try:
        record = json.loads(line)
    except ValueError:
        return ()  # a line cut short by a crash
    step = record.get(STEP_KEY) if isinstance(record, dict) else None
    if not isinstance(step, int):
        return ()
    return [
        (tag, step, float(value))  # float() reads the log's "NaN" and "Infinity" back
        for tag, value in record.items()
        if tag != STEP_KEY and isinstance(value, (int, float, str)) and _is_number(value)
    ]


def _is_number(value: int | float | str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _format_of(path: Path) -> str:
    image_format = IMAGE_FORMATS.get(path.suffix.lower())
    if image_format is None:
        raise ValueError(
            f"PlotLogger draws into a .png or .svg file; got {str(path)!r}. Name the file "
            f"with one of these suffixes."
        )
    return image_format


def _as_number(name: str, value: object, smallest: float | None = None) -> float:
    """``value`` as a float; ``> 0``, or ``>= smallest`` when given."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}.")
    if not (value >= smallest if smallest is not None else value > 0) or math.isinf(value):
        bound = f">= {smallest}" if smallest is not None else "> 0"
        raise ValueError(f"{name} must be a finite number {bound}, got {value}.")
    return float(value)


def _load_figures() -> ModuleType:
    """The drawing module, which imports matplotlib; a clear error if it is missing."""
    try:
        from . import figures
    except ImportError as error:
        if (error.name or "").partition(".")[0] != "matplotlib":
            raise
        raise ImportError(
            f"PlotLogger draws with matplotlib, which is not installed ({error}). Install "
            f"the plot extra: pip install 'axon-loggers[plot]'."
        ) from error
    return figures
