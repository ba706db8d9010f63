"""Files that get one record per step: the values of a step gathered, then written at once."""

from __future__ import annotations

import os
import weakref
from pathlib import Path
from typing import IO, Any, ClassVar

from .._base import LoggerBase
from .._values import as_purge_step
from .files import end_with_newline, has_content, open_text, prepare_file
from .marks import FILE, RUN, as_mark, does_not_fit
from .runs import another_runs_log, as_run_id, check_continuation, new_run_id

#: The column or key that holds the step; no tag may use it.
STEP_KEY = "step"


class StepRow:
    """The values logged at the current step, waiting to be written as one row.

    Several calls at the same step (training metrics, then validation metrics)
    end up in one row; a later value for the same tag replaces the earlier one.
    A call at a different step hands back the finished row.
    """

    def __init__(self) -> None:
        self.step: int | None = None
        self.values: dict[str, Any] = {}

    def add(self, step: int, values: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
        """Merge ``values`` in; returns the previous step's row when the step changes."""
        if STEP_KEY in values:
            raise ValueError(
                f"The tag {STEP_KEY!r} is reserved for the step column; rename it "
                f"(e.g. 'train/step')."
            )
        finished = self.take() if step != self.step else None
        self.step = step
        self.values.update(values)
        return finished

    def take(self) -> tuple[int, dict[str, Any]] | None:
        """The pending row, if any, leaving the buffer empty."""
        if self.step is None:
            return None
        row = (self.step, self.values)
        self.step, self.values = None, {}
        return row


class StepFileLogger(LoggerBase):
    """The log file of one run, one record per step, appended to; the base of CSV and JSON Lines.

    Values logged at the same step are gathered in a :class:`StepRow` and written
    as one record by :meth:`_write_step` when a later step is logged, and on
    flush and close.

    The file belongs to one run, whose id it records (:meth:`_owner` reads it,
    :meth:`_start` writes it). A missing or empty file is started. A file of this
    run is continued: given a ``resume_mark`` (what :meth:`_mark` returned when a
    checkpoint was written), :meth:`_cut` cuts it back to that mark; otherwise a
    last line that a crash cut short is terminated first, then :meth:`_resume`
    reads what it needs back and, given a ``purge_step``, drops the records of
    steps ``>= purge_step``. Another run's log is refused, or replaced with
    ``overwrite=True``; a file that is no log of ours is always refused, and so is
    a log that does not fit its mark. A refusal changes nothing on disk.
    """

    #: What a mark holds besides the run and the file's name, and the types.
    _mark_fields: ClassVar[dict[str, type]]

    #: What the file is, for error messages ("CSV log file").
    _what: ClassVar[str]

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        run_id: str | None = None,
        purge_step: int | None = None,
        resume_mark: dict[str, Any] | None = None,
        overwrite: bool = False,
    ) -> None:
        super().__init__()
        named_run, purge_step = as_run_id(run_id), as_purge_step(purge_step)
        check_continuation(named_run, purge_step, resume_mark)
        if not isinstance(overwrite, bool):
            raise TypeError(f"overwrite must be True or False, got {overwrite!r}.")
        self.path = Path(path)
        self.run_id = named_run or new_run_id()
        logger = type(self).__name__
        mark = as_mark(resume_mark, logger, self.run_id, self.path, self._what, self._mark_fields)
        prepare_file(self.path, self._what)
        if mark is not None:
            self._continue_at(mark)
        elif not has_content(self.path):
            self._start()
        elif (owner := self._owner()) == self.run_id:
            end_with_newline(self.path, self._what)
            self._resume(purge_step)
        elif overwrite:
            self._start()
        else:
            raise another_runs_log(self.path, self._what, owner, self.run_id, named_run is not None)
        self._open()
        self._row = StepRow()

    def _owner(self) -> str:
        """The id of the run whose log the existing file is; raises if it is no log of ours."""
        raise NotImplementedError

    def _start(self) -> None:
        """Begin a new log of this run at ``path``, replacing any earlier log there."""
        raise NotImplementedError

    def _resume(self, purge_step: int | None) -> None:
        """Read this run's existing log back; drop the records of steps ``>= purge_step``."""

    def _cut(self, mark: dict[str, Any]) -> None:
        """Cut this run's log (possibly missing or empty) back to ``mark``, and read back what
        continuing it needs; raise :func:`does_not_fit` and change nothing if it does not fit."""
        raise NotImplementedError

    def _end(self) -> dict[str, Any]:
        """Where the flushed file ends, as the fields of a mark (:attr:`_mark_fields`)."""
        raise NotImplementedError

    def _continue_at(self, mark: dict[str, Any]) -> None:
        if mark[FILE] != self.path.name:
            raise does_not_fit(self.path, self._what, f"the mark is of the file {mark[FILE]!r}")
        if has_content(self.path) and (owner := self._owner()) != self.run_id:
            raise does_not_fit(self.path, self._what, f"it holds the log of run {owner!r}")
        self._cut(mark)
        if not has_content(self.path):  # marked before anything was written
            self._start()

    def _mark(self) -> dict[str, Any]:
        """Flush, then the mark of the file's end: its run, its name and :meth:`_end`."""
        self.flush()
        return {RUN: self.run_id, FILE: self.path.name, **self._end()}

    def _write_step(self, step: int, values: dict[str, Any]) -> None:
        raise NotImplementedError

    def _open(self) -> None:
        self._file: IO[str] = open_text(self.path, "a", self._what)
        self._finalizer = weakref.finalize(self, self._file.close)

    def _add(self, step: int, values: dict[str, Any]) -> None:
        finished = self._row.add(step, values)
        if finished is not None:
            self._write_step(*finished)

    def _write_pending(self) -> None:
        finished = self._row.take()
        if finished is not None:
            self._write_step(*finished)

    def _flush(self) -> None:
        self._write_pending()
        self._file.flush()

    def _close(self) -> None:
        self._write_pending()
        self._finalizer()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"
