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

from ._targets import one_hot_targets, same_shape, sparse_class_ids
from .plugins import metrics as _registered

Array = jax.Array
Metric = Callable[..., Array]
Accumulator = Callable[[Array, Sequence[Array], Array], Array]

__all__ = [
    "accuracy",
    "sparse_categorical_accuracy",
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
    "sparse_top_k_categorical_accuracy",
    "running_average",
    "running_sum",
    "get",
    "names",
]


def _class_ids(name: str, y_true: Array, y_pred: Array, sparse: bool, sparse_name: str) -> Array:
    """The target class of each example, from one-hot or (``sparse``) integer targets;
    ``sparse_name`` is the sparse metric an error suggests for class ids."""
    y_true, y_pred = jnp.asarray(y_true), jnp.asarray(y_pred)
    if sparse:
        return sparse_class_ids(name, y_true, y_pred)
    y_true, _ = one_hot_targets(name, y_true, y_pred, sparse_name)
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
    logits; ``y_true`` shaped like ``y_pred``); categorical (argmax) otherwise, with
    one-hot ``y_true`` or, with ``sparse=True`` (or
    :func:`sparse_categorical_accuracy`), integer class ids. Class ids without
    ``sparse=True`` are an error, never broadcast against the scores.

    >>> import jax.numpy as jnp
    >>> accuracy(jnp.array([[1.0], [0.0]]), jnp.array([[0.7], [0.6]]))
    Array(0.5, dtype=float32)
    """
    return _accuracy("accuracy", y_true, y_pred, threshold, from_logits, sparse)


def sparse_categorical_accuracy(y_true: Array, y_pred: Array) -> Array:
    """Fraction of examples whose highest score is their class id: :func:`accuracy` with
    ``sparse=True``, by name (Keras's ``sparse_categorical_accuracy``).

    Args:
        y_true: integer class ids ``(...)`` or ``(..., 1)``.
        y_pred: scores ``(..., classes)`` (probabilities or logits).

    >>> import jax.numpy as jnp
    >>> sparse_categorical_accuracy(jnp.array([1, 0]), jnp.array([[0.3, 0.7], [0.2, 0.8]]))
    Array(0.5, dtype=float32)
    """
    return _accuracy("sparse_categorical_accuracy", y_true, y_pred, 0.5, False, True)


def _accuracy(
    name: str, y_true: Any, y_pred: Any, threshold: float, from_logits: bool, sparse: bool
) -> Array:
    y_true, y_pred = jnp.asarray(y_true), jnp.asarray(y_pred)
    if y_pred.ndim == 0:
        raise ValueError(f"{name}: y_pred must have at least one axis, got a scalar.")
    if y_pred.shape[-1] == 1 and not sparse:
        y_true, y_pred = same_shape(name, y_true, y_pred)
        cut = 0.0 if from_logits else threshold
        correct = (y_pred > cut) == (y_true > 0.5)
    else:
        expected = _class_ids(name, y_true, y_pred, sparse, "sparse_categorical_accuracy")
        correct = _first_max_index(y_pred) == expected
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
        y_true: one-hot targets ``(..., classes)``, or class ids with ``sparse=True``
            (or use :func:`sparse_top_k_categorical_accuracy`).
        y_pred: scores ``(..., classes)`` (probabilities or logits).
        k: how many top classes count as a hit.

    >>> import jax.numpy as jnp
    >>> scores = jnp.array([[0.1, 0.5, 0.4], [0.7, 0.2, 0.1]])
    >>> top_k_categorical_accuracy(jnp.array([2, 2]), scores, k=2, sparse=True)
    Array(0.5, dtype=float32)
    """
    return _top_k("top_k_categorical_accuracy", y_true, y_pred, k, sparse)


def sparse_top_k_categorical_accuracy(y_true: Array, y_pred: Array, *, k: int = 5) -> Array:
    """:func:`top_k_categorical_accuracy` of integer class ids ``(...)`` or ``(..., 1)``:
    ``sparse=True``, by name (Keras's ``sparse_top_k_categorical_accuracy``).

    >>> import jax.numpy as jnp
    >>> scores = jnp.array([[0.1, 0.5, 0.4], [0.7, 0.2, 0.1]])
    >>> sparse_top_k_categorical_accuracy(jnp.array([2, 2]), scores, k=2)
    Array(0.5, dtype=float32)
    """
    return _top_k("sparse_top_k_categorical_accuracy", y_true, y_pred, k, True)


def _top_k(name: str, y_true: Any, y_pred: Any, k: int, sparse: bool) -> Array:
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"{name}: k must be a positive int, got {k!r}.")
    ids = _class_ids(name, y_true, y_pred, sparse, "sparse_top_k_categorical_accuracy")
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
        top_k_categorical_accuracy, sparse_categorical_accuracy,
        sparse_top_k_categorical_accuracy,
    )
}  # fmt: skip
