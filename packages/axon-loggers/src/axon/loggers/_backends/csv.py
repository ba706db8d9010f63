"""CSV files: one row per step, one column per tag."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from .files import replace_file
from .steps import STEP_KEY, StepFileLogger


class CSVLogger(StepFileLogger):
    """Appends one row per step to a CSV file whose first column is ``step``.

    The header is fixed by the first row written: ``step`` and then the tags in
    the order they were logged. Scalars logged at the same step share one row,
    written when a later step is logged and on :meth:`flush` and :meth:`close`.
    A tag missing from a row leaves its cell empty.

    **New tags widen the file.** When a row brings a tag the header lacks, the
    file is rewritten (atomically) with the new columns appended to the header
    and empty cells in the earlier rows; no row is lost. Rewriting costs a pass
    over the file, which only happens the first time each tag appears.

    NaN and infinities are written as ``nan``, ``inf`` and ``-inf``, which
    ``float()`` reads back. Histograms, text, images and hyperparameters are
    ignored: use :class:`JSONLinesLogger` or :class:`TensorBoardLogger` for them.

    An existing file is appended to, keeping its header, so a resumed run
    continues it.

    Args:
        path: the ``.csv`` file; its directory is created if missing.
        purge_step: when resuming a run, the first step the resumed run will log
            (``T + 1`` after the checkpoint of iteration ``T``): the rows of steps
            ``>= purge_step`` that the interrupted run wrote are dropped.

    Raises:
        LogPathError: the file cannot be created or written.
        ValueError: the file exists but is not a CSV log (its header does not
            start with ``step``).

    Example:
        >>> import pathlib, tempfile
        >>> from axon.loggers import CSVLogger
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "metrics.csv"
        >>> with CSVLogger(path) as logger:
        ...     logger.log_scalars({"loss": 0.5}, step=1)
        ...     logger.log_scalars({"loss": 0.25, "val/loss": 0.75}, step=2)
        >>> print(path.read_text(), end="")
        step,loss,val/loss
        1,0.5,
        2,0.25,0.75
    """

    supported_kinds = frozenset({"scalars"})
    _what = "CSV log file"

    #: The log file, as a :class:`pathlib.Path`.
    path: Path

    def __init__(self, path: str | os.PathLike[str], *, purge_step: int | None = None) -> None:
        self._columns: list[str] = []  # empty until the header is written
        super().__init__(path, purge_step=purge_step)

    def _resume(self, purge_step: int | None) -> None:
        self._columns, rows = _read(self.path)
        if purge_step is not None:
            kept = [row for row in rows if not _step_at_least(row, purge_step)]
            if len(kept) != len(rows):
                replace_file(self.path, _format(self._columns, kept), self._what)

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
    if header and header[0] != STEP_KEY:
        raise ValueError(
            f"The file {str(path)!r} exists but is not a CSV log: its header starts with "
            f"{header[0]!r}, expected {STEP_KEY!r}. Pass a new path, or move that file."
        )
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
