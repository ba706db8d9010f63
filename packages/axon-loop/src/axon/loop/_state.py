"""``State``: everything a running loop knows, handed to every handler."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._events import PER_EPOCH_EVENTS, Event


@dataclass
class State:
    """The state of a loop run (``Axon.Loop.State``), mutable while the run goes on.

    Attributes:
        step_state: the pytree the step function carries (for a trainer: model state,
            optimizer state, PRNG key, last loss and predictions).
        epoch: the current epoch, counted from 0.
        max_epoch: the number of epochs of this run.
        iteration: iterations completed in total across epochs.
        max_iteration: iterations per epoch, or ``None`` for the whole data.
        epoch_length: the number of batches this epoch, when the data has a length.
        metrics: the current epoch's metric values by name, as device arrays
            (reading one with ``float()`` is the only host sync).
        history: completed epochs' metrics, ``{epoch: {name: value}}``.
        times: seconds spent in each completed epoch.
        handler_metadata: handlers' own state; JSON values only, because it is
            checkpointed and restored on resume (e.g. a monitor's best value).
        resources: open objects handlers keep for one run (loggers, checkpoint
            stores); never checkpointed. If the run ends with an exception, the
            loop calls ``close()`` on each before re-raising.
        event_counts: how many times each event fired (iteration events also per epoch).
        status: ``"running"``, then ``"completed"``, ``"halted"`` or (on an exception) ``"failed"``.
        metric_state: the metric accumulators on the device (``{"count", "values"}``).
        epoch_done: whether the current epoch has completed (for resuming).
        resumed_from: the iteration a resumed run continued from, else ``None``.
        run_id: identifies the run: a fresh run gets a new one, a resumed run keeps
            the one it resumes. Checkpoints and loggers record it, so that the files
            of two runs never mix.
        data_position: where the last batch consumed was read from, for data that can
            save its position (grain's iterator state, a loader's ``state_dict()``),
            else ``None``. Checkpoints store it, so a resume starts the data there
            instead of reading the epoch again; batches read ahead by the prefetch
            thread do not count.

    A loop without an ``output_transform`` returns its final state:

    >>> import jax.numpy as jnp
    >>> from axon.loop import Loop
    >>> counter = Loop(lambda batch, total: total + batch.sum())
    >>> state = counter.run([jnp.ones(2)] * 3, jnp.float32(0), epochs=2)
    >>> state.status, state.epoch, state.iteration, state.epoch_length
    ('completed', 1, 6, 3)
    >>> float(state.step_state)
    12.0
    """

    step_state: Any
    epoch: int = 0
    max_epoch: int = 1
    iteration: int = 0
    max_iteration: int | None = None
    epoch_length: int | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    history: dict[int, dict[str, Any]] = field(default_factory=dict)
    times: dict[int, float] = field(default_factory=dict)
    handler_metadata: dict[str, Any] = field(default_factory=dict)
    resources: dict[str, Any] = field(default_factory=dict)
    event_counts: dict[str, Any] = field(default_factory=dict)
    status: str = "running"
    metric_state: Any = None
    epoch_done: bool = False
    resumed_from: int | None = None
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    data_position: dict[str, Any] | None = None

    def count(self, event: Event, scope: str = "total") -> int:
        """How many times ``event`` fired, in total or (iteration events) this epoch.

        ``scope`` is ``"total"`` or ``"epoch"``; only ``ITERATION_STARTED`` and
        ``ITERATION_COMPLETED`` are counted per epoch.

        >>> import jax.numpy as jnp
        >>> from axon.loop import Event, Loop
        >>> counter = Loop(lambda batch, total: total + batch.sum())
        >>> state = counter.run([jnp.ones(2)] * 3, jnp.float32(0), epochs=2)
        >>> state.count(Event.EPOCH_COMPLETED)
        2
        >>> state.count(Event.ITERATION_COMPLETED), state.count(Event.ITERATION_COMPLETED, "epoch")
        (6, 3)
        """
        counts = self.event_counts.get(event.value, 0)
        if isinstance(counts, dict):
            return counts[scope]
        return counts

    def count_in_epoch(self) -> int:
        """Iterations completed in the current epoch.

        >>> import jax.numpy as jnp
        >>> from axon.loop import Loop
        >>> counter = Loop(lambda batch, total: total + batch.sum())
        >>> report = lambda state: print(state.epoch, state.count_in_epoch(), state.iteration)
        >>> watched = counter.handle_event("iteration_completed", report, {"every": 2})
        >>> _ = watched.run([jnp.ones(2)] * 3, jnp.float32(0), epochs=2)
        0 2 2
        1 1 4
        1 3 6
        """
        return self.count(Event.ITERATION_COMPLETED, "epoch")

    def record(self, event: Event, times: int = 1) -> None:
        """Count ``times`` occurrences of ``event``; the loop calls it before the event's handlers.

        >>> from axon.loop import Event, State
        >>> state = State(step_state=None)
        >>> state.record(Event.STARTED)
        >>> state.record(Event.ITERATION_COMPLETED)
        >>> state.event_counts
        {'started': 1, 'iteration_completed': {'total': 1, 'epoch': 1}}
        """
        if event in PER_EPOCH_EVENTS:
            counts = self.event_counts.setdefault(event.value, {"total": 0, "epoch": 0})
            counts["total"] += times
            counts["epoch"] += times
        else:
            self.event_counts[event.value] = self.event_counts.get(event.value, 0) + times

    def start_epoch(self) -> None:
        """Reset the per-epoch counts of the iteration events (the loop calls it).

        >>> from axon.loop import Event, State
        >>> state = State(step_state=None)
        >>> for _ in range(3):
        ...     state.record(Event.ITERATION_COMPLETED)
        >>> state.start_epoch()
        >>> state.count_in_epoch(), state.count(Event.ITERATION_COMPLETED)
        (0, 3)
        """
        for event in PER_EPOCH_EVENTS:
            if event.value in self.event_counts:
                self.event_counts[event.value]["epoch"] = 0

    def metric_values(self) -> dict[str, Any]:
        """The current metrics on the host: floats for scalars, NumPy arrays otherwise.

        This is the one place metrics are read from the device.

        >>> import jax.numpy as jnp
        >>> from axon.loop import State
        >>> metrics = {"loss": jnp.float32(0.25), "counts": jnp.ones(2)}
        >>> state = State(step_state=None, metrics=metrics)
        >>> state.metric_values()
        {'loss': 0.25, 'counts': array([1., 1.], dtype=float32)}
        """
        values = {}
        for name, value in self.metrics.items():
            array = np.asarray(value)
            values[name] = float(array) if array.ndim == 0 else array
        return values

    def scalar_metrics(self) -> dict[str, float]:
        """The scalar metrics as floats (what loggers plot); non-scalar ones are left out.

        >>> import jax.numpy as jnp
        >>> from axon.loop import State
        >>> metrics = {"loss": jnp.float32(0.25), "counts": jnp.ones(2)}
        >>> state = State(step_state=None, metrics=metrics)
        >>> state.scalar_metrics()
        {'loss': 0.25}
        """
        return {k: v for k, v in self.metric_values().items() if isinstance(v, float)}
