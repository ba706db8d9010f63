"""Built-in handlers: ``validate``, ``log_to`` and ``checkpoint``.

Each is ``fn(loop, ...) -> Loop`` (the shape of every registered handler) and is
also a method of ``Loop``.
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING, Any

from ._events import FilterSpec
from ._resolve import resolve_logger

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
    """
    if not isinstance(every, int) or every < 0:
        raise ValueError(f"every must be a non-negative int (0 = per epoch only), got {every!r}.")
    open_logger = resolve_logger(logger, options)  # unknown names fail here, not mid-run
    key = f"log_to:{id(open_logger)}"

    def start(state: State) -> None:
        state.handler_metadata[key] = open_logger()

    def log_iteration(state: State) -> None:
        values = state.metric_values()
        state.handler_metadata[key].log_scalars(
            {f"train/{k}": v for k, v in values.items()}, step=state.iteration
        )

    def log_epoch(state: State) -> None:
        instance = state.handler_metadata[key]
        values = state.metric_values()
        instance.log_scalars({f"epoch/{k}": v for k, v in values.items()}, step=state.iteration)
        instance.flush()

    def finish(state: State) -> None:
        instance = state.handler_metadata.pop(key)
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
) -> Loop:
    """Save the step state (model, optimizer, PRNG key) and loop counters on ``event``.

    Checkpoints are numbered by the total iteration count; ``keep`` keeps the
    newest N. ``backend`` names a registered checkpoint backend (``"orbax"``
    built in). Metadata holds the epoch, iteration and metric values as JSON.
    """
    from .checkpoint import get as get_backend

    factory = get_backend(backend)
    key = f"checkpoint:{os.fspath(path)}"

    def open_store(state: State) -> None:
        state.handler_metadata[key] = factory(path, keep=keep)

    def save(state: State) -> None:
        metadata = {
            "epoch": state.epoch,
            "iteration": state.iteration,
            "metrics": {k: _json_float(v) for k, v in state.metric_values().items()},
        }
        state.handler_metadata[key].save(
            state.iteration, {"step_state": state.step_state}, metadata
        )

    def close_store(state: State) -> None:
        store = state.handler_metadata.pop(key, None)
        if store is not None:
            store.close()

    return (
        loop.handle_event("started", open_store)
        .handle_event(event, save, filter)
        .handle_event(["completed", "halted"], close_store)
    )


def _json_float(value: float) -> float | None:
    return value if math.isfinite(value) else None
