"""Loss functions (``Axon.Losses``): ``fn(y_true, y_pred, *, reduction=..., **options)``.

As in Axon the default ``reduction="none"`` returns one value per example
(reducing only the class/feature axis); ``"mean"`` and ``"sum"`` reduce further.
Three losses are element-wise, as in Axon: ``huber``, ``margin_ranking`` and (over its
``axes``) ``cosine_similarity`` keep every non-reduced axis with ``"none"``.
``y_true`` and ``y_pred`` must have the same shape unless a loss says otherwise:
a silent broadcast of ``(batch,)`` against ``(batch, 1)`` is a classic bug. Integer
class ids go to ``sparse_categorical_cross_entropy`` (or ``sparse=True``).

>>> import jax.numpy as jnp
>>> y_true = jnp.array([[0.0, 1.0], [1.0, 0.0]])
>>> y_pred = jnp.array([[0.2, 0.8], [0.6, 0.4]])
>>> print(f"{categorical_cross_entropy(y_true, y_pred, reduction='mean'):.4f}")
0.3670
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, Literal

import jax
import jax.numpy as jnp

from ._targets import RESHAPE_HINT, one_hot_targets, same_shape, sparse_class_ids
from .plugins import losses as _registered

Array = jax.Array
Reduction = Literal["none", "mean", "sum"]

#: Probabilities are clipped to ``[EPSILON, 1 - EPSILON]`` before taking logs.
EPSILON = 1e-7

__all__ = [
    "EPSILON",
    "binary_cross_entropy",
    "categorical_cross_entropy",
    "categorical_hinge",
    "sparse_categorical_cross_entropy",
    "connectionist_temporal_classification",
    "cosine_similarity",
    "hinge",
    "huber",
    "kl_divergence",
    "log_cosh",
    "margin_ranking",
    "mean_absolute_error",
    "mean_squared_error",
    "poisson",
    "soft_margin",
    "label_smoothing",
    "apply_label_smoothing",
    "get",
    "names",
    "reduce",
]

REDUCTIONS = ("none", "mean", "sum")


def reduce(loss: Array, reduction: Reduction) -> Array:
    """Apply a ``reduction`` (``"none"``, ``"mean"`` or ``"sum"``) to per-example losses.

    >>> reduce(jnp.array([1.0, 3.0]), "mean")
    Array(2., dtype=float32)
    """
    _check_reduction("reduce", reduction)
    if reduction == "mean":
        return jnp.mean(loss)
    if reduction == "sum":
        return jnp.sum(loss)
    return loss


def _check_reduction(name: str, reduction: Any) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"{name}: reduction must be 'none', 'mean' or 'sum', got {reduction!r}.")


def _same_shape(
    name: str, y_true: Any, y_pred: Any, hint: str = RESHAPE_HINT
) -> tuple[Array, Array]:
    y_true, y_pred = same_shape(name, y_true, y_pred, hint)
    if y_pred.ndim == 0:
        raise ValueError(f"{name}: y_pred must have at least one axis, got a scalar.")
    return y_true, y_pred


def _checked_inputs(name: str, y_true: Any, y_pred: Any, reduction: Any) -> tuple[Array, Array]:
    """``y_true, y_pred`` as arrays, after the checks every loss makes: reduction, same shape."""
    _check_reduction(name, reduction)
    return _same_shape(name, y_true, y_pred)


def _float(x: Array, like: Array) -> Array:
    """``x`` in ``like``'s floating dtype (integer targets are common)."""
    dtype = like.dtype if jnp.issubdtype(like.dtype, jnp.floating) else jnp.float32
    return x.astype(dtype)


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

    Args:
        y_true: targets in ``[0, 1]``.
        y_pred: probabilities (clipped to ``[EPSILON, 1 - EPSILON]``) or, with
            ``from_logits=True``, logits (computed stably with ``log_sigmoid``).
        positive_weight: scales the positive term (class imbalance); PyTorch's
            ``pos_weight``.
        negative_weight: scales the negative term.
        reduction: ``"none"`` (per example), ``"mean"`` or ``"sum"``.

    >>> import jax.numpy as jnp
    >>> binary_cross_entropy(jnp.array([[1.0, 0.0]]), jnp.array([[0.0, 0.0]]), from_logits=True)
    Array([0.6931472], dtype=float32)
    """
    y_true, y_pred = _checked_inputs("binary_cross_entropy", y_true, y_pred, reduction)
    y_true = _float(y_true, y_pred)
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
        y_true: one-hot (or soft) targets ``(..., classes)``, or integer class ids
            ``(...)`` or ``(..., 1)`` with ``sparse=True`` (or use
            :func:`sparse_categorical_cross_entropy`). Class ids without
            ``sparse=True`` are an error, never broadcast.
        y_pred: probabilities (clipped to ``[EPSILON, 1]``, as Keras does; Axon
            instead tracks that they came from a softmax) or logits with
            ``from_logits=True`` (stable ``log_softmax``; prefer this when you can).
        class_weights: one weight per class; each example is weighted by its
            target class's weight, and ``"mean"`` divides by the sum of those
            weights (Axon's and PyTorch's weighted mean).
        reduction: ``"none"`` (per example), ``"mean"`` or ``"sum"``.

    >>> import jax.numpy as jnp
    >>> categorical_cross_entropy(jnp.array([1]), jnp.array([[0.0, 0.0]]), sparse=True,
    ...                           from_logits=True)
    Array([0.6931472], dtype=float32)
    """
    return _cross_entropy(
        "categorical_cross_entropy", y_true, y_pred, from_logits, sparse, class_weights, reduction
    )


