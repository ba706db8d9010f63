"""Checkpoint backends: where a loop's checkpoints are written and read back.

A backend is created with ``factory(path, *, keep=None, run_id=None, overwrite=False)``
and offers ``save(step, tree, metadata)``, ``restore(step=None, *, like)``,
``metadata(step=None)``, ``steps()`` and ``close()``. The built-in ``"orbax"``
backend writes atomically with orbax-checkpoint, records a digest of every array
and verifies it on reading; plugins add others through the
``axon_checkpoint_backends`` hook. A checkpoint directory belongs to one run
(:class:`CheckpointDirectoryError`); damaged data raises
:class:`CheckpointCorruptedError`.
Nothing here ever unpickles: trees are arrays, metadata is JSON.
"""

from __future__ import annotations

from typing import Any

from ..plugins import checkpoint_backends as _registry
from ._backend import CheckpointBackend
from ._errors import CheckpointCorruptedError, CheckpointDirectoryError, CheckpointError
from ._orbax import OrbaxBackend

__all__ = [
    "CheckpointBackend",
    "CheckpointCorruptedError",
    "CheckpointDirectoryError",
    "CheckpointError",
    "OrbaxBackend",
    "get",
    "names",
]


def get(name: str) -> Any:
    """The checkpoint backend factory registered under ``name``.

    >>> get("orbax") is OrbaxBackend
    True
    """
    return _registry.get(name)


def names() -> list[str]:
    """Every registered checkpoint backend name.

    >>> "orbax" in names()
    True
    """
    return _registry.names()
