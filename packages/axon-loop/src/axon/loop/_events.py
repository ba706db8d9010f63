"""Loop events, handler results, event filters and attached handlers (``Axon.Loop`` / Ignite
semantics)."""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._state import State


class Event(enum.StrEnum):
    """Points in a run where handlers fire, in the order they occur.

    ``EPOCH_HALTED`` and ``HALTED`` replace ``EPOCH_COMPLETED`` and ``COMPLETED``
    when a handler halts the epoch or the loop. Handlers name events by value
    (``"epoch_completed"``) or by member.

    >>> import jax.numpy as jnp
    >>> from axon.loop import Event, Loop
    >>> seen = []
    >>> counter = Loop(lambda batch, total: total + batch.sum())
    >>> for event in Event:
    ...     counter = counter.handle_event(event, lambda state, event=event: seen.append(event))
    >>> _ = counter.run([jnp.ones(2)] * 2, jnp.float32(0))
    >>> print(*seen)  # doctest: +NORMALIZE_WHITESPACE
    started epoch_started iteration_started iteration_completed iteration_started
    iteration_completed epoch_completed completed
    """

    STARTED = "started"
    EPOCH_STARTED = "epoch_started"
    ITERATION_STARTED = "iteration_started"
    ITERATION_COMPLETED = "iteration_completed"
    EPOCH_COMPLETED = "epoch_completed"
    EPOCH_HALTED = "epoch_halted"
    HALTED = "halted"
    COMPLETED = "completed"

    @classmethod
    def parse(cls, event: Event | str) -> Event:
        """The ``Event`` named by ``event`` (a value such as ``"epoch_completed"``).

        Raises:
            ValueError: an unknown name; the message lists the events.

        >>> from axon.loop import Event
        >>> Event.parse("epoch_completed")
        <Event.EPOCH_COMPLETED: 'epoch_completed'>
        >>> Event.parse(Event.STARTED)
        <Event.STARTED: 'started'>
        >>> try:
        ...     Event.parse("epoch_end")
        ... except ValueError as error:
        ...     print(str(error).split(";")[0])
        Unknown event 'epoch_end'
        """
        try:
            return cls(event)
        except ValueError:
            raise ValueError(
                f"Unknown event {event!r}; events are {[e.value for e in cls]}."
            ) from None


#: Events counted separately per epoch as well as in total.
PER_EPOCH_EVENTS = (Event.ITERATION_STARTED, Event.ITERATION_COMPLETED)


class Halt(enum.StrEnum):
    """What a handler may return to steer the loop (``None`` means continue).

    ``Halt.EPOCH`` ends the current epoch (the next one starts as usual);
    ``Halt.LOOP`` ends the run with status ``"halted"``. The members equal their
    string values, so a handler may return ``"halt_loop"`` as well.

    >>> import jax.numpy as jnp
    >>> from axon.loop import Halt, Loop
    >>> counter = Loop(lambda batch, total: total + batch.sum())
    >>> two_per_epoch = lambda state: Halt.EPOCH if state.count_in_epoch() == 2 else None
    >>> halting = counter.handle_event("iteration_completed", two_per_epoch)
    >>> state = halting.run([jnp.ones(2)] * 3, jnp.float32(0), epochs=2)
    >>> state.iteration, state.status
    (4, 'completed')
    >>> Halt.LOOP == "halt_loop"
    True
    """

    CONTINUE = "continue"
    EPOCH = "halt_epoch"
    LOOP = "halt_loop"


Filter = Callable[["State", Event], bool]
FilterSpec = str | Mapping[str, Any] | Filter
Handler = Callable[["State"], Any]


@dataclass(frozen=True)
class HandlerSpec:
    """A handler attached to one event: what ``Loop.handle_event`` records, the engine fires."""

    event: Event
    handler: Handler
    filter: Filter
    name: str
    first: bool = False  # runs before the event's other handlers (e.g. validation)
    # a handler that writes checkpoints: opens a reader of them, for run(resume="auto")
    resume_source: Callable[[], Any] | None = None
    # writes to a log (log_to): runs after the first handlers and before the others, so
    # that a checkpoint written on the same event comes after its records and marks them
    logs: bool = False
    # opens resources before the run builds its initial state (a progress display, so
    # that model initialization shows): run() keeps them in state.resources under their
    # keys and closes them when it ends, however it ends (after their own handlers may
    # have: closing must be harmless the second time)
    opens: Callable[[], dict[str, Any]] | None = None
    # watches a metric (monitor, early_stop, reduce_lr_on_plateau): runs after the logging
    # handlers and before the others, so that a checkpoint written on the same event holds
    # its bookkeeping (a count, a kept best state, a reduced learning rate)
    watches: bool = False
    # decides what the run gives back at its end (early_stop's restore_best): also run when
    # run(resume="auto") finds the run already finished, so a relaunch returns the same
    settles_output: bool = False

    @property
    def order(self) -> int:
        """Where the handler runs among those of its event (stable within one order)."""
        return 0 if self.first else 1 if self.logs else 2 if self.watches else 3