def sparse_categorical_cross_entropy(
    y_true: Array,
    y_pred: Array,
    *,
    from_logits: bool = False,
    class_weights: Sequence[float] | Array | None = None,
    reduction: Reduction = "none",
) -> Array:
    """:func:`categorical_cross_entropy` of integer class ids: ``sparse=True``, by name.

    Keras's ``sparse_categorical_crossentropy`` and PyTorch's ``cross_entropy`` with
    class indices; ``trainer(model, "sparse_categorical_cross_entropy", ...)`` takes
    integer labels as they come.

    Args:
        y_true: integer class ids ``(...)`` or ``(..., 1)``.
        y_pred: probabilities ``(..., classes)``, or logits with ``from_logits=True``.
        class_weights: one weight per class (see :func:`categorical_cross_entropy`).
        reduction: ``"none"`` (per example), ``"mean"`` or ``"sum"``.

    >>> import jax.numpy as jnp
    >>> sparse_categorical_cross_entropy(jnp.array([1, 0]), jnp.array([[0.5, 0.5], [0.9, 0.1]]))
    Array([0.6931472 , 0.10536055], dtype=float32)
    """
    return _cross_entropy(
        "sparse_categorical_cross_entropy", y_true, y_pred, from_logits, True, class_weights,
        reduction,
    )  # fmt: skip


def _cross_entropy(
    name: str,
    y_true: Any,
    y_pred: Any,
    from_logits: bool,
    sparse: bool,
    class_weights: Sequence[float] | Array | None,
    reduction: Any,
) -> Array:
    _check_reduction(name, reduction)
    y_true, y_pred = jnp.asarray(y_true), jnp.asarray(y_pred)
    num_classes = y_pred.shape[-1]
    if sparse:
        ids = sparse_class_ids(name, y_true, y_pred)
        y_true = jax.nn.one_hot(ids, num_classes, dtype=y_pred.dtype)
    y_true, y_pred = one_hot_targets(name, y_true, y_pred, "sparse_categorical_cross_entropy")
    y_true = _float(y_true, y_pred)
    log_p = (
        jax.nn.log_softmax(y_pred, axis=-1)
        if from_logits
        else jnp.log(jnp.clip(y_pred, EPSILON, 1.0))
    )
    loss = -jnp.sum(y_true * log_p, axis=-1)
    if class_weights is None:
        return reduce(loss, reduction)
    weights = jnp.asarray(class_weights, dtype=loss.dtype)
    if weights.shape != (num_classes,):
        raise ValueError(
            f"{name}: class_weights must have one weight per class, shape ({num_classes},), "
            f"got {weights.shape}."
        )
    example_weights = jnp.sum(y_true * weights, axis=-1)
    loss = loss * example_weights
    if reduction == "mean":
        return jnp.sum(loss) / jnp.sum(example_weights)
    return reduce(loss, reduction)


