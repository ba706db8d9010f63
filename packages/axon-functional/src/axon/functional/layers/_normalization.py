"""Normalization: batch/instance/layer/group/rms norm on one :func:`normalize` primitive.

Stateful ops (batch and instance norm) follow the convention the model compiler relies on:
``mode="train"`` normalizes with the batch statistics and returns
``(y, {"mean": new_mean, "var": new_var})``; ``mode="inference"`` normalizes with the running
statistics and returns ``y``.

Running statistics (deliberate choices, both Axon's and Keras/Flax's):

* ``new = momentum * old + (1 - momentum) * batch``: ``momentum`` weighs the OLD value.
  Axon's default ``momentum=0.1`` therefore keeps 10% of the old statistics per step; the
  PyTorch equivalent is ``torch.nn.BatchNorm*d(momentum=1 - momentum)`` (0.9).
* The batch variance fed to the running update is the biased (population) variance, the
  same one used to normalize; PyTorch feeds the unbiased one (``n / (n - 1)`` times larger,
  ``n`` = elements per channel).

>>> import jax.numpy as jnp
>>> layer_norm(jnp.array([[1.0, 3.0]]), jnp.ones(2), jnp.zeros(2)).round(3).tolist()
[[-1.0, 1.0]]
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

Array = jax.Array

__all__ = ["batch_norm", "group_norm", "instance_norm", "layer_norm", "normalize", "rms_norm"]

MODES = ("inference", "train")


def normalize(
    x: Array,
    mean: Array,
    var: Array,
    gamma: Array | None = None,
    beta: Array | None = None,
    *,
    epsilon: float = 1e-5,
) -> Array:
    """``(x - mean) / sqrt(var + epsilon) * gamma + beta``, all broadcast against ``x``.

    Every norm in this module ends here; ``gamma``/``beta`` of ``None`` skip the scale/shift.

    >>> import jax.numpy as jnp
    >>> normalize(jnp.array([2.0]), 1.0, 4.0, epsilon=0.0).tolist()
    [0.5]
    """
    return _scale_and_shift((x - mean) * lax.rsqrt(var + epsilon), gamma, beta)


def _scale_and_shift(y: Array, gamma: Array | None, beta: Array | None) -> Array:
    if gamma is not None:
        y = y * gamma
    return y if beta is None else y + beta


def _axis(fn: str, x: Array, channel_index: Any) -> int:
    if (
        isinstance(channel_index, bool)
        or not isinstance(channel_index, int)
        or not (-x.ndim <= channel_index < x.ndim)
    ):
        raise ValueError(
            f"{fn}: argument 'channel_index' must be an int axis of the input (rank {x.ndim}, "
            f"shape {x.shape}); received {channel_index!r}."
        )
    return channel_index % x.ndim


def _per_channel(fn: str, name: str, value: Any, x: Array, axis: int) -> Array | None:
    """A ``(C,)`` parameter reshaped to broadcast along ``axis`` of ``x`` (``None`` kept)."""
    if value is None:
        return None
    value = jnp.asarray(value)
    channels = x.shape[axis]
    if value.shape != (channels,):
        raise ValueError(
            f"{fn}: argument '{name}' must have shape ({channels},) (the size of channel axis "
            f"{axis} of an input of shape {x.shape}); received shape {value.shape}."
        )
    shape = [1] * x.ndim
    shape[axis] = channels
    return value.reshape(shape)


def _check_options(fn: str, mode: Any, momentum: Any, epsilon: Any) -> None:
    if mode not in MODES:
        raise ValueError(f"{fn}: argument 'mode' must be one of {MODES}; received {mode!r}.")
    if not isinstance(momentum, int | float) or not 0 <= momentum <= 1:
        raise ValueError(
            f"{fn}: argument 'momentum' must be a number in [0, 1] (the weight of the old "
            f"running statistics); received {momentum!r}."
        )
    _check_epsilon(fn, epsilon)


def _check_epsilon(fn: str, epsilon: Any) -> None:
    if not isinstance(epsilon, int | float) or epsilon < 0:
        raise ValueError(f"{fn}: argument 'epsilon' must be a number >= 0; received {epsilon!r}.")


def _stateful_norm(
    fn: str,
    x: Array,
    gamma: Any,
    beta: Any,
    mean: Any,
    var: Any,
    *,
    reduce_axes: tuple[int, ...],
    axis: int,
    epsilon: float,
    momentum: float,
    mode: str,
) -> Array | tuple[Array, dict[str, Array]]:
    gamma, beta = _per_channel(fn, "gamma", gamma, x, axis), _per_channel(fn, "beta", beta, x, axis)
    running_mean = _per_channel(fn, "mean", mean, x, axis)
    running_var = _per_channel(fn, "var", var, x, axis)
    if mode == "inference":
        return normalize(x, running_mean, running_var, gamma, beta, epsilon=epsilon)
    batch_mean = jnp.mean(x, axis=reduce_axes, keepdims=True)
    batch_var = jnp.var(x, axis=reduce_axes, keepdims=True)  # biased, see the module docs
    y = normalize(x, batch_mean, batch_var, gamma, beta, epsilon=epsilon)
    # Instance norm has per-sample statistics: the running update uses their batch average.
    summary_axes = tuple(a for a in range(x.ndim) if a != axis)
    observed_mean = jnp.mean(batch_mean, axis=summary_axes)
    observed_var = jnp.mean(batch_var, axis=summary_axes)
    new_mean = momentum * jnp.asarray(mean) + (1 - momentum) * observed_mean
    new_var = momentum * jnp.asarray(var) + (1 - momentum) * observed_var
    return y, {"mean": new_mean, "var": new_var}


def batch_norm(
    x: Array,
    gamma: Array | None,
    beta: Array | None,
    mean: Array,
    var: Array,
    *,
    epsilon: float = 1e-5,
    channel_index: int = -1,
    momentum: float = 0.1,
    mode: str = "inference",
) -> Array | tuple[Array, dict[str, Array]]:
    """Batch normalization over every axis but ``channel_index``.

    Args:
        x: input with channels on ``channel_index``.
        gamma: scale ``(C,)`` or ``None``.
        beta: shift ``(C,)`` or ``None``.
        mean: running mean ``(C,)``.
        var: running variance ``(C,)``.
        epsilon: added to the variance.
        channel_index: the channel axis.
        momentum: weight of the old running statistics:
            ``new = momentum * old + (1 - momentum) * batch`` (PyTorch's
            ``momentum=1 - momentum``); the batch variance is biased (see the module docs).
        mode: ``"train"`` or ``"inference"``.

    Returns:
        ``"inference"``: ``y`` normalized with ``mean``/``var``.
        ``"train"``: ``(y, {"mean": new_mean, "var": new_var})``, ``y`` normalized with the
        batch statistics.

    >>> import jax.numpy as jnp
    >>> x = jnp.array([[0.0], [2.0]])
    >>> y, state = batch_norm(x, None, None, jnp.zeros(1), jnp.ones(1), mode="train")
    >>> y.round(3).ravel().tolist(), round(float(state["mean"][0]), 3), state["var"].tolist()
    ([-1.0, 1.0], 0.9, [1.0])
    """
    fn = "batch_norm"
    _check_options(fn, mode, momentum, epsilon)
    x = jnp.asarray(x)
    if x.ndim < 2:
        raise ValueError(f"{fn}: argument 'x' must have rank >= 2; received shape {x.shape}.")
    axis = _axis(fn, x, channel_index)
    return _stateful_norm(
        fn,
        x,
        gamma,
        beta,
        mean,
        var,
        reduce_axes=tuple(a for a in range(x.ndim) if a != axis),
        axis=axis,
        epsilon=epsilon,
        momentum=momentum,
        mode=mode,
    )


def instance_norm(
    x: Array,
    gamma: Array | None,
    beta: Array | None,
    mean: Array,
    var: Array,
    *,
    epsilon: float = 1e-5,
    channel_index: int = -1,
    momentum: float = 0.1,
    mode: str = "inference",
) -> Array | tuple[Array, dict[str, Array]]:
    """Instance normalization: statistics per sample and channel, over the spatial axes.

    Arguments, modes and the running update as in :func:`batch_norm`; in ``"train"`` mode the
    running statistics move toward the batch average of the per-instance means and biased
    variances (PyTorch's ``instance_norm(..., use_input_stats=True)`` with running stats, but
    with the biased variance). ``"inference"`` uses the running statistics, as in Axon.

    >>> import jax.numpy as jnp
    >>> x = jnp.array([[[0.0], [2.0]]])
    >>> y, _ = instance_norm(x, None, None, jnp.zeros(1), jnp.ones(1), mode="train")
    >>> y.round(3).ravel().tolist()
    [-1.0, 1.0]
    """
    fn = "instance_norm"
    _check_options(fn, mode, momentum, epsilon)
    x = jnp.asarray(x)
    if x.ndim < 3:
        raise ValueError(
            f"{fn}: argument 'x' must have rank >= 3 (batch, spatial..., channels); received "
            f"shape {x.shape}."
        )
    axis = _axis(fn, x, channel_index)
    if axis == 0:
        raise ValueError(f"{fn}: argument 'channel_index' cannot be the batch axis 0.")
    return _stateful_norm(
        fn,
        x,
        gamma,
        beta,
        mean,
        var,
        reduce_axes=tuple(a for a in range(1, x.ndim) if a != axis),
        axis=axis,
        epsilon=epsilon,
        momentum=momentum,
        mode=mode,
    )


def layer_norm(
    x: Array,
    gamma: Array | None,
    beta: Array | None,
    *,
    epsilon: float = 1e-5,
    channel_index: int = -1,
) -> Array:
    """Layer normalization over the ``channel_index`` axis (per position), as in Axon.

    Equals ``torch.nn.functional.layer_norm(x, (C,), gamma, beta, epsilon)`` for
    ``channel_index=-1``. ``gamma``/``beta`` are ``(C,)`` or ``None``.

    >>> import jax.numpy as jnp
    >>> layer_norm(jnp.array([[0.0, 2.0]]), None, jnp.ones(2)).round(3).tolist()
    [[0.0, 2.0]]
    """
    fn = "layer_norm"
    _check_epsilon(fn, epsilon)
    x = jnp.asarray(x)
    axis = _axis(fn, x, channel_index)
    gamma, beta = _per_channel(fn, "gamma", gamma, x, axis), _per_channel(fn, "beta", beta, x, axis)
    mean = jnp.mean(x, axis=axis, keepdims=True)
    var = jnp.var(x, axis=axis, keepdims=True)
    return normalize(x, mean, var, gamma, beta, epsilon=epsilon)


def group_norm(
    x: Array,
    gamma: Array | None,
    beta: Array | None,
    *,
    num_groups: int,
    epsilon: float = 1e-5,
    channel_index: int = -1,
) -> Array:
    """Group normalization: channels split into ``num_groups`` contiguous groups, each
    normalized over its channels and all spatial axes, per sample.

    ``gamma``/``beta`` are ``(C,)`` or ``None``; ``C`` must be divisible by ``num_groups``.
    Equals ``torch.nn.functional.group_norm`` for channels-first inputs.

    >>> import jax.numpy as jnp
    >>> group_norm(jnp.array([[0.0, 2.0, 5.0, 7.0]]), None, None, num_groups=2).round(3).tolist()
    [[-1.0, 1.0, -1.0, 1.0]]
    """
    fn = "group_norm"
    _check_epsilon(fn, epsilon)
    x = jnp.asarray(x)
    if x.ndim < 2:
        raise ValueError(f"{fn}: argument 'x' must have rank >= 2; received shape {x.shape}.")
    axis = _axis(fn, x, channel_index)
    channels = x.shape[axis]
    if (
        isinstance(num_groups, bool)
        or not isinstance(num_groups, int)
        or num_groups < 1
        or (channels % num_groups)
    ):
        raise ValueError(
            f"{fn}: argument 'num_groups' must be a positive int dividing the {channels} "
            f"channels (axis {axis} of shape {x.shape}); received {num_groups!r}."
        )
    gamma, beta = _per_channel(fn, "gamma", gamma, x, axis), _per_channel(fn, "beta", beta, x, axis)
    grouped = x.reshape((*x.shape[:axis], num_groups, channels // num_groups, *x.shape[axis + 1 :]))
    reduce_axes = tuple(a for a in range(1, grouped.ndim) if a != axis)
    mean = jnp.mean(grouped, axis=reduce_axes, keepdims=True)
    var = jnp.var(grouped, axis=reduce_axes, keepdims=True)
    y = normalize(grouped, mean, var, epsilon=epsilon).reshape(x.shape)
    return _scale_and_shift(y, gamma, beta)  # per channel, after the per-group normalization


def rms_norm(
    x: Array,
    gamma: Array | None,
    *,
    epsilon: float = 1e-6,
    channel_index: int = -1,
    shift: float = 0.0,
    upcast: str = "normalization",
) -> Array:
    """RMS normalization ``x / sqrt(mean(x ** 2) + epsilon) * (shift + gamma)`` over the
    ``channel_index`` axis (no centering).

    ``upcast="normalization"`` computes the normalization in float32 and casts back to the
    input dtype before scaling; ``"all"`` computes everything (scale included) in float32 and
    returns float32. With ``shift=0`` this equals ``torch.nn.functional.rms_norm``.

    >>> import jax.numpy as jnp
    >>> y = rms_norm(jnp.array([[3.0, 4.0]]), jnp.ones(2), epsilon=0.0)
    >>> [round(float(v), 3) for v in y[0]]
    [0.849, 1.131]
    """
    fn = "rms_norm"
    _check_epsilon(fn, epsilon)
    if upcast not in ("normalization", "all"):
        raise ValueError(
            f"{fn}: argument 'upcast' must be 'normalization' or 'all'; received {upcast!r}."
        )
    x = jnp.asarray(x)
    axis = _axis(fn, x, channel_index)
    gamma = _per_channel(fn, "gamma", gamma, x, axis)
    scale = shift + (1.0 if gamma is None else gamma)  # no gamma: an unscaled norm
    x32 = x.astype(jnp.promote_types(x.dtype, jnp.float32))
    normalized = x32 * lax.rsqrt(jnp.mean(jnp.square(x32), axis=axis, keepdims=True) + epsilon)
    if upcast == "all":
        return normalized * jnp.asarray(scale, normalized.dtype)
    return normalized.astype(x.dtype) * scale
