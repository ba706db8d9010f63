"""Marks: where a run's log ended when a checkpoint was written, and cutting it back there.

A file logger's ``mark()`` flushes, then returns a small dict of JSON values: the
run, the marked file's name, and where that file ends (JSON Lines: its size in
bytes; CSV: its rows and columns, since a new column rewrites the whole file;
TensorBoard: the current event file and its size). Given that dict as
``resume_mark=``, a logger continuing the same run cuts its log back to it, so
the records of a resumed run follow exactly what was logged before its
checkpoint. A mark that does not fit the log on disk is refused with
:class:`LogMarkError` before anything is cut.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .files import LogMarkError, remove_file, truncate_file

#: What every mark holds: the run whose log it marks, and the marked file's name.
RUN, FILE = "run_id", "file"

#: The event files of a TensorBoard run directory (tensorboardX names them so).
EVENT_FILES = "events.out.tfevents.*"


def as_mark(
    mark: object, logger: str, run_id: str, path: Path, what: str, fields: Mapping[str, type]
) -> dict[str, Any] | None:
    """``None``, or ``mark`` checked: what ``<logger>.mark()`` returned for the log of run
    ``run_id`` at ``path``, holding ``fields`` beside the run and the file's name."""
    if mark is None:
        return None
    expected = {RUN: str, FILE: str, **fields}
    if not isinstance(mark, Mapping) or not all(
        _is(mark.get(key), kind) for key, kind in expected.items()
    ):
        raise TypeError(
            f"resume_mark must be what {logger}.mark() returned, a dict with "
            f"{', '.join(expected)}; got {mark!r}."
        )
    if Path(mark[FILE]).name != mark[FILE]:
        raise ValueError(f"A mark names a file, not a path; got {mark[FILE]!r} in {mark!r}.")
    if mark[RUN] != run_id:
        raise does_not_fit(path, what, f"the mark is of run {mark[RUN]!r}, not {run_id!r}")
    return dict(mark)


def does_not_fit(path: Path, what: str, found: str) -> LogMarkError:
    """The refusal for a log that is no longer where its mark says it was."""
    return LogMarkError(
        f"The {what} {str(path)!r} does not fit the mark to resume from: {found}. It changed "
        f"after the checkpoint was written. Restore it, continue it as it is with "
        f"resume_mark=None, or log to a new path."
    )


def cut_to_size(path: Path, size: int, what: str) -> None:
    """Cut the file ``path`` back to the ``size`` bytes it had at its mark."""
    held = path.stat().st_size if path.is_file() else 0
    if held < size:
        raise does_not_fit(path, what, f"it holds {held} bytes, fewer than the {size} of the mark")
    if held > size:
        truncate_file(path, size, what)


def cut_event_files(run_dir: Path, mark: Mapping[str, Any]) -> None:
    """Cut a TensorBoard run back to ``mark``: the marked event file to its size, and the event
    files that sort after it (written later: TensorBoard reads them in name order) removed."""
    marked, what = run_dir / mark[FILE], "TensorBoard event file"
    if not marked.is_file():
        raise does_not_fit(marked, what, "it does not exist")
    later = [path for path in run_dir.glob(EVENT_FILES) if path.name > marked.name]
    cut_to_size(marked, mark["size"], what)
    for path in later:
        remove_file(path, what)


def _is(value: object, kind: type) -> bool:
    if kind is int:  # a size or a count
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0
    if kind is list:  # CSV columns
        return isinstance(value, list) and all(isinstance(item, str) for item in value)
    return isinstance(value, kind)
