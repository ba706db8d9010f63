"""Handlers that watch a metric: ``monitor``, ``early_stop``, ``reduce_lr_on_plateau``,
and ``halt_on_nonfinite``.

Their bookkeeping lives in ``state.handler_metadata`` (JSON), so it survives a resume.
"""

from __future__ import annotations

import difflib
import functools
import math
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp

from .._events import FilterSpec, handler_specs
from .._metrics import MetricSpec
from ._learning_rates import learning_rates, scale_learning_rate

if TYPE_CHECKING:
    from .._loop import Loop
    from .._state import State

MODES = ("min", "max")


def monitor(
    loop: Loop,
    metric: str,
    fn: Callable[[State], Any],
    name: str | None = None,
    *,
    event: str = "epoch_completed",
    filter: FilterSpec = "always",
    patience: int = 3,
    mode: str = "min",
    min_delta: float = 0.0,
) -> Loop:
    """Call ``fn(state)`` once ``metric`` has not improved for ``patience`` events.

    ``mode="min"`` means lower is better (Axon's documented default; its code
    effectively used ``"max"``). An improvement must beat the best value by more
    than ``min_delta``; NaN never improves. After ``fn`` runs the count restarts.
    ``fn`` may return ``"halt_loop"`` etc. like any handler. The check runs after
    the logging handlers of ``log_to`` and before the other handlers of its event,
    so a checkpoint written on the same event holds its count.

    >>> import jax.numpy as jnp, optax, axon.loop
    >>> init = lambda key, x: {"w": jnp.zeros((x.shape[-1], 1))}
    >>> apply = lambda p, x, *, mode, key: (x @ p["w"], None)
    >>> data = [(jnp.ones((4, 2)), jnp.full((4, 1), 2.0))] * 3
    >>> trainer = axon.loop.trainer((init, apply), "mean_squared_error", optax.sgd(0.1), log=0)
    >>> flat = trainer.metric(lambda t, p: jnp.float32(1.0), "flat")
    >>> report = lambda s: print("no progress at epoch", s.epoch)
    >>> state = flat.monitor("flat", report, patience=2).run(data, epochs=3)
    no progress at epoch 2
    """
    return _watch(
        loop, metric, name or f"monitor:{metric}", fn, event=event, filter=filter,
        patience=patience, mode=mode, min_delta=min_delta,
    )  # fmt: skip


def _watch(
    loop: Loop,
    metric: str,
    key: str,
    on_plateau: Callable[[State], Any],
    on_improvement: Callable[[State], None] | None = None,
    *,
    event: str,
    filter: FilterSpec,
    patience: int,
    mode: str,
    min_delta: float,
) -> Loop:
    """``monitor``'s handler, named ``key`` (its ``handler_metadata`` too), which also calls
    ``on_improvement(state)`` when ``metric`` improves."""
    check_mode(mode)
    if not isinstance(patience, int) or patience < 1:
        raise ValueError(f"patience must be a positive int, got {patience!r}.")

    def check(state: State) -> Any:
        value = read_metric(state, metric, key)
        record = state.handler_metadata.setdefault(key, {"best": None, "since_best": 0})
        if improves(value, record["best"], mode, min_delta):
            record["best"], record["since_best"] = value, 0
            if on_improvement is not None:
                on_improvement(state)
            return None
        record["since_best"] += 1
        if record["since_best"] < patience:
            return None
        record["since_best"] = 0
        return on_plateau(state)

    check.__name__ = key
    # before the event's other handlers: a checkpoint on the same event holds what it kept
    watching = handler_specs(event, check, filter, watches=True)
    return loop.replace(handlers=loop.handlers + watching)


#: The step-state entry holding ``early_stop(restore_best=True)``'s copy of the best model state.
BEST_MODEL_STATE = "best_model_state"


