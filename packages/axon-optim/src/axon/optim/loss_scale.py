"""Loss scaling for mixed-precision training (``Axon.LossScale``).

With float16 activations small gradients underflow to zero. Loss scaling
multiplies the loss by a large factor before differentiating and divides the
gradients by it afterwards. Each function here returns a :class:`LossScale`, a
named triple of pure functions usable inside ``jax.jit`` (Axon's
``{init_fn, scale_fn, unscale_fn}``; it unpacks the same way):

- ``init() -> state``: the state, a small pytree (keep it in your train state);
- ``scale(tree, state) -> tree``: multiply every leaf (the loss) by the scale;
- ``unscale(grads, state) -> (grads, new_state)``: divide the gradients by the
  scale and, for :func:`dynamic`, adjust the scale from whether they are finite.

A step whose gradients are not finite should not be applied; check with
:func:`all_finite` (or wrap the optimizer in :func:`optax.apply_if_finite`).

>>> import jax, jax.numpy as jnp
>>> from axon.optim import loss_scale
>>> init, scale, unscale = loss_scale.dynamic(init_scale=2.0**15)
>>> state = init()
>>> grads = jax.grad(lambda w: scale(jnp.sum(w**2), state))(jnp.array([1.0, 2.0]))
>>> grads, state = unscale(grads, state)
>>> grads
Array([2., 4.], dtype=float32)
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from . import _validation as check

__all__ = [
    "LossScale",
    "StaticLossScaleState",
    "DynamicLossScaleState",
    "identity",
    "static",
    "dynamic",
    "all_finite",
    "get",
    "names",
]

#: Axon's default initial loss scale, 2**15.
DEFAULT_SCALE = 2.0**15


class LossScale(NamedTuple):
    """The three pure functions of a loss scale (see the module docs).

    Every function of this module returns one; it unpacks like Axon's
    ``{init_fn, scale_fn, unscale_fn}`` and can be built by hand.

    Example:
        >>> import jax.numpy as jnp
        >>> from axon.optim.loss_scale import LossScale, static
        >>> init, scale, unscale = static(4.0)
        >>> scale(jnp.float32(0.5), init())
        Array(2., dtype=float32)
        >>> halving = LossScale(
        ...     init=lambda: None,
        ...     scale=lambda tree, state: tree / 2,
        ...     unscale=lambda grads, state: (grads * 2, state),
        ... )
        >>> halving.unscale(jnp.float32(1.5), halving.init())
        (Array(3., dtype=float32), None)
    """

    init: Callable[[], Any]
    scale: Callable[[Any, Any], Any]
    unscale: Callable[[Any, Any], tuple[Any, Any]]


class StaticLossScaleState(NamedTuple):
    """State of :func:`static`: the fixed scale.

    Example:
        >>> from axon.optim import loss_scale
        >>> loss_scale.static(8.0).init()
        StaticLossScaleState(loss_scale=Array(8., dtype=float32))
    """

    loss_scale: jax.Array


class DynamicLossScaleState(NamedTuple):
    """State of :func:`dynamic`: the current scale and the finite steps since the last change.

    Example:
        >>> import jax.numpy as jnp
        >>> from axon.optim import loss_scale
        >>> init, scale, unscale = loss_scale.dynamic(init_scale=1024.0, period=3)
        >>> _, state = unscale(jnp.array([1.0]), init())
        >>> state
        DynamicLossScaleState(loss_scale=Array(1024., dtype=float32), counter=Array(1, dtype=int32))
    """

    loss_scale: jax.Array
    counter: jax.Array


def _multiply(tree: Any, factor: jax.Array) -> Any:
    """Each leaf times ``factor``, keeping the leaf's dtype (as jmp does)."""
    return jax.tree.map(lambda x: x * factor.astype(jnp.result_type(x)), tree)


def all_finite(tree: Any) -> jax.Array:
    """Whether every element of every leaf is finite (neither inf nor NaN).

    Args:
        tree: a pytree of arrays, e.g. gradients.

    Returns:
        A scalar boolean array (usable under ``jax.jit``).

    Example:
        >>> import jax.numpy as jnp
        >>> from axon.optim.loss_scale import all_finite
        >>> all_finite({"a": jnp.array([1.0]), "b": jnp.array([jnp.nan])})
        Array(False, dtype=bool)
    """
    leaves = jax.tree.leaves(tree)
    if not leaves:
        return jnp.array(True)
    return jnp.stack([jnp.all(jnp.isfinite(leaf)) for leaf in leaves]).all()


def identity() -> LossScale:
    """No loss scaling: ``scale`` and ``unscale`` return their input.

    Returns:
        A :class:`LossScale` whose state is :class:`optax.EmptyState`.

    Example:
        >>> import jax.numpy as jnp
        >>> from axon.optim import loss_scale
        >>> init, scale, unscale = loss_scale.identity()
        >>> scale(jnp.array(3.0), init())
        Array(3., dtype=float32, weak_type=True)
    """

    def init() -> optax.EmptyState:
        return optax.EmptyState()

    def scale(tree: Any, state: Any) -> Any:
        del state
        return tree

    def unscale(grads: Any, state: Any) -> tuple[Any, Any]:
        return grads, state

    return LossScale(init, scale, unscale)


def _check_scale(owner: str, name: str, value: Any) -> None:
    check.in_range(owner, name, value, 0.0, low_open=True)


