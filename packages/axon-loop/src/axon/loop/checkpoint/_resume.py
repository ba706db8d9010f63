"""What ``run(resume_from=...)`` points at: a checkpoint directory, a backend or a ``State``.

The metadata is read at once (it says where the run starts); the arrays only once
the run has built a fresh state to give them their structure.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._state import State
from ._orbax import OrbaxBackend
from ._snapshot import check_layout, restore, snapshot

if TYPE_CHECKING:
    from .._engine.placement import Placement


class Saved:
    """A loaded checkpoint waiting for a fresh state to give it its structure."""

    def __init__(self, metadata: dict[str, Any], load: Callable[[State], dict[str, Any]]):
        self.metadata = metadata
        self._load = load

    @property
    def position(self) -> tuple[int, int, bool]:
        """``(epoch to start, batches to skip, whether that epoch was already started)``."""
        if self.metadata["epoch_done"]:
            return self.metadata["epoch"] + 1, 0, False
        return self.metadata["epoch"], self.metadata["epoch_iterations"], True

    def restore_into(self, state: State, placement: Placement) -> None:
        check_layout(state, self.metadata)
        tree = placement.replicate(self._load(state))
        restore(state, tree, self.metadata)


def load_resume(source: Any) -> Saved | None:
    """What ``resume_from`` points at, as metadata now and arrays on demand."""
    if source is None:
        return None
    if isinstance(source, State):
        tree, metadata = snapshot(source)
        return Saved(metadata, lambda state: tree)
    if isinstance(source, (str, os.PathLike)):
        source = OrbaxBackend(source)
    if not callable(getattr(source, "restore", None)):
        raise TypeError(
            f"resume_from must be a checkpoint directory, a checkpoint backend or a State; "
            f"got {type(source).__name__}."
        )
    backend = source
    steps = backend.steps()
    if not steps:
        raise FileNotFoundError(f"There is no checkpoint to resume from in {backend!r}.")

    def load(state: State) -> dict[str, Any]:
        like = {"step_state": state.step_state, "metric_state": state.metric_state}
        tree, _ = backend.restore(steps[-1], like=like)
        return tree

    return Saved(backend.metadata(steps[-1]), load)
