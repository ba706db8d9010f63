"""What a run resumes from: ``resume_from`` (a directory, a backend or a ``State``) or, with
``resume="auto"``, the directory of the loop's checkpoint handler.

Each checkpoint is a :class:`Saved`: its metadata is read first (it says where
the run starts), its arrays once the run has built a fresh state to give them
their structure. The run tries them newest first and falls back past damaged ones.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp

from .._state import State
from ._errors import CheckpointCorruptedError
from ._orbax import OrbaxBackend
from ._snapshot import check_format, check_layout, restore, snapshot

if TYPE_CHECKING:
    from .._engine.placement import Placement


class Saved:
    """One checkpoint to resume from: metadata on demand, arrays once a state gives them shape."""

    def __init__(
        self,
        where: str,
        read_metadata: Callable[[], dict[str, Any]],
        read_tree: Callable[[Any], dict[str, Any]],
    ):
        self.where = where  # "checkpoint step 30 in '/path'", for messages
        self._read_metadata = read_metadata
        self._read_tree = read_tree

    @functools.cached_property
    def metadata(self) -> dict[str, Any]:
        metadata = self._read_metadata()
        check_format(metadata)
        return metadata

    @property
    def position(self) -> tuple[int, int, bool]:
        """``(epoch to start, batches to skip, whether that epoch was already started)``."""
        if self.metadata["epoch_done"]:
            return self.metadata["epoch"] + 1, 0, False
        return self.metadata["epoch"], self.metadata["epoch_iterations"], True

    def restore_into(
        self,
        state: State,
        placement: Placement,
        *,
        batch_shaped: Callable[[], set[str]],
        last_batch: str | None,
    ) -> None:
        """Overwrite ``state`` (fresh, built from a batch) with this checkpoint; see
        :func:`check_layout` for ``batch_shaped`` and ``last_batch``."""
        as_saved = check_layout(
            state, self.metadata, batch_shaped=batch_shaped, last_batch=last_batch
        )
        like = {"step_state": state.step_state, "metric_state": state.metric_state}
        if as_saved:  # leaves that follow the batch: read with the checkpoint's shapes

            def target(path: Any, leaf: Any) -> Any:
                shape = as_saved.get(jax.tree_util.keystr(path))
                if shape is None:
                    return leaf
                sharding = getattr(leaf, "sharding", None)
                return jax.ShapeDtypeStruct(tuple(shape), leaf.dtype, sharding=sharding)

            like = jax.tree_util.tree_map_with_path(target, like)
        # placed like the fresh state: replicated, or sharded as this run's rules say,
        # whatever mesh the checkpoint was written from
        tree = jax.tree_util.tree_map(
            lambda value, leaf: jax.device_put(value, getattr(leaf, "sharding", None)),
            self._read_tree(like),
            like,
        )
        restore(state, tree, self.metadata)


@dataclass
class Resume:
    """Where a run starts: the checkpoints to try, newest first (none: a fresh start)."""

    candidates: list[Saved] = field(default_factory=list)
    #: given by resume_from: resuming a finished run is an error, not a no-op
    explicit: bool = False
    #: a fresh start takes this run id (a run that died before its first checkpoint)
    run_id: str | None = None
    release: Callable[[], None] = lambda: None  # closes the reader the run opened


def _nothing() -> None:
    pass


def resume_from(source: Any) -> Resume:
    """What ``run(resume_from=source)`` resumes (``source`` None: a fresh start)."""
    if source is None:
        return Resume()
    if isinstance(source, State):
        tree, metadata = snapshot(source)

        def copy(_: Any) -> Any:  # the run donates its buffers: the caller's State keeps its own
            return jax.tree_util.tree_map(jnp.array, tree)

        saved = Saved(f"the state of iteration {source.iteration}", lambda: metadata, copy)
        return Resume([saved], explicit=True)
    release = _nothing
    if isinstance(source, (str, os.PathLike)):
        if not os.path.exists(source):
            raise FileNotFoundError(
                f"resume_from={os.fspath(source)!r} does not exist. Pass the directory that "
                f"checkpoint(path) wrote (or resume='auto' to start fresh when there is none)."
            )
        source = OrbaxBackend(source)
        release = source.close
    if not callable(getattr(source, "restore", None)):
        raise TypeError(
            f"resume_from must be a checkpoint directory, a checkpoint backend or a State; "
            f"got {type(source).__name__}."
        )
    candidates = _checkpoints(source)
    if not candidates:
        release()
        raise FileNotFoundError(f"There is no checkpoint to resume from in {source!r}.")
    return Resume(candidates, explicit=True, release=release)


def resume_auto(sources: list[Callable[[], Any]]) -> Resume:
    """What ``run(resume="auto")`` resumes: the checkpoints of the loop's one checkpoint
    handler (``sources`` open a reader of each handler's store), else a fresh start."""
    if len(sources) != 1:
        found = "no checkpoint handler" if not sources else f"{len(sources)} checkpoint handlers"
        raise ValueError(
            f"run(resume='auto') resumes from the directory of the loop's checkpoint handler, "
            f"but this loop has {found}. Attach exactly one with .checkpoint(path), or pass "
            f"resume_from=<the checkpoints to resume> instead."
        )
    backend = sources[0]()
    candidates = _checkpoints(backend)
    if candidates:
        return Resume(candidates, release=backend.close)
    try:  # a run that died before its first checkpoint left its run id: the restart is that run
        run_id = getattr(backend, "run_id", None)
    except CheckpointCorruptedError:
        run_id = None
    backend.close()
    return Resume(run_id=run_id)


def _checkpoints(backend: Any) -> list[Saved]:
    """A :class:`Saved` for each step of ``backend``, newest first."""

    path = getattr(backend, "path", None)
    store = f"in {str(path)!r}" if path is not None else f"of {backend!r}"

    def saved(step: int) -> Saved:
        return Saved(
            f"checkpoint step {step} {store}",
            lambda: backend.metadata(step),
            lambda like: backend.restore(step, like=like)[0],
        )

    return [saved(step) for step in reversed(backend.steps())]
