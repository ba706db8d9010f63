"""Opening log destinations with errors that say which path failed, why, and what to do."""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO


class LogPathError(OSError):
    """A logger's file or directory cannot be created or written.

    Raised when the logger is created, before anything is logged; the message
    names the path, the reason and what to do. It is an ``OSError``.

    Example:
        >>> import pathlib, tempfile
        >>> from axon.loggers import CSVLogger, LogPathError
        >>> blocker = pathlib.Path(tempfile.mkdtemp()) / "a-file"
        >>> _ = blocker.write_text("")
        >>> try:
        ...     CSVLogger(blocker / "metrics.csv")
        ... except LogPathError as error:
        ...     print("a-file" in str(error), isinstance(error, OSError))
        True True
    """


class LogExistsError(LogPathError, FileExistsError):
    """The destination already holds something this logger must not write into.

    A file logger appends only to its own run's log: a path that holds another
    run's log, or a file that is no log of axon-loggers at all (your data set,
    say), is refused when the logger is created, and nothing on disk is changed.
    The message names the path, what is there, and the choices. It is a
    :class:`LogPathError` and a ``FileExistsError``.

    Example:
        >>> import pathlib, tempfile
        >>> from axon.loggers import JSONLinesLogger, LogExistsError
        >>> data = pathlib.Path(tempfile.mkdtemp()) / "data.jsonl"
        >>> _ = data.write_text('{"text": "my own data"}\\n')
        >>> try:
        ...     JSONLinesLogger(data)
        ... except LogExistsError as error:
        ...     print("is not a log of axon-loggers" in str(error))
        True
        >>> data.read_text()  # left as it was
        '{"text": "my own data"}\\n'
    """


class LogMarkError(LogPathError):
    """A log on disk does not fit the mark a logger was asked to continue from.

    A logger given ``resume_mark=`` (what its ``mark()`` returned when a
    checkpoint was written) cuts its run's log back to that mark. If the log is
    no longer what the mark describes (the file is missing or shorter than the
    mark, holds another run's log, or the marked event file is gone), it is
    refused when the logger is created, naming the file, and the log is left as
    it was. It is a :class:`LogPathError`.

    Example:
        >>> import pathlib, tempfile
        >>> from axon.loggers import JSONLinesLogger, LogMarkError
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "metrics.jsonl"
        >>> with JSONLinesLogger(path, run_id="run-1") as logger:
        ...     logger.log_scalars({"loss": 0.5}, step=1)
        ...     mark = logger.mark()
        >>> path.unlink()  # the log is lost
        >>> try:
        ...     JSONLinesLogger(path, run_id="run-1", resume_mark=mark)
        ... except LogMarkError as error:
        ...     print(str(error).split(": ")[1].split(". ")[0])
        it holds 0 bytes, fewer than the 47 of the mark
    """


def _explain(error: OSError, path: Path, what: str) -> LogPathError:
    reason = error.strerror or str(error)
    return LogPathError(
        f"Cannot write the {what} {str(path)!r}: {reason} ({type(error).__name__}). "
        f"Pick a location in a writable directory, or remove what is in the way "
        f"(a regular file where a directory is needed, or the reverse)."
    )


def is_entry_name(name: object) -> bool:
    """Whether ``name`` names one entry of a directory: a ``str``, not a path, not ``.``/``..``."""
    return isinstance(name, str) and name not in ("", ".", "..") and Path(name).name == name


def prepare_directory(path: str | os.PathLike[str], what: str) -> Path:
    """Create ``path`` and its parents if missing; fail clearly if that is impossible."""
    directory = Path(path)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise _explain(error, directory, what) from error
    return directory


def claim_directory(path: Path, what: str) -> bool:
    """Create the directory ``path`` (its parent exists); ``False`` if ``path`` is taken.

    Creation is atomic, so of two processes claiming one name, exactly one gets it.
    """
    try:
        path.mkdir()
    except FileExistsError:
        return False
    except OSError as error:
        raise _explain(error, path, what) from error
    return True


def prepare_file(path: Path, what: str) -> None:
    """Create the parents of the file ``path`` if missing; refuse a directory at ``path``."""
    prepare_directory(path.parent, f"directory of the {what}")
    if path.is_dir():
        raise LogPathError(
            f"Cannot write the {what} {str(path)!r}: it is a directory. Pass a file path."
        )


def has_content(path: Path) -> bool:
    """Whether ``path`` is a file with at least one byte (an empty file holds nothing to keep)."""
    return path.is_file() and path.stat().st_size > 0


def open_text(path: Path, mode: str, what: str) -> IO[str]:
    """Open a UTF-8 text file (parents created) with a clear error on failure."""
    prepare_file(path, what)
    try:
        return open(path, mode, encoding="utf-8", newline="")  # kept open until close()
    except OSError as error:
        raise _explain(error, path, what) from error


def replace_file(path: Path, content: str | bytes, what: str) -> None:
    """Atomically replace ``path`` with ``content``, text as UTF-8 (a crash leaves the old or
    the new file; a reader never sees a part of it)."""
    temporary = path.with_name(f".{path.name}.rewrite")
    data = content.encode("utf-8") if isinstance(content, str) else content
    try:
        with open(temporary, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except OSError as error:
        raise _explain(error, path, what) from error


def truncate_file(path: Path, size: int, what: str) -> None:
    """Cut ``path`` to its first ``size`` bytes, in one system call (a kill leaves either size)."""
    try:
        os.truncate(path, size)
    except OSError as error:
        raise _explain(error, path, what) from error


def remove_file(path: Path, what: str) -> None:
    """Delete the file ``path`` (already gone is fine)."""
    try:
        path.unlink(missing_ok=True)
    except OSError as error:
        raise _explain(error, path, what) from error


def read_first_line(path: Path, what: str, limit: int = 1 << 16) -> str:
    """The first line of ``path`` (at most ``limit`` characters), to tell what the file is."""
    try:
        with open(path, encoding="utf-8", errors="replace", newline="") as file:
            return file.readline(limit)
    except OSError as error:
        raise _explain(error, path, what) from error


def end_with_newline(path: Path, what: str) -> None:
    """Terminate a last line that a crash cut short, so appended lines stay separate."""
    try:
        with open(path, "rb+") as file:
            size = file.seek(0, os.SEEK_END)
            if size == 0:
                return
            file.seek(size - 1)
            if file.read(1) != b"\n":
                file.write(b"\n")
    except OSError as error:
        raise _explain(error, path, what) from error
