"""Pooling builders: window (max/avg/lp), blur, adaptive and global pools (no parameters)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from axon.functional import layers as F

from .._graph.constructors import layer
from .._graph.model import Model
from .options import (
    check_channels,
    check_int_or_tuple,
    check_number,
    check_padding,
)

IntOrTuple = int | Sequence[int]


def _window_pool(
    fn: str,
    op: Callable[..., Any],
    x: Model,
    name: str | None,
    *,
    kernel_size: Any,
    strides: Any,
    padding: Any,
    dilations: Any,
    channels: Any,
    **norm: Any,
) -> Model:
    kernel_size = check_int_or_tuple(fn, "kernel_size", kernel_size)
    strides = check_int_or_tuple(fn, "strides", strides, allow_none=True)
    padding = check_padding(fn, padding)
    dilations = check_int_or_tuple(fn, "dilations", dilations)
    channels = check_channels(fn, channels)
    norm = _checked_norm(fn, norm)
    if norm and norm["norm"] <= 0:
        raise ValueError(f"{fn}: option 'norm' must be > 0; received {norm['norm']!r}.")
    config = {
        "kernel_size": kernel_size,
        "strides": kernel_size if strides is None else strides,
        "padding": padding,
        "channels": channels,
        **norm,
    }
    return layer(
        op, [x], name=name, op_name=fn, config=config, kernel_size=kernel_size, strides=strides,
        padding=padding, window_dilations=dilations, channels=channels, **norm,
    )  # fmt: skip


def _whole_pool(
    fn: str, op: Callable[..., Any], x: Model, name: str | None, channels: Any, **options: Any
) -> Model:
    """An adaptive or global pool: ``options`` (checked), ``channels``, then ``norm`` if given."""
    channels = check_channels(fn, channels)
    norm = _checked_norm(fn, options)
    options = {**options, "channels": channels, **norm}
    return layer(op, [x], name=name, op_name=fn, config=options, **options)


def _checked_keep_axes(fn: str, keep_axes: Any) -> bool:
    if not isinstance(keep_axes, bool):
        raise ValueError(f"{fn}: option 'keep_axes' must be a bool; received {keep_axes!r}.")
    return keep_axes


def _checked_norm(fn: str, options: dict[str, Any]) -> dict[str, float]:
    """``{"norm": p}``, taken out of ``options`` and checked (lp pools), or ``{}``."""
    return {"norm": check_number(fn, "norm", options.pop("norm"))} if "norm" in options else {}


def max_pool(
    x: Model,
    *,
    kernel_size: IntOrTuple = 1,
    strides: IntOrTuple | None = None,
    padding: str | Sequence[tuple[int, int]] = "valid",
    dilations: IntOrTuple = 1,
    channels: str = "last",
    name: str | None = None,
) -> Model:
    """Max over windows (``Axon.max_pool``); ``strides`` defaults to ``kernel_size``.

    Args:
        x: ``(batch, *spatial, channels)`` (or channels first).
        kernel_size: window size, an int or one per spatial axis.
        strides: window strides (default: ``kernel_size``, non-overlapping).
        padding: ``"valid"``, ``"same"`` or ``[(low, high), ...]``.
        dilations: window dilations.
        channels: ``"last"`` or ``"first"``.
        name: layer name.

    >>> import jax.numpy as jnp, axon.model
    >>> model = axon.model.input("x", shape=(None, 4, 4, 1)).max_pool(kernel_size=2)
    >>> model.apply(model.init(0, jnp.zeros((1, 4, 4, 1))), jnp.ones((1, 4, 4, 1)))[0].shape
    (1, 2, 2, 1)
    """
    return _window_pool(
        "max_pool", F.max_pool, x, name, kernel_size=kernel_size, strides=strides,
        padding=padding, dilations=dilations, channels=channels,
    )  # fmt: skip


def avg_pool(
    x: Model,
    *,
    kernel_size: IntOrTuple = 1,
    strides: IntOrTuple | None = None,
    padding: str | Sequence[tuple[int, int]] = "valid",
    dilations: IntOrTuple = 1,
    channels: str = "last",
    name: str | None = None,
) -> Model:
    """Mean over windows (``Axon.avg_pool``); padding counts as zeros. Options as :func:`max_pool`.

    >>> import jax.numpy as jnp, axon.model
    >>> model = axon.model.input("x", shape=(None, 4, 1)).avg_pool(kernel_size=2)
    >>> x = jnp.arange(4.0).reshape(1, 4, 1)
    >>> model.apply(model.init(0, x), x)[0].ravel().tolist()
    [0.5, 2.5]
    """
    return _window_pool(
        "avg_pool", F.avg_pool, x, name, kernel_size=kernel_size, strides=strides,
        padding=padding, dilations=dilations, channels=channels,
    )  # fmt: skip


def lp_pool(
    x: Model,
    *,
    kernel_size: IntOrTuple = 1,
    strides: IntOrTuple | None = None,
    padding: str | Sequence[tuple[int, int]] = "valid",
    dilations: IntOrTuple = 1,
    norm: float = 2,
    channels: str = "last",
    name: str | None = None,
) -> Model:
    """Power-average pool ``(sum x ** norm) ** (1 / norm)`` over windows (``Axon.lp_pool``).

    >>> import jax.numpy as jnp, axon.model
    >>> model = axon.model.input("x", shape=(None, 2, 1)).lp_pool(kernel_size=2)
    >>> x = jnp.array([[[3.0], [4.0]]])
    >>> model.apply(model.init(0, x), x)[0].ravel().tolist()
    [5.0]
    """
    return _window_pool(
        "lp_pool", F.lp_pool, x, name, kernel_size=kernel_size, strides=strides,
        padding=padding, dilations=dilations, channels=channels, norm=norm,
    )  # fmt: skip


def blur_pool(x: Model, *, channels: str = "last", name: str | None = None) -> Model:
    """Blur each channel with the fixed 3x3 ``[1, 2, 1]`` filter (``Axon.blur_pool``, rank 4).

    >>> import jax.numpy as jnp, axon.model
    >>> model = axon.model.input("x", shape=(None, 3, 3, 1)).blur_pool()
    >>> x = jnp.ones((1, 3, 3, 1))
    >>> float(model.apply(model.init(0, x), x)[0][0, 1, 1, 0])
    1.0
    """
    channels = check_channels("blur_pool", channels)
    return layer(
        F.blur_pool, [x], name=name, op_name="blur_pool", config={"channels": channels},
        channels=channels,
    )  # fmt: skip


def adaptive_avg_pool(
    x: Model, output_size: IntOrTuple, *, channels: str = "last", name: str | None = None
) -> Model:
    """Average over adaptive bins to exactly ``output_size`` (``Axon.adaptive_avg_pool``).

    Bins follow PyTorch (``floor(i*n/out) <= j < ceil((i+1)*n/out)``), which differs from
    Axon's fixed window when ``output_size`` does not divide the input size.

    >>> import jax.numpy as jnp, axon.model
    >>> model = axon.model.input("x", shape=(None, 5, 1)).adaptive_avg_pool(2)
    >>> x = jnp.arange(5.0).reshape(1, 5, 1)
    >>> model.apply(model.init(0, x), x)[0].ravel().tolist()
    [1.0, 3.0]
    """
    return _whole_pool(
        "adaptive_avg_pool",
        F.adaptive_avg_pool,
        x,
        name,
        channels,
        output_size=check_int_or_tuple("adaptive_avg_pool", "output_size", output_size),
    )


def adaptive_max_pool(
    x: Model, output_size: IntOrTuple, *, channels: str = "last", name: str | None = None
) -> Model:
    """Max over adaptive bins (see :func:`adaptive_avg_pool`).

    >>> import jax.numpy as jnp, axon.model
    >>> model = axon.model.input("x", shape=(None, 5, 1)).adaptive_max_pool(2)
    >>> x = jnp.arange(5.0).reshape(1, 5, 1)
    >>> model.apply(model.init(0, x), x)[0].ravel().tolist()
    [2.0, 4.0]
    """
    return _whole_pool(
        "adaptive_max_pool",
        F.adaptive_max_pool,
        x,
        name,
        channels,
        output_size=check_int_or_tuple("adaptive_max_pool", "output_size", output_size),
    )


def adaptive_lp_pool(
    x: Model,
    output_size: IntOrTuple,
    *,
    norm: float = 2,
    channels: str = "last",
    name: str | None = None,
) -> Model:
    """``(sum x ** norm) ** (1 / norm)`` over adaptive bins (see :func:`adaptive_avg_pool`).

    >>> import jax.numpy as jnp, axon.model
    >>> model = axon.model.input("x", shape=(None, 2, 1)).adaptive_lp_pool(1)
    >>> x = jnp.array([[[3.0], [4.0]]])
    >>> model.apply(model.init(0, x), x)[0].ravel().tolist()
    [5.0]
    """
    return _whole_pool(
        "adaptive_lp_pool",
        F.adaptive_lp_pool,
        x,
        name,
        channels,
        output_size=check_int_or_tuple("adaptive_lp_pool", "output_size", output_size),
        norm=norm,
    )


def global_avg_pool(
    x: Model, *, keep_axes: bool = False, channels: str = "last", name: str | None = None
) -> Model:
    """Mean over every spatial axis: ``(batch, channels)`` (``Axon.global_avg_pool``).

    With ``keep_axes=True`` the spatial axes stay, with size 1.

    >>> import jax.numpy as jnp, axon.model
    >>> model = axon.model.input("x", shape=(None, 4, 4, 3)).global_avg_pool()
    >>> model.apply(model.init(0, jnp.zeros((1, 4, 4, 3))), jnp.ones((2, 4, 4, 3)))[0].shape
    (2, 3)
    """
    return _whole_pool(
        "global_avg_pool",
        F.global_avg_pool,
        x,
        name,
        channels,
        keep_axes=_checked_keep_axes("global_avg_pool", keep_axes),
    )


def global_max_pool(
    x: Model, *, keep_axes: bool = False, channels: str = "last", name: str | None = None
) -> Model:
    """Max over every spatial axis (see :func:`global_avg_pool`).

    >>> import jax.numpy as jnp, axon.model
    >>> model = axon.model.input("x", shape=(None, 3, 4, 4)).global_max_pool(
    ...     keep_axes=True, channels="first")
    >>> model.apply(model.init(0, jnp.zeros((1, 3, 4, 4))), jnp.ones((2, 3, 4, 4)))[0].shape
    (2, 3, 1, 1)
    """
    return _whole_pool(
        "global_max_pool",
        F.global_max_pool,
        x,
        name,
        channels,
        keep_axes=_checked_keep_axes("global_max_pool", keep_axes),
    )


def global_lp_pool(
    x: Model,
    *,
    keep_axes: bool = False,
    norm: float = 2,
    channels: str = "last",
    name: str | None = None,
) -> Model:
    """``(sum over spatial axes of x ** norm) ** (1 / norm)`` (see :func:`global_avg_pool`).

    >>> import jax.numpy as jnp, axon.model
    >>> model = axon.model.input("x", shape=(None, 2, 1)).global_lp_pool()
    >>> x = jnp.array([[[3.0], [4.0]]])
    >>> model.apply(model.init(0, x), x)[0].tolist()
    [[5.0]]
    """
    return _whole_pool(
        "global_lp_pool",
        F.global_lp_pool,
        x,
        name,
        channels,
        keep_axes=_checked_keep_axes("global_lp_pool", keep_axes),
        norm=norm,
    )


BUILDERS = {
    "max_pool": max_pool,
    "avg_pool": avg_pool,
    "lp_pool": lp_pool,
    "blur_pool": blur_pool,
    "adaptive_avg_pool": adaptive_avg_pool,
    "adaptive_max_pool": adaptive_max_pool,
    "adaptive_lp_pool": adaptive_lp_pool,
    "global_avg_pool": global_avg_pool,
    "global_max_pool": global_max_pool,
    "global_lp_pool": global_lp_pool,
}
