"""``log_to``: send the metrics to a logger (TensorBoard, CSV... or any logger object)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._events import Event, Handler, handler_specs
from .._resolve import needs, resolve_logger
from ..checkpoint._snapshot import MARKS
from ._learning_rates import learning_rate_metrics
from ._validation import VALIDATION

if TYPE_CHECKING:
    from .._loop import Loop
    from .._state import State


def log_to(
    loop: Loop,
    logger: Any,
    *,
    every: int = 50,
    histograms: int = 0,
    **options: Any,
) -> Loop:
    """Send metrics to a logger: a registered name (``"tensorboard"``) or a logger object.

    Every ``every`` iterations the running training metrics are logged as
    ``train/<metric>``; at the end of each epoch all metrics as ``epoch/<metric>``,
    then the logger is flushed. The step is the total iteration count, so curves
    line up across epochs and resumed runs. Iterations that do not log never read
    metrics from the device. The learning rate is logged with the training
    metrics (``train/learning_rate``, ``epoch/learning_rate``) when the optimizer
    keeps it in its state (``optax.inject_hyperparams``, every ``axon.optim``
    optimizer); several, one per parameter group, are ``learning_rate_0``,
    ``learning_rate_1``... ``histograms=n`` also logs a histogram of every
    parameter array (``params/<path>``, e.g. ``params/dense_0/kernel``) at the end
    of every ``n``-th epoch; it needs axon-loggers.

    Training and validation metrics go to the same tags in two runs where the
    logger has splits (``split(name)``, the TensorBoard logger): the training
    records to ``split("train")``, the validation metrics (``validation_loss``...)
    to ``split("validation")`` without their prefix, so ``epoch/loss`` is one
    chart with a training and a validation curve, as in Keras. Other loggers
    (CSV, JSON Lines, the console, a logger object without ``split``) get one
    stream, the validation metrics under their own names (``epoch/validation_loss``).

    A logger given by name is created with ``options`` (e.g. ``logdir=``) when a
    run starts and closed when it ends, so the loop can run again. It is told the
    run (``run_id=state.run_id``) and keeps each run apart: the TensorBoard logger
    writes every run into a ``version_N`` directory of its own under ``logdir``,
    and the CSV and JSON Lines loggers continue only their own run's file (a new
    run into a path that holds another run's log fails when it starts, before
    training, with ``axon.loggers.LogExistsError``; pass a new path, or
    ``overwrite=True``).

    A resumed run continues its own log exactly as it was when its checkpoint was
    written: every checkpoint records each logger's ``mark()`` (where its files
    ended), and the logger is re-opened with it as ``resume_mark=``, which cuts
    off what was logged after the checkpoint; the resumed run then logs the rest,
    each step and tag once. A logger without marks is given ``purge_step``, the
    first step this run logs, instead; so is a run started over under the same id
    (after a death before its first checkpoint). The logging handlers run after
    the ``first=True`` handlers (validation) and before the other handlers of
    their event, so a checkpoint written on the same event holds what they logged.
    A ``run_id=``, ``purge_step=`` or ``resume_mark=`` given here wins over the
    loop's. A logger object belongs to the caller: it is flushed, never closed,
    and writes where it was opened.

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
    >>> _ = trainer.validate((init, apply), data).log_to(Printer(), every=0).run(data)
    3 ['epoch/loss', 'epoch/validation_loss']
    """
    if not isinstance(every, int) or every < 0:
        raise ValueError(f"every must be a non-negative int (0 = per epoch only), got {every!r}.")
    if isinstance(histograms, bool) or not isinstance(histograms, int) or histograms < 0:
        raise ValueError(
            f"histograms must be a non-negative int (every how many epochs; 0 = none), got "
            f"{histograms!r}."
        )
    open_logger = resolve_logger(logger, options)  # unknown names fail here, not mid-run
    key = _resource_key(loop, logger, options)

    def start(state: State) -> None:
        # the run's own log, cut back to where it was at the checkpoint this run resumes from
        mark = state.handler_metadata.get(MARKS, {}).get(key)
        state.resources[key] = open_logger(state.run_id, state.resumed_from, mark)

    start.__name__ = key  # names the logger in debug output, and keeps keys unique

    def log_iteration(state: State) -> None:
        _log_metrics(state.resources[key], "train", state)

    def log_epoch(state: State) -> None:
        instance = state.resources[key]
        _log_metrics(instance, "epoch", state)
        instance.flush()

    def finish(state: State) -> None:
        instance = state.resources.pop(key)
        if isinstance(logger, str):
            instance.close()
        else:
            instance.flush()

    loop = loop.handle_event("started", start)
    if every:
        loop = _logging(loop, Event.ITERATION_COMPLETED, log_iteration, {"every": every})
    loop = _logging(loop, Event.EPOCH_COMPLETED, log_epoch)
    if histograms:
        loop = _logging(loop, Event.EPOCH_COMPLETED, _histogram_logging(key), {"every": histograms})
    return loop.handle_event(["completed", "halted"], finish)


def _log_metrics(instance: Any, prefix: str, state: State) -> None:
    """Log the scalar metrics and the learning rate as ``<prefix>/<name>``: the validation
    metrics to the logger's split ``validation`` (without their prefix) and the rest to its
    split ``train`` where it has splits, else all of them to the logger itself."""
    values = {**state.scalar_metrics(), **learning_rate_metrics(state.step_state)}
    if not callable(getattr(instance, "split", None)):
        instance.log_scalars({f"{prefix}/{k}": v for k, v in values.items()}, step=state.iteration)
        return
    validation = {k: v for k, v in values.items() if k.startswith(VALIDATION)}
    training = {f"{prefix}/{k}": v for k, v in values.items() if k not in validation}
    instance.split("train").log_scalars(training, step=state.iteration)
    if validation:
        instance.split("validation").log_scalars(
            {f"{prefix}/{k.removeprefix(VALIDATION)}": v for k, v in validation.items()},
            step=state.iteration,
        )


def _histogram_logging(key: str) -> Handler:
    """A handler logging a histogram of each parameter array to the logger ``key`` (its
    ``train`` split where it has splits), with axon-loggers' ``log_histograms``."""
    loggers = needs("axon-loggers", "axon.loggers", "log_to(..., histograms=n)", "leave it out")

    def log_parameters(state: State) -> None:
        instance = state.resources[key]
        if callable(getattr(instance, "split", None)):
            instance = instance.split("train")
        if not isinstance(state.step_state, Mapping) or "model_state" not in state.step_state:
            raise KeyError(
                "log_to(..., histograms=n) logs the parameters in step_state['model_state'], "
                "which this loop's step state does not have."
            )
        model_state = state.step_state["model_state"]
        params = getattr(model_state, "params", model_state)
        loggers.log_histograms(instance, "params", params, state.iteration)

    log_parameters.__name__ = f"{key}:histograms"
    return log_parameters


def _logging(loop: Loop, event: Event, handler: Handler, filter: Any = "always") -> Loop:
    """``loop`` with ``handler`` attached as a logging handler (see ``HandlerSpec.logs``)."""
    return loop.replace(handlers=loop.handlers + handler_specs(event, handler, filter, logs=True))


def _resource_key(loop: Loop, logger: Any, options: dict[str, Any]) -> str:
    """The logger's key in ``state.resources`` and in a checkpoint's marks: made of its name
    and options, so that every process building the same loop gets the same key and a
    resumed run finds its logger's mark; numbered when the same logger is attached again."""
    if isinstance(logger, str):
        base = f"log_to:{logger}:{json.dumps(options, sort_keys=True, default=_describe)}"
    else:
        base = f"log_to:{type(logger).__name__}"
    taken = {spec.name for spec in loop.handlers if spec.event == Event.STARTED}
    key, copies = base, 1
    while key in taken:
        copies += 1
        key = f"{base}#{copies}"
    return key


def _describe(option: Any) -> str:
    """An option that JSON cannot hold, as text that is the same in every process."""
    if isinstance(option, os.PathLike):
        return os.fsdecode(option)
    return f"<{type(option).__name__}>"  # not its repr, which may hold an address
