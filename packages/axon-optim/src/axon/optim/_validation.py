"""Argument checks shared by the optimizers, update transforms, schedules and masks.

Checks run once, when an optimizer or schedule is built, on plain Python or
concrete array values. Schedules given in place of a number (callables) and
traced values are passed through: they can only be checked when evaluated.
"""

from __future__ import annotations

import math
import operator
from typing import Any

import jax
import jax.numpy as jnp
import optax


def _is_deferred(value: Any, owner: str = "", name: str = "") -> bool:
    """A schedule or a traced value: its values can only be checked when evaluated.

    A schedule is still checked for its shape: it must return a scalar.
    """
    if callable(value):
        schedule(owner, name, value)
        return True
    return isinstance(value, jax.core.Tracer)


def schedule(owner: str, name: str, value: Any) -> None:
    """A callable given for a hyperparameter is a schedule ``count -> scalar``.

    It is evaluated abstractly (:func:`jax.eval_shape`, no computation) at a step
    count, so a schedule returning an array or failing on a count is reported when
    the optimizer is built, not deep inside the first update.
    """
    if callable(getattr(value, "init", None)) and callable(getattr(value, "update", None)):
        return  # an optax stateful schedule: evaluated on its own state, not on a count
    label = f"{owner}: {name}" if owner else (name or "schedule")
    try:
        result = jax.eval_shape(value, jax.ShapeDtypeStruct((), jnp.int32))
    except Exception as error:
        raise TypeError(
            f"{label} is a callable, so it is taken as a schedule (a function of the step "
            f"count returning a number), but calling it with a step count failed: "
            f"{type(error).__name__}: {error}"
        ) from error
    shape = getattr(result, "shape", None)
    if shape != ():
        received = f"shape {shape}" if shape is not None else f"{type(result).__name__}"
        raise ValueError(
            f"{label}: a schedule must return a scalar for each step count; this one "
            f"returns {received}. Reduce it to one number per step (e.g. index or sum)."
        )


def _as_float(owner: str, name: str, value: Any, expected: str) -> float:
    if isinstance(value, (bool, str, bytes)):  # float() would accept "0.1" and True
        raise TypeError(
            f"{owner}: {name} must be {expected}; received {value!r} of type "
            f"{type(value).__name__}."
        )
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(
            f"{owner}: {name} must be {expected}; received {value!r} "
            f"of type {type(value).__name__}."
        ) from None


def learning_rate(optimizer: str, value: Any) -> None:
    """A learning rate is a finite number >= 0 or a schedule ``count -> lr``."""
    if _is_deferred(value, optimizer, "learning_rate"):
        return
    expected = "a finite number >= 0 or a schedule (a callable count -> learning rate)"
    number = _as_float(optimizer, "learning_rate", value, expected)
    if not math.isfinite(number) or number < 0:
        raise ValueError(
            f"{optimizer}: learning_rate must be {expected}; received {value!r}. "
            f"Pass a positive step size such as learning_rate=1e-3."
        )


def in_range(
    owner: str,
    name: str,
    value: Any,
    low: float,
    high: float = math.inf,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> None:
    """``value`` is a finite number in the interval given by ``low``/``high``."""
    if _is_deferred(value, owner, name):
        return
    expected = "a finite number" + _interval(low, high, low_open, high_open)
    number = _as_float(owner, name, value, expected)
    too_low = number <= low if low_open else number < low
    too_high = number >= high if high_open else number > high
    if not math.isfinite(number) or too_low or too_high:
        raise ValueError(f"{owner}: {name} must be {expected}; received {value!r}.")


def _interval(low: float, high: float, low_open: bool, high_open: bool) -> str:
    if math.isinf(low) and math.isinf(high):
        return ""
    if math.isinf(high):
        return f" {'>' if low_open else '>='} {low}"
    left, right = ("(" if low_open else "["), (")" if high_open else "]")
    return f" in {left}{low}, {high}{right}"


def finite(owner: str, name: str, value: Any) -> None:
    in_range(owner, name, value, -math.inf)


def decay_rate(owner: str, name: str, value: Any) -> None:
    """Exponential-moving-average decays (``b1``, ``b2``, momentum) lie in [0, 1)."""
    in_range(owner, name, value, 0.0, 1.0, high_open=True)


def non_negative(owner: str, name: str, value: Any) -> None:
    in_range(owner, name, value, 0.0)


def count(owner: str, name: str, value: Any, *, minimum: int) -> int:
    """A whole number of steps ``>= minimum``; returns it as an ``int``."""
    try:
        if isinstance(value, bool):
            raise TypeError
        steps = operator.index(value)
    except TypeError:
        raise TypeError(
            f"{owner}: {name} must be an integer number of steps >= {minimum}; received "
            f"{value!r} of type {type(value).__name__}."
        ) from None
    if steps < minimum:
        raise ValueError(f"{owner}: {name} must be an integer >= {minimum}; received {steps}.")
    return steps


def adam_moments(owner: str, b1: Any, b2: Any, eps: Any, eps_root: Any) -> None:
    """The moment options of Adam and its kin: two decays and two epsilons."""
    decay_rate(owner, "b1", b1)
    decay_rate(owner, "b2", b2)
    non_negative(owner, "eps", eps)
    non_negative(owner, "eps_root", eps_root)


def rms_average(owner: str, decay: Any, eps: Any, initial_scale: Any) -> None:
    """The options of RMSProp's moving average of squared updates."""
    decay_rate(owner, "decay", decay)
    non_negative(owner, "eps", eps)
    non_negative(owner, "initial_scale", initial_scale)


def transform(owner: str, index: int, value: Any) -> None:
    """Argument ``index`` of ``owner`` is a transformation, not e.g. its uncalled factory."""
    if isinstance(value, optax.GradientTransformation):
        return
    if callable(value) and not (hasattr(value, "init") and hasattr(value, "update")):
        name = getattr(value, "__name__", type(value).__name__)
        raise TypeError(
            f"{owner}: argument {index} is the function {name!r}, not a transformation. "
            f"Call it to build one, e.g. {name}()."
        )
    if not (callable(getattr(value, "init", None)) and callable(getattr(value, "update", None))):
        raise TypeError(
            f"{owner}: argument {index} must be an optax.GradientTransformation (an object "
            f"with init(params) and update(updates, state, params)); received "
            f"{type(value).__name__}."
        )
