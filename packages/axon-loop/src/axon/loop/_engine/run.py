"""One run of a loop, from ``Loop.run``'s arguments to its final ``State``.

Checks the arguments, finds where the run starts (fresh, or resumed from a
checkpoint or a ``State``), builds the initial state from the first batch,
chooses how many iterations to fuse per dispatch, and hands over to the
``Engine``.
"""

from __future__ import annotations

import inspect
import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp

from .._data import DataSource, EmptyDataError
from .._state import State
from ..checkpoint._resume import load_resume
from .compiled import auto_steps_per_dispatch, fused_step, zero_metrics
from .engine import Engine
from .placement import Placement

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
    debug: bool = False
    seed: int | None = None

    def __post_init__(self) -> None:
        epochs, iterations, steps = self.epochs, self.iterations, self.steps_per_dispatch
        if not isinstance(epochs, int) or epochs < 1:
            raise ValueError(f"epochs must be a positive int, got {epochs!r}.")
        if iterations is not None and (not isinstance(iterations, int) or iterations < 1):
            raise ValueError(f"iterations must be a positive int or None, got {iterations!r}.")
        if steps != "auto" and (not isinstance(steps, int) or steps < 1):
            raise ValueError(f"steps_per_dispatch must be a positive int or 'auto', got {steps!r}.")


def run_loop(
    loop: Loop, data: Any, init_state: Any, resume_from: Any, options: RunOptions
) -> State:
    """Run ``loop`` over ``data`` and return its final state (see ``Loop.run``)."""
    source = DataSource(data)
    placement = Placement(options.mesh, options.batch_axis)
    saved = load_resume(resume_from if resume_from is not None else loop.resume_state)
    start_epoch, skip, mid_epoch = saved.position if saved else (0, 0, False)
    if start_epoch >= options.epochs:
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
    state = _initial_state(loop, first, init_state, options, placement)
    if saved is not None:
        saved.restore_into(state, placement)
    state.step_state, state.metric_state = placement.settle(
        fused_step(loop), state.step_state, state.metric_state, first
    )
    auto = options.steps_per_dispatch == "auto"
    steps_per_dispatch = options.steps_per_dispatch
    if auto:
        steps_per_dispatch = auto_steps_per_dispatch(
            loop, state.step_state, state.metric_state, placement.batch(first),
            jit=options.jit, debug=options.debug,
        )  # fmt: skip
    engine = Engine(
        loop, state, jit=options.jit, steps_per_dispatch=steps_per_dispatch,
        placement=placement, debug=options.debug, power_of_two_blocks=auto,
    )  # fmt: skip
    engine.run(source, start_epoch, itertools.chain([first], batches), mid_epoch)
    return state


def _initial_state(
    loop: Loop, first: Any, init_state: Any, options: RunOptions, placement: Placement
) -> State:
    """A fresh state of ``loop``, its step state made from the first batch."""
    step_state = _initial_step_state(loop, first, init_state, options.seed)
    # The compiled step donates its inputs; copy once so the caller's arrays survive.
    step_state = placement.replicate(jax.tree_util.tree_map(jnp.array, step_state))
    state = State(step_state=step_state, max_epoch=options.epochs, max_iteration=options.iterations)
    state.metric_state = placement.replicate(zero_metrics(loop, step_state))
    return state


def _initial_step_state(loop: Loop, first: Any, init_state: Any, seed: int | None) -> Any:
    if loop.init_fn is None:
        return init_state
    if seed is None:
        return loop.init_fn(first, init_state)
    if "seed" not in inspect.signature(loop.init_fn).parameters:
        raise TypeError(
            "run(seed=...) needs a loop whose init_fn takes a seed= argument (trainers "
            "do); seed your own init_fn yourself."
        )
    return loop.init_fn(first, init_state, seed=seed)