def categorical_hinge(y_true: Array, y_pred: Array, *, reduction: Reduction = "none") -> Array:
    """``max(0, 1 + max_{wrong} y_pred - y_pred[true])`` per example (one-hot ``y_true``).

    >>> import jax.numpy as jnp
    >>> categorical_hinge(jnp.array([[1, 0, 0]]), jnp.array([[0.9, 0.5, 0.2]]))
    Array([0.6], dtype=float32)
    """
    y_true, y_pred = _checked_inputs("categorical_hinge", y_true, y_pred, reduction)
    y_true = _float(y_true, y_pred)
    positive = jnp.sum(y_true * y_pred, axis=-1)
    negative = jnp.max((1.0 - y_true) * y_pred, axis=-1)
    return reduce(jnp.maximum(negative - positive + 1.0, 0.0), reduction)


def hinge(y_true: Array, y_pred: Array, *, reduction: Reduction = "none") -> Array:
    """``mean(max(0, 1 - y_true * y_pred))`` over the last axis; ``y_true`` is -1 or 1.

    As in Axon, targets are not converted: pass ``2 * y - 1`` for 0/1 labels.

    >>> import jax.numpy as jnp
    >>> hinge(jnp.array([[1.0, -1.0]]), jnp.array([[0.5, -2.0]]))
    Array([0.25], dtype=float32)
    """
    y_true, y_pred = _checked_inputs("hinge", y_true, y_pred, reduction)
    return reduce(jnp.mean(jnp.maximum(1.0 - y_true * y_pred, 0.0), axis=-1), reduction)


def kl_divergence(y_true: Array, y_pred: Array, *, reduction: Reduction = "none") -> Array:
    """``sum(y_true * log(y_true / y_pred))`` over the last axis (KL(y_true || y_pred)).

    Both are clipped to ``[EPSILON, 1]`` first, as in Axon and Keras, so zero
    targets contribute (almost) nothing instead of NaN.

    >>> import jax.numpy as jnp
    >>> kl_divergence(jnp.array([[0.5, 0.5]]), jnp.array([[0.5, 0.5]]))
    Array([0.], dtype=float32)
    """
    y_true, y_pred = _checked_inputs("kl_divergence", y_true, y_pred, reduction)
    p = jnp.clip(_float(y_true, y_pred), EPSILON, 1.0)
    q = jnp.clip(y_pred, EPSILON, 1.0)
    return reduce(jnp.sum(p * jnp.log(p / q), axis=-1), reduction)


def log_cosh(y_true: Array, y_pred: Array, *, reduction: Reduction = "none") -> Array:
    """``mean(log(cosh(y_pred - y_true)))`` over the last axis, computed without overflow.

    >>> import jax.numpy as jnp
    >>> print(log_cosh(jnp.array([[0.0, 1.0]]), jnp.array([[1.0, 1.0]])))  # log(cosh 1) / 2
    [0.2168904]
    """
    y_true, y_pred = _checked_inputs("log_cosh", y_true, y_pred, reduction)
    x = y_pred - y_true
    # log(cosh x) = log((e^x + e^-x) / 2); logaddexp never overflows.
    return reduce(jnp.mean(jnp.logaddexp(x, -x) - jnp.log(2.0), axis=-1), reduction)


def soft_margin(y_true: Array, y_pred: Array, *, reduction: Reduction = "none") -> Array:
    """``mean(log(1 + exp(-y_true * y_pred)))`` over the last axis; ``y_true`` is -1 or 1.

    PyTorch's ``soft_margin_loss`` per example. (Axon 0.8.1 sums over the *batch*
    axis instead, which mixes examples; this follows the other losses.)

    >>> import jax.numpy as jnp
    >>> soft_margin(jnp.array([[1.0, -1.0]]), jnp.array([[0.0, 0.0]]))
    Array([0.6931472], dtype=float32)
    """
    y_true, y_pred = _checked_inputs("soft_margin", y_true, y_pred, reduction)
    return reduce(jnp.mean(jax.nn.softplus(-y_true * y_pred), axis=-1), reduction)