def handler_specs(
    event: Event | str | Iterable[Event | str],
    handler: Handler,
    filter: FilterSpec = "always",
    **flags: Any,
) -> tuple[HandlerSpec, ...]:
    """A :class:`HandlerSpec` of ``handler`` for ``event`` (or each of several, or ``"all"``);
    ``flags`` are its ``first``, ``resume_source``, ``logs``, ``watches``, ``opens`` and
    ``settles_output``."""
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
    return tuple(HandlerSpec(e, handler, check, name, **flags) for e in events)


def make_filter(spec: FilterSpec) -> Filter:
    """Build a filter from ``"always"``, ``"first"``, a dict of conditions or a function.

    Conditions (all must hold): ``every=n``, ``before=n``, ``after=n``, ``once=n``;
    each counts the event's occurrences in total, or per epoch when given as
    ``("epoch", n)`` (iteration events only). ``{"seconds": s}`` (alone) passes at most
    once every ``s`` seconds of wall time (``0``: every time it is asked) and never
    ends a fused block: it is asked only where the host has control anyway, at the end
    of each dispatch, so a live display can refresh by time without slowing training.
    A function ``(state, event) -> bool`` is used as it is.

    >>> from axon.loop import State
    >>> counts = {"iteration_completed": {"total": 8, "epoch": 3}}
    >>> state = State(step_state=None, event_counts=counts)
    >>> make_filter({"every": 4})(state, Event.ITERATION_COMPLETED)
    True
    >>> make_filter({"every": ("epoch", 4)})(state, Event.ITERATION_COMPLETED)
    False
    >>> twice_a_second = make_filter({"seconds": 0.5})
    >>> [twice_a_second(state, Event.ITERATION_COMPLETED) for _ in range(2)]
    [True, False]
    """
    if callable(spec):
        return spec
    if spec == "always":
        return CountFilter([])
    if spec == "first":
        return CountFilter([("once", "total", 1)])
    if isinstance(spec, Mapping) and "seconds" in spec:
        seconds = spec["seconds"]
        if len(spec) > 1:
            raise ValueError(
                f"Filter {dict(spec)!r}: seconds stands alone. It is asked only where a fused "
                f"block ends, where count conditions would rarely hold."
            )
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise ValueError(f"Filter seconds={seconds!r} must be a number >= 0.")
        return TimedFilter(float(seconds))
    if isinstance(spec, Mapping):
        conditions = []
        for key, value in spec.items():
            scope, n = value if isinstance(value, tuple) else ("total", value)
            if key not in _CONDITIONS or scope not in ("total", "epoch") or not isinstance(n, int):
                raise ValueError(
                    f"Bad filter condition {key}={value!r}: use every/before/after/once with an "
                    f"int, or ('epoch' | 'total', int); or seconds alone."
                )
            if key == "every" and n <= 0:
                raise ValueError(f"Filter every={n} must be positive.")
            conditions.append((key, scope, n))
        return CountFilter(conditions)
    raise TypeError(
        f"A filter is 'always', 'first', a dict like {{'every': 10}} or a function "
        f"(state, event) -> bool; got {spec!r}."
    )


class CountFilter:
    """A filter made of conditions on event counts, which can also say when it next matches.

    Fused mode asks "after how many more occurrences does this fire?"; answering it
    from the conditions costs the same for a block of 1 or 1000 iterations.
    """

    def __init__(self, conditions: list[tuple[str, str, int]]):
        self.conditions = conditions

    def __call__(self, state: State, event: Event) -> bool:
        return all(
            _CONDITIONS[key](state.count(event, scope), n) for key, scope, n in self.conditions
        )

    def next_match(self, state: State, event: Event, start: int, limit: int) -> int | None:
        """The smallest ``ahead`` in ``[start, limit]`` at which the filter matches once
        ``event`` has occurred ``ahead`` more times (all in this epoch), or ``None``."""
        counts = {scope: state.count(event, scope) for scope in ("total", "epoch")}
        ahead = start
        while ahead <= limit:
            moved = ahead
            for key, scope, n in self.conditions:
                count = counts[scope] + moved
                if key == "every" and count % n:
                    moved += n - count % n
                elif key == "after" and count <= n:
                    moved += n + 1 - count
                elif key == "once" and count < n:
                    moved += n - count
                elif (key == "before" and count >= n) or (key == "once" and count > n):
                    return None  # counts only grow: never again
            if moved == ahead:
                return ahead
            ahead = moved
        return None


class TimedFilter:
    """Passes at most once every ``seconds`` of a run (the first time it is asked, then
    once that long has passed).

    The block planner leaves it out: it never ends a fused block, and is asked only
    where the host has control anyway (after each dispatch). A live display refreshes
    through it a few times a second, however many iterations that is.
    """

    def __init__(self, seconds: float):
        self.seconds = seconds
        self._run: str | None = None  # the run its clock belongs to: a new run starts afresh
        self._due = 0.0

    def __call__(self, state: State, event: Event) -> bool:
        now = time.monotonic()
        if state.run_id == self._run and now < self._due:
            return False
        self._run, self._due = state.run_id, now + self.seconds
        return True


_CONDITIONS: dict[str, Callable[[int, int], bool]] = {
    "every": lambda count, n: count % n == 0,
    "before": lambda count, n: count < n,
    "after": lambda count, n: count > n,
    "once": lambda count, n: count == n,
}
