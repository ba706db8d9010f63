"""Checks of ``(y_true, y_pred)`` shared by the losses and the metrics.

Both refuse to broadcast ``y_true`` against ``y_pred`` (a ``(batch,)`` target against
``(batch, 1)`` predictions is a classic silent bug), read sparse targets the same way, and
answer integer class ids given where one-hot targets are expected with the sparse way to
pass them.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

Array = jax.Array

RESHAPE_HINT = " (reshape one of them; broadcasting is not applied)"


def same_shape(
    name: str, y_true: Any, y_pred: Any, hint: str = RESHAPE_HINT
) -> tuple[Array, Array]:
    """``y_true, y_pred`` as arrays, which must have the same shape (``hint`` ends the error)."""
    y_true, y_pred = jnp.asarray(y_true), jnp.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"{name}: y_true and y_pred must have the same shape, got {y_true.shape} and "
            f"{y_pred.shape}{hint}."
        )
    return y_true, y_pred


def sparse_class_ids(name: str, y_true: Array, y_pred: Array) -> Array:
    """The int32 class id of each example from sparse targets ``(...)`` or ``(..., 1)``."""
    with_unit_axis = y_true.ndim == y_pred.ndim and y_true.shape[-1:] == (1,)
    ids = (y_true[..., 0] if with_unit_axis else y_true).astype(jnp.int32)
    if ids.shape != y_pred.shape[:-1]:
        raise ValueError(
            f"{name}: with sparse=True, y_true must hold one class id per example, shape "
            f"{y_pred.shape[:-1]} or {(*y_pred.shape[:-1], 1)}, got {y_true.shape}."
        )
    return ids


def looks_like_class_ids(y_true: Array, y_pred: Array) -> bool:
    """Whether ``y_true`` has the shape of one class id per example of the scores ``y_pred``."""
    if y_pred.ndim == 0 or y_pred.shape[-1] < 2:
        return False
    per_example = y_pred.shape[:-1]
    return y_true.shape in (per_example, (*per_example, 1))


def one_hot_targets(name: str, y_true: Any, y_pred: Any, sparse_name: str) -> tuple[Array, Array]:
    """``y_true, y_pred`` of one shape, for a function that wants one-hot (or soft) targets.

    Integer class ids are refused with what to do instead: ``sparse=True``, the sparse
    function ``sparse_name``, or one-hot targets. Broadcasting the ids against the
    scores would compute a plausible, wrong number.
    """
    y_true, y_pred = jnp.asarray(y_true), jnp.asarray(y_pred)
    hint = RESHAPE_HINT
    if looks_like_class_ids(y_true, y_pred):
        hint = (
            f"; y_true looks like integer class ids: pass sparse=True for integer class ids "
            f"(or use {sparse_name!r}), or one-hot encode them"
        )
    return same_shape(name, y_true, y_pred, hint)
