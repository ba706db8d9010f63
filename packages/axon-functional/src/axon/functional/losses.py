"""Loss functions (``Axon.Losses``): ``fn(y_true, y_pred, *, reduction=..., **options)``.

As in Axon the default ``reduction="none"`` returns one value per example
(reducing only the class/feature axis); ``"mean"`` and ``"sum"`` reduce further.

>>> import jax.numpy as jnp
>>> y_true = jnp.array([[0.0, 1.0], [1.0, 0.0]])
>>> y_pred = jnp.array([[0.2, 0.8], [0.6, 0.4]])
>>> print(f"{categorical_cross_entropy(y_true, y_pred, reduction='mean'):.4f}")
0.3670
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import jax
import jax.numpy as jnp

Array = jax.Array
Reduction = Literal["none", "mean", "sum"]

#: Probabilities are clipped to ``[EPSILON, 1 - EPSILON]`` before taking logs.
EPSILON = 1e-7

__all__ = [
    "EPSILON",
    "binary_cross_entropy",
    "categorical_cross_entropy",
    "get",
    "mean_absolute_error",
    "mean_squared_error",
    "names",
    "reduce",
]


def reduce(loss: Array, reduction: Reduction) -> Array:
    """Apply a ``reduction`` (``"none"``, ``"mean"`` or ``"sum"``) to per-example losses."""
    if reduction == "none":
        return loss
    if reduction == "mean":
        return jnp.mean(loss)
    if reduction == "sum":
        return jnp.sum(loss)
    raise ValueError(f"reduction must be 'none', 'mean' or 'sum', got {reduction!r}.")


def binary_cross_entropy(
    y_true: Array,
    y_pred: Array,
    *,
    from_logits: bool = False,
    positive_weight: float | None = None,
    negative_weight: float | None = None,
    reduction: Reduction = "none",
) -> Array:
    """Binary cross entropy, averaged over the last axis.

    ``y_pred`` holds probabilities (clipped to ``[EPSILON, 1 - EPSILON]``) or, with
    ``from_logits=True``, logits (computed stably with ``log_sigmoid``).
    ``positive_weight``/``negative_weight`` scale the two terms (class imbalance).
    """
    if from_logits:
        log_p, log_not_p = jax.nn.log_sigmoid(y_pred), jax.nn.log_sigmoid(-y_pred)
    else:
        p = jnp.clip(y_pred, EPSILON, 1.0 - EPSILON)
        log_p, log_not_p = jnp.log(p), jnp.log1p(-p)
    positive = y_true * log_p
    negative = (1.0 - y_true) * log_not_p
    if positive_weight is not None:
        positive = positive_weight * positive
    if negative_weight is not None:
        negative = negative_weight * negative
    return reduce(-jnp.mean(positive + negative, axis=-1), reduction)


def categorical_cross_entropy(
    y_true: Array,
    y_pred: Array,
    *,
    from_logits: bool = False,
    sparse: bool = False,
    class_weights: Sequence[float] | Array | None = None,
    reduction: Reduction = "none",
) -> Array:
    """Categorical cross entropy ``-sum(y_true * log(y_pred))`` over the last axis.

    Args:
        y_true: one-hot targets ``(..., classes)``, or integer class ids ``(...)``
            or ``(..., 1)`` with ``sparse=True``.
        y_pred: probabilities (clipped to ``[EPSILON, 1]``, as Keras does; Axon
            instead tracks that they came from a softmax) or logits with
            ``from_logits=True`` (stable ``log_softmax``; prefer this when you can).
        class_weights: one weight per class; each example is weighted by its
            target class's weight.
    """
    num_classes = y_pred.shape[-1]
    if sparse:
        ids = y_true[..., 0] if y_true.ndim == y_pred.ndim else y_true
        y_true = jax.nn.one_hot(ids, num_classes, dtype=y_pred.dtype)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"categorical_cross_entropy expects y_true and y_pred of the same shape, got "
            f"{y_true.shape} and {y_pred.shape} (pass sparse=True for integer targets)."
        )
    log_p = (
        jax.nn.log_softmax(y_pred, axis=-1)
        if from_logits
        else jnp.log(jnp.clip(y_pred, EPSILON, 1.0))
    )
    loss = -jnp.sum(y_true * log_p, axis=-1)
    if class_weights is not None:
        weights = jnp.asarray(class_weights, dtype=loss.dtype)
        loss = loss * jnp.sum(y_true * weights, axis=-1)
    return reduce(loss, reduction)


def mean_squared_error(y_true: Array, y_pred: Array, *, reduction: Reduction = "none") -> Array:
    """Mean of ``(y_true - y_pred) ** 2`` over the last axis."""
    return reduce(jnp.mean(jnp.square(y_true - y_pred), axis=-1), reduction)


def mean_absolute_error(y_true: Array, y_pred: Array, *, reduction: Reduction = "none") -> Array:
    """Mean of ``|y_true - y_pred|`` over the last axis."""
    return reduce(jnp.mean(jnp.abs(y_true - y_pred), axis=-1), reduction)


def get(name: str) -> Callable[..., Any]:
    """The loss function registered under ``name``."""
    from .plugins import losses as registry

    return registry.get(name)


def names() -> list[str]:
    """Every registered loss name, sorted."""
    from .plugins import losses as registry

    return registry.names()


#: The built-in losses, by name.
BUILTINS: dict[str, Callable[..., Array]] = {
    fn.__name__: fn
    for fn in (
        binary_cross_entropy, categorical_cross_entropy, mean_squared_error, mean_absolute_error
    )
}  # fmt: skip
