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


def _explain(error: OSError, path: Path, what: str) -> LogPathError:
    reason = error.strerror or str(error)
    return LogPathError(
        f"Cannot write the {what} {str(path)!r}: {reason} ({type(error).__name__}). "
        f"Pick a location in a writable directory, or remove what is in the way "
        f"(a regular file where a directory is needed, or the reverse)."
    )


def prepare_directory(path: str | os.PathLike[str], what: str) -> Path:
    """Create ``path`` and its parents if missing; fail clearly if that is impossible."""
    directory = Path(path)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise _explain(error, directory, what) from error
    return directory


def open_text(path: Path, mode: str, what: str) -> IO[str]:
    """Open a UTF-8 text file (parents created) with a clear error on failure."""
    prepare_directory(path.parent, f"directory of the {what}")
    if path.is_dir():
        raise LogPathError(
            f"Cannot write the {what} {str(path)!r}: it is a directory. Pass a file path."
        )
    try:
        return open(path, mode, encoding="utf-8", newline="")  # kept open until close()
    except OSError as error:
        raise _explain(error, path, what) from error


def replace_file(path: Path, content: str, what: str) -> None:
    """Atomically replace ``path`` with ``content`` (a crash leaves the old or the new file)."""
    temporary = path.with_name(f".{path.name}.rewrite")
    try:
        with open(temporary, "w", encoding="utf-8", newline="") as file:
            file.write(content)
        os.replace(temporary, path)
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
