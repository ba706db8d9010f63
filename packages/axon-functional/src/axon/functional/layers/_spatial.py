"""Spatial conventions shared by the conv, pooling, shape and dropout layers.

Inputs are ``(batch, *spatial, channels)`` (``channels="last"``) or
``(batch, channels, *spatial)`` (``"first"``); per-axis options are an int or one int per
spatial axis; padding is ``"valid"``, ``"same"`` or explicit ``(low, high)`` pairs. The
checks here raise the messages every layer shares: ``"<fn>: argument '<arg>' ..."``.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import jax.numpy as jnp
import numpy as np

CHANNELS = ("last", "first")


def check_channels(fn: str, channels: Any) -> None:
    if channels not in CHANNELS:
        raise ValueError(
            f"{fn}: argument 'channels' must be 'last' (batch, *spatial, channels) or 'first' "
            f"(batch, channels, *spatial); received {channels!r}."
        )


def check_rank(fn: str, arg: str, x: Any, *, min_rank: int | None = None, rank: int | None = None):
    ndim = jnp.ndim(x)
    if rank is not None and ndim != rank:
        raise ValueError(
            f"{fn}: argument '{arg}' must have rank {rank}; received rank {ndim} "
            f"(shape {jnp.shape(x)})."
        )
    if min_rank is not None and ndim < min_rank:
        raise ValueError(
            f"{fn}: argument '{arg}' must have rank >= {min_rank} (batch, spatial..., channels); "
            f"received rank {ndim} (shape {jnp.shape(x)})."
        )


def is_int(value: Any) -> bool:
    """Python and NumPy integers (not bools): option values often come from array shapes."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)


def int_tuple(fn: str, arg: str, value: Any, n: int, *, minimum: int = 1) -> tuple[int, ...]:
    """``value`` (an int or a sequence of ``n`` ints) as a tuple of ``n`` ints >= ``minimum``."""
    values = (value,) * n if is_int(value) else value
    try:
        values = tuple(values)
    except TypeError:
        values = (value,)
    if len(values) != n or not all(is_int(v) and v >= minimum for v in values):
        raise ValueError(
            f"{fn}: argument '{arg}' must be an int >= {minimum} or a sequence of {n} such ints "
            f"(one per spatial axis); received {value!r}."
        )
    return tuple(int(v) for v in values)


def spatial_axes(rank: int, channels: str) -> tuple[int, ...]:
    return tuple(range(1, rank - 1)) if channels == "last" else tuple(range(2, rank))


def channel_axis(rank: int, channels: str) -> int:
    return rank - 1 if channels == "last" else 1


def padding_pairs(fn: str, padding: Any, windows: Sequence[int]) -> list[tuple[int, int]]:
    """Explicit ``(low, high)`` pairs for ``"valid"``, ``"same"`` (``k - 1`` in total for each
    effective window ``k``, the smaller half first) or a list of pairs."""
    n = len(windows)
    if isinstance(padding, str):
        if padding == "valid":
            return [(0, 0)] * n
        if padding == "same":
            return [((k - 1) // 2, (k - 1) - (k - 1) // 2) for k in windows]
    else:
        try:
            pairs = [tuple(p) for p in padding]
        except TypeError:
            pairs = []
        if len(pairs) == n and all(len(p) == 2 and all(is_int(v) for v in p) for p in pairs):
            return [(int(low), int(high)) for low, high in pairs]
    raise ValueError(
        f"{fn}: argument 'padding' must be 'valid', 'same' or a list of {n} (low, high) int "
        f"pairs (one per spatial axis); received {padding!r}."
    )


def effective_window(kernel_size: Sequence[int], dilation: Sequence[int]) -> list[int]:
    """The span ``(k - 1) * d + 1`` of each dilated window."""
    return [(k - 1) * d + 1 for k, d in zip(kernel_size, dilation, strict=True)]


def window_padding(
    fn: str, padding: Any, kernel_size: Sequence[int], dilation: Sequence[int]
) -> list[tuple[int, int]]:
    """:func:`padding_pairs` for windows of ``kernel_size`` dilated by ``dilation``."""
    return padding_pairs(fn, padding, effective_window(kernel_size, dilation))
