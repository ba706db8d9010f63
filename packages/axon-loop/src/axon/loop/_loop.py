"""``Loop``: an immutable description of a run; ``run`` executes it.

A run is a reduction of a dataset with an accumulated state for a number of
epochs (Axon.Loop, after PyTorch Ignite's Engine). The step function and the
metric updates are fused into one ``jax.jit``-compiled function with donated
buffers; metric values stay on the device until a handler reads them.
"""

from __future__ import annotations

import dataclasses
import inspect
import itertools
import os
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp

from ._engine import DataSource, EmptyDataError, Engine, Placement, fused_step, zero_metrics
from ._events import Event, FilterSpec, make_filter
from ._metrics import MetricSpec, make_metric
from ._persist import check_layout, restore, snapshot
from ._state import State

StepFn = Callable[[Any, Any], Any]
InitFn = Callable[[Any, Any], Any]
Handler = Callable[[State], Any]


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
    resume_state: State | None = None
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

    def monitor(
        self, metric: str, fn: Callable[[State], Any], name: str | None = None, **options: Any
    ) -> Loop:
        """Call ``fn(state)`` when ``metric`` stops improving.

        See :func:`axon.loop.handlers.monitor`."""
        from ._monitor import monitor

        return monitor(self, metric, fn, name, **options)

    def early_stop(self, metric: str, **options: Any) -> Loop:
        """Halt when ``metric`` stops improving; see :func:`axon.loop.handlers.early_stop`."""
        from ._monitor import early_stop

        return early_stop(self, metric, **options)

    def reduce_lr_on_plateau(self, metric: str, **options: Any) -> Loop:
        """Lower the learning rate when ``metric`` stops improving; see
        :func:`axon.loop.handlers.reduce_lr_on_plateau`."""
        from ._monitor import reduce_lr_on_plateau

        return reduce_lr_on_plateau(self, metric, **options)

    def halt_on_nonfinite(self, **options: Any) -> Loop:
        """Halt when the loss becomes NaN/inf; see :func:`axon.loop.handlers.halt_on_nonfinite`."""
        from ._monitor import halt_on_nonfinite

        return halt_on_nonfinite(self, **options)

    def attach(self, name: str, *args: Any, **options: Any) -> Loop:
        """Attach a handler registered by name (built-in or from a plugin)."""
        from .plugins import handlers

        return handlers.get(name)(self, *args, **options)

    # -- running --------------------------------------------------------------------------

    def from_state(self, state: State) -> Loop:
        """A loop whose next run continues from ``state`` (``Axon.Loop.from_state``).

        ``state`` is a ``State`` from an earlier run of this loop or from
        :func:`axon.loop.deserialize_state`; ``run(..., epochs=N)`` then continues
        until epoch ``N`` (the data position, counters and metrics carry over).
        """
        return self.replace(resume_state=state)

    def run(
        self,
        data: Iterable[Any] | Callable[..., Iterable[Any]],
        init_state: Any = None,
        *,
        epochs: int = 1,
        iterations: int | None = None,
        jit: bool = True,
        steps_per_dispatch: int = 1,
        resume_from: Any = None,
        mesh: Any = None,
        batch_axis: str = "data",
        debug: bool = False,
        seed: int | None = None,
    ) -> Any:
        """Run the loop over ``data`` for ``epochs`` epochs and return the output.

        Args:
            data: a re-iterable of batches (a list, an array-backed loader, a
                ``torch.utils.data.DataLoader``), a one-shot iterator (one epoch only),
                or a function ``fn()`` / ``fn(epoch)`` returning each epoch's batches.
            init_state: passed to the loop's ``init_fn`` (for a trainer: a model
                state to start from).
            epochs: the epoch to stop at (counting the epochs of a resumed run).
            iterations: at most this many batches per epoch.
            jit: compile the step (``False`` runs it eagerly, for debugging).
            steps_per_dispatch: run up to this many iterations per device dispatch
                with ``lax.scan`` (fused mode). Blocks stop wherever a handler
                fires, so handlers see the same states as without fusion.
            resume_from: continue an interrupted run exactly: a checkpoint directory
                (orbax, latest step), a checkpoint backend object (its latest step),
                or a ``State``. The data must give the same batches per epoch.
            mesh: a ``jax.sharding.Mesh``: batches are split along ``batch_axis``
                across its devices, the step state is replicated (data parallel).
                With several processes (``jax.distributed.initialize``), each
                process passes its own share of every batch.
            debug: print every handler call and each step's time to stderr
                (waiting for each step to finish, so the run is slower).
            seed: for this run, replaces the seed the loop was built with (a
                trainer's parameter initialization and per-step keys).
        """
        if not isinstance(epochs, int) or epochs < 1:
            raise ValueError(f"epochs must be a positive int, got {epochs!r}.")
        if iterations is not None and (not isinstance(iterations, int) or iterations < 1):
            raise ValueError(f"iterations must be a positive int or None, got {iterations!r}.")
        if not isinstance(steps_per_dispatch, int) or steps_per_dispatch < 1:
            raise ValueError(
                f"steps_per_dispatch must be a positive int, got {steps_per_dispatch!r}."
            )
        source = DataSource(data)
        placement = Placement(mesh, batch_axis)
        saved = _load_resume(resume_from if resume_from is not None else self.resume_state)
        start_epoch, skip, mid_epoch = _position(saved.metadata if saved else None)
        if start_epoch >= epochs:
            raise ValueError(
                f"The resumed run already finished epoch {start_epoch - 1}; pass "
                f"epochs > {start_epoch} to train further."
            )
        batches = source.starting_at(start_epoch, skip)
        try:
            first = next(batches)
        except StopIteration:
            raise EmptyDataError(
                "The data given to run() produced no batches. Pass a non-empty iterable "
                "of batches, e.g. a list of (inputs, targets) tuples."
            ) from None
        step_state = self._initial_step_state(first, init_state, seed)
        # The compiled step donates its inputs; copy once so the caller's arrays survive.
        step_state = placement.replicate(jax.tree_util.tree_map(jnp.array, step_state))
        state = State(step_state=step_state, max_epoch=epochs, max_iteration=iterations)
        state.metric_state = placement.replicate(zero_metrics(self.metrics, step_state))
        if saved is not None:
            saved.restore_into(state, placement)
        state.step_state, state.metric_state = placement.settle(
            fused_step(self), state.step_state, state.metric_state, first
        )
        engine = Engine(
            self, state, jit=jit, steps_per_dispatch=steps_per_dispatch, placement=placement,
            debug=debug,
        )  # fmt: skip
        engine.run(source, start_epoch, itertools.chain([first], batches), mid_epoch)
        return self.output_transform(state) if self.output_transform else state

    def _initial_step_state(self, first: Any, init_state: Any, seed: int | None) -> Any:
        if self.init_fn is None:
            return init_state
        if seed is None:
            return self.init_fn(first, init_state)
        if "seed" not in inspect.signature(self.init_fn).parameters:
            raise TypeError(
                "run(seed=...) needs a loop whose init_fn takes a seed= argument (trainers "
                "do); seed your own init_fn yourself."
            )
        return self.init_fn(first, init_state, seed=seed)


class _Saved:
    """A loaded checkpoint waiting for a fresh state to give it its structure."""

    def __init__(self, metadata: dict[str, Any], load: Callable[[State], dict[str, Any]]):
        self.metadata = metadata
        self._load = load

    def restore_into(self, state: State, placement: Placement) -> None:
        check_layout(state, self.metadata)
        tree = placement.replicate(self._load(state))
        restore(state, tree, self.metadata)


def _load_resume(source: Any) -> _Saved | None:
    """What ``resume_from`` points at, as metadata now and arrays on demand."""
    if source is None:
        return None
    if isinstance(source, State):
        tree, metadata = snapshot(source)
        return _Saved(metadata, lambda state: tree)
    if isinstance(source, (str, os.PathLike)):
        from .checkpoint import OrbaxBackend

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

    return _Saved(backend.metadata(steps[-1]), load)


def _position(metadata: dict[str, Any] | None) -> tuple[int, int, bool]:
    """``(epoch to start, batches to skip, whether that epoch was already started)``."""
    if metadata is None:
        return 0, 0, False
    if metadata["epoch_done"]:
        return metadata["epoch"] + 1, 0, False
    return metadata["epoch"], metadata["epoch_iterations"], True