def mean_squared_error(y_true: Array, y_pred: Array, *, reduction: Reduction = "none") -> Array:
    """Mean of ``(y_true - y_pred) ** 2`` over the last axis.

    >>> import jax.numpy as jnp
    >>> mean_squared_error(jnp.array([[0.0, 1.0]]), jnp.array([[1.0, 1.0]]))
    Array([0.5], dtype=float32)
    """
    y_true, y_pred = _checked_inputs("mean_squared_error", y_true, y_pred, reduction)
    return reduce(jnp.mean(jnp.square(y_true - y_pred), axis=-1), reduction)


def mean_absolute_error(y_true: Array, y_pred: Array, *, reduction: Reduction = "none") -> Array:
    """Mean of ``|y_true - y_pred|`` over the last axis.

    >>> import jax.numpy as jnp
    >>> mean_absolute_error(jnp.array([[0.0, 1.0]]), jnp.array([[1.0, 1.0]]), reduction="sum")
    Array(0.5, dtype=float32)
    """
    y_true, y_pred = _checked_inputs("mean_absolute_error", y_true, y_pred, reduction)
    return reduce(jnp.mean(jnp.abs(y_true - y_pred), axis=-1), reduction)


def poisson(y_true: Array, y_pred: Array, *, reduction: Reduction = "none") -> Array:
    """Poisson negative log-likelihood ``mean(y_pred - y_true * log(y_pred + EPSILON))``.

    ``y_pred`` is the predicted rate (not its log); the constant ``log(y_true!)``
    is left out, as in Axon, Keras and PyTorch's ``full=False``.

    >>> import jax.numpy as jnp
    >>> poisson(jnp.array([[0.0, 1.0]]), jnp.array([[1.0, 1.0]]))
    Array([0.99999994], dtype=float32)
    """
    y_true, y_pred = _checked_inputs("poisson", y_true, y_pred, reduction)
    loss = y_pred - _float(y_true, y_pred) * jnp.log(y_pred + EPSILON)
    return reduce(jnp.mean(loss, axis=-1), reduction)


def margin_ranking(
    y_true: Array,
    y_pred: tuple[Array, Array],
    *,
    margin: float = 0.0,
    reduction: Reduction = "none",
) -> Array:
    """``max(0, -y_true * (y_pred1 - y_pred2) + margin)``, element-wise.

    Args:
        y_true: 1 where ``y_pred1`` should rank higher, -1 where ``y_pred2`` should.
        y_pred: the pair ``(y_pred1, y_pred2)``, each shaped like ``y_true``.
        margin: the required gap.
        reduction: ``"none"`` (element-wise), ``"mean"`` or ``"sum"``.

    >>> import jax.numpy as jnp
    >>> margin_ranking(jnp.array([1.0, -1.0]), (jnp.array([0.5, 0.5]), jnp.array([0.0, 0.0])),
    ...                margin=0.1)
    Array([0. , 0.6], dtype=float32)
    """
    name = "margin_ranking"
    _check_reduction(name, reduction)
    if not isinstance(y_pred, (tuple, list)) or len(y_pred) != 2:
        raise TypeError(
            f"{name}: y_pred must be a pair (y_pred1, y_pred2), got {type(y_pred).__name__}."
        )
    y_true, y_pred1 = _same_shape(name, y_true, y_pred[0])
    _, y_pred2 = _same_shape(name, y_true, y_pred[1])
    loss = jnp.maximum(-y_true * (y_pred1 - y_pred2) + margin, 0.0)
    return reduce(loss, reduction)


