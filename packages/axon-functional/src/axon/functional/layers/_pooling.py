"""Pooling: max/avg/lp, blur, adaptive and global pools over N-d inputs.

Inputs are ``(batch, *spatial, channels)`` (``channels="last"``, default) or
``(batch, channels, *spatial)`` (``"first"``). Windowed pools take ``kernel_size``, ``strides``
(default: the kernel size), ``padding`` (``"valid"``, ``"same"`` or ``[(low, high), ...]``,
same rule as :func:`~axon.functional.layers.conv`) and ``window_dilations``; each spatial output
size is ``(in + low + high - k_eff) // stride + 1`` with ``k_eff = (k - 1) * dilation + 1``.

>>> import jax.numpy as jnp
>>> max_pool(jnp.ones((1, 4, 4, 3)), kernel_size=2).shape
(1, 2, 2, 3)
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ._conv import conv
from ._spatial import (
    channel_axis,
    check_channels,
    check_rank,
    int_tuple,
    spatial_axes,
    window_padding,
)

Array = jax.Array

__all__ = [
    "adaptive_avg_pool",
    "adaptive_lp_pool",
    "adaptive_max_pool",
    "avg_pool",
    "blur_pool",
    "global_avg_pool",
    "global_lp_pool",
    "global_max_pool",
    "lp_pool",
    "max_pool",
]


def _check_norm(fn: str, norm: Any) -> None:
    if isinstance(norm, bool) or not isinstance(norm, int | float) or norm <= 0:
        raise ValueError(f"{fn}: argument 'norm' must be a positive number; received {norm!r}.")


def _window_reduce(
    fn: str,
    x: Array,
    init: Any,
    op: Any,
    *,
    kernel_size: Any,
    strides: Any,
    padding: Any,
    window_dilations: Any,
    channels: str,
) -> tuple[Array, int]:
    """``lax.reduce_window`` over the spatial axes; returns the result and the window size."""
    check_channels(fn, channels)
    check_rank(fn, "x", x, min_rank=3)
    x = jnp.asarray(x)
    n = x.ndim - 2
    kernel_size = int_tuple(fn, "kernel_size", kernel_size, n)
    strides = kernel_size if strides is None else int_tuple(fn, "strides", strides, n)
    dilations = int_tuple(fn, "window_dilations", window_dilations, n)
    pads = window_padding(fn, padding, kernel_size, dilations)

    def full(spatial_values: Sequence[Any], fill: Any) -> tuple[Any, ...]:
        values = [fill] * x.ndim
        for axis, v in zip(spatial_axes(x.ndim, channels), spatial_values, strict=True):
            values[axis] = v
        return tuple(values)

    if op is lax.max and any(d > 1 for d in dilations):
        # JAX has no VJP for a max reduce_window with window dilation; a max over the k^n
        # strided slices is the same function and differentiates everywhere.
        return _dilated_max(x, kernel_size, strides, pads, dilations, channels), 0
    y = lax.reduce_window(
        x,
        # a concrete NumPy scalar, never a tracer: only then does JAX pick the
        # differentiable max/add reduce_window (a traced init has no VJP under jit)
        np.array(init, x.dtype),
        op,
        window_dimensions=full(kernel_size, 1),
        window_strides=full(strides, 1),
        padding=full(pads, (0, 0)),
        window_dilation=full(dilations, 1),
    )
    return y, int(np.prod(kernel_size))


def _dilated_max(
    x: Array,
    kernel_size: Sequence[int],
    strides: Sequence[int],
    pads: Sequence[tuple[int, int]],
    dilations: Sequence[int],
    channels: str,
) -> Array:
    axes = spatial_axes(x.ndim, channels)
    config = [(0, 0, 0)] * x.ndim
    for axis, (low, high) in zip(axes, pads, strict=True):
        config[axis] = (low, high, 0)
    padded = lax.pad(x, jnp.asarray(-jnp.inf, x.dtype), config)
    result = None
    for offsets in itertools.product(*[range(k) for k in kernel_size]):
        start, limit, step = [0] * x.ndim, list(padded.shape), [1] * x.ndim
        for axis, j, k, d, s in zip(axes, offsets, kernel_size, dilations, strides, strict=True):
            count = (padded.shape[axis] - (k - 1) * d - 1) // s + 1
            start[axis], limit[axis], step[axis] = j * d, j * d + (count - 1) * s + 1, s
        window = lax.slice(padded, start, limit, step)
        result = window if result is None else jnp.maximum(result, window)
    return result


def max_pool(
    x: Array,
    *,
    kernel_size: int | Sequence[int],
    strides: int | Sequence[int] | None = None,
    padding: Any = "valid",
    window_dilations: int | Sequence[int] = 1,
    channels: str = "last",
) -> Array:
    """Max over each window; padded positions count as ``-inf`` (never chosen).

    Args:
        x: ``(batch, *spatial, channels)`` or ``(batch, channels, *spatial)``.
        kernel_size: window size, an int or one per spatial axis.
        strides: window strides; default ``kernel_size`` (non-overlapping windows).
        padding: ``"valid"``, ``"same"`` or ``[(low, high), ...]``.
        window_dilations: dilation of the window.
        channels: ``"last"`` or ``"first"``.

    >>> import jax.numpy as jnp
    >>> max_pool(jnp.arange(4.0).reshape(1, 4, 1), kernel_size=2).ravel().tolist()
    [1.0, 3.0]
    """
    y, _ = _window_reduce(
        "max_pool",
        x,
        -jnp.inf,
        lax.max,
        kernel_size=kernel_size,
        strides=strides,
        padding=padding,
        window_dilations=window_dilations,
        channels=channels,
    )
    return y


def avg_pool(
    x: Array,
    *,
    kernel_size: int | Sequence[int],
    strides: int | Sequence[int] | None = None,
    padding: Any = "valid",
    window_dilations: int | Sequence[int] = 1,
    channels: str = "last",
) -> Array:
    """Mean over each window; padding counts as zeros in the mean (Nx's ``window_mean``,
    PyTorch's ``count_include_pad=True``). Arguments as in :func:`max_pool`.

    >>> import jax.numpy as jnp
    >>> avg_pool(jnp.arange(4.0).reshape(1, 4, 1), kernel_size=2).ravel().tolist()
    [0.5, 2.5]
    """
    y, size = _window_reduce(
        "avg_pool",
        x,
        0,
        lax.add,
        kernel_size=kernel_size,
        strides=strides,
        padding=padding,
        window_dilations=window_dilations,
        channels=channels,
    )
    return y / size


def lp_pool(
    x: Array,
    *,
    kernel_size: int | Sequence[int],
    strides: int | Sequence[int] | None = None,
    padding: Any = "valid",
    window_dilations: int | Sequence[int] = 1,
    norm: float = 2,
    channels: str = "last",
) -> Array:
    """Power-average pool ``(sum over window of x ** norm) ** (1 / norm)``.

    As in Axon (and PyTorch's ``lp_pool`` for non-negative sums); a negative window sum with
    an odd ``norm`` gives NaN. Other arguments as in :func:`max_pool`.

    >>> import jax.numpy as jnp
    >>> lp_pool(jnp.array([[[3.0], [4.0]]]), kernel_size=2).ravel().tolist()
    [5.0]
    """
    _check_norm("lp_pool", norm)
    y, _ = _window_reduce(
        "lp_pool",
        jnp.power(jnp.asarray(x), norm),
        0,
        lax.add,
        kernel_size=kernel_size,
        strides=strides,
        padding=padding,
        window_dilations=window_dilations,
        channels=channels,
    )
    return jnp.power(y, 1.0 / norm)


def blur_pool(x: Array, *, channels: str = "last") -> Array:
    """Blur each channel with the fixed 3x3 filter ``[1, 2, 1] x [1, 2, 1] / 16`` (rank 4).

    A depthwise convolution with zero ``"same"`` padding, stride 1 (Axon's ``blur_pool``,
    after MosaicML's BlurPool), so the spatial size is unchanged.

    >>> import jax.numpy as jnp
    >>> blur_pool(jnp.ones((1, 3, 3, 1)))[0, :, :, 0].tolist()
    [[0.5625, 0.75, 0.5625], [0.75, 1.0, 0.75], [0.5625, 0.75, 0.5625]]
    """
    fn = "blur_pool"
    check_channels(fn, channels)
    check_rank(fn, "x", x, rank=4)
    x = jnp.asarray(x)
    c = x.shape[channel_axis(4, channels)]
    taps = jnp.array([1.0, 2.0, 1.0], x.dtype)
    blur = jnp.outer(taps, taps) / 16
    if channels == "last":
        kernel = jnp.broadcast_to(blur[:, :, None, None], (3, 3, 1, c))
    else:
        kernel = jnp.broadcast_to(blur[None, None], (c, 1, 3, 3))
    return conv(x, kernel, padding="same", feature_group_size=c, channels=channels)


# --- adaptive pools: PyTorch's bins -----------------------------------------------------------


def _bin_mask(in_size: int, out_size: int) -> np.ndarray:
    """``(out, in)`` booleans: bin ``i`` is ``[floor(i * in / out), ceil((i + 1) * in / out))``."""
    i = np.arange(out_size)
    start = (i * in_size) // out_size
    end = -((-(i + 1) * in_size) // out_size)
    positions = np.arange(in_size)
    return (positions >= start[:, None]) & (positions < end[:, None])


def _adaptive(
    fn: str, x: Array, output_size: Any, channels: str, kind: str, norm: Any = 2
) -> Array:
    check_channels(fn, channels)
    check_rank(fn, "x", x, min_rank=3)
    x = jnp.asarray(x)
    spatial = spatial_axes(x.ndim, channels)
    sizes = int_tuple(fn, "output_size", output_size, len(spatial))
    if kind == "lp":
        _check_norm(fn, norm)
        x = jnp.power(x, norm)
    # Rectangular bins are a product of per-axis bins, so reducing one axis at a time is exact.
    for axis, out_size in zip(spatial, sizes, strict=True):
        mask = _bin_mask(x.shape[axis], out_size)
        moved = jnp.moveaxis(x, axis, -1)
        if kind == "max":
            reduced = jnp.max(jnp.where(mask, moved[..., None, :], -jnp.inf), axis=-1)
        else:
            weights = mask / mask.sum(axis=1, keepdims=True) if kind == "avg" else mask
            reduced = moved @ jnp.asarray(weights.T, x.dtype)
        x = jnp.moveaxis(reduced, -1, axis)
    return jnp.power(x, 1.0 / norm) if kind == "lp" else x


def adaptive_avg_pool(
    x: Array, *, output_size: int | Sequence[int], channels: str = "last"
) -> Array:
    """Average over PyTorch's adaptive bins, giving exactly ``output_size`` spatially.

    Output index ``i`` of an axis of size ``n`` averages inputs
    ``floor(i * n / out) <= j < ceil((i + 1) * n / out)`` (bins may overlap or differ in size;
    Axon instead uses one fixed window and stride, which differs when ``out`` does not divide
    ``n``).

    >>> import jax.numpy as jnp
    >>> adaptive_avg_pool(jnp.arange(5.0).reshape(1, 5, 1), output_size=2).ravel().tolist()
    [1.0, 3.0]
    """
    return _adaptive("adaptive_avg_pool", x, output_size, channels, "avg")


def adaptive_max_pool(
    x: Array, *, output_size: int | Sequence[int], channels: str = "last"
) -> Array:
    """Max over PyTorch's adaptive bins (see :func:`adaptive_avg_pool`).

    >>> import jax.numpy as jnp
    >>> adaptive_max_pool(jnp.arange(5.0).reshape(1, 5, 1), output_size=2).ravel().tolist()
    [2.0, 4.0]
    """
    return _adaptive("adaptive_max_pool", x, output_size, channels, "max")


def adaptive_lp_pool(
    x: Array, *, output_size: int | Sequence[int], norm: float = 2, channels: str = "last"
) -> Array:
    """``(sum over bin of x ** norm) ** (1 / norm)`` over PyTorch's adaptive bins.

    >>> import jax.numpy as jnp
    >>> adaptive_lp_pool(jnp.array([[[3.0], [4.0]]]), output_size=1).ravel().tolist()
    [5.0]
    """
    return _adaptive("adaptive_lp_pool", x, output_size, channels, "lp", norm)


def _global(fn: str, x: Array, keep_axes: bool, channels: str) -> tuple[Array, tuple[int, ...]]:
    check_channels(fn, channels)
    check_rank(fn, "x", x, min_rank=3)
    x = jnp.asarray(x)
    return x, spatial_axes(x.ndim, channels)


def global_avg_pool(x: Array, *, keep_axes: bool = False, channels: str = "last") -> Array:
    """Mean over all spatial axes: ``(batch, channels)``, or size-1 spatial axes if ``keep_axes``.

    >>> import jax.numpy as jnp
    >>> global_avg_pool(jnp.ones((2, 4, 4, 3))).shape
    (2, 3)
    """
    x, axes = _global("global_avg_pool", x, keep_axes, channels)
    return jnp.mean(x, axis=axes, keepdims=keep_axes)


def global_max_pool(x: Array, *, keep_axes: bool = False, channels: str = "last") -> Array:
    """Max over all spatial axes (see :func:`global_avg_pool`).

    >>> import jax.numpy as jnp
    >>> global_max_pool(jnp.ones((2, 3, 4, 4)), keep_axes=True, channels="first").shape
    (2, 3, 1, 1)
    """
    x, axes = _global("global_max_pool", x, keep_axes, channels)
    return jnp.max(x, axis=axes, keepdims=keep_axes)


def global_lp_pool(
    x: Array, *, keep_axes: bool = False, norm: float = 2, channels: str = "last"
) -> Array:
    """``(sum over spatial axes of x ** norm) ** (1 / norm)`` (see :func:`global_avg_pool`).

    >>> import jax.numpy as jnp
    >>> global_lp_pool(jnp.array([[[3.0], [4.0]]])).tolist()
    [[5.0]]
    """
    _check_norm("global_lp_pool", norm)
    x, axes = _global("global_lp_pool", x, keep_axes, channels)
    return jnp.power(jnp.sum(jnp.power(x, norm), axis=axes, keepdims=keep_axes), 1.0 / norm)
