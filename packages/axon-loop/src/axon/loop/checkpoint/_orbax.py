"""The built-in ``"orbax"`` backend: orbax-checkpoint's ``CheckpointManager``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import jax


class OrbaxBackend:
    """Checkpoints with ``orbax.checkpoint.CheckpointManager``: atomic, async, keep-N.

    >>> import tempfile, jax.numpy as jnp
    >>> backend = OrbaxBackend(tempfile.mkdtemp(), keep=2)
    >>> for step in (1, 2, 3):
    ...     backend.save(step, {"w": jnp.full(2, step)}, {"epoch": step})
    >>> backend.steps()
    [2, 3]
    >>> tree, metadata = backend.restore(like={"w": jnp.zeros(2)})
    >>> tree["w"].tolist(), metadata
    ([3.0, 3.0], {'epoch': 3})
    >>> backend.close()
    """

    def __repr__(self) -> str:
        return f"OrbaxBackend({self.path!r})"

    def __init__(self, path: str | os.PathLike[str], *, keep: int | None = None):
        # orbax takes ~0.1 s to import: paid by runs that checkpoint, not by `import axon.loop`
        import orbax.checkpoint as ocp

        if keep is not None and (not isinstance(keep, int) or keep < 1):
            raise ValueError(f"keep must be a positive int or None (keep all), got {keep!r}.")
        self.path = os.path.abspath(os.fspath(path))
        try:
            os.makedirs(self.path, exist_ok=True)
        except OSError as error:
            raise OSError(
                f"Cannot create the checkpoint directory {self.path!r}: {error.strerror}. "
                f"Choose a writable path."
            ) from error
        self._ocp = ocp
        self._manager = ocp.CheckpointManager(
            self.path,
            options=ocp.CheckpointManagerOptions(max_to_keep=keep, create=True),
            item_names=("state", "metadata"),
        )

    def save(self, step: int, tree: Any, metadata: Mapping[str, Any]) -> None:
        """Start writing ``tree`` and ``metadata`` as ``step`` in the background.

        The write is atomic: a step appears in :meth:`steps` only once complete.
        With ``keep=N`` the oldest steps beyond N are deleted.

        >>> import tempfile, jax.numpy as jnp
        >>> from axon.loop.checkpoint import OrbaxBackend
        >>> tmp = tempfile.TemporaryDirectory()
        >>> backend = OrbaxBackend(tmp.name, keep=1)
        >>> backend.save(1, {"w": jnp.zeros(2)}, {"epoch": 0})
        >>> backend.save(2, {"w": jnp.ones(2)}, {"epoch": 1})
        >>> backend.steps()
        [2]
        >>> backend.close()
        >>> tmp.cleanup()
        """
        args = self._ocp.args
        self._manager.save(
            step,
            args=args.Composite(
                state=args.StandardSave(tree), metadata=args.JsonSave(dict(metadata))
            ),
        )

    def restore(self, step: int | None = None, *, like: Any) -> tuple[Any, dict[str, Any]]:
        """Read ``(tree, metadata)`` of ``step`` (the latest if None) with the structure,
        shapes and dtypes of ``like``.

        Raises:
            FileNotFoundError: there is no checkpoint yet.

        >>> import tempfile, jax.numpy as jnp
        >>> from axon.loop.checkpoint import OrbaxBackend
        >>> tmp = tempfile.TemporaryDirectory()
        >>> backend = OrbaxBackend(tmp.name)
        >>> try:
        ...     backend.restore(like={"w": jnp.zeros(2)})
        ... except FileNotFoundError:
        ...     print("nothing saved yet")
        nothing saved yet
        >>> backend.save(1, {"w": jnp.ones(2)}, {"epoch": 0})
        >>> tree, metadata = backend.restore(like={"w": jnp.zeros(2)})
        >>> tree["w"].tolist(), metadata
        ([1.0, 1.0], {'epoch': 0})
        >>> backend.close()
        >>> tmp.cleanup()
        """
        abstract = jax.tree_util.tree_map(self._ocp.utils.to_shape_dtype_struct, like)
        restored = self._read(step, state=self._ocp.args.StandardRestore(abstract))
        return restored.state, dict(restored.metadata)

    def metadata(self, step: int | None = None) -> dict[str, Any]:
        """The JSON metadata of ``step`` (the latest if None), without reading the arrays.

        Raises:
            FileNotFoundError: there is no checkpoint yet.

        >>> import tempfile, jax.numpy as jnp
        >>> from axon.loop.checkpoint import OrbaxBackend
        >>> tmp = tempfile.TemporaryDirectory()
        >>> backend = OrbaxBackend(tmp.name)
        >>> backend.save(1, {"w": jnp.ones(2)}, {"epoch": 0})
        >>> backend.save(2, {"w": jnp.ones(2)}, {"epoch": 1})
        >>> backend.metadata(), backend.metadata(1)
        ({'epoch': 1}, {'epoch': 0})
        >>> backend.close()
        >>> tmp.cleanup()
        """
        return dict(self._read(step).metadata)

    def _read(self, step: int | None, **items: Any) -> Any:
        """The metadata and ``items`` (orbax restore arguments by item name) of ``step``,
        the latest if None, once pending writes have finished."""
        self._manager.wait_until_finished()
        step = self._manager.latest_step() if step is None else step
        if step is None:
            raise FileNotFoundError(f"No checkpoint in {self.path!r}.")
        args = self._ocp.args
        return self._manager.restore(
            step, args=args.Composite(metadata=args.JsonRestore(), **items)
        )

    def steps(self) -> list[int]:
        """The saved steps, oldest first, after waiting for pending writes.

        >>> import tempfile, jax.numpy as jnp
        >>> from axon.loop.checkpoint import OrbaxBackend
        >>> tmp = tempfile.TemporaryDirectory()
        >>> backend = OrbaxBackend(tmp.name)
        >>> backend.steps()
        []
        >>> backend.save(5, {"w": jnp.ones(2)}, {})
        >>> backend.steps()
        [5]
        >>> backend.close()
        >>> tmp.cleanup()
        """
        self._manager.wait_until_finished()
        return sorted(self._manager.all_steps())

    def close(self) -> None:
        """Wait for pending writes, then release orbax's checkpoint manager.

        >>> import tempfile, jax.numpy as jnp
        >>> from axon.loop.checkpoint import OrbaxBackend
        >>> tmp = tempfile.TemporaryDirectory()
        >>> backend = OrbaxBackend(tmp.name)
        >>> backend.save(5, {"w": jnp.ones(2)}, {"epoch": 0})
        >>> backend.close()
        >>> OrbaxBackend(tmp.name).metadata(5)
        {'epoch': 0}
        >>> tmp.cleanup()
        """
        self._manager.wait_until_finished()
        self._manager.close()
