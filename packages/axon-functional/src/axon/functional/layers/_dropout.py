"""Dropout family on one generalized dropout with an explicit PRNG key.

Every function is the identity in ``mode="inference"`` and, in ``mode="train"``, draws a
keep-mask of shape ``noise_shape`` (broadcast against the input) from ``key`` and returns only
the output: the caller owns the key (split it per step). ``rate`` is the drop probability,
``0 <= rate < 1``.

>>> import jax, jax.numpy as jnp
>>> dropout(jnp.ones(4), jax.random.key(0), rate=0.5).tolist()  # inference: identity
[1.0, 1.0, 1.0, 1.0]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from ._spatial import channel_axis, check_channels, check_rank

Array = jax.Array

__all__ = ["alpha_dropout", "dropout", "feature_alpha_dropout", "spatial_dropout"]

MODES = ("inference", "train")
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _check(fn: str, key: Any, rate: Any, mode: Any) -> bool:
    """Validate the common options; True when the op must actually drop."""
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate < 1:
        raise ValueError(
            f"{fn}: argument 'rate' (the drop probability) must satisfy 0 <= rate < 1; "
            f"received {rate!r}."
        )
    if mode not in MODES:
        raise ValueError(f"{fn}: argument 'mode' must be one of {MODES}; received {mode!r}.")
    if mode == "train" and key is None:
        raise ValueError(
            f"{fn}: mode='train' needs a PRNG key (e.g. jax.random.key(0)); received key=None."
        )
    return mode == "train" and rate > 0


def _keep_mask(fn: str, key: Array, keep: float, x: Array, noise_shape: Any) -> Array:
    shape = x.shape if noise_shape is None else tuple(noise_shape)
    try:
        jnp.broadcast_shapes(shape, x.shape)
        compatible = len(shape) == x.ndim
    except ValueError:
        compatible = False
    if not compatible:
        raise ValueError(
            f"{fn}: argument 'noise_shape' must have the input's rank and broadcast to its "
            f"shape {x.shape} (use 1 on axes that share a mask); received {noise_shape!r}."
        )
    return jax.random.bernoulli(key, keep, shape)


def _channel_noise_shape(fn: str, x: Array, channels: str) -> tuple[int, ...]:
    """One mask entry per (sample, channel): whole feature maps are dropped together."""
    check_channels(fn, channels)
    check_rank(fn, "x", x, min_rank=3)
    axis = channel_axis(x.ndim, channels)
    return tuple(size if a in (0, axis) else 1 for a, size in enumerate(x.shape))


def _inverted(fn: str, x: Array, key: Array, rate: float, noise_shape: Any) -> Array:
    # Kept units are scaled by 1 / keep, so the expectation is unchanged.
    keep = 1.0 - rate
    mask = _keep_mask(fn, key, keep, x, noise_shape)
    return jnp.where(mask, x / keep, jnp.zeros((), x.dtype))


def _alpha(fn: str, x: Array, key: Array, rate: float, noise_shape: Any) -> Array:
    # PyTorch's/Keras' formula: dropped units take SELU's negative saturation value, then an
    # affine map a * x + b restores zero mean and unit variance for standardized inputs.
    alpha_p = -SELU_ALPHA * SELU_SCALE
    keep = 1.0 - rate
    a = (keep * (1.0 + rate * alpha_p**2)) ** -0.5
    b = -a * alpha_p * rate
    mask = _keep_mask(fn, key, keep, x, noise_shape)
    return a * jnp.where(mask, x, jnp.asarray(alpha_p, x.dtype)) + b


def _dropped(
    fn: str,
    drop: Callable[[str, Array, Array, float, Any], Array],
    x: Array,
    key: Array | None,
    rate: float,
    mode: str,
    *,
    noise_shape: Sequence[int] | None = None,
    channels: str | None = None,
) -> Array:
    """``x`` in inference; in training ``drop(fn, x, key, rate, noise_shape)``, with one mask
    entry per sample and channel when ``channels`` is given."""
    if channels is not None:
        check_channels(fn, channels)
    if not _check(fn, key, rate, mode):
        return x
    x = jnp.asarray(x)
    if channels is not None:
        noise_shape = _channel_noise_shape(fn, x, channels)
    return drop(fn, x, key, rate, noise_shape)


def dropout(
    x: Array,
    key: Array | None,
    *,
    rate: float = 0.5,
    noise_shape: Sequence[int] | None = None,
    mode: str = "inference",
) -> Array:
    """Inverted dropout: zero each element with probability ``rate``, scale the rest by
    ``1 / (1 - rate)`` so the expectation is unchanged.

    Args:
        x: any input.
        key: a PRNG key (``jax.random.key``); unused (may be ``None``) in inference.
        rate: drop probability, ``0 <= rate < 1``.
        noise_shape: shape of the mask, broadcast against ``x`` (default ``x.shape``).
        mode: ``"train"`` drops, ``"inference"`` returns ``x``.

    >>> import jax, jax.numpy as jnp
    >>> y = dropout(jnp.ones(1000), jax.random.key(0), rate=0.2, mode="train")
    >>> sorted(set(y.tolist()))
    [0.0, 1.25]
    """
    return _dropped("dropout", _inverted, x, key, rate, mode, noise_shape=noise_shape)


def spatial_dropout(
    x: Array,
    key: Array | None,
    *,
    rate: float = 0.5,
    channels: str = "last",
    mode: str = "inference",
) -> Array:
    """Dropout of whole channels (feature maps): one mask entry per sample and channel.

    >>> import jax, jax.numpy as jnp
    >>> y = spatial_dropout(jnp.ones((1, 3, 8)), jax.random.key(0), rate=0.5, mode="train")
    >>> bool(jnp.all(y == y[:, :1, :]))  # each channel is all kept or all dropped
    True
    """
    return _dropped("spatial_dropout", _inverted, x, key, rate, mode, channels=channels)


def alpha_dropout(
    x: Array, key: Array | None, *, rate: float = 0.5, mode: str = "inference"
) -> Array:
    """Alpha dropout (for SELU networks): keeps mean and variance of standardized inputs.

    Kept units become ``a * x + b`` and dropped ones ``a * alpha' + b`` with
    ``alpha' = -selu_scale * selu_alpha``, ``a = ((1 - rate) * (1 + rate * alpha'^2)) ** -0.5``
    and ``b = -a * alpha' * rate`` (PyTorch's ``alpha_dropout``).

    >>> import jax, jax.numpy as jnp
    >>> y = alpha_dropout(jax.random.normal(jax.random.key(1), (100_000,)), jax.random.key(0),
    ...                   rate=0.3, mode="train")
    >>> abs(float(y.mean())) < 0.02, abs(float(y.std()) - 1) < 0.02
    (True, True)
    """
    return _dropped("alpha_dropout", _alpha, x, key, rate, mode)


def feature_alpha_dropout(
    x: Array,
    key: Array | None,
    *,
    rate: float = 0.5,
    channels: str = "last",
    mode: str = "inference",
) -> Array:
    """Alpha dropout of whole channels (see :func:`alpha_dropout` and :func:`spatial_dropout`).

    >>> import jax, jax.numpy as jnp
    >>> y = feature_alpha_dropout(jnp.zeros((2, 5, 4)), jax.random.key(0), mode="train")
    >>> bool(jnp.all(y == y[:, :1, :]))
    True
    """
    return _dropped("feature_alpha_dropout", _alpha, x, key, rate, mode, channels=channels)
