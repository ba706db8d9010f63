"""Shape builders: flatten, reshape, transpose, pad and resize (no parameters)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from axon.functional import layers as F
from axon.functional.layers._shape import RESIZE_METHODS

from .._graph.constructors import layer
from .._graph.model import Model
from .._graph.recording import records
from .options import (
    check_channels,
    check_int_or_tuple,
    check_number,
    is_int,
    option_error,
)


@records("flatten")  # exported as axon.model.flatten: record direct calls too
def flatten(x: Model, *, name: str | None = None) -> Model:
    """Flatten every axis but the batch axis.

    >>> import jax.numpy as jnp, axon.model
    >>> model = axon.model.input("image", shape=(None, 4, 4, 3)).flatten()
    >>> model.apply(model.init(0, jnp.zeros((1, 4, 4, 3))), jnp.zeros((2, 4, 4, 3)))[0].shape
    (2, 48)
    """
    return layer(F.flatten, [x], name=name, op_name="flatten")


def reshape(x: Model, shape: Sequence[int | str], *, name: str | None = None) -> Model:
    """Reshape to the full target ``shape`` in Axon's shape language (``Axon.reshape``).

    ``"batch"`` stands for the input's batch size and one ``"auto"`` (or ``-1``) is
    inferred, so the model works for any batch size.

    >>> import jax.numpy as jnp, axon.model
    >>> model = axon.model.input("x", shape=(None, 12)).reshape(("batch", 3, "auto"))
    >>> model.apply(model.init(0, jnp.zeros((1, 12))), jnp.ones((5, 12)))[0].shape
    (5, 3, 4)
    """
    entries = tuple(shape) if isinstance(shape, Sequence) and not isinstance(shape, str) else None
    valid = entries is not None and all(
        e in ("batch", "auto") or (is_int(e) and e >= -1) for e in entries
    )
    if not valid or sum(e in ("auto", -1) for e in entries) > 1:  # type: ignore[union-attr]
        raise option_error(
            "reshape", "shape", "a sequence of ints >= 0, 'batch' and at most one 'auto'/-1", shape
        )
    return layer(
        F.reshape, [x], name=name, op_name="reshape", config={"shape": entries}, shape=entries
    )


def transpose(
    x: Model, permutation: Sequence[int] | None = None, *, name: str | None = None
) -> Model:
    """Permute the axes (``Axon.transpose``); ``None`` reverses all of them, batch included.

    >>> import jax.numpy as jnp, axon.model
    >>> model = axon.model.input("x", shape=(None, 3, 4)).transpose((0, 2, 1))
    >>> model.apply(model.init(0, jnp.zeros((1, 3, 4))), jnp.ones((2, 3, 4)))[0].shape
    (2, 4, 3)
    """
    if permutation is not None:
        if not (isinstance(permutation, Sequence) and all(is_int(a) for a in permutation)):
            raise option_error(
                "transpose", "permutation", "a sequence of ints or None", permutation
            )
        permutation = tuple(int(a) for a in permutation)
    return layer(
        F.transpose,
        [x],
        name=name,
        op_name="transpose",
        config={"permutation": permutation},
        permutation=permutation,
    )


def pad(
    x: Model,
    config: Sequence[tuple[int, int]],
    value: float = 0.0,
    *,
    channels: str = "last",
    name: str | None = None,
) -> Model:
    """Pad the spatial axes with ``value`` (``Axon.pad``): one ``(low, high)`` pair per axis.

    >>> import jax.numpy as jnp, axon.model
    >>> model = axon.model.input("x", shape=(None, 2, 1)).pad([(1, 0)], -1.0)
    >>> model.apply(model.init(0, jnp.ones((1, 2, 1))), jnp.ones((1, 2, 1)))[0].ravel().tolist()
    [-1.0, 1.0, 1.0]
    """
    try:
        pairs = tuple((int(lo), int(hi)) for lo, hi in config if is_int(lo) and is_int(hi))
        ok = len(pairs) == len(config) and len(pairs) > 0
    except (TypeError, ValueError):
        pairs, ok = (), False
    if not ok:
        raise option_error("pad", "config", "a list of (low, high) int pairs", config)
    value = check_number("pad", "value", value)
    channels = check_channels("pad", channels)
    options = {"padding": pairs, "value": value, "channels": channels}
    return layer(_pad_op, [x], name=name, op_name="pad", config=options, **options)


def _pad_op(x: Any, *, padding: Any, value: float, channels: str) -> Any:
    """:func:`axon.functional.layers.pad` (its ``config`` option renamed, since ``layer``
    reserves ``config`` for descriptive options)."""
    return F.pad(x, padding, value, channels=channels)


def resize(
    x: Model,
    size: int | Sequence[int],
    *,
    method: str = "nearest",
    antialias: bool = True,
    channels: str = "last",
    name: str | None = None,
) -> Model:
    """Resize the spatial axes to ``size`` (``Axon.resize``, via :func:`jax.image.resize`).

    ``method`` is ``"nearest"`` (default), ``"bilinear"``, ``"bicubic"``, ``"lanczos3"`` or
    ``"lanczos5"``; any number of spatial axes works.

    >>> import jax.numpy as jnp, axon.model
    >>> model = axon.model.input("x", shape=(None, 4, 4, 3)).resize((8, 6), method="bilinear")
    >>> model.apply(model.init(0, jnp.zeros((1, 4, 4, 3))), jnp.ones((1, 4, 4, 3)))[0].shape
    (1, 8, 6, 3)
    """
    size = check_int_or_tuple("resize", "size", size)
    if method not in RESIZE_METHODS:
        raise option_error("resize", "method", f"one of {sorted(RESIZE_METHODS)}", method)
    if not isinstance(antialias, bool):
        raise option_error("resize", "antialias", "a bool", antialias)
    channels = check_channels("resize", channels)
    options = {"size": size, "method": method, "channels": channels}
    return layer(
        F.resize, [x], name=name, op_name="resize", config=options, antialias=antialias, **options
    )


BUILDERS = {
    "flatten": flatten,
    "reshape": reshape,
    "transpose": transpose,
    "pad": pad,
    "resize": resize,
}
