"""Metrics (``Axon.Metrics``): ``fn(y_true, y_pred, **options) -> scalar``.

``running_average`` and ``running_sum`` turn a metric into an accumulator step
``acc_fn(acc, inputs, i) -> acc`` that works inside ``jax.jit``, so a training
loop can accumulate metrics on the device.

>>> import jax.numpy as jnp
>>> accuracy(jnp.array([[0, 1], [1, 0]]), jnp.array([[0.3, 0.7], [0.2, 0.8]]))
Array(0.5, dtype=float32)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

Array = jax.Array
Metric = Callable[..., Array]
Accumulator = Callable[[Array, Sequence[Array], Array], Array]

__all__ = [
    "accuracy",
    "get",
    "mean_absolute_error",
    "names",
    "running_average",
    "running_sum",
]


def accuracy(
    y_true: Array,
    y_pred: Array,
    *,
    threshold: float = 0.5,
    from_logits: bool = False,
    sparse: bool = False,
) -> Array:
    """Fraction of correct predictions.

    Binary when the last axis has size 1 (``y_pred > threshold``, or ``> 0`` for
    logits); categorical (argmax) otherwise, with one-hot ``y_true`` or, with
    ``sparse=True``, integer class ids.
    """
    if y_pred.shape[-1] == 1 and not sparse:
        cut = 0.0 if from_logits else threshold
        correct = (y_pred > cut) == (y_true > 0.5)
    else:
        predicted = jnp.argmax(y_pred, axis=-1)
        if sparse:
            expected = y_true[..., 0] if y_true.ndim == y_pred.ndim else y_true
        else:
            expected = jnp.argmax(y_true, axis=-1)
        correct = predicted == expected.astype(predicted.dtype)
    return jnp.mean(correct.astype(jnp.float32))


def mean_absolute_error(y_true: Array, y_pred: Array) -> Array:
    """Mean of ``|y_true - y_pred|`` over every element."""
    return jnp.mean(jnp.abs(y_true - y_pred))


def running_average(metric: Metric) -> Accumulator:
    """Accumulate ``metric`` as a running mean: ``acc + (metric(*inputs) - acc) / (i + 1)``.

    The accumulator is ``fn(acc, inputs, i)`` (Axon's form): ``inputs`` are the
    metric's arguments and ``i`` the 0-based number of observations already in ``acc``.

    >>> step = running_average(mean_absolute_error)
    >>> acc = step(jnp.float32(0), (jnp.ones(2), jnp.zeros(2)), jnp.int32(0))
    >>> step(acc, (jnp.ones(2), jnp.ones(2)), jnp.int32(1))
    Array(0.5, dtype=float32)
    """

    def accumulate(acc: Array, inputs: Sequence[Array], i: Array) -> Array:
        return acc + (metric(*inputs) - acc) / (i + 1)

    return accumulate


def running_sum(metric: Metric) -> Accumulator:
    """Accumulate ``metric`` as a running total: ``acc + metric(*inputs)``.

    >>> step = running_sum(mean_absolute_error)
    >>> step(jnp.float32(1), (jnp.ones(2), jnp.zeros(2)), jnp.int32(0))
    Array(2., dtype=float32)
    """

    def accumulate(acc: Array, inputs: Sequence[Array], i: Array) -> Array:
        return acc + metric(*inputs)

    return accumulate


def get(name: str) -> Metric:
    """The metric registered under ``name``."""
    from .plugins import metrics as registry

    return registry.get(name)


def names() -> list[str]:
    """Every registered metric name, sorted."""
    from .plugins import metrics as registry

    return registry.names()


#: The built-in metrics, by name.
BUILTINS: dict[str, Callable[..., Any]] = {
    "accuracy": accuracy,
    "mean_absolute_error": mean_absolute_error,
}