def cosine_similarity(
    y_true: Array,
    y_pred: Array,
    *,
    axes: int | Sequence[int] = 1,
    eps: float = 1e-6,
    reduction: Reduction = "none",
) -> Array:
    """Cosine similarity ``<y_true, y_pred> / max(|y_true| |y_pred|, eps)`` over ``axes``.

    This is Axon's (and ``torch.nn.functional.cosine_similarity``'s) value, in
    ``[-1, 1]`` with 1 for aligned vectors: to *train* towards alignment, minimize
    ``-cosine_similarity`` or ``1 - cosine_similarity`` (Keras' loss is the negation).

    Args:
        axes: the feature axis or axes (Axon's default ``1``).
        eps: the smallest denominator (zero vectors give 0, with zero gradient).

    >>> import jax.numpy as jnp
    >>> cosine_similarity(jnp.array([[0.0, 1.0], [1.0, 1.0]]), jnp.array([[1.0, 0.0], [2.0, 2.0]]))
    Array([0., 1.], dtype=float32)
    """
    name = "cosine_similarity"
    y_true, y_pred = _checked_inputs(name, y_true, y_pred, reduction)
    axes = (axes,) if isinstance(axes, int) else tuple(axes)
    if any(not -y_pred.ndim <= a < y_pred.ndim for a in axes):
        raise ValueError(f"{name}: axes {axes} are out of range for rank {y_pred.ndim}.")
    y_true = _float(y_true, y_pred)
    dot = jnp.sum(y_true * y_pred, axis=axes)
    squared_norms = jnp.sum(y_true**2, axis=axes) * jnp.sum(y_pred**2, axis=axes)
    # sqrt(max(n1² n2², eps²)) equals max(n1 n2, eps) and has no NaN gradient at 0.
    return reduce(dot / jnp.sqrt(jnp.maximum(squared_norms, eps**2)), reduction)


def huber(
    y_true: Array, y_pred: Array, *, delta: float = 1.0, reduction: Reduction = "none"
) -> Array:
    """Huber loss, element-wise: quadratic within ``delta``, linear beyond.

    ``0.5 * d**2`` where ``|d| <= delta``, else ``delta * (|d| - 0.5 * delta)``, with
    ``d = y_true - y_pred``. As in Axon and PyTorch's ``huber_loss``, ``"none"`` keeps
    every element (it does not average the last axis as most losses here do), so
    ``"sum"`` adds up all elements and ``"mean"`` averages them.

    >>> import jax.numpy as jnp
    >>> huber(jnp.array([[0.0, 0.0]]), jnp.array([[0.5, 3.0]]))
    Array([[0.125, 2.5  ]], dtype=float32)
    >>> huber(jnp.array([[0.0, 0.0]]), jnp.array([[0.5, 3.0]]), reduction="sum")
    Array(2.625, dtype=float32)
    """
    name = "huber"
    _check_reduction(name, reduction)
    if not delta > 0:
        raise ValueError(f"{name}: delta must be positive, got {delta!r}.")
    y_true, y_pred = _same_shape(name, y_true, y_pred)
    error = jnp.abs(y_true - y_pred)
    loss = jnp.where(error <= delta, 0.5 * error**2, delta * (error - 0.5 * delta))
    return reduce(loss, reduction)


