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

from ._targets import same_shape, sparse_class_ids
from .plugins import metrics as _registered

Array = jax.Array
Metric = Callable[..., Array]
Accumulator = Callable[[Array, Sequence[Array], Array], Array]

__all__ = [
    "accuracy",
    "precision",
    "recall",
    "sensitivity",
    "specificity",
    "true_positives",
    "false_positives",
    "true_negatives",
    "false_negatives",
    "mean_absolute_error",
    "top_k_categorical_accuracy",
    "running_average",
    "running_sum",
    "get",
    "names",
]


def _class_ids(name: str, y_true: Array, y_pred: Array, sparse: bool) -> Array:
    """The target class of each example, from one-hot or (``sparse``) integer targets."""
    y_true, y_pred = jnp.asarray(y_true), jnp.asarray(y_pred)
    if sparse:
        return sparse_class_ids(name, y_true, y_pred)
    y_true, _ = same_shape(name, y_true, y_pred, " (pass sparse=True for integer class ids)")
    return _first_max_index(y_true)


def _first_max_index(x: Array) -> Array:
    """``argmax`` over the last axis, written with max/min reductions.

    XLA:CPU compiles ``argmax`` (a variadic reduction) into a slow loop; this form
    fuses with its neighbours and gives the same index (the first maximum). A row
    holding NaN has no maximum and gets index ``n``, which matches no class.
    """
    n = x.shape[-1]
    is_max = x == jnp.max(x, axis=-1, keepdims=True)
    return jnp.min(jnp.where(is_max, jnp.arange(n), n), axis=-1)


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

    >>> import jax.numpy as jnp
    >>> accuracy(jnp.array([[1.0], [0.0]]), jnp.array([[0.7], [0.6]]))
    Array(0.5, dtype=float32)
    """
    if y_pred.shape[-1] == 1 and not sparse:
        cut = 0.0 if from_logits else threshold
        correct = (y_pred > cut) == (y_true > 0.5)
    else:
        predicted = _first_max_index(y_pred)
        if sparse:
            expected = y_true[..., 0] if y_true.ndim == y_pred.ndim else y_true
        else:
            expected = _first_max_index(y_true)
        correct = predicted == expected.astype(predicted.dtype)
    return jnp.mean(correct.astype(jnp.float32))


def _confusion(name: str, y_true: Array, y_pred: Array, threshold: float) -> tuple[Array, Array]:
    """``(actual, predicted)`` booleans: ``y_true > 0.5`` and ``y_pred > threshold``."""
    y_true, y_pred = same_shape(name, y_true, y_pred)
    return y_true > 0.5, y_pred > threshold


def true_positives(y_true: Array, y_pred: Array, *, threshold: float = 0.5) -> Array:
    """How many elements are positive (``y_true > 0.5``) and predicted so (``y_pred > threshold``).

    >>> import jax.numpy as jnp
    >>> true_positives(jnp.array([1, 0, 1, 1]), jnp.array([0.9, 0.8, 0.4, 0.6]))
    Array(2, dtype=int32)
    """
    actual, predicted = _confusion("true_positives", y_true, y_pred, threshold)
    return jnp.sum(actual & predicted)


def false_positives(y_true: Array, y_pred: Array, *, threshold: float = 0.5) -> Array:
    """How many elements are negative but predicted positive (``y_pred > threshold``).

    >>> import jax.numpy as jnp
    >>> false_positives(jnp.array([1, 0, 1, 1]), jnp.array([0.9, 0.8, 0.4, 0.6]))
    Array(1, dtype=int32)
    """
    actual, predicted = _confusion("false_positives", y_true, y_pred, threshold)
    return jnp.sum(~actual & predicted)


def true_negatives(y_true: Array, y_pred: Array, *, threshold: float = 0.5) -> Array:
    """How many elements are negative and predicted negative (``y_pred <= threshold``).

    >>> import jax.numpy as jnp
    >>> true_negatives(jnp.array([1, 0, 0, 1]), jnp.array([0.9, 0.8, 0.4, 0.6]))
    Array(1, dtype=int32)
    """
    actual, predicted = _confusion("true_negatives", y_true, y_pred, threshold)
    return jnp.sum(~actual & ~predicted)


def false_negatives(y_true: Array, y_pred: Array, *, threshold: float = 0.5) -> Array:
    """How many elements are positive but predicted negative (``y_pred <= threshold``).

    >>> import jax.numpy as jnp
    >>> false_negatives(jnp.array([1, 0, 1, 1]), jnp.array([0.9, 0.8, 0.4, 0.6]))
    Array(1, dtype=int32)
    """
    actual, predicted = _confusion("false_negatives", y_true, y_pred, threshold)
    return jnp.sum(actual & ~predicted)


def _ratio(numerator: Array, denominator: Array) -> Array:
    """``numerator / denominator``, and 0 (not NaN) when nothing was counted."""
    numerator, denominator = numerator.astype(jnp.float32), denominator.astype(jnp.float32)
    return jnp.where(denominator > 0, numerator / jnp.maximum(denominator, 1.0), 0.0)


def precision(y_true: Array, y_pred: Array, *, threshold: float = 0.5) -> Array:
    """``TP / (TP + FP)``: the fraction of predicted positives that are positive; 0 if none.

    >>> import jax.numpy as jnp
    >>> precision(jnp.array([1, 0, 1, 1]), jnp.array([0.9, 0.8, 0.4, 0.6]))
    Array(0.6666667, dtype=float32)
    """
    actual, predicted = _confusion("precision", y_true, y_pred, threshold)
    return _ratio(jnp.sum(actual & predicted), jnp.sum(predicted))


def recall(y_true: Array, y_pred: Array, *, threshold: float = 0.5) -> Array:
    """``TP / (TP + FN)``: the fraction of positives predicted positive; 0 if none.

    >>> import jax.numpy as jnp
    >>> recall(jnp.array([1, 0, 1, 1]), jnp.array([0.9, 0.8, 0.4, 0.6]))
    Array(0.6666667, dtype=float32)
    """
    actual, predicted = _confusion("recall", y_true, y_pred, threshold)
    return _ratio(jnp.sum(actual & predicted), jnp.sum(actual))


def sensitivity(y_true: Array, y_pred: Array, *, threshold: float = 0.5) -> Array:
    """The true-positive rate ``TP / (TP + FN)``, the same as :func:`recall`.

    >>> import jax.numpy as jnp
    >>> sensitivity(jnp.array([1, 0, 1, 1]), jnp.array([0.9, 0.8, 0.4, 0.6]))
    Array(0.6666667, dtype=float32)
    """
    actual, predicted = _confusion("sensitivity", y_true, y_pred, threshold)
    return _ratio(jnp.sum(actual & predicted), jnp.sum(actual))


def specificity(y_true: Array, y_pred: Array, *, threshold: float = 0.5) -> Array:
    """The true-negative rate ``TN / (TN + FP)``; 0 if there are no negatives.

    >>> import jax.numpy as jnp
    >>> specificity(jnp.array([1, 0, 0, 1]), jnp.array([0.9, 0.8, 0.4, 0.6]))
    Array(0.5, dtype=float32)
    """
    actual, predicted = _confusion("specificity", y_true, y_pred, threshold)
    return _ratio(jnp.sum(~actual & ~predicted), jnp.sum(~actual))


def mean_absolute_error(y_true: Array, y_pred: Array) -> Array:
    """Mean of ``|y_true - y_pred|`` over every element.

    >>> import jax.numpy as jnp
    >>> mean_absolute_error(jnp.array([[0.0, 1.0]]), jnp.array([[1.0, 1.0]]))
    Array(0.5, dtype=float32)
    """
    y_true, y_pred = same_shape("mean_absolute_error", y_true, y_pred)
    return jnp.mean(jnp.abs(y_true - y_pred))


def top_k_categorical_accuracy(
    y_true: Array, y_pred: Array, *, k: int = 5, sparse: bool = False
) -> Array:
    """Fraction of examples whose target class is among the ``k`` highest scores.

    Ties are counted in the target's favour (as ``tf.math.in_top_k``): the target
    is in the top ``k`` when fewer than ``k`` classes score strictly higher.

    Args:
        y_true: one-hot targets ``(..., classes)``, or class ids with ``sparse=True``.
        y_pred: scores ``(..., classes)`` (probabilities or logits).
        k: how many top classes count as a hit.

    >>> import jax.numpy as jnp
    >>> scores = jnp.array([[0.1, 0.5, 0.4], [0.7, 0.2, 0.1]])
    >>> top_k_categorical_accuracy(jnp.array([2, 2]), scores, k=2, sparse=True)
    Array(0.5, dtype=float32)
    """
    name = "top_k_categorical_accuracy"
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"{name}: k must be a positive int, got {k!r}.")
    ids = _class_ids(name, y_true, y_pred, sparse)
    y_pred = jnp.asarray(y_pred)
    target_score = jnp.take_along_axis(y_pred, ids[..., None], axis=-1)
    higher = jnp.sum(y_pred > target_score, axis=-1)
    return jnp.mean((higher < k).astype(jnp.float32))


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
    """The metric registered under ``name``.

    >>> get("precision") is precision
    True
    """
    return _registered.get(name)


def names() -> list[str]:
    """Every registered metric name, sorted.

    >>> "top_k_categorical_accuracy" in names()
    True
    """
    return _registered.names()


#: The built-in metrics, by name. (``running_average``/``running_sum`` turn metrics into
#: accumulators; they are not metrics themselves.)
BUILTINS: dict[str, Callable[..., Any]] = {
    fn.__name__: fn
    for fn in (
        accuracy, precision, recall, sensitivity, specificity, true_positives,
        false_positives, true_negatives, false_negatives, mean_absolute_error,
        top_k_categorical_accuracy,
    )
}  # fmt: skip
