"""Shape layers: flatten, reshape, transpose, pad and resize.

>>> import jax.numpy as jnp
>>> flatten(jnp.ones((2, 3, 4))).shape
(2, 12)
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
from jax import lax

from ._spatial import check_channels, check_rank, int_tuple, is_int, spatial_axes

Array = jax.Array

__all__ = ["flatten", "pad", "reshape", "resize", "transpose"]

RESIZE_METHODS = {
    "nearest": "nearest",
    "bilinear": "linear",  # "bi"/"tri" only name the rank; jax's "linear" is N-d
    "linear": "linear",
    "bicubic": "cubic",
    "cubic": "cubic",
    "lanczos3": "lanczos3",
    "lanczos5": "lanczos5",
}


def flatten(x: Array) -> Array:
    """Flatten every axis but the first (batch) one.

    >>> import jax.numpy as jnp
    >>> flatten(jnp.ones((2, 3, 4))).shape
    (2, 12)
    """
    return x.reshape(x.shape[0], -1)


def reshape(x: Array, shape: Sequence[int | str]) -> Array:
    """Reshape to the full target ``shape``, where ``"batch"`` stands for the input's first
    axis and one ``-1`` (or ``"auto"``) is inferred.

    This is Axon's ``:batch``/``:auto`` shape language, so a model's reshape need not know its
    batch size.

    >>> import jax.numpy as jnp
    >>> reshape(jnp.ones((2, 12)), ("batch", 3, "auto")).shape
    (2, 3, 4)
    """
    x = jnp.asarray(x)
    try:
        entries = list(shape)
    except TypeError:
        entries = [None]
    target = []
    for entry in entries:
        if entry == "batch":
            if x.ndim == 0:
                raise ValueError("reshape: 'batch' needs an input with a batch axis; got a scalar.")
            target.append(x.shape[0])
        elif entry == "auto":
            target.append(-1)
        elif is_int(entry) and entry >= -1:
            target.append(int(entry))
        else:
            raise ValueError(
                f"reshape: argument 'shape' must be a sequence of ints >= 0, 'batch', and at "
                f"most one -1/'auto'; received {shape!r}."
            )
    known = 1
    for size in target:
        known *= size if size != -1 else 1
    if -1 in target:
        valid = target.count(-1) == 1 and known > 0 and x.size % known == 0
    else:
        valid = known == x.size
    if not valid:
        raise ValueError(
            f"reshape: cannot reshape an input of shape {x.shape} ({x.size} elements) into "
            f"{shape!r} (resolved to {tuple(target)})."
        )
    return x.reshape(target)


def transpose(x: Array, permutation: Sequence[int] | None = None) -> Array:
    """Permute axes; ``None`` reverses all of them (batch included), as in Axon.

    >>> import jax.numpy as jnp
    >>> transpose(jnp.ones((2, 3, 4))).shape, transpose(jnp.ones((2, 3, 4)), (0, 2, 1)).shape
    ((4, 3, 2), (2, 4, 3))
    """
    x = jnp.asarray(x)
    if permutation is None:
        return jnp.transpose(x)
    try:
        perm = tuple(permutation)
    except TypeError:
        perm = ()
    if sorted(a % x.ndim if isinstance(a, int) else a for a in perm) != list(range(x.ndim)):
        raise ValueError(
            f"transpose: argument 'permutation' must be a permutation of the {x.ndim} axes "
            f"{tuple(range(x.ndim))}; received {permutation!r}."
        )
    return jnp.transpose(x, perm)


def pad(
    x: Array,
    config: Sequence[tuple[int, int]],
    value: float = 0.0,
    *,
    channels: str = "last",
) -> Array:
    """Pad the spatial axes with ``value``; ``config`` is one ``(low, high)`` pair per spatial
    axis (negative values crop). Batch and channel axes are never padded.

    >>> import jax.numpy as jnp
    >>> pad(jnp.ones((1, 2, 1)), [(1, 0)], value=-1.0).ravel().tolist()
    [-1.0, 1.0, 1.0]
    """
    fn = "pad"
    check_channels(fn, channels)
    check_rank(fn, "x", x, min_rank=3)
    x = jnp.asarray(x)
    spatial = spatial_axes(x.ndim, channels)
    try:
        pairs = [tuple(p) for p in config]
    except TypeError:
        pairs = []
    if len(pairs) != len(spatial) or not all(
        len(p) == 2 and all(is_int(v) for v in p) for p in pairs
    ):
        raise ValueError(
            f"{fn}: argument 'config' must be {len(spatial)} (low, high) int pairs, one per "
            f"spatial axis of an input of shape {x.shape} (channels={channels!r}); received "
            f"{config!r}."
        )
    full = [(0, 0, 0)] * x.ndim
    for axis, (low, high) in zip(spatial, pairs, strict=True):
        full[axis] = (int(low), int(high), 0)
    return lax.pad(x, jnp.asarray(value, x.dtype), full)


def resize(
    x: Array,
    size: int | Sequence[int],
    *,
    method: str = "nearest",
    antialias: bool = True,
    channels: str = "last",
) -> Array:
    """Resize the spatial axes to ``size`` with :func:`jax.image.resize`.

    Works on any number of spatial axes (Axon: rank 4 only). ``method`` is ``"nearest"``,
    ``"bilinear"``, ``"bicubic"``, ``"lanczos3"`` or ``"lanczos5"`` (``"linear"``/``"cubic"``
    also accepted); ``antialias`` applies when downsampling with the non-nearest methods.

    >>> import jax.numpy as jnp
    >>> resize(jnp.ones((1, 4, 4, 3)), (8, 6), method="bilinear").shape
    (1, 8, 6, 3)
    """
    fn = "resize"
    check_channels(fn, channels)
    check_rank(fn, "x", x, min_rank=3)
    if method not in RESIZE_METHODS:
        raise ValueError(
            f"{fn}: argument 'method' must be one of {sorted(RESIZE_METHODS)}; received {method!r}."
        )
    x = jnp.asarray(x)
    spatial = spatial_axes(x.ndim, channels)
    sizes = int_tuple(fn, "size", size, len(spatial))
    shape = list(x.shape)
    for axis, new in zip(spatial, sizes, strict=True):
        shape[axis] = new
    return jax.image.resize(x, tuple(shape), RESIZE_METHODS[method], antialias=antialias)
