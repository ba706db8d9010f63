"""One run of a loop, from ``Loop.run``'s arguments to its final ``State``.

Checks the arguments, opens what handlers show from the very start (a progress
display), finds where the run starts (``start``: fresh, or resumed from a
checkpoint or a ``State``), chooses how many iterations to fuse per dispatch, and
hands over to the ``Engine``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._data import DataSource
from .._events import Event
from .._state import State
from ..checkpoint._resume import Resume, resume_auto, resume_from
from .compiled import auto_steps_per_dispatch, fused_step
from .engine import Engine
from .placement import Placement
from .start import find_start

if TYPE_CHECKING:
    from .._loop import Loop


@dataclass(frozen=True)
class RunOptions:
    """``Loop.run``'s options (documented there), checked as they are given."""

    epochs: int = 1
    iterations: int | None = None
    jit: bool = True
    steps_per_dispatch: int | str = "auto"
    mesh: Any = None
    batch_axis: str = "data"
    sharding: Any = "replicated"
    debug: bool = False
    seed: int | None = None
    resume: str | None = None
    prefetch: int | str = "auto"

    def __post_init__(self) -> None:
        epochs, iterations, steps = self.epochs, self.iterations, self.steps_per_dispatch
        if not isinstance(epochs, int) or epochs < 1:
            raise ValueError(f"epochs must be a positive int, got {epochs!r}.")
        if iterations is not None and (not isinstance(iterations, int) or iterations < 1):
            raise ValueError(f"iterations must be a positive int or None, got {iterations!r}.")
        if steps != "auto" and (not isinstance(steps, int) or steps < 1):
            raise ValueError(f"steps_per_dispatch must be a positive int or 'auto', got {steps!r}.")
        prefetch = self.prefetch
        if prefetch != "auto" and (
            isinstance(prefetch, bool) or not isinstance(prefetch, int) or prefetch < 0
        ):
            raise ValueError(
                f"prefetch must be 'auto' or the number of batches to read ahead, an int >= 0 "
                f"(0 turns prefetching off), got {prefetch!r}."
            )
        if self.resume not in (None, "auto"):
            raise ValueError(
                f"resume must be 'auto' (resume from the checkpoint handler's directory when "
                f"it holds a checkpoint, else start fresh) or None, got {self.resume!r}."
            )


def run_loop(
    loop: Loop, data: Any, init_state: Any, resume_source: Any, options: RunOptions
) -> State:
    """Run ``loop`` over ``data`` and return its final state (see ``Loop.run``)."""
    opened = _open_early(loop)  # e.g. a progress display, live while the model initializes
    try:
        return _run(loop, data, init_state, resume_source, options, opened)
    finally:
        _close(opened)  # closing twice is harmless: their handlers close them on success


def _run(
    loop: Loop,
    data: Any,
    init_state: Any,
    resume_source: Any,
    options: RunOptions,
    opened: dict[str, Any],
) -> State:
    source = DataSource(data)
    placement = Placement(options.mesh, options.batch_axis, options.sharding)
    resume = _resume(loop, resume_source, options.resume)
    try:
        start = find_start(loop, source, init_state, resume, options, placement)
    finally:
        resume.release()
    state = start.state
    state.resources.update(opened)
    if start.finished:  # resume="auto" of a finished run: nothing runs but what settles its output
        for spec in loop.handlers:
            if spec.settles_output and spec.event == Event.COMPLETED:
                spec.handler(state)
        return state
    state.step_state, state.metric_state = placement.settle(
        fused_step(loop, placement), state.step_state, state.metric_state, start.template
    )
    auto = options.steps_per_dispatch == "auto"
    steps_per_dispatch = options.steps_per_dispatch
    if auto:
        steps_per_dispatch = auto_steps_per_dispatch(
            loop, state.step_state, state.metric_state, placement.batch(start.template),
            jit=options.jit, debug=options.debug, placement=placement,
        )  # fmt: skip
    engine = Engine(
        loop, state, jit=options.jit, steps_per_dispatch=steps_per_dispatch,
        placement=placement, debug=options.debug, prefetch=options.prefetch,
    )  # fmt: skip
    engine.run(source, start.epoch, start.batches, start.mid_epoch)
    return state


def _open_early(loop: Loop) -> dict[str, Any]:
    """What handlers open before the initial state is built (``HandlerSpec.opens``)."""
    opened: dict[str, Any] = {}
    try:
        for spec in loop.handlers:
            if spec.opens is not None:
                opened.update(spec.opens())
    except BaseException:
        _close(opened)
        raise
    return opened


def _close(resources: dict[str, Any]) -> None:
    for resource in resources.values():
        with contextlib.suppress(Exception):  # a failed run's own error is the one to report
            resource.close()


def _resume(loop: Loop, resume_source: Any, resume: str | None) -> Resume:
    """What the run resumes from: ``resume_from``, ``from_state``, or ``resume="auto"``."""
    if resume is None:
        return resume_from(resume_source if resume_source is not None else loop.resume_state)
    if resume_source is not None or loop.resume_state is not None:
        given = "resume_from=" if resume_source is not None else "from_state()"
        raise ValueError(
            f"run(resume='auto') finds the checkpoint to resume by itself; it cannot be "
            f"combined with {given}. Pass one or the other."
        )
    return resume_auto([spec.resume_source for spec in loop.handlers if spec.resume_source])