def early_stop(
    loop: Loop,
    metric: str,
    *,
    patience: int = 3,
    mode: str = "min",
    min_delta: float = 0.0,
    restore_best: bool = False,
    event: str = "epoch_completed",
    filter: FilterSpec = "always",
) -> Loop:
    """Halt the loop once ``metric`` has not improved for ``patience`` events.

    ``restore_best=True`` ends the run with the model state of the event where
    ``metric`` was best, as Keras's ``EarlyStopping(restore_best_weights=True)``
    does: a trainer returns it, and ``state.step_state["model_state"]`` holds it,
    however the run ends (halted here or by another handler, or completed). A copy
    of the best model state is kept on the device in the step state,
    ``state.step_state["best_model_state"]``, and replaced at every improvement;
    so it is written into every checkpoint (as arrays), and a run resumed from one
    ends with the same best state as the uninterrupted run. It costs one more copy
    of the model state in device memory. If ``metric`` never improves (NaN
    throughout), the run ends with its last state. The loop's step state must hold
    ``model_state`` (a trainer's does).

    >>> import jax.numpy as jnp, optax, axon.loop
    >>> init = lambda key, x: {"w": jnp.zeros((x.shape[-1], 1))}
    >>> apply = lambda p, x, *, mode, key: (x @ p["w"], None)
    >>> data = [(jnp.ones((4, 2)), jnp.full((4, 1), 2.0))] * 3
    >>> trainer = axon.loop.trainer((init, apply), "mean_squared_error", optax.sgd(0.1), log=0)
    >>> flat = trainer.metric(lambda t, p: jnp.float32(1.0), "flat").replace(output_transform=None)
    >>> state = flat.early_stop("flat", patience=1).run(data, epochs=5)
    >>> state.status, state.epoch
    ('halted', 1)

    Only the first epoch's "flat" was best: with ``restore_best`` that is the model returned.

    >>> best = trainer.metric(lambda t, p: jnp.float32(1.0), "flat")
    >>> best = best.early_stop("flat", patience=1, restore_best=True).run(data, epochs=5)
    >>> first_epoch = trainer.run(data, epochs=1)
    >>> bool(jnp.all(best["w"] == first_epoch["w"]))
    True
    """
    key = f"early_stop:{metric}"
    on_improvement = None
    if restore_best:
        loop = _keeping_best_model_state(loop, key)

        def on_improvement(state: State) -> None:
            step_state = state.step_state
            state.step_state = {**step_state, BEST_MODEL_STATE: _copy(step_state["model_state"])}

    def stop(state: State) -> str:
        return "halt_loop"

    return _watch(
        loop, metric, key, stop, on_improvement, event=event, filter=filter,
        patience=patience, mode=mode, min_delta=min_delta,
    )  # fmt: skip


def _keeping_best_model_state(loop: Loop, key: str) -> Loop:
    """``loop`` whose step state also carries a copy of the best model state, which the
    step passes through untouched, and which replaces the model state when the run ends."""
    if any(spec.name == "restore_best_model_state" for spec in loop.handlers):
        raise ValueError("restore_best=True is given to one early_stop of a loop only.")
    if loop.init_fn is None:
        raise TypeError(
            "early_stop(restore_best=True) needs a loop whose init_fn builds its step state "
            "(a trainer's does): it adds the copy of the best model state there."
        )
    init_fn, step_fn = loop.init_fn, loop.step_fn

    @functools.wraps(init_fn)  # keeps its signature: run(seed=...) looks for the parameter
    def init_with_copy(batch: Any, init_state: Any, **options: Any) -> Any:
        step_state = init_fn(batch, init_state, **options)
        if not isinstance(step_state, Mapping) or "model_state" not in step_state:
            raise KeyError(
                "early_stop(restore_best=True) keeps a copy of step_state['model_state'], "
                "which this loop's step state does not have."
            )
        if BEST_MODEL_STATE in step_state:  # a whole step state given to run()
            return step_state
        return {**step_state, BEST_MODEL_STATE: _copy(step_state["model_state"])}

    def step_with_copy(batch: Any, step_state: Any) -> Any:
        rest = {name: value for name, value in step_state.items() if name != BEST_MODEL_STATE}
        return {**step_fn(batch, rest), BEST_MODEL_STATE: step_state[BEST_MODEL_STATE]}

    def restore_best_model_state(state: State) -> None:
        if state.handler_metadata.get(key, {}).get("best") is None:
            return  # never improved: the copy is of the initial state, keep the last one
        step_state = state.step_state
        state.step_state = {**step_state, "model_state": _copy(step_state[BEST_MODEL_STATE])}

    loop = loop.replace(init_fn=init_with_copy, step_fn=step_with_copy)
    # first: every other handler of the run's end, a trainer's output too, sees the best state
    restoring = handler_specs(
        ["completed", "halted"], restore_best_model_state, first=True, settles_output=True
    )
    return loop.replace(handlers=loop.handlers + restoring)


def _copy(tree: Any) -> Any:
    # the compiled step donates its inputs' buffers: a kept state needs buffers of its own
    return jax.tree_util.tree_map(jnp.copy, tree)


