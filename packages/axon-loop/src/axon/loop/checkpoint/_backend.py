"""The protocol a checkpoint store implements; any object with these methods is one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class CheckpointBackend(Protocol):
    """What the loop needs from a checkpoint store.

    Any object with these methods qualifies (``isinstance`` checks only that they
    exist); a plugin registers its factory with the ``axon_checkpoint_backends``
    hook. The factory is called as ``factory(path, *, keep=None, run_id=None,
    overwrite=False)``:

    - ``keep``: keep the newest N steps of this run (``None``: all); never delete
      another run's.
    - ``run_id``: the checkpoint handler passes ``state.run_id`` when a run starts.
      The store then claims ``path`` for that run at once: it continues a store of
      the same run (a resumed one) and refuses, with
      :class:`~axon.loop.checkpoint.CheckpointDirectoryError`, one holding another
      run's checkpoints. Without ``run_id`` (``run(resume_from=path)`` opens a
      store this way) the store reads, and writes nothing until its first ``save``.
    - ``overwrite=True``: when claiming, delete another run's checkpoints instead of
      refusing them.

    ``run_id`` and ``overwrite`` are passed only to a factory whose signature
    takes them (``overwrite=True`` with one that does not is an error). A store
    may also have a ``run_id`` attribute, the run its path belongs to, so that
    ``run(resume="auto")`` restarts a run that died before its first checkpoint
    as that run. ``restore`` and ``metadata`` raise
    :class:`~axon.loop.checkpoint.CheckpointCorruptedError` for damaged data, so
    that a resume falls back to an older step. A minimal store that keeps
    everything in memory:

    >>> import jax.numpy as jnp
    >>> from axon.loop.checkpoint import CheckpointBackend
    >>> class MemoryBackend:
    ...     def __init__(self, path, *, keep=None, run_id=None, overwrite=False):
    ...         self.saved = {}
    ...     def save(self, step, tree, metadata):
    ...         self.saved[step] = (tree, dict(metadata))
    ...     def restore(self, step=None, *, like):
    ...         return self.saved[max(self.saved) if step is None else step]
    ...     def metadata(self, step=None):
    ...         return self.restore(step, like=None)[1]
    ...     def steps(self):
    ...         return sorted(self.saved)
    ...     def close(self):
    ...         pass
    >>> backend = MemoryBackend("unused")
    >>> isinstance(backend, CheckpointBackend)
    True
    >>> backend.save(3, {"w": jnp.ones(2)}, {"epoch": 0})
    >>> backend.steps(), backend.metadata()
    ([3], {'epoch': 0})
    """

    def save(self, step: int, tree: Any, metadata: Mapping[str, Any]) -> None:
        """Write ``tree`` (a pytree of arrays) and JSON-able ``metadata`` as ``step``.

        >>> import tempfile, jax.numpy as jnp
        >>> import axon.loop.checkpoint
        >>> tmp = tempfile.TemporaryDirectory()
        >>> backend = axon.loop.checkpoint.get("orbax")(tmp.name, keep=None)
        >>> backend.save(10, {"w": jnp.ones(3)}, {"epoch": 0})
        >>> backend.steps()
        [10]
        >>> backend.close()
        >>> tmp.cleanup()
        """

    def restore(self, step: int | None = None, *, like: Any) -> tuple[Any, dict[str, Any]]:
        """Read ``(tree, metadata)`` of ``step`` (the latest if None), structured like ``like``.

        >>> import tempfile, jax.numpy as jnp
        >>> import axon.loop.checkpoint
        >>> tmp = tempfile.TemporaryDirectory()
        >>> backend = axon.loop.checkpoint.get("orbax")(tmp.name, keep=None)
        >>> backend.save(10, {"w": jnp.ones(3)}, {"epoch": 0})
        >>> backend.save(20, {"w": jnp.full(3, 2.0)}, {"epoch": 1})
        >>> tree, metadata = backend.restore(10, like={"w": jnp.zeros(3)})
        >>> tree["w"].tolist(), metadata
        ([1.0, 1.0, 1.0], {'epoch': 0})
        >>> backend.restore(like={"w": jnp.zeros(3)})[1]
        {'epoch': 1}
        >>> backend.close()
        >>> tmp.cleanup()
        """

    def metadata(self, step: int | None = None) -> dict[str, Any]:
        """Only the JSON metadata of ``step`` (the latest if None), without the arrays.

        >>> import tempfile, jax.numpy as jnp
        >>> import axon.loop.checkpoint
        >>> tmp = tempfile.TemporaryDirectory()
        >>> backend = axon.loop.checkpoint.get("orbax")(tmp.name, keep=None)
        >>> backend.save(10, {"w": jnp.ones(3)}, {"epoch": 0, "iteration": 10})
        >>> backend.metadata()
        {'epoch': 0, 'iteration': 10}
        >>> backend.close()
        >>> tmp.cleanup()
        """

    def steps(self) -> list[int]:
        """The saved steps, oldest first.

        >>> import tempfile, jax.numpy as jnp
        >>> import axon.loop.checkpoint
        >>> tmp = tempfile.TemporaryDirectory()
        >>> backend = axon.loop.checkpoint.get("orbax")(tmp.name, keep=None)
        >>> for step in (10, 20, 30):
        ...     backend.save(step, {"w": jnp.full(3, step)}, {"iteration": step})
        >>> backend.steps()
        [10, 20, 30]
        >>> backend.close()
        >>> tmp.cleanup()
        """

    def close(self) -> None:
        """Finish pending writes and release resources.

        >>> import tempfile, jax.numpy as jnp
        >>> import axon.loop.checkpoint
        >>> tmp = tempfile.TemporaryDirectory()
        >>> backend = axon.loop.checkpoint.get("orbax")(tmp.name, keep=None)
        >>> backend.save(10, {"w": jnp.ones(3)}, {})
        >>> backend.close()
        >>> axon.loop.checkpoint.get("orbax")(tmp.name).steps()
        [10]
        >>> tmp.cleanup()
        """
