"""Checkpoint backends: where a loop's checkpoints are written and read back.

A backend is created with ``factory(path, *, keep=None)`` and offers
``save(step, tree, metadata)``, ``restore(step=None, *, like)``,
``metadata(step=None)``, ``steps()`` and ``close()``. The built-in ``"orbax"``
backend writes atomically with orbax-checkpoint; plugins add others through the
``axon_checkpoint_backends`` hook.
Nothing here ever unpickles: trees are arrays, metadata is JSON.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import jax

__all__ = ["CheckpointBackend", "OrbaxBackend", "get", "names"]


@runtime_checkable
class CheckpointBackend(Protocol):
    """What the loop needs from a checkpoint store."""

    def save(self, step: int, tree: Any, metadata: Mapping[str, Any]) -> None:
        """Write ``tree`` (a pytree of arrays) and JSON-able ``metadata`` as ``step``."""

    def restore(self, step: int | None = None, *, like: Any) -> tuple[Any, dict[str, Any]]:
        """Read ``(tree, metadata)`` of ``step`` (the latest if None), structured like ``like``."""

    def metadata(self, step: int | None = None) -> dict[str, Any]:
        """Only the JSON metadata of ``step`` (the latest if None), without the arrays."""

    def steps(self) -> list[int]:
        """The saved steps, oldest first."""

    def close(self) -> None:
        """Finish pending writes and release resources."""


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
        args = self._ocp.args
        self._manager.save(
            step,
            args=args.Composite(
                state=args.StandardSave(tree), metadata=args.JsonSave(dict(metadata))
            ),
        )

    def restore(self, step: int | None = None, *, like: Any) -> tuple[Any, dict[str, Any]]:
        self._manager.wait_until_finished()
        step = self._manager.latest_step() if step is None else step
        if step is None:
            raise FileNotFoundError(f"No checkpoint in {self.path!r}.")
        args = self._ocp.args
        abstract = jax.tree_util.tree_map(self._ocp.utils.to_shape_dtype_struct, like)
        restored = self._manager.restore(
            step,
            args=args.Composite(state=args.StandardRestore(abstract), metadata=args.JsonRestore()),
        )
        return restored.state, dict(restored.metadata)

    def metadata(self, step: int | None = None) -> dict[str, Any]:
        self._manager.wait_until_finished()
        step = self._manager.latest_step() if step is None else step
        if step is None:
            raise FileNotFoundError(f"No checkpoint in {self.path!r}.")
        args = self._ocp.args
        restored = self._manager.restore(step, args=args.Composite(metadata=args.JsonRestore()))
        return dict(restored.metadata)

    def steps(self) -> list[int]:
        self._manager.wait_until_finished()
        return sorted(self._manager.all_steps())

    def close(self) -> None:
        self._manager.wait_until_finished()
        self._manager.close()


def get(name: str) -> Any:
    """The checkpoint backend factory registered under ``name``.

    >>> get("orbax") is OrbaxBackend
    True
    """
    from .plugins import checkpoint_backends

    return checkpoint_backends.get(name)


def names() -> list[str]:
    """Every registered checkpoint backend name.

    >>> "orbax" in names()
    True
    """
    from .plugins import checkpoint_backends

    return checkpoint_backends.names()
