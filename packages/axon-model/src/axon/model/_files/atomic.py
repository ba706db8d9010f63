"""Writing a file atomically: whoever reads ``path`` sees the old file or the whole new one."""

from __future__ import annotations

import os
import tempfile


def write_atomically(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory.

    The temporary file is flushed to disk and moved into place with ``os.replace``; if
    anything fails, it is removed and ``path`` is left as it was. A missing directory
    is an error saying so (not created: a typo in a path should not make folders).
    """
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(
            f"Cannot save to {path!r}: the directory {directory!r} does not exist. Create it "
            f"first (os.makedirs(directory, exist_ok=True))."
        )
    fd, temporary = tempfile.mkstemp(
        dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp"
    )
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
