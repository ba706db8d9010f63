"""``Loop``: an immutable description of a run; ``run`` executes it.

A run is a reduction of a dataset with an accumulated state for a number of
epochs (Axon.Loop, after PyTorch Ignite's Engine). The step function and the
metric updates are fused into one ``jax.jit``-compiled function with donated
buffers; metric values stay on the device until a handler reads them.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp

from ._events import Event, FilterSpec, Halt, make_filter
from ._metrics import MetricSpec, make_metric
from ._state import State

StepFn = Callable[[Any, Any], Any]
InitFn = Callable[[Any, Any], Any]
Handler = Callable[[State], Any]


class EmptyDataError(ValueError):
    """The data given to ``run`` produced no batch."""


@dataclass(frozen=True)
class _HandlerSpec:
    event: Event
    handler: Handler
    filter: Callable[[State, Event], bool]
    name: str
    first: bool = False  # runs before the event's other handlers (e.g. validation)


@dataclass(frozen=True)
class Loop:
    """A loop: a step function, its initial state, metrics and event handlers.

    Builder methods return a new ``Loop``; the original is never changed, so a
    loop can be extended and reused freely.

    Args:
        step_fn: ``step_fn(batch, step_state) -> step_state``, traceable by JAX.
        init_fn: ``init_fn(batch, init_state) -> step_state``, called once with the
            first batch; by default the initial state is used as it is.
        output_transform: applied to the final ``State`` by :meth:`run`.

    >>> import jax.numpy as jnp
    >>> counter = Loop(lambda batch, total: total + jnp.sum(batch), lambda batch, init: init)
    >>> counter.run([jnp.ones(2), jnp.ones(3)], jnp.float32(0)).step_state
    Array(5., dtype=float32)
    """

    step_fn: StepFn
    init_fn: InitFn | None = None
    output_transform: Callable[[State], Any] | None = None
    metrics: tuple[MetricSpec, ...] = ()
    handlers: tuple[_HandlerSpec, ...] = ()
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def replace(self, **changes: Any) -> Loop:
        """A copy with some fields replaced (e.g. ``output_transform=None`` to get the State)."""
        return dataclasses.replace(self, _cache={}, **changes)

    # -- instrumentation ---------------------------------------------------------------------

    def metric(
        self,
        metric: str | Callable[..., Any],
        name: str | None = None,
        accumulate: str | Callable[[Any, Any, Any], Any] = "running_average",
        transform: Callable[[Any], tuple[Any, ...]] | None = None,
    ) -> Loop:
        """Track ``metric`` (a registered name or ``fn(y_true, y_pred)``), reset every epoch.

        ``accumulate`` is ``"running_average"``, ``"running_sum"`` or
        ``fn(acc, value, i) -> acc``; ``transform(step_state)`` picks the metric's
        arguments (default ``(step_state["y_true"], step_state["y_pred"])``).
        Values are accumulated on the device inside the compiled step.
        """
        spec = make_metric(metric, name, accumulate, transform)
        kept = tuple(m for m in self.metrics if m.name != spec.name)
        if len(kept) != len(self.metrics):
            warnings.warn(
                f"Metric {spec.name!r} is attached twice; the later one replaces the earlier.",
                stacklevel=2,
            )
        return self.replace(metrics=(*kept, spec))

    def handle_event(
        self,
        event: Event | str | Iterable[Event | str],
        handler: Handler,
        filter: FilterSpec = "always",
        *,
        first: bool = False,
    ) -> Loop:
        """Call ``handler(state)`` on ``event`` (or each of several events, or ``"all"``).

        The handler may return ``None``/``"continue"``, ``"halt_epoch"`` or
        ``"halt_loop"``. Handlers run in the order they were attached, except that
        those attached with ``first=True`` run before the others of their event.
        ``filter`` is ``"always"``, ``"first"``, a dict such as ``{"every": 100}``
        or ``fn(state, event) -> bool``.
        """
        if event == "all":
            events: list[Event] = list(Event)
        elif isinstance(event, (str, Event)):
            events = [Event.parse(event)]
        else:
            events = [Event.parse(e) for e in event]
        if not callable(handler):
            raise TypeError(f"A handler must be callable, got {type(handler).__name__}.")
        check = make_filter(filter)
        name = getattr(handler, "__name__", type(handler).__name__)
        added = tuple(_HandlerSpec(e, handler, check, name, first) for e in events)
        return self.replace(handlers=self.handlers + added)

    def log(
        self,
        message_fn: Callable[[State], str],
        *,
        event: Event | str = "iteration_completed",
        filter: FilterSpec = "always",
        stream: Any = None,
    ) -> Loop:
        """Print ``message_fn(state)`` on ``event`` (to ``stream``, stdout by default)."""
        import sys

        def log_message(state: State) -> None:
            print(message_fn(state), file=stream or sys.stdout, flush=True)

        return self.handle_event(event, log_message, filter)

    def validate(self, model: Any, data: Any, **options: Any) -> Loop:
        """Evaluate on ``data`` each epoch, adding ``validation_<metric>`` metrics.

        See :func:`axon.loop.handlers.validate` for the options.
        """
        from ._handlers import validate

        return validate(self, model, data, **options)

    def log_to(self, logger: Any, **options: Any) -> Loop:
        """Send metrics to a logger (``"tensorboard"``, ``"csv"``... or an object).

        See :func:`axon.loop.handlers.log_to` for the options.
        """
        from ._handlers import log_to

        return log_to(self, logger, **options)

    def checkpoint(self, path: Any = "checkpoints", **options: Any) -> Loop:
        """Save checkpoints of the step state; see :func:`axon.loop.handlers.checkpoint`."""
        from ._handlers import checkpoint

        return checkpoint(self, path, **options)

    def attach(self, name: str, *args: Any, **options: Any) -> Loop:
        """Attach a handler registered by name (built-in or from a plugin)."""
        from .plugins import handlers

        return handlers.get(name)(self, *args, **options)

    # -- running --------------------------------------------------------------------------

    def run(
        self,
        data: Iterable[Any] | Callable[[], Iterable[Any]],
        init_state: Any = None,
        *,
        epochs: int = 1,
        iterations: int | None = None,
        jit: bool = True,
    ) -> Any:
        """Run the loop over ``data`` for ``epochs`` epochs and return the output.

        ``data`` is any re-iterable of batches (a list, an array-backed loader, a
        ``torch.utils.data.DataLoader``) or a function returning a fresh iterable
        per epoch; a one-shot generator serves a single epoch. ``iterations``
        caps the batches per epoch. With ``jit=False`` the step runs eagerly
        (for debugging with ``print`` and breakpoints).
        """
        if not isinstance(epochs, int) or epochs < 1:
            raise ValueError(f"epochs must be a positive int, got {epochs!r}.")
        if iterations is not None and (not isinstance(iterations, int) or iterations < 1):
            raise ValueError(f"iterations must be a positive int or None, got {iterations!r}.")
        batches = _epoch_batches(data)
        first_epoch = batches(0)
        try:
            first = next(first_epoch)
        except StopIteration:
            raise EmptyDataError(
                "The data given to run() produced no batches. Pass a non-empty iterable "
                "of batches, e.g. a list of (inputs, targets) tuples."
            ) from None
        step_state = self.init_fn(first, init_state) if self.init_fn else init_state
        # The compiled step donates its inputs; copy once so the caller's arrays survive.
        step_state = jax.tree_util.tree_map(jnp.array, step_state)
        state = State(step_state=step_state, max_epoch=epochs, max_iteration=iterations)
        _Engine(self, state, jit).run(itertools.chain([first], first_epoch), batches)
        return self.output_transform(state) if self.output_transform else state


class _Engine:
    """Executes one run: fires events, dispatches handlers, calls the compiled step."""

    def __init__(self, loop: Loop, state: State, jit: bool):
        self.loop = loop
        self.state = state
        self.step = _compiled_step(loop, jit)
        self.by_event: dict[Event, list[_HandlerSpec]] = {}
        for spec in sorted(loop.handlers, key=lambda spec: not spec.first):  # stable sort
            self.by_event.setdefault(spec.event, []).append(spec)

    def in_attach_order(self, values: dict[str, Any]) -> dict[str, Any]:
        # jit returns dicts with sorted keys; show metrics in the order they were attached
        return {m.name: values[m.name] for m in self.loop.metrics}

    def fire(self, event: Event) -> Halt:
        state = self.state
        state.record(event)
        outcome = Halt.CONTINUE
        for spec in self.by_event.get(event, ()):
            if not spec.filter(state, event):
                continue
            result = spec.handler(state)
            if result is not None and result != Halt.CONTINUE:
                try:
                    result = Halt(result)
                except ValueError:
                    raise ValueError(
                        f"Handler {spec.name!r} on {event.value!r} returned {result!r}; return "
                        f"None, 'continue', 'halt_epoch' or 'halt_loop'."
                    ) from None
                if outcome != Halt.LOOP:
                    outcome = result
        return outcome

    def run(self, first_epoch: Iterator[Any], batches: Callable[[int], Iterator[Any]]) -> None:
        state = self.state
        halted = self.fire(Event.STARTED) == Halt.LOOP
        metric_state = None
        for epoch in range(state.max_epoch):
            if halted:
                break
            state.epoch = epoch
            state.start_epoch()
            started = time.perf_counter()
            metric_state = _zero_metrics(self.loop.metrics, state.step_state)
            state.metrics = self.in_attach_order(metric_state["values"])
            outcome = self.fire(Event.EPOCH_STARTED)
            seen = 0
            epoch_batches = first_epoch if epoch == 0 else batches(epoch)
            for batch in epoch_batches:
                if outcome != Halt.CONTINUE:
                    break
                outcome = self.fire(Event.ITERATION_STARTED)
                if outcome != Halt.CONTINUE:
                    break
                state.step_state, metric_state = self.step(state.step_state, metric_state, batch)
                state.metrics = self.in_attach_order(metric_state["values"])
                state.iteration += 1
                seen += 1
                outcome = self.fire(Event.ITERATION_COMPLETED)
                if state.max_iteration is not None and seen >= state.max_iteration:
                    break
            if seen == 0 and outcome == Halt.CONTINUE:
                raise EmptyDataError(
                    f"The data produced no batches in epoch {epoch}. A generator or iterator "
                    f"can be consumed only once: pass a list, a re-iterable loader, or a "
                    f"function returning a fresh iterable for every epoch."
                )
            jax.block_until_ready(state.step_state)
            state.times[epoch] = time.perf_counter() - started
            if outcome == Halt.LOOP:
                halted = True
                break
            if outcome == Halt.EPOCH:
                halted = self.fire(Event.EPOCH_HALTED) == Halt.LOOP
                continue
            halted = self.fire(Event.EPOCH_COMPLETED) == Halt.LOOP
            state.history[epoch] = dict(state.metrics)
        state.status = "halted" if halted else "completed"
        self.fire(Event.HALTED if halted else Event.COMPLETED)


def _compiled_step(loop: Loop, jit: bool) -> Callable[..., Any]:
    """The step fused with metric updates; compiled once per loop and reused across runs."""
    key = "jit" if jit else "eager"
    if key not in loop._cache:
        step_fn, metrics = loop.step_fn, loop.metrics

        def fused(step_state: Any, metric_state: dict[str, Any], batch: Any):
            step_state = step_fn(batch, step_state)
            i = metric_state["count"]
            values = {
                m.name: m.update(metric_state["values"][m.name], step_state, i) for m in metrics
            }
            return step_state, {"count": i + 1, "values": values}

        loop._cache[key] = jax.jit(fused, donate_argnums=(0, 1)) if jit else fused
    return loop._cache[key]


def _zero_metrics(metrics: tuple[MetricSpec, ...], step_state: Any) -> dict[str, Any]:
    values = {}
    for m in metrics:
        struct = jax.eval_shape(m.value, step_state)
        values[m.name] = jnp.zeros(struct.shape, jnp.result_type(struct.dtype, jnp.float32))
    return {"count": jnp.int32(0), "values": values}


def _epoch_batches(data: Any) -> Callable[[int], Iterator[Any]]:
    """A function giving each epoch's iterator of batches."""
    if callable(data) and not hasattr(data, "__iter__"):
        return lambda epoch: iter(data())
    if not hasattr(data, "__iter__"):
        raise TypeError(
            f"run() needs an iterable of batches or a function returning one, got "
            f"{type(data).__name__}."
        )
    return lambda epoch: iter(data)