def reduce_lr_on_plateau(
    loop: Loop,
    metric: str,
    *,
    factor: float = 0.1,
    patience: int = 3,
    mode: str = "min",
    min_delta: float = 0.0,
    min_learning_rate: float = 0.0,
    verbose: bool = True,
    event: str = "epoch_completed",
    filter: FilterSpec = "always",
) -> Loop:
    """Multiply the learning rate by ``factor`` once ``metric`` stops improving.

    Works with any optimizer whose learning rate lives in its state through
    ``optax.inject_hyperparams`` — every ``axon.optim`` optimizer does. When the
    state has a ``learning_rate_scale`` (axon.optim's), that is scaled, so this
    works under a schedule too; otherwise ``learning_rate`` itself is scaled.
    The rate never goes below ``min_learning_rate``.

    Each change is printed (``verbose=False``: not), recorded in
    ``state.handler_metadata["learning_rate_reductions"]`` (the iteration and the
    new rates), and shows in the loggers of ``log_to``, which log the learning
    rate with every record of the training metrics (``train/learning_rate`` and
    ``epoch/learning_rate``).

    >>> import jax.numpy as jnp, optax, axon.loop
    >>> init = lambda key, x: {"w": jnp.zeros((x.shape[-1], 1))}
    >>> apply = lambda p, x, *, mode, key: (x @ p["w"], None)
    >>> data = [(jnp.ones((4, 2)), jnp.full((4, 1), 2.0))] * 3
    >>> sgd = optax.inject_hyperparams(optax.sgd)(learning_rate=0.1)
    >>> loop = axon.loop.trainer((init, apply), "mean_squared_error", sgd, log=0)
    >>> loop = loop.metric(lambda t, p: jnp.float32(1.0), "flat").replace(output_transform=None)
    >>> quiet = loop.reduce_lr_on_plateau("flat", patience=1, factor=0.5, verbose=False)
    >>> state = quiet.run(data, epochs=3)
    >>> [change["iteration"] for change in state.handler_metadata["learning_rate_reductions"]]
    [6, 9]
    >>> round(float(state.step_state["optimizer_state"].hyperparams["learning_rate"]), 4)
    0.025
    """
    if not 0.0 < factor < 1.0:
        raise ValueError(f"factor must be in (0, 1), got {factor!r}.")
    waited = _events_named(patience, event)

    def reduce(state: State) -> None:
        step_state = state.step_state
        before = learning_rates(step_state["optimizer_state"])
        reduced = scale_learning_rate(step_state["optimizer_state"], factor, min_learning_rate)
        state.step_state = {**step_state, "optimizer_state": reduced}
        lr = learning_rates(reduced)
        state.handler_metadata.setdefault("learning_rate_reductions", []).append(
            {"iteration": state.iteration, "learning_rate": lr}
        )
        if verbose and lr != before:  # at min_learning_rate already: nothing changed
            print(
                f"Epoch {state.epoch}: reduce_lr_on_plateau: learning rate {_rates(before)} -> "
                f"{_rates(lr)} ({metric} stalled for {waited}).",
                flush=True,
            )

    return _watch(
        loop, metric, f"reduce_lr_on_plateau:{metric}", reduce, event=event, filter=filter,
        patience=patience, mode=mode, min_delta=min_delta,
    )  # fmt: skip


def _events_named(count: int, event: str) -> str:
    """``"3 epochs"``, ``"1 epoch"``, or ``"3 'iteration_completed' events"``."""
    if event == "epoch_completed":
        return f"{count} epoch{'s' if count != 1 else ''}"
    return f"{count} {event!r} event{'s' if count != 1 else ''}"


def _rates(rates: list[float]) -> str:
    return ", ".join(f"{rate:.4g}" for rate in rates)


