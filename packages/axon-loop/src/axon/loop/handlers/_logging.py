"""``log_to``: send the metrics to a logger (TensorBoard, CSV... or any logger object)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._resolve import resolve_logger

if TYPE_CHECKING:
    from .._loop import Loop
    from .._state import State


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
    run starts and closed when it ends, so the loop can run again. It is told the
    run (``run_id=state.run_id`` and ``purge_step``, the first step this run logs)
    and keeps each run apart: the TensorBoard logger writes every run into a
    ``version_N`` directory of its own under ``logdir``, and a resumed run, or one
    started over under the same id, continues its own with every step once. The
    CSV and JSON Lines loggers continue only their own run's file: a new run into
    a path that holds another run's log fails when it starts, before training,
    with ``axon.loggers.LogExistsError`` (pass a new path, or ``overwrite=True``).
    A ``run_id=`` or ``purge_step=`` given here wins over the loop's. A logger
    object belongs to the caller: it is flushed, never closed, and writes where it
    was opened.

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
        # the run's own log, without the points it is about to log again
        state.resources[key] = open_logger(state.run_id, state.resumed_from)

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
