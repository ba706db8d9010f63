"""Learning-rate schedules (``Polaris.Schedules``): Polaris names and defaults on optax.

Each function takes ``init_value`` and options and returns a schedule: a pure,
``jax.jit``-able function ``count -> value`` (an optax schedule). Pass one as the
``learning_rate`` of any optimizer; the optimizer evaluates it at every step and
keeps the current value in ``state.hyperparams["learning_rate"]``.

>>> from axon.optim import adam, schedules
>>> schedule = schedules.exponential_decay(0.1, decay_rate=0.5, transition_steps=10)
>>> [round(float(schedule(step)), 4) for step in (0, 10, 20)]
[0.1, 0.05, 0.025]
>>> optimizer = adam(learning_rate=schedule)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax.numpy as jnp
import optax

from . import _validation as check
from . import plugins

__all__ = [
    "constant",
    "cosine_decay",
    "exponential_decay",
    "linear_decay",
    "polynomial_decay",
    "warmup_cosine_decay",
    "one_cycle",
    "get",
    "names",
]

Schedule = Callable[[Any], Any]


def _check_init_value(owner: str, init_value: Any) -> None:
    check.finite(owner, "init_value", init_value)


def _warmup_and_steps(owner: str, warmup: Any, steps: Any) -> tuple[int, int]:
    """Step counts of a schedule with a warm-up: ``steps`` counts the warm-up too."""
    warmup = check.count(owner, "warmup", warmup, minimum=0)
    steps = check.count(owner, "steps", steps, minimum=1)
    if warmup >= steps:
        raise ValueError(
            f"{owner}: warmup must be smaller than steps (steps counts the warm-up too); "
            f"received warmup={warmup}, steps={steps}."
        )
    return warmup, steps


def _pinned_after(schedule: Schedule, end_step: int, end_value: float) -> Schedule:
    """``schedule``, but exactly ``end_value`` from ``end_step`` on.

    optax's polynomial and linear schedules compute ``1 - count / k``; under
    ``jax.jit`` XLA turns that into ``1 - count * (1 / k)``, a hair below 0 at
    ``count == k``. That gives a slightly negative learning rate at the end of a
    linear decay and NaN for a fractional ``power`` (optax 0.2.8, jax 0.10).
    """

    def pinned(count):
        return jnp.where(count >= end_step, end_value, schedule(count))

    return pinned


def constant(init_value: float) -> Schedule:
    """The same value at every step.

    >>> float(constant(0.01)(1000))
    0.01
    """
    _check_init_value("constant", init_value)
    return optax.constant_schedule(init_value)


def linear_decay(init_value: float, warmup: int = 0, steps: int = 1000) -> Schedule:
    """Linear warm-up from 0 to ``init_value`` over ``warmup`` steps, then linear decay
    to 0 at step ``steps`` (``steps`` counts the warm-up too).

    Args:
        init_value: the peak value, reached at step ``warmup``.
        warmup: number of warm-up steps. Defaults to ``0``.
        steps: the step at which the value reaches 0. Defaults to ``1000``.

    Differs from Polaris: Polaris's ``linear_decay`` ignores ``init_value`` and
    returns the bare multiplier (peak 1.0); here the multiplier scales ``init_value``.

    >>> schedule = linear_decay(0.1, warmup=10, steps=110)
    >>> [round(float(schedule(step)), 4) for step in (0, 5, 10, 60, 110, 200)]
    [0.0, 0.05, 0.1, 0.05, 0.0, 0.0]
    """
    _check_init_value("linear_decay", init_value)
    warmup, steps = _warmup_and_steps("linear_decay", warmup, steps)
    decay = optax.linear_schedule(init_value, 0.0, transition_steps=steps - warmup)
    if warmup > 0:
        warm_up = optax.linear_schedule(0.0, init_value, transition_steps=warmup)
        decay = optax.join_schedules([warm_up, decay], boundaries=[warmup])
    return _pinned_after(decay, steps, 0.0)


def exponential_decay(
    init_value: float,
    decay_rate: float = 0.95,
    transition_steps: int = 10,
    transition_begin: int = 0,
    staircase: bool = False,
) -> Schedule:
    """``init_value * decay_rate ** ((step - transition_begin) / transition_steps)``.

    Args:
        init_value: the value up to ``transition_begin``.
        decay_rate: factor per ``transition_steps`` steps, in (0, 1]. Defaults to ``0.95``.
        transition_steps: steps per factor of ``decay_rate``. Defaults to ``10``.
        transition_begin: steps to hold ``init_value`` first. Defaults to ``0``.
        staircase: decay in whole steps of ``transition_steps``. Defaults to ``False``.

    Same formula as :func:`optax.exponential_decay`; optax has no defaults for
    ``transition_steps`` and ``decay_rate`` and accepts growth (``decay_rate > 1``).

    Example:
        >>> schedule = exponential_decay(0.1, decay_rate=0.5, transition_steps=10)
        >>> [round(float(schedule(step)), 4) for step in (0, 10, 20)]
        [0.1, 0.05, 0.025]
    """
    _check_init_value("exponential_decay", init_value)
    check.in_range("exponential_decay", "decay_rate", decay_rate, 0.0, 1.0, low_open=True)
    transition_steps = check.count(
        "exponential_decay", "transition_steps", transition_steps, minimum=1
    )
    transition_begin = check.count(
        "exponential_decay", "transition_begin", transition_begin, minimum=0
    )
    return optax.exponential_decay(
        init_value,
        transition_steps=transition_steps,
        decay_rate=decay_rate,
        transition_begin=transition_begin,
        staircase=bool(staircase),
    )


def cosine_decay(init_value: float, decay_steps: int = 10, alpha: float = 0.0) -> Schedule:
    """Half a cosine from ``init_value`` down to ``alpha * init_value`` over ``decay_steps``.

    Args:
        init_value: the value at step 0.
        decay_steps: the step at which the minimum is reached. Defaults to ``10``.
        alpha: the minimum as a fraction of ``init_value``, in [0, 1]. Defaults to ``0.0``.

    Same formula as :func:`optax.cosine_decay_schedule`, which has no default for
    ``decay_steps``.

    Example:
        >>> schedule = cosine_decay(0.1, decay_steps=10, alpha=0.1)
        >>> [round(float(schedule(step)), 4) for step in (0, 5, 10, 20)]
        [0.1, 0.055, 0.01, 0.01]

    References: Loshchilov and Hutter, https://arxiv.org/abs/1608.03983
    """
    _check_init_value("cosine_decay", init_value)
    decay_steps = check.count("cosine_decay", "decay_steps", decay_steps, minimum=1)
    check.in_range("cosine_decay", "alpha", alpha, 0.0, 1.0)
    return optax.cosine_decay_schedule(init_value, decay_steps=decay_steps, alpha=alpha)


def polynomial_decay(
    init_value: float,
    end_value: float = 1e-3,
    power: float = 2,
    transition_steps: int = 10,
    transition_begin: int = 0,
) -> Schedule:
    """``(init_value - end_value) * (1 - t / transition_steps) ** power + end_value``,
    with ``t = clip(step - transition_begin, 0, transition_steps)``.

    Args:
        init_value: the value up to ``transition_begin``.
        end_value: the value from ``transition_begin + transition_steps`` on.
            Defaults to ``1e-3``.
        power: exponent of the polynomial, > 0. Defaults to ``2``.
        transition_steps: length of the decay. Defaults to ``10``.
        transition_begin: steps to hold ``init_value`` first. Defaults to ``0``.

    Same formula as :func:`optax.polynomial_schedule`, which has no defaults.

    Example:
        >>> schedule = polynomial_decay(0.1, end_value=0.0, power=1, transition_steps=10)
        >>> [round(float(schedule(step)), 4) for step in (0, 5, 10, 20)]
        [0.1, 0.05, 0.0, 0.0]
    """
    _check_init_value("polynomial_decay", init_value)
    check.finite("polynomial_decay", "end_value", end_value)
    check.in_range("polynomial_decay", "power", power, 0.0, low_open=True)
    transition_steps = check.count(
        "polynomial_decay", "transition_steps", transition_steps, minimum=1
    )
    transition_begin = check.count(
        "polynomial_decay", "transition_begin", transition_begin, minimum=0
    )
    schedule = optax.polynomial_schedule(
        init_value,
        end_value,
        power,
        transition_steps=transition_steps,
        transition_begin=transition_begin,
    )
    return _pinned_after(schedule, transition_begin + transition_steps, end_value)


def warmup_cosine_decay(
    init_value: float,
    warmup: int = 0,
    steps: int = 1000,
    alpha: float = 0.0,
    exponent: float = 1.0,
) -> Schedule:
    """Linear warm-up from 0 to ``init_value`` over ``warmup`` steps, then half a
    cosine down to ``alpha * init_value`` at step ``steps`` (``steps`` counts the
    warm-up too, as in :func:`linear_decay`).

    Not in Polaris; :func:`optax.warmup_cosine_decay_schedule` with ``init_value=0``,
    ``peak_value=init_value``, ``warmup_steps=warmup``, ``decay_steps=steps`` and
    ``end_value=alpha * init_value``.

    Args:
        init_value: the peak value, reached at step ``warmup``.
        warmup: number of warm-up steps. Defaults to ``0``.
        steps: the step at which the minimum is reached. Defaults to ``1000``.
        alpha: the minimum as a fraction of ``init_value``, in [0, 1]. Defaults to ``0.0``.
        exponent: power of the cosine factor, > 0. Defaults to ``1.0``.

    Returns:
        A schedule ``count -> value``.

    Example:
        >>> schedule = warmup_cosine_decay(0.1, warmup=10, steps=110)
        >>> [round(float(schedule(step)), 4) for step in (0, 5, 10, 60, 110, 200)]
        [0.0, 0.05, 0.1, 0.05, 0.0, 0.0]

    References: Loshchilov and Hutter, https://arxiv.org/abs/1608.03983
    """
    _check_init_value("warmup_cosine_decay", init_value)
    warmup, steps = _warmup_and_steps("warmup_cosine_decay", warmup, steps)
    check.in_range("warmup_cosine_decay", "alpha", alpha, 0.0, 1.0)
    check.in_range("warmup_cosine_decay", "exponent", exponent, 0.0, low_open=True)
    return optax.warmup_cosine_decay_schedule(
        init_value=0.0,
        peak_value=init_value,
        warmup_steps=warmup,
        decay_steps=steps,
        end_value=alpha * init_value,
        exponent=exponent,
    )


def one_cycle(
    init_value: float,
    steps: int = 1000,
    pct_start: float = 0.3,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
) -> Schedule:
    """The one-cycle policy: a cosine rise from ``init_value / div_factor`` to
    ``init_value`` over the first ``pct_start`` of ``steps``, then a cosine fall to
    ``init_value / (div_factor * final_div_factor)``.

    Not in Polaris; :func:`optax.cosine_onecycle_schedule` (PyTorch's ``OneCycleLR``
    with cosine annealing) with ``peak_value=init_value`` and
    ``transition_steps=steps``, and the same defaults.

    Args:
        init_value: the peak value (PyTorch's ``max_lr``).
        steps: the length of the cycle. Defaults to ``1000``.
        pct_start: the fraction of the cycle spent rising, in (0, 1). Defaults to ``0.3``.
        div_factor: the start value is ``init_value / div_factor``, >= 1.
            Defaults to ``25.0``.
        final_div_factor: the end value is the start value divided by this, >= 1.
            Defaults to ``1e4``.

    Returns:
        A schedule ``count -> value``.

    Example:
        >>> schedule = one_cycle(1.0, steps=100, pct_start=0.5, div_factor=10.0)
        >>> [round(float(schedule(step)), 4) for step in (0, 50, 100)]
        [0.1, 1.0, 0.0]

    References: Smith and Topin, https://arxiv.org/abs/1708.07120
    """
    _check_init_value("one_cycle", init_value)
    steps = check.count("one_cycle", "steps", steps, minimum=1)
    check.in_range("one_cycle", "pct_start", pct_start, 0.0, 1.0, low_open=True, high_open=True)
    check.in_range("one_cycle", "div_factor", div_factor, 1.0)
    check.in_range("one_cycle", "final_div_factor", final_div_factor, 1.0)
    return optax.cosine_onecycle_schedule(
        transition_steps=steps,
        peak_value=init_value,
        pct_start=pct_start,
        div_factor=div_factor,
        final_div_factor=final_div_factor,
    )


def get(name: str) -> Callable[..., Schedule]:
    """The schedule factory registered under ``name`` (built-in or from a plugin).

    >>> float(get("cosine_decay")(0.1, decay_steps=10)(10))
    0.0
    """
    return plugins.schedules.get(name)


def names() -> list[str]:
    """Every registered schedule name, sorted.

    Example:
        >>> "cosine_decay" in names()
        True
    """
    return plugins.schedules.names()


#: The built-in schedule factories, by name (registered by ``axon.optim._builtins``).
BUILTINS: dict[str, Callable[..., Schedule]] = {
    fn.__name__: fn
    for fn in (
        constant,
        cosine_decay,
        exponential_decay,
        linear_decay,
        one_cycle,
        polynomial_decay,
        warmup_cosine_decay,
    )
}
