"""Option checks shared by the layer builders.

Builders validate their options when the layer is *built*, so a bad option fails at the
line that wrote it, with an error naming the builder, the option, what was expected and
what was received. Checks that need input shapes happen in parameter shape functions,
which the compiler wraps in a ``LayerError`` naming the layer and where it was defined.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._graph.model import Model
from .._graph.node import defined_at
from .._graph.penalties import Penalty, as_penalty

CHANNELS = ("last", "first")


class OptionError(ValueError):
    """A layer builder received an invalid option (raised when the layer is built)."""


def option_error(builder: str, option: str, expected: str, received: Any) -> OptionError:
    return OptionError(f"{builder}: option {option!r} must be {expected}; received {received!r}.")


def is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)


def check_positive_int(builder: str, option: str, value: Any) -> int:
    if not is_int(value) or value <= 0:
        raise option_error(builder, option, "a positive int", value)
    return int(value)


def check_int_or_tuple(
    builder: str, option: str, value: Any, *, minimum: int = 1, allow_none: bool = False
) -> Any:
    """An int >= minimum or a sequence of them (one per spatial axis, checked later)."""
    if value is None and allow_none:
        return None
    if is_int(value) and value >= minimum:
        return int(value)
    if (
        isinstance(value, Sequence)
        and not isinstance(value, str)
        and len(value) > 0
        and all(is_int(v) and v >= minimum for v in value)
    ):
        return tuple(int(v) for v in value)
    expected = f"an int >= {minimum} or a sequence of such ints (one per spatial axis)"
    raise option_error(builder, option, expected + (" or None" if allow_none else ""), value)


def check_channels(builder: str, channels: Any) -> str:
    if channels not in CHANNELS:
        raise option_error(
            builder,
            "channels",
            "'last' (batch, *spatial, channels) or 'first' (batch, channels, *spatial)",
            channels,
        )
    return channels


def check_padding(builder: str, padding: Any) -> Any:
    if padding in ("valid", "same"):
        return padding
    try:
        pairs = [tuple(p) for p in padding]
    except TypeError:
        pairs = None
    if (
        not isinstance(padding, str)
        and pairs
        and all(len(p) == 2 and all(is_int(v) for v in p) for p in pairs)
    ):
        return [(int(lo), int(hi)) for lo, hi in pairs]
    raise option_error(
        builder, "padding", "'valid', 'same' or a list of (low, high) int pairs", padding
    )


def check_number(builder: str, option: str, value: Any, *, minimum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise option_error(builder, option, "a number", value)
    if minimum is not None and value < minimum:
        raise option_error(builder, option, f"a number >= {minimum}", value)
    return float(value)


def check_model(builder: str, option: str, value: Any) -> Model:
    if not isinstance(value, Model):
        raise TypeError(
            f"{builder}: argument {option!r} must be an axon.model Model (e.g. from "
            f"axon.model.input(...)); received {type(value).__name__}."
        )
    return value


def check_callable(builder: str, option: str, value: Any) -> Callable[..., Any]:
    if not callable(value):
        raise TypeError(
            f"{builder}: argument {option!r} must be a function; received {type(value).__name__}."
        )
    return value


def spatial_tuple(builder: str, option: str, value: Any, rank: int) -> tuple[int, ...]:
    """Expand an int option to one value per spatial axis, or check a tuple's length."""
    if isinstance(value, tuple):
        if len(value) != rank:
            raise ValueError(
                f"{builder}: option {option!r} has {len(value)} entries, but the input has "
                f"{rank} spatial axes; received {value!r}."
            )
        return value
    return (value,) * rank


def channel_count(builder: str, shape: Sequence[int], channels: str) -> int:
    if len(shape) < 3:
        raise ValueError(
            f"{builder}: the input must have rank >= 3 (batch, spatial..., channels); "
            f"received shape {tuple(shape)}."
        )
    return shape[-1] if channels == "last" else shape[1]


def axis_size(builder: str, shape: Sequence[int], axis: int, option: str) -> int:
    if not -len(shape) <= axis < len(shape):
        raise ValueError(
            f"{builder}: option {option!r} ({axis}) is not an axis of an input of shape "
            f"{tuple(shape)}."
        )
    return shape[axis]


def check_penalty(builder: str, option: str, value: Any, name: str | None) -> Penalty | None:
    """A regularizer option as a penalty object; a wrong one names the layer and its line."""
    layer = f"{builder} layer {name!r}" if name else builder
    return as_penalty(value, option, f"{layer} (defined at {defined_at()})")
