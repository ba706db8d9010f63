"""How the loop hands targets to loss and metric *functions* the user wrote.

Keras's rule, for its one unambiguous case: targets and predictions whose shapes differ
only by a trailing size-1 axis (``(n,)`` and ``(n, 1)``, either way round) are aligned
by reshaping the targets to the predictions' shape, so ``fn(y_true, y_pred)`` never
computes an ``(n, n)`` loss from them. Any other pair reaches the function as it is
(integer class ids ``(n,)`` against scores ``(n, classes)`` are a sparse loss's normal
input), unless broadcasting one against the other would make something larger than
both, e.g. ``(n, 1, 1)`` targets against ``(n, 1)`` predictions: no element-wise loss
means that, so it is refused before the first step. Named losses and metrics are not
aligned: ``axon.functional`` checks their shapes itself and says what to reshape.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import numpy as np


def with_aligned_targets(fn: Callable[..., Any], who: str) -> Callable[[Any, Any], Any]:
    """``fn(y_true, y_pred)`` with the targets aligned (see the module); ``who`` names ``fn``
    in the error of a refused pair, e.g. ``"The loss function 'huber_like'"``."""

    def aligned(y_true: Any, y_pred: Any) -> Any:
        return fn(align_targets(who, y_true, y_pred), y_pred)

    return aligned


def align_targets(who: str, y_true: Any, y_pred: Any) -> Any:
    """``y_true`` reshaped to ``y_pred``'s shape when they differ by a trailing size-1 axis;
    otherwise ``y_true`` as it is, or an error if they would broadcast to a larger shape."""
    if not (_is_array(y_true) and _is_array(y_pred)):
        return y_true  # pytrees (several outputs): the function pairs them itself
    true_shape, pred_shape = tuple(y_true.shape), tuple(y_pred.shape)
    if (*true_shape, 1) == pred_shape:
        return y_true[..., None]
    if true_shape == (*pred_shape, 1):
        return y_true[..., 0]
    try:
        joint = np.broadcast_shapes(true_shape, pred_shape)
    except ValueError:
        return y_true  # they do not broadcast: not a silent mix-up
    if math.prod(joint) > max(math.prod(true_shape), math.prod(pred_shape)):
        raise ValueError(
            f"{who} would broadcast targets of shape {true_shape} against predictions of "
            f"shape {pred_shape} into {joint}, mixing examples. Reshape the targets to "
            f"{pred_shape}; only a trailing size-1 axis, as in (n,) against (n, 1), is "
            f"aligned for you."
        )
    return y_true


def _is_array(x: Any) -> bool:
    return isinstance(x, jax.Array | np.ndarray)  # tracers are jax.Arrays too
