"""Built-in handlers: ``validate``, ``log_to`` and ``checkpoint``.

Each is ``fn(loop, ...) -> Loop`` (the shape of every registered handler) and is
also a method of ``Loop``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from ._events import FilterSpec
from ._resolve import resolve_logger
from .checkpoint._snapshot import snapshot

if TYPE_CHECKING:
    from ._loop import Loop
    from ._state import State


def validate(
    loop: Loop,
    model: Any,
    data: Any,
    *,
    event: str = "epoch_completed",
    filter: FilterSpec = "always",
) -> Loop:
    """Evaluate ``model`` on ``data`` with this loop's metrics; add ``validation_<name>``.

    Uses the metrics attached *before* this call and the model state in
    ``step_state["model_state"]``. Validation runs before the other handlers of
    its event, so they (logging, checkpoint criteria, early stopping) see its results.

    >>> import jax.numpy as jnp, optax, axon.loop
    >>> init = lambda key, x: {"w": jnp.zeros((x.shape[-1], 1))}
    >>> apply = lambda p, x, *, mode, key: (x @ p["w"], None)
    >>> data = [(jnp.ones((4, 2)), jnp.full((4, 1), 2.0))] * 3
    >>> trainer = axon.loop.trainer((init, apply), "mean_squared_error", optax.sgd(0.1), log=0)
    >>> state = trainer.validate((init, apply), data).replace(output_transform=None).run(data)
    >>> sorted(state.history[0])
    ['loss', 'validation_loss']
    """
    from ._supervised import evaluator

    validation = evaluator(model).replace(metrics=loop.metrics)

    def run_validation(state: State) -> None:
        try:
            model_state = state.step_state["model_state"]
        except (KeyError, TypeError):
            raise KeyError(
                "validate() reads the model state from step_state['model_state'], which this "
                "loop does not have."
            ) from None
        (results,) = validation.run(data, model_state).values()
        state.metrics.update({f"validation_{name}": value for name, value in results.items()})

    return loop.handle_event(event, run_validation, filter, first=True)


def log_to(
    loop: Loop,
    logger: Any,
    *,
    every: int = 50,
    **options: Any,
) -> Loop:
    """Send metrics to a logger: a registered name (``"tensorboard"``) or a logger object.

    Every ``every`` iterations the running training metrics are logged as
    ``train/<metric>``; at the end of each epoch all metrics (validation included)
    as ``epoch/<metric>``, then the logger is flushed. The step is the total
    iteration count, so curves line up across epochs and resumed runs. Iterations
    that do not log never read metrics from the device.

    A logger given by name is created with ``options`` (e.g. ``logdir=``) when a
    run starts and closed when it ends, so the loop can run again. A logger object
    belongs to the caller: it is flushed, never closed.

    >>> import jax.numpy as jnp, optax, axon.loop
    >>> init = lambda key, x: {"w": jnp.zeros((x.shape[-1], 1))}
    >>> apply = lambda p, x, *, mode, key: (x @ p["w"], None)
    >>> data = [(jnp.ones((4, 2)), jnp.full((4, 1), 2.0))] * 3
    >>> trainer = axon.loop.trainer((init, apply), "mean_squared_error", optax.sgd(0.1), log=0)
    >>> class Printer:
    ...     def log_scalars(self, scalars, step): print(step, sorted(scalars))
    ...     def flush(self): pass
    ...     def close(self): pass
    >>> _ = trainer.log_to(Printer(), every=2).run(data)
    2 ['train/loss']
    3 ['epoch/loss']
    """
    if not isinstance(every, int) or every < 0:
        raise ValueError(f"every must be a non-negative int (0 = per epoch only), got {every!r}.")
    open_logger = resolve_logger(logger, options)  # unknown names fail here, not mid-run
    key = f"log_to:{id(open_logger)}"

    def start(state: State) -> None:
        # a resumed run hides the interrupted run's points after the checkpoint
        resume_step = None if state.resumed_from is None else state.resumed_from + 1
        state.resources[key] = open_logger(resume_step)

    def log_iteration(state: State) -> None:
        values = state.scalar_metrics()
        state.resources[key].log_scalars(
            {f"train/{k}": v for k, v in values.items()}, step=state.iteration
        )

    def log_epoch(state: State) -> None:
        instance = state.resources[key]
        values = state.scalar_metrics()
        instance.log_scalars({f"epoch/{k}": v for k, v in values.items()}, step=state.iteration)
        instance.flush()

    def finish(state: State) -> None:
        instance = state.resources.pop(key)
        if isinstance(logger, str):
            instance.close()
        else:
            instance.flush()

    loop = loop.handle_event("started", start)
    if every:
        loop = loop.handle_event("iteration_completed", log_iteration, {"every": every})
    return loop.handle_event("epoch_completed", log_epoch).handle_event(
        ["completed", "halted"], finish
    )


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
) -> Loop:
    """Save everything needed to resume exactly, on ``event`` (each epoch by default).

    A checkpoint holds the step state (model, optimizer state, PRNG key), the
    metric accumulators, and as JSON the counters, the data position, the
    metrics, the history and ``state.handler_metadata``; ``run(...,
    resume_from=path)`` continues from the latest one. Checkpoints are numbered by
    the total iteration count; ``keep`` keeps the newest N. ``backend`` names a
    registered checkpoint backend (``"orbax"`` built in). Use
    ``event="iteration_completed", filter={"every": n}`` to checkpoint inside epochs.

    With ``criteria`` (a metric name, e.g. ``"validation_loss"``) a checkpoint is
    written only when that metric improves (``mode`` ``"min"`` or ``"max"``), so
    ``keep`` then keeps the best N. ``patience=n`` also writes one after ``n``
    events in a row without improvement (and counts again from there), so a long
    plateau still leaves a recent point to resume from; ``keep`` then keeps the
    newest N of both kinds. (Axon's ``patience`` writes *only* those plateau
    checkpoints; here improvements are always saved.)

    >>> import jax.numpy as jnp, optax, axon.loop
    >>> init = lambda key, x: {"w": jnp.zeros((x.shape[-1], 1))}
    >>> apply = lambda p, x, *, mode, key: (x @ p["w"], None)
    >>> data = [(jnp.ones((4, 2)), jnp.full((4, 1), 2.0))] * 3
    >>> trainer = axon.loop.trainer((init, apply), "mean_squared_error", optax.sgd(0.1), log=0)
    >>> import tempfile
    >>> path = tempfile.mkdtemp()
    >>> _ = trainer.checkpoint(path, keep=2).run(data, epochs=3)
    >>> axon.loop.checkpoint.OrbaxBackend(path).steps()
    [6, 9]
    """
    from .checkpoint import get as get_backend

    if criteria is not None and mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}.")
    if patience is not None and (criteria is None or not isinstance(patience, int) or patience < 1):
        raise ValueError(
            f"patience must be a positive int and needs criteria= (the metric whose "
            f"plateau it counts); got patience={patience!r}, criteria={criteria!r}."
        )
    factory = get_backend(backend)
    key = f"checkpoint:{os.fspath(path)}"

    def open_store(state: State) -> None:
        state.resources[key] = factory(path, keep=keep)

    def save(state: State) -> None:
        if criteria is not None and not _improved(state, criteria, mode, f"{key}:best"):
            # events without improvement, in handler_metadata so that resumes agree
            waited = state.handler_metadata.get(f"{key}:waited", 0) + 1
            if patience is None or waited < patience:
                state.handler_metadata[f"{key}:waited"] = waited
                return
        if criteria is not None:
            state.handler_metadata[f"{key}:waited"] = 0  # saved: count the plateau anew
        # A checkpoint is a consistency point: what was logged up to it reaches the disk
        # first, so a run killed later and resumed from it loses no logged step.
        for resource in state.resources.values():
            if resource is not state.resources[key] and callable(getattr(resource, "flush", None)):
                resource.flush()
        tree, metadata = snapshot(state)
        state.resources[key].save(state.iteration, tree, metadata)

    def close_store(state: State) -> None:
        store = state.resources.pop(key, None)
        if store is not None:
            store.close()

    return (
        loop.handle_event("started", open_store)
        .handle_event(event, save, filter)
        .handle_event(["completed", "halted"], close_store)
    )


def _improved(state: State, metric: str, mode: str, key: str) -> bool:
    """Whether ``metric`` beat its best so far (kept in handler_metadata, so resumes agree)."""
    from ._monitor import _improves, _read

    value = _read(state, metric, "checkpoint(criteria=...)")
    if not _improves(value, state.handler_metadata.get(key), mode, 0.0):
        return False
    state.handler_metadata[key] = value
    return True