def static(init_scale: float = DEFAULT_SCALE) -> LossScale:
    """A fixed loss scale.

    Args:
        init_scale: the scale, a finite number > 0. Defaults to ``2**15``.

    Returns:
        A :class:`LossScale` whose state is a :class:`StaticLossScaleState`.

    Example:
        >>> import jax.numpy as jnp
        >>> from axon.optim import loss_scale
        >>> init, scale, unscale = loss_scale.static(init_scale=8.0)
        >>> state = init()
        >>> scale(jnp.array(0.5), state)
        Array(4., dtype=float32)
        >>> unscale(jnp.array([4.0]), state)[0]
        Array([0.5], dtype=float32)
    """
    _check_scale("static", "init_scale", init_scale)

    def init() -> StaticLossScaleState:
        return StaticLossScaleState(loss_scale=jnp.asarray(init_scale, jnp.float32))

    def scale(tree: Any, state: StaticLossScaleState) -> Any:
        return _multiply(tree, state.loss_scale)

    def unscale(grads: Any, state: StaticLossScaleState) -> tuple[Any, StaticLossScaleState]:
        return _multiply(grads, 1.0 / state.loss_scale), state

    return LossScale(init, scale, unscale)


def dynamic(
    init_scale: float = DEFAULT_SCALE,
    period: int = 2000,
    factor: float = 2.0,
    min_loss_scale: float = 1.0,
) -> LossScale:
    """A loss scale that backs off on overflow and grows while gradients stay finite.

    ``unscale`` looks at the scaled gradients: if any element is inf or NaN the
    scale becomes ``max(min_loss_scale, scale / factor)`` and the counter 0;
    otherwise the counter counts the finite step, and on the ``period``-th in a
    row the scale is multiplied by ``factor`` (if that is still finite) and the
    counter starts again. The gradients returned are divided by the scale that
    was used to compute them.

    Args:
        init_scale: the initial scale, > 0. Defaults to ``2**15``.
        period: finite steps before the scale grows, >= 1. Defaults to ``2000``.
        factor: growth and back-off factor, >= 1. Defaults to ``2``.
        min_loss_scale: the scale never goes below it, > 0. Defaults to ``1``.

    Returns:
        A :class:`LossScale` whose state is a :class:`DynamicLossScaleState`.

    Differs from Axon: Axon only treats infinities as overflow; a NaN gradient
    also halves the scale here (as in jmp).

    Example:
        >>> import jax.numpy as jnp
        >>> from axon.optim import loss_scale
        >>> init, scale, unscale = loss_scale.dynamic(init_scale=1024.0, period=2)
        >>> state = init()
        >>> _, state = unscale(jnp.array([jnp.inf]), state)  # overflow: halve
        >>> state.loss_scale
        Array(512., dtype=float32)
        >>> for _ in range(2):  # two finite steps: double
        ...     _, state = unscale(jnp.array([1.0]), state)
        >>> state.loss_scale
        Array(1024., dtype=float32)
    """
    _check_scale("dynamic", "init_scale", init_scale)
    period = check.count("dynamic", "period", period, minimum=1)
    check.in_range("dynamic", "factor", factor, 1.0)
    _check_scale("dynamic", "min_loss_scale", min_loss_scale)
    if float(min_loss_scale) > float(init_scale):
        raise ValueError(
            f"dynamic: min_loss_scale ({min_loss_scale}) must not exceed init_scale ({init_scale})."
        )

    def init() -> DynamicLossScaleState:
        return DynamicLossScaleState(
            loss_scale=jnp.asarray(init_scale, jnp.float32), counter=jnp.zeros([], jnp.int32)
        )

    def scale(tree: Any, state: DynamicLossScaleState) -> Any:
        return _multiply(tree, state.loss_scale)

    def unscale(grads: Any, state: DynamicLossScaleState) -> tuple[Any, DynamicLossScaleState]:
        unscaled = _multiply(grads, 1.0 / state.loss_scale)
        finite = all_finite(grads)
        grown = state.loss_scale * factor
        grown = jnp.where(jnp.isfinite(grown), grown, state.loss_scale)
        at_period = state.counter == period - 1
        new_scale = jnp.where(
            finite,
            jnp.where(at_period, grown, state.loss_scale),
            jnp.maximum(min_loss_scale, state.loss_scale / factor),
        ).astype(state.loss_scale.dtype)
        new_counter = jnp.where(finite, (state.counter + 1) % period, 0).astype(state.counter.dtype)
        return unscaled, DynamicLossScaleState(loss_scale=new_scale, counter=new_counter)

    return LossScale(init, scale, unscale)


_BUILTINS: dict[str, Callable[..., LossScale]] = {
    "dynamic": dynamic,
    "identity": identity,
    "static": static,
}


def names() -> list[str]:
    """The loss-scale names :func:`get` knows, sorted.

    Example:
        >>> from axon.optim import loss_scale
        >>> loss_scale.names()
        ['dynamic', 'identity', 'static']
    """
    return sorted(_BUILTINS)


def get(name: str, **options: Any) -> LossScale:
    """The loss scale called ``name`` (``"identity"``, ``"static"``, ``"dynamic"``).

    Args:
        name: the loss scale's name.
        **options: its options, e.g. ``init_scale=2**12``.

    Returns:
        A :class:`LossScale`.

    Raises:
        LookupError: for an unknown name, suggesting the closest ones.

    Example:
        >>> from axon.optim import loss_scale
        >>> loss_scale.get("dynamic", period=100).init().counter
        Array(0, dtype=int32)
    """
    if name not in _BUILTINS:
        close = difflib.get_close_matches(str(name), _BUILTINS, n=3)
        suggestion = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
        raise LookupError(
            f"Unknown loss scale {name!r}.{suggestion} Known loss scales: {', '.join(names())}."
        )
    return _BUILTINS[name](**options)
