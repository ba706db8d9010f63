"""What goes wrong with checkpoints: a directory that is not this run's, or damaged data."""

from __future__ import annotations


class CheckpointError(Exception):
    """A checkpoint could not be written or read; the base of the errors below.

    A failed background write is raised as one, at the store's next call at the
    latest (here: an array that cannot be stored, reported by ``steps()``):

    >>> import tempfile, numpy as np
    >>> from axon.loop.checkpoint import CheckpointError, OrbaxBackend
    >>> backend = OrbaxBackend(tempfile.mkdtemp())
    >>> backend.save(1, {"w": np.array(["text"])}, {})
    >>> try:
    ...     backend.steps()
    ... except CheckpointError as error:
    ...     print(str(error).split(" to ")[0])
    Writing checkpoint step 1
    """


class CheckpointDirectoryError(CheckpointError):
    """A checkpoint directory holds another run's checkpoints, or files that are no checkpoints.

    A directory belongs to one run. A fresh run refuses one that holds another
    run's checkpoints, and says how to resume them, write elsewhere, or replace
    them with ``overwrite=True``:

    >>> import tempfile, numpy as np
    >>> from axon.loop.checkpoint import CheckpointDirectoryError, OrbaxBackend
    >>> path = tempfile.mkdtemp()
    >>> first = OrbaxBackend(path, run_id="first")
    >>> first.save(10, {"w": np.ones(2)}, {})
    >>> first.close()
    >>> try:
    ...     OrbaxBackend(path, run_id="second")
    ... except CheckpointDirectoryError as error:
    ...     print(str(error).split(" (")[0].replace(path, "<path>"))
    The checkpoint directory '<path>' holds the checkpoints of another run
    >>> OrbaxBackend(path, run_id="second", overwrite=True).steps()
    []
    """


class CheckpointCorruptedError(CheckpointError):
    """A checkpoint's data is damaged: a digest mismatch, a truncated or unreadable file.

    The message names the path, the step and (when known) the array. Resuming
    falls back to the newest intact step, with a warning naming the skipped ones.

    >>> import os, tempfile, numpy as np
    >>> from axon.loop.checkpoint import CheckpointCorruptedError, OrbaxBackend
    >>> path = tempfile.mkdtemp()
    >>> backend = OrbaxBackend(path)
    >>> backend.save(1, {"w": np.ones(2)}, {"epoch": 0})
    >>> backend.steps()  # waits for the write
    [1]
    >>> with open(os.path.join(path, "1", "metadata", "metadata"), "w") as file:
    ...     _ = file.write("{not json")
    >>> try:
    ...     backend.metadata(1)
    ... except CheckpointCorruptedError as error:
    ...     print(str(error).split(":")[0].replace(path, "<path>"))
    Checkpoint step 1 in '<path>' is damaged
    >>> backend.close()
    """
