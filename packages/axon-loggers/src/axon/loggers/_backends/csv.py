"""CSV files: one row per step, one column per tag."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, ClassVar

from .files import has_content, read_first_line, replace_file
from .marks import does_not_fit
from .runs import not_a_log, read_marker, write_marker
from .steps import STEP_KEY, StepFileLogger

#: The run record of ``metrics.csv`` is ``metrics.csv.axon-run.json``, beside it.
RUN_MARKER_SUFFIX = ".axon-run.json"


class CSVLogger(StepFileLogger):
    """Appends one row per step to the CSV log of one run; the first column is ``step``.

    The header is fixed by the first row written: ``step`` and then the tags in
    the order they were logged. Scalars logged at the same step share one row,
    written when a later step is logged and on :meth:`flush` and :meth:`close`.
    A tag missing from a row leaves its cell empty. The file is plain CSV that
    ``csv.DictReader`` and ``pandas.read_csv`` read without options.

    **New tags widen the file.** When a row brings a tag the header lacks, the
    file is rewritten (atomically) with the new columns appended to the header
    and empty cells in the earlier rows; no row is lost. Rewriting costs a pass
    over the file, which only happens the first time each tag appears.

    NaN and infinities are written as ``nan``, ``inf`` and ``-inf``, which
    ``float()`` reads back. Histograms, text, images and hyperparameters are
    ignored: use :class:`JSONLinesLogger` or :class:`TensorBoardLogger` for them.

    **One file, one run.** The run's id is recorded beside the file, in
    ``<path>.axon-run.json`` (``{"axon_run": "<run id>"}``), so the CSV itself
    stays plain. A missing or empty file is started. An existing log of the same
    ``run_id`` is continued under its header, after cutting it back to
    ``resume_mark`` or dropping its rows of steps ``>= purge_step``. Anything
    else is refused with :class:`LogExistsError`,
    and nothing is changed: another run's log (unless ``overwrite=True``, which
    replaces it), or a file without that record beside it or without a ``step``
    header, such as a data set (never replaced).

    Args:
        path: the ``.csv`` file; its directory is created if missing.
        run_id: the id of the run this log belongs to (axon-loop passes
            ``State.run_id``); ``None``, a new run with a fresh id.
        purge_step: when continuing this run's log, the first step the run will
            log again (``T + 1`` after the checkpoint of iteration ``T``; ``1``
            for a restart from scratch): the rows of steps ``>= purge_step`` are
            dropped. Needs ``run_id``.
        resume_mark: when continuing this run's log, what :meth:`mark` returned
            when the checkpoint to resume from was written: the file is cut back
            to the rows and columns it had then, so it holds exactly what was
            logged before the checkpoint. Needs ``run_id``; not with ``purge_step``.
        overwrite: replace the log of another run found at ``path``.

    Attributes:
        path: the log file, as a :class:`pathlib.Path`.
        run_id: the id recorded beside it (generated when none was given).

    Raises:
        LogPathError: the file cannot be created or written.
        LogExistsError: ``path`` holds another run's log, or is no log at all.
        LogMarkError: the file does not fit ``resume_mark`` (fewer rows, other
            columns, or another run's log).

    Example:
        >>> import pathlib, tempfile
        >>> from axon.loggers import CSVLogger
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "metrics.csv"
        >>> with CSVLogger(path, run_id="run-1") as logger:
        ...     logger.log_scalars({"loss": 0.5}, step=1)
        ...     logger.log_scalars({"loss": 0.25, "val/loss": 0.75}, step=2)
        >>> print(path.read_text(), end="")
        step,loss,val/loss
        1,0.5,
        2,0.25,0.75
        >>> print(path.with_name("metrics.csv.axon-run.json").read_text(), end="")
        {"axon_run": "run-1"}
    """

    supported_kinds = frozenset({"scalars"})
    _what = "CSV log file"
    _mark_fields: ClassVar[dict[str, type]] = {"rows": int, "columns": list}

    path: Path
    run_id: str
    _columns: list[str]  # the header; empty until it is written
    _rows: int  # the rows below it

    @property
    def _marker(self) -> Path:
        return self.path.with_name(self.path.name + RUN_MARKER_SUFFIX)

    def mark(self) -> dict[str, Any]:
        """Flush, and return where this run's log ends, to cut it back there with ``resume_mark=``.

        The mark is ``{"run_id": ..., "file": <the file's name>, "rows": <count>,
        "columns": <the header>}``: rows rather than bytes, because a new column
        rewrites the whole file. axon-loop records it in every checkpoint; a run
        resumed from that checkpoint re-opens the log with it, which cuts off the
        rows (and columns) logged after the checkpoint, so the resumed run's rows
        follow exactly the rows logged before it.

        Example:
            >>> import pathlib, tempfile
            >>> from axon.loggers import CSVLogger
            >>> path = pathlib.Path(tempfile.mkdtemp()) / "metrics.csv"
            >>> logger = CSVLogger(path, run_id="run-1")
            >>> for step in (1, 2):
            ...     logger.log_scalars({"loss": 1 / step}, step)
            >>> mark = logger.mark()  # a checkpoint is written here
            >>> mark
            {'run_id': 'run-1', 'file': 'metrics.csv', 'rows': 2, 'columns': ['step', 'loss']}
            >>> logger.log_scalars({"loss": 0.25, "val/loss": 0.75}, step=3)  # a new column
            >>> logger.close()
            >>> path.read_text().splitlines()[0]
            'step,loss,val/loss'
            >>> CSVLogger(path, run_id="run-1", resume_mark=mark).close()  # resumed from it
            >>> print(path.read_text(), end="")
            step,loss
            1,1.0
            2,0.5
        """
        return self._mark()

    def _owner(self) -> str:
        header = next(csv.reader([read_first_line(self.path, self._what)]), [])
        if header[:1] != [STEP_KEY]:
            found = f"its header starts with {(header or [''])[0]!r}, not {STEP_KEY!r}"
            raise not_a_log(self.path, self._what, found)
        owner = read_marker(self._marker, "run marker of a CSV log")
        if owner is None:
            found = f"no run record {self._marker.name!r} beside it"
            raise not_a_log(self.path, self._what, found)
        return owner

    def _start(self) -> None:
        if self.path.exists():  # empty the old log first: a crash then leaves nothing to mix
            replace_file(self.path, "", self._what)
        write_marker(self._marker, self.run_id, "run marker of a CSV log")
        self._columns, self._rows = [], 0

    def _resume(self, purge_step: int | None) -> None:
        self._columns, rows = _read(self.path)
        if purge_step is not None:
            kept = [row for row in rows if not _step_at_least(row, purge_step)]
            if len(kept) != len(rows):
                replace_file(self.path, _format(self._columns, kept), self._what)
            rows = kept
        self._rows = len(rows)

    def _cut(self, mark: dict[str, Any]) -> None:
        columns, rows = _read(self.path) if has_content(self.path) else ([], [])
        marked, count = mark["columns"], mark["rows"]
        if len(rows) < count:
            found = f"it holds {len(rows)} rows, fewer than the {count} of the mark"
            raise does_not_fit(self.path, self._what, found)
        if columns[: len(marked)] != marked:
            found = f"its header {columns} does not start with the mark's columns {marked}"
            raise does_not_fit(self.path, self._what, found)
        kept = [row[: len(marked)] for row in rows[:count]]  # less the columns added later
        if (columns, rows) != (marked, kept):
            replace_file(self.path, _format(marked, kept), self._what)
        self._columns, self._rows = list(marked), count

    def _end(self) -> dict[str, Any]:
        return {"rows": self._rows, "columns": list(self._columns)}

    def _write_scalars(self, scalars: dict[str, float], step: int) -> None:
        self._add(step, scalars)

    def _open(self) -> None:
        super()._open()
        self._writer = csv.writer(self._file, lineterminator="\n")

    def _write_step(self, step: int, values: dict[str, float]) -> None:
        if not self._columns:
            self._columns = [STEP_KEY, *values]
            self._writer.writerow(self._columns)
        new_tags = [tag for tag in values if tag not in self._columns]
        if new_tags:
            self._widen(new_tags)
        self._writer.writerow([step, *(_cell(values.get(column)) for column in self._columns[1:])])
        self._rows += 1

    def _widen(self, new_tags: list[str]) -> None:
        self._finalizer()  # flush and close before reading the file back
        columns, rows = _read(self.path)
        self._columns = [*columns, *new_tags]
        replace_file(self.path, _format(self._columns, rows), self._what)
        self._open()


def _cell(value: float | None) -> str:
    return "" if value is None else repr(value)  # repr: shortest exact round trip


def _read(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, encoding="utf-8", newline="") as file:
        header, *rows = list(csv.reader(file)) or [[]]
    return header, rows


def _format(columns: list[str], rows: list[list[str]]) -> str:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    if columns:
        writer.writerow(columns)
    writer.writerows(row + [""] * (len(columns) - len(row)) for row in rows)
    return text.getvalue()


def _step_at_least(row: list[str], purge_step: int) -> bool:
    try:
        return int(row[0]) >= purge_step
    except (IndexError, ValueError):
        return False  # a row cut short by a crash is kept as it is
