"""Loop events, handler results and event filters (``Axon.Loop`` / Ignite semantics)."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._state import State


class Event(enum.StrEnum):
    """Points in a run where handlers fire, in the order they occur."""

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
        try:
            return cls(event)
        except ValueError:
            raise ValueError(
                f"Unknown event {event!r}; events are {[e.value for e in cls]}."
            ) from None


#: Events counted separately per epoch as well as in total.
PER_EPOCH_EVENTS = (Event.ITERATION_STARTED, Event.ITERATION_COMPLETED)


class Halt(enum.StrEnum):
    """What a handler may return to steer the loop (``None`` means continue)."""

    CONTINUE = "continue"
    EPOCH = "halt_epoch"
    LOOP = "halt_loop"


Filter = Callable[["State", Event], bool]
FilterSpec = str | Mapping[str, Any] | Filter


def make_filter(spec: FilterSpec) -> Filter:
    """Build a filter from ``"always"``, ``"first"``, a dict of conditions or a function.

    Conditions (all must hold): ``every=n``, ``before=n``, ``after=n``, ``once=n``;
    each counts the event's occurrences in total, or per epoch when given as
    ``("epoch", n)`` (iteration events only). A function ``(state, event) -> bool``
    is used as it is.
    """
    if callable(spec):
        return spec
    if spec == "always":
        return lambda state, event: True
    if spec == "first":
        return lambda state, event: state.count(event) == 1
    if isinstance(spec, Mapping):
        conditions = []
        for key, value in spec.items():
            scope, n = value if isinstance(value, tuple) else ("total", value)
            if key not in _CONDITIONS or scope not in ("total", "epoch") or not isinstance(n, int):
                raise ValueError(
                    f"Bad filter condition {key}={value!r}: use every/before/after/once with an "
                    f"int, or ('epoch' | 'total', int)."
                )
            if key == "every" and n <= 0:
                raise ValueError(f"Filter every={n} must be positive.")
            conditions.append((_CONDITIONS[key], scope, n))

        def matches(state: State, event: Event) -> bool:
            return all(test(state.count(event, scope), n) for test, scope, n in conditions)

        return matches
    raise TypeError(
        f"A filter is 'always', 'first', a dict like {{'every': 10}} or a function "
        f"(state, event) -> bool; got {spec!r}."
    )


_CONDITIONS: dict[str, Callable[[int, int], bool]] = {
    "every": lambda count, n: count % n == 0,
    "before": lambda count, n: count < n,
    "after": lambda count, n: count > n,
    "once": lambda count, n: count == n,
}