def halt_on_nonfinite(
    loop: Loop, *, metric: str = "loss", every: int | tuple[str, int] | None = 50
) -> Loop:
    """Halt as soon as ``step_state[metric]`` (the loss) becomes NaN or infinite.

    A trainer has this on by default, looking where its log already reads the device
    (``trainer(..., halt_on_nonfinite=False)`` turns it off). The check runs on the
    device every iteration: the first bad batch of the epoch is remembered in a hidden
    accumulator that travels with the metrics (in a fused block's carry, too). The
    host looks at it only every ``every`` iterations (an int, or ``("epoch", n)`` to
    count within each epoch) and at the end of each epoch (``every=None``: only
    there), so fused blocks are cut no more often than ``every`` asks. It then halts
    the loop (status ``"halted"``), prints the epoch, batch and iteration of the
    first non-finite value to standard error, and records them in
    ``state.handler_metadata["nonfinite"]``. Attaching it again for the same
    ``metric`` replaces the earlier one (e.g. to look more often).

    Args:
        metric: the step-state entry to watch (a trainer has ``"loss"`` and, with
            ``gradient_norm=True``, ``"gradient_norm"``). An unknown name is an
            error naming the entries there are, raised before the first step.
        every: how often the host looks, in iterations; ``None``: at epoch ends only.

    >>> import jax.numpy as jnp, optax, axon.loop
    >>> init = lambda key, x: {"w": jnp.zeros((x.shape[-1], 1))}
    >>> apply = lambda p, x, *, mode, key: (x @ p["w"], None)
    >>> data = [(jnp.ones((4, 2)), jnp.full((4, 1), 2.0))] * 3
    >>> trainer = axon.loop.trainer((init, apply), "mean_squared_error", optax.sgd(0.1), log=0)
    >>> bad = data + [(jnp.ones((4, 2)), jnp.full((4, 1), jnp.nan))] + data
    >>> state = trainer.halt_on_nonfinite().replace(output_transform=None).run(bad)
    >>> state.status, state.handler_metadata["nonfinite"]["iteration"]
    ('halted', 4)
    """
    name = f"first_nonfinite_{metric}"
    key = f"halt_on_nonfinite:{metric}"

    def remember(acc: Any, inputs: Any, i: Any) -> Any:
        # acc holds the first bad batch of the epoch + 1; 0 while all were finite
        (value,) = inputs
        bad = jnp.logical_not(jnp.all(jnp.isfinite(value)))
        return jnp.where((acc == 0) & bad, (i + 1).astype(acc.dtype), acc)

    def transform(step_state: Any) -> tuple[Any]:
        if not isinstance(step_state, Mapping) or metric not in step_state:
            raise KeyError(_unknown_entry(metric, step_state))
        return (step_state[metric],)

    def check(state: State) -> str | None:
        batch = int(state.metric_state["values"][name]) - 1
        if batch < 0:
            return None
        first_iteration = state.iteration - state.count_in_epoch() + batch + 1
        record = {
            "metric": metric, "epoch": state.epoch, "batch": batch + 1,
            "iteration": first_iteration,
        }  # fmt: skip
        if state.handler_metadata.get("nonfinite") != record:  # reported once
            state.handler_metadata["nonfinite"] = record
            print(
                f"The {metric} became non-finite at epoch {state.epoch}, batch {batch + 1} "
                f"(iteration {first_iteration}); halting. Lower the learning rate, clip "
                f"gradients or check that batch.",
                file=sys.stderr,
                flush=True,
            )
        return "halt_loop"

    check.__name__ = key
    # attached again: the new one replaces the earlier (the trainer attaches one by default)
    spec = _nonfinite_spec(name, remember, transform)
    loop = loop.replace(
        metrics=(*(m for m in loop.metrics if m.name != name), spec),
        handlers=tuple(h for h in loop.handlers if h.name != key),
    )
    if every is not None:
        loop = loop.handle_event("iteration_completed", check, {"every": every})
    # Accumulators restart with each epoch: look before they do, however the epoch ended;
    # and once more when the run halts for another reason, to record what happened.
    return loop.handle_event(["epoch_completed", "epoch_halted", "halted"], check, first=True)


def _nonfinite_spec(name: str, accumulator: Any, transform: Any) -> MetricSpec:
    def scalar(value: Any) -> Any:  # gives the accumulator its shape: one float32
        return jnp.zeros((), jnp.float32)

    return MetricSpec(name, scalar, accumulator, transform, visible=False)


def _unknown_entry(metric: str, step_state: Any) -> str:
    if not isinstance(step_state, Mapping):
        kind = "an array" if hasattr(step_state, "shape") else f"a {type(step_state).__name__}"
        return (
            f"halt_on_nonfinite watches step_state[{metric!r}], but this loop's step state is "
            f"{kind}, not a dict of named values."
        )
    known = sorted(str(k) for k in step_state)
    close = difflib.get_close_matches(metric, known, n=1)
    suggestion = f" Did you mean {close[0]!r}?" if close else ""
    return (
        f"halt_on_nonfinite(metric={metric!r}) watches step_state[{metric!r}], but the step "
        f"state holds {known}.{suggestion} Pass metric= one of them (a trainer's loss is "
        f"'loss')."
    )


def check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}.")


def read_metric(state: State, metric: str, who: str) -> float:
    """The current value of ``metric`` on the host; ``who`` names the watcher in the error."""
    if metric not in state.metrics:
        raise KeyError(
            f"{who} watches metric {metric!r}, but the loop has {sorted(state.metrics)}. "
            f"Attach it with .metric(...), or for validation_<name> with .validate(...)."
        )
    return float(state.metrics[metric])


def improves(value: float, best: float | None, mode: str, min_delta: float) -> bool:
    """Whether ``value`` beats ``best`` by more than ``min_delta`` (NaN never does)."""
    if math.isnan(value):
        return False
    if best is None:
        return True
    return value < best - min_delta if mode == "min" else value > best + min_delta
