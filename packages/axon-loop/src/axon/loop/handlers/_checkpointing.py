"""``checkpoint``: save everything needed to resume a run exactly, through a backend."""

from __future__ import annotations

import functools
import inspect
import json
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._events import FilterSpec
from ..checkpoint import get as get_backend
from ..checkpoint._snapshot import snapshot
from ._monitoring import check_mode, improves, read_metric

if TYPE_CHECKING:
    from .._loop import Loop
    from .._state import State


def checkpoint(
    loop: Loop,
    path: str | os.PathLike[str] = "checkpoints",
    *,
    event: str = "epoch_completed",
    filter: FilterSpec = "always",
    keep: int | None = None,
    backend: str = "orbax",
    criteria: str | None = None,
    mode: str = "min",
    patience: int | None = None,
    overwrite: bool = False,
) -> Loop:
    """Save everything needed to resume exactly, on ``event`` (each epoch by default).

    A checkpoint holds the step state (model, optimizer state, PRNG key), the
    metric accumulators, and as JSON the counters, the data position, the
    metrics, the history and ``state.handler_metadata``, with the ``mark()`` of
    every open logger that has one (where its files ended: a run resumed from
    the checkpoint cuts its logs back there, see ``log_to``); ``run(...,
    resume_from=path)`` continues from the latest one, and ``run(...,
    resume="auto")`` resumes from ``path`` if it holds a checkpoint and starts
    fresh otherwise. Checkpoints are numbered by the total iteration count;
    ``keep`` keeps the newest N of this run. ``backend`` names a registered
    checkpoint backend (``"orbax"`` built in). Use
    ``event="iteration_completed", filter={"every": n}`` to checkpoint inside epochs.

    ``path`` belongs to one run. When the run starts (before any training), a
    directory holding another run's checkpoints is refused with a
    :class:`~axon.loop.checkpoint.CheckpointDirectoryError` that says how to
    resume them, unless ``overwrite=True``, which deletes them (and only them);
    a directory holding anything else is always refused. A resumed run continues
    its own directory.

    With ``criteria`` (a metric name, e.g. ``"validation_loss"``) a checkpoint is
    written only when that metric improves (``mode`` ``"min"`` or ``"max"``), so
    ``keep`` then keeps the best N. ``patience=n`` also writes one after ``n``
    events in a row without improvement (and counts again from there), so a long
    plateau still leaves a recent point to resume from; ``keep`` then keeps the
    newest N of both kinds. (Axon's ``patience`` writes *only* those plateau
    checkpoints; here improvements are always saved.)

    Any loop can be checkpointed, here every two iterations:

    >>> import tempfile, jax.numpy as jnp, axon.loop
    >>> counter = axon.loop.loop(lambda batch, total: total + batch.sum())
    >>> path = tempfile.mkdtemp()
    >>> saving = checkpoint(counter, path, event="iteration_completed", filter={"every": 2})
    >>> _ = saving.run([jnp.ones(2)] * 5, jnp.float32(0))
    >>> axon.loop.checkpoint.OrbaxBackend(path).steps()
    [2, 4]
    """
    if criteria is not None:
        check_mode(mode)
    if patience is not None and (criteria is None or not isinstance(patience, int) or patience < 1):
        raise ValueError(
            f"patience must be a positive int and needs criteria= (the metric whose "
            f"plateau it counts); got patience={patience!r}, criteria={criteria!r}."
        )
    factory = get_backend(backend)
    claims = _accepts(factory, "run_id")
    if overwrite and not _accepts(factory, "overwrite"):
        raise TypeError(
            f"The checkpoint backend {backend!r} does not take overwrite=; delete the old "
            f"checkpoints yourself or choose another path."
        )
    key = f"checkpoint:{os.fspath(path)}"

    def open_store(state: State) -> None:
        # the directory is claimed now, so a refused one stops the run before it trains
        options = {"run_id": state.run_id, "overwrite": overwrite} if claims else {}
        state.resources[key] = factory(path, keep=keep, **options)

    def save(state: State) -> None:
        if criteria is not None and not _improved(state, criteria, mode, f"{key}:best"):
            # events without improvement, in handler_metadata so that resumes agree
            waited = state.handler_metadata.get(f"{key}:waited", 0) + 1
            if patience is None or waited < patience:
                state.handler_metadata[f"{key}:waited"] = waited
                return
        if criteria is not None:
            state.handler_metadata[f"{key}:waited"] = 0  # saved: count the plateau anew
        tree, metadata = snapshot(state, marks=_flush_and_mark(state, skip=key))
        state.resources[key].save(state.iteration, tree, metadata)

    def close_store(state: State) -> None:
        store = state.resources.pop(key, None)
        if store is not None:
            store.close()

    reader = functools.partial(factory, path, keep=keep)
    return (
        loop.handle_event("started", open_store, resume_source=reader)
        .handle_event(event, save, filter)
        .handle_event(["completed", "halted"], close_store)
    )


def _flush_and_mark(state: State, skip: str) -> dict[str, Any]:
    """Flush every open resource but ``skip``; the marks of those that have ``mark()``.

    A checkpoint is a consistency point: what was logged up to it reaches the disk
    first, so a run killed later and resumed from it loses no logged step; and a
    logger's mark says where its files ended, so that the resumed run cuts them back
    to exactly that (``log_to`` passes it as ``resume_mark=``).
    """
    marks = {}
    for key, resource in state.resources.items():
        if key == skip:
            continue
        if callable(mark := getattr(resource, "mark", None)):
            marks[key] = mark()  # flushes
            try:
                json.dumps(marks[key])
            except (TypeError, ValueError):
                raise TypeError(
                    f"{type(resource).__name__}.mark() returned {marks[key]!r}; a mark must be "
                    f"made of JSON values (str, numbers, lists, dicts), to be checkpointed."
                ) from None
        elif callable(flush := getattr(resource, "flush", None)):
            flush()
    return marks


def _improved(state: State, metric: str, mode: str, key: str) -> bool:
    """Whether ``metric`` beat its best so far (kept in handler_metadata, so resumes agree)."""
    value = read_metric(state, metric, "checkpoint(criteria=...)")
    if not improves(value, state.handler_metadata.get(key), mode, 0.0):
        return False
    state.handler_metadata[key] = value
    return True


def _accepts(factory: Callable[..., Any], option: str) -> bool:
    """Whether a backend factory takes ``option`` (older ones take only ``path`` and ``keep``)."""
    try:
        parameters = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return False
    return option in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())
