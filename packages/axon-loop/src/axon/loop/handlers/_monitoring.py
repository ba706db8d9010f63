"""Handlers that watch a metric: ``monitor``, ``early_stop``, ``reduce_lr_on_plateau``,
and ``halt_on_nonfinite``.

Their bookkeeping lives in ``state.handler_metadata`` (JSON), so it survives a resume.
"""

from __future__ import annotations

import difflib
import math
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import optax

from .._events import FilterSpec
from .._metrics import MetricSpec

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
    ``fn`` may return ``"halt_loop"`` etc. like any handler.

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
    check_mode(mode)
    if not isinstance(patience, int) or patience < 1:
        raise ValueError(f"patience must be a positive int, got {patience!r}.")
    key = name or f"monitor:{metric}"

    def check(state: State) -> Any:
        value = read_metric(state, metric, key)
        record = state.handler_metadata.setdefault(key, {"best": None, "since_best": 0})
        if improves(value, record["best"], mode, min_delta):
            record["best"], record["since_best"] = value, 0
            return None
        record["since_best"] += 1
        if record["since_best"] < patience:
            return None
        record["since_best"] = 0
        return fn(state)

    check.__name__ = key
    return loop.handle_event(event, check, filter)


def early_stop(
    loop: Loop,
    metric: str,
    *,
    patience: int = 3,
    mode: str = "min",
    min_delta: float = 0.0,
    event: str = "epoch_completed",
    filter: FilterSpec = "always",
) -> Loop:
    """Halt the loop once ``metric`` has not improved for ``patience`` events.

    >>> import jax.numpy as jnp, optax, axon.loop
    >>> init = lambda key, x: {"w": jnp.zeros((x.shape[-1], 1))}
    >>> apply = lambda p, x, *, mode, key: (x @ p["w"], None)
    >>> data = [(jnp.ones((4, 2)), jnp.full((4, 1), 2.0))] * 3
    >>> trainer = axon.loop.trainer((init, apply), "mean_squared_error", optax.sgd(0.1), log=0)
    >>> flat = trainer.metric(lambda t, p: jnp.float32(1.0), "flat").replace(output_transform=None)
    >>> state = flat.early_stop("flat", patience=1).run(data, epochs=5)
    >>> state.status, state.epoch
    ('halted', 1)
    """

    def stop(state: State) -> str:
        return "halt_loop"

    return monitor(
        loop, metric, stop, f"early_stop:{metric}", event=event, filter=filter,
        patience=patience, mode=mode, min_delta=min_delta,
    )  # fmt: skip


def reduce_lr_on_plateau(
    loop: Loop,
    metric: str,
    *,
    factor: float = 0.1,
    patience: int = 3,
    mode: str = "min",
    min_delta: float = 0.0,
    min_learning_rate: float = 0.0,
    event: str = "epoch_completed",
    filter: FilterSpec = "always",
) -> Loop:
    """Multiply the learning rate by ``factor`` once ``metric`` stops improving.

    Works with any optimizer whose learning rate lives in its state through
    ``optax.inject_hyperparams`` — every ``axon.optim`` optimizer does. When the
    state has a ``learning_rate_scale`` (axon.optim's), that is scaled, so this
    works under a schedule too; otherwise ``learning_rate`` itself is scaled.
    The rate never goes below ``min_learning_rate``.

    >>> import jax.numpy as jnp, optax, axon.loop
    >>> init = lambda key, x: {"w": jnp.zeros((x.shape[-1], 1))}
    >>> apply = lambda p, x, *, mode, key: (x @ p["w"], None)
    >>> data = [(jnp.ones((4, 2)), jnp.full((4, 1), 2.0))] * 3
    >>> trainer = axon.loop.trainer((init, apply), "mean_squared_error", optax.sgd(0.1), log=0)
    >>> sgd = optax.inject_hyperparams(optax.sgd)(learning_rate=0.1)
    >>> loop = axon.loop.trainer((init, apply), "mean_squared_error", sgd, log=0)
    >>> loop = loop.metric(lambda t, p: jnp.float32(1.0), "flat").replace(output_transform=None)
    >>> state = loop.reduce_lr_on_plateau("flat", patience=1, factor=0.5).run(data, epochs=3)
    >>> round(float(state.step_state["optimizer_state"].hyperparams["learning_rate"]), 4)
    0.025
    """
    if not 0.0 < factor < 1.0:
        raise ValueError(f"factor must be in (0, 1), got {factor!r}.")

    def reduce(state: State) -> None:
        step_state = state.step_state
        reduced = _scale_learning_rate(step_state["optimizer_state"], factor, min_learning_rate)
        state.step_state = {**step_state, "optimizer_state": reduced}
        lr = _learning_rates(reduced)
        state.handler_metadata.setdefault("learning_rate_reductions", []).append(
            {"iteration": state.iteration, "learning_rate": lr}
        )

    return monitor(
        loop, metric, reduce, f"reduce_lr_on_plateau:{metric}", event=event, filter=filter,
        patience=patience, mode=mode, min_delta=min_delta,
    )  # fmt: skip


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


def _injected(node: Any) -> bool:
    return isinstance(node, optax.InjectHyperparamsState | optax.InjectStatefulHyperparamsState)


def _scale_learning_rate(optimizer_state: Any, factor: float, floor: float) -> Any:
    found = []

    def scale(node: Any) -> Any:
        if not _injected(node):
            return node
        hyperparams = dict(node.hyperparams)
        if "learning_rate_scale" in hyperparams and "learning_rate" in hyperparams:
            scale = jnp.asarray(hyperparams["learning_rate_scale"])
            lr = hyperparams["learning_rate"] * scale
            target = jnp.maximum(lr * factor, floor)
            ratio = jnp.where(lr > 0, target / lr, 1.0)
            hyperparams["learning_rate_scale"] = (scale * ratio).astype(scale.dtype)
        elif "learning_rate" in hyperparams:
            lr = jnp.asarray(hyperparams["learning_rate"])
            hyperparams["learning_rate"] = jnp.maximum(lr * factor, floor).astype(lr.dtype)
        else:
            return node
        found.append(node)
        return node._replace(hyperparams=hyperparams)

    scaled = jax.tree_util.tree_map(scale, optimizer_state, is_leaf=_injected)
    if not found:
        raise ValueError(
            "reduce_lr_on_plateau found no learning rate in the optimizer state. Use an "
            "axon.optim optimizer, or wrap an optax one: optax.inject_hyperparams(optax.adam)"
            "(learning_rate=1e-3)."
        )
    return scaled


def _learning_rates(optimizer_state: Any) -> list[float]:
    rates = []
    for node in jax.tree_util.tree_leaves(optimizer_state, is_leaf=_injected):
        if _injected(node) and "learning_rate" in node.hyperparams:
            scale = node.hyperparams.get("learning_rate_scale", 1.0)
            rates.append(float(node.hyperparams["learning_rate"] * scale))
    return rates