def connectionist_temporal_classification(
    y_true: tuple[Array, Array],
    y_pred: Array,
    *,
    blank: int = 0,
    input_lengths: Array | None = None,
    zero_infinity: bool = False,
    reduction: Reduction = "none",
) -> Array:
    """CTC loss: ``-log p(targets | log_probs)``, summed over all alignments.

    Args:
        y_true: ``(target_lengths (batch,), targets (batch, max_target_len))``, as in
            Axon; targets past their length are ignored and must not be ``blank``
            within it.
        y_pred: log-probabilities ``(batch, time, classes)`` (e.g. ``log_softmax``
            output), batch-major unlike PyTorch's ``(time, batch, classes)``.
        blank: the blank class.
        input_lengths: ``(batch,)`` valid time steps per example (later steps are
            ignored); ``None`` uses all ``time`` steps (Axon's behaviour).
        zero_infinity: impossible alignments (targets too long for the input) give
            ``inf`` like PyTorch; with ``True`` they give 0 (and zero gradient).
        reduction: ``"none"`` (per example), ``"sum"``, or ``"mean"``, which, as in
            Axon and PyTorch, divides each loss by its target length (at least 1)
            before averaging.

    The recursion runs in log space with ``lax.scan`` over time, so it is exact,
    jit-able and differentiable (no epsilon is added, unlike Axon 0.8.1).

    >>> import jax.numpy as jnp
    >>> log_probs = jnp.log(jnp.full((1, 2, 2), 0.5))  # 2 steps, classes {blank, a}
    >>> # "a" is emitted by (a, a), (a, blank) or (blank, a): 3 paths of probability 1/4.
    >>> lengths, targets = jnp.array([1]), jnp.array([[1]])
    >>> loss = connectionist_temporal_classification((lengths, targets), log_probs)
    >>> print(f"{loss[0]:.4f} = -log(3/4)")
    0.2877 = -log(3/4)
    """
    name = "connectionist_temporal_classification"
    _check_reduction(name, reduction)
    if not isinstance(y_true, (tuple, list)) or len(y_true) != 2:
        raise TypeError(
            f"{name}: y_true must be the pair (target_lengths, targets), got "
            f"{type(y_true).__name__}."
        )
    lengths, targets = jnp.asarray(y_true[0]), jnp.asarray(y_true[1])
    log_probs = jnp.asarray(y_pred)
    log_probs = log_probs.astype(jnp.promote_types(log_probs.dtype, jnp.float32))
    if log_probs.ndim != 3:
        raise ValueError(
            f"{name}: y_pred must be log-probabilities of shape (batch, time, classes), got "
            f"shape {log_probs.shape}."
        )
    batch, _, classes = log_probs.shape
    if targets.ndim != 2 or targets.shape[0] != batch:
        raise ValueError(
            f"{name}: targets must have shape (batch, max_target_len) with batch = {batch}, "
            f"got {targets.shape}."
        )
    if lengths.shape != (batch,):
        raise ValueError(f"{name}: target_lengths must have shape ({batch},), got {lengths.shape}.")
    if not 0 <= blank < classes:
        raise ValueError(f"{name}: blank must be a class in [0, {classes}), got {blank}.")
    if input_lengths is not None:
        input_lengths = jnp.asarray(input_lengths)
        if input_lengths.shape != (batch,):
            raise ValueError(
                f"{name}: input_lengths must have shape ({batch},), got {input_lengths.shape}."
            )

    log_likelihood = _ctc_log_likelihood(
        log_probs, targets.astype(jnp.int32), lengths.astype(jnp.int32), blank, input_lengths
    )
    # A log-likelihood near the floor means no alignment exists.
    impossible = log_likelihood < _ctc_floor(log_probs.dtype) / 2
    loss = jnp.where(impossible, 0.0 if zero_infinity else jnp.inf, -log_likelihood)
    if reduction == "mean":
        return jnp.mean(loss / jnp.maximum(lengths, 1).astype(loss.dtype))
    return reduce(loss, reduction)


def _ctc_floor(dtype: Any) -> float:
    # A finite "log 0": -inf would make the gradient of logaddexp NaN.
    return float(jnp.finfo(dtype).min) / 4


def _ctc_log_likelihood(log_probs, targets, lengths, blank, input_lengths):
    batch, steps, _ = log_probs.shape
    floor = _ctc_floor(log_probs.dtype)
    # Extended labels: blank, l1, blank, l2, ..., blank (length 2L + 1).
    extended = jnp.full((batch, 2 * targets.shape[1] + 1), blank, jnp.int32)
    extended = extended.at[:, 1::2].set(targets)
    # A label may be reached from two positions back unless it repeats that label.
    can_skip = jnp.zeros(extended.shape, bool)
    can_skip = can_skip.at[:, 2:].set(
        (extended[:, 2:] != blank) & (extended[:, 2:] != extended[:, :-2])
    )
    emissions = jnp.take_along_axis(log_probs, extended[:, None, :], axis=2)  # (B, T, S)

    start = jnp.full(extended.shape, floor, log_probs.dtype)
    start = start.at[:, :2].set(emissions[:, 0, :2])

    def shift(alpha: Array, by: int) -> Array:
        return jnp.pad(alpha[:, :-by], ((0, 0), (by, 0)), constant_values=floor)

    def step(alpha: Array, inputs: tuple[Array, Array]) -> tuple[Array, None]:
        emission, t = inputs
        paths = jnp.stack([alpha, shift(alpha, 1), jnp.where(can_skip, shift(alpha, 2), floor)])
        new = jax.nn.logsumexp(paths, axis=0) + emission
        if input_lengths is not None:  # past its input length an example stops moving
            new = jnp.where((t < input_lengths)[:, None], new, alpha)
        return new, None

    times = jnp.arange(1, steps)
    alpha, _ = jax.lax.scan(step, start, (jnp.swapaxes(emissions[:, 1:], 0, 1), times))
    last = jnp.take_along_axis(alpha, 2 * lengths[:, None], axis=1)[:, 0]
    before_last = jnp.take_along_axis(alpha, jnp.maximum(2 * lengths - 1, 0)[:, None], axis=1)
    before_last = jnp.where(lengths > 0, before_last[:, 0], floor)
    return jnp.logaddexp(last, before_last)


