"""Marks: where a run's log ended when a checkpoint was written, and cutting it back there.

A file logger's ``mark()`` flushes, then returns a small dict of JSON values: the
run, the marked file's name, and where that file ends (JSON Lines: its size in
bytes; CSV: its rows and columns, since a new column rewrites the whole file;
TensorBoard: the current event file and its size, and those of each split, a
sibling run such as ``validation``). Given that dict as
``resume_mark=``, a logger continuing the same run cuts its log back to it, so
the records of a resumed run follow exactly what was logged before its
checkpoint. A mark that does not fit the log on disk is refused with
:class:`LogMarkError` before anything is cut.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .files import LogMarkError, is_entry_name, remove_file, truncate_file

#: What every mark holds: the run whose log it marks, and the marked file's name.
RUN, FILE = "run_id", "file"

#: The event files of a TensorBoard run directory (tensorboardX names them so).
EVENT_FILES = "events.out.tfevents.*"

#: What a TensorBoard mark holds for its splits (sibling runs such as ``validation``):
#: ``{split name: {"file": <event file name>, "size": <bytes>}}``.
SPLITS = "splits"


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
    if _held(path, size, what) > size:
        truncate_file(path, size, what)


def cut_event_files(run_dir: Path, mark: Mapping[str, Any]) -> None:
    """Cut a TensorBoard run back to ``mark``, or refuse before cutting anything.

    Each marked event file (the run's own, and each split's in :data:`SPLITS`) is cut
    to its size, and the event files written after it are removed: those that sort
    after it in its directory (TensorBoard reads them in name order), and in a split
    the mark does not name (opened after the mark) those that sort after the run's own
    marked file, which the logger that took the mark created before any of its splits'.
    """
    what = "TensorBoard event file"
    splits = mark.get(SPLITS, {})
    marked = [(run_dir / mark[FILE], mark["size"])]
    marked += [(run_dir / name / split[FILE], split["size"]) for name, split in splits.items()]
    for path, size in marked:
        if not path.is_file():
            raise does_not_fit(path, what, "it does not exist")
        _held(path, size, what)
    later = [
        path
        for marked_file, _ in marked
        for path in marked_file.parent.glob(EVENT_FILES)
        if path.name > marked_file.name
    ]
    unmarked = [d for d in run_dir.iterdir() if d.is_dir() and d.name not in splits]
    later += [path for d in unmarked for path in d.glob(EVENT_FILES) if path.name > mark[FILE]]
    for path, size in marked:
        cut_to_size(path, size, what)
    for path in later:
        remove_file(path, what)


def split_marks(mark: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The checked :data:`SPLITS` of a TensorBoard mark (none in a mark taken before splits)."""
    splits = mark.get(SPLITS, {})
    if not isinstance(splits, Mapping) or not all(
        is_entry_name(name)
        and isinstance(split, Mapping)
        and is_entry_name(split.get(FILE))
        and _is(split.get("size"), int)
        for name, split in splits.items()
    ):
        raise TypeError(
            f"A TensorBoard mark's {SPLITS!r} must be {{split name: {{'file': name, 'size': "
            f"bytes}}}}, as TensorBoardLogger.mark() returns it; got {splits!r}."
        )
    return {name: dict(split) for name, split in splits.items()}


def _held(path: Path, size: int, what: str) -> int:
    """The size of ``path``, refused when it is smaller than the ``size`` of its mark."""
    held = path.stat().st_size if path.is_file() else 0
    if held < size:
        raise does_not_fit(path, what, f"it holds {held} bytes, fewer than the {size} of the mark")
    return held


def _is(value: object, kind: type) -> bool:
    if kind is int:  # a size or a count
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0
    if kind is list:  # CSV columns
        return isinstance(value, list) and all(isinstance(item, str) for item in value)
    return isinstance(value, kind)