def apply_label_smoothing(y_true: Array, y_pred: Array, *, smoothing: float = 0.1) -> Array:
    """Smoothed targets ``y_true * (1 - smoothing) + smoothing / classes``.

    ``classes`` is ``y_pred.shape[-1]``; ``y_true`` is one-hot (or soft) and shaped
    like ``y_pred``.

    >>> import jax.numpy as jnp
    >>> print(apply_label_smoothing(jnp.array([[0.0, 1.0]]), jnp.zeros((1, 2)), smoothing=0.5))
    [[0.25 0.75]]
    """
    name = "apply_label_smoothing"
    if not 0.0 <= smoothing <= 1.0:
        raise ValueError(f"{name}: smoothing must be in [0, 1], got {smoothing!r}.")
    y_true, y_pred = _same_shape(name, y_true, y_pred, " (one-hot targets are needed)")
    y_true = _float(y_true, y_pred)
    return y_true * (1.0 - smoothing) + smoothing / y_pred.shape[-1]


def label_smoothing(
    loss_fn: Callable[..., Array], *, smoothing: float = 0.1
) -> Callable[..., Array]:
    """Wrap ``loss_fn`` so it sees label-smoothed targets (:func:`apply_label_smoothing`).

    The result is ``fn(y_true, y_pred, **options) = loss_fn(smoothed, y_pred, **options)``.
    It is a combinator, not a loss, so it is not registered by name.

    >>> import jax.numpy as jnp
    >>> smooth_cce = label_smoothing(categorical_cross_entropy, smoothing=0.2)
    >>> smooth_cce(jnp.array([[0.0, 1.0]]), jnp.array([[0.0, 0.0]]), from_logits=True)
    Array([0.6931472], dtype=float32)
    """
    if not callable(loss_fn):
        raise TypeError(
            f"label_smoothing: loss_fn must be a loss function, got {type(loss_fn).__name__}."
        )
    if not 0.0 <= smoothing <= 1.0:
        raise ValueError(f"label_smoothing: smoothing must be in [0, 1], got {smoothing!r}.")

    @functools.wraps(loss_fn)
    def smoothed(y_true: Array, y_pred: Array, **options: Any) -> Array:
        return loss_fn(
            apply_label_smoothing(y_true, y_pred, smoothing=smoothing), y_pred, **options
        )

    return smoothed


def get(name: str) -> Callable[..., Any]:
    """The loss function registered under ``name``.

    >>> get("huber") is huber
    True
    """
    return _registered.get(name)


def names() -> list[str]:
    """Every registered loss name, sorted.

    >>> "connectionist_temporal_classification" in names()
    True
    """
    return _registered.names()


#: The built-in losses, by name: every ``fn(y_true, y_pred, *, reduction)`` above.
#: ``label_smoothing``/``apply_label_smoothing`` transform losses and targets, so they
#: are not losses a loop could call by name.
BUILTINS: dict[str, Callable[..., Array]] = {
    fn.__name__: fn
    for fn in (
        binary_cross_entropy, categorical_cross_entropy, categorical_hinge,
        connectionist_temporal_classification, cosine_similarity, hinge, huber,
        kl_divergence, log_cosh, margin_ranking, mean_absolute_error, mean_squared_error,
        poisson, soft_margin, sparse_categorical_cross_entropy,
    )
}  # fmt: skip
