"""Update transforms (``Polaris.Updates``): the building blocks of the optimizers.

Each function returns a plain :class:`optax.GradientTransformation`, the pair
``init(params) -> state`` and ``update(updates, state, params) -> (updates, state)``
(Polaris's "combinator" ``{init_fn, apply_fn}``), under Polaris's name and with its
option names and defaults. Where optax has the transform it is used as is and
the docstring names it; the three optax lacks (:func:`scale_by_state`,
:func:`stateful`, and the state-merging :func:`apply_updates`) are written here in
optax's shape: a ``NamedTuple`` state and a factory.

Polaris chains a transform onto another by passing it first
(``scale_by_adam(combinator, opts)``); here transforms are composed with
:func:`compose` (also named :func:`chain`), which is :func:`optax.chain`. Any optax
transformation can be mixed in.

>>> import jax.numpy as jnp
>>> from axon.optim import updates
>>> adam = updates.compose(updates.scale_by_adam(), updates.scale(-1e-3))
>>> params = {"w": jnp.array([1.0, -2.0])}
>>> step, state = adam.update({"w": jnp.array([0.5, -0.5])}, adam.init(params), params)
>>> updates.apply_updates(params, step)["w"]
Array([ 0.999, -1.999], dtype=float32)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from . import _validation as check
from .masks import match

__all__ = [
    "scale",
    "scale_by_state",
    "scale_by_schedule",
    "scale_by_adam",
    "scale_by_rss",
    "scale_by_rms",
    "scale_by_belief",
    "scale_by_stddev",
    "scale_by_radam",
    "scale_by_yogi",
    "scale_by_trust_ratio",
    "trace",
    "clip",
    "clip_by_global_norm",
    "centralize",
    "add_decayed_weights",
    "add_noise",
    "stateless",
    "stateful",
    "identity",
    "compose",
    "chain",
    "accumulate_gradients",
    "apply_updates",
    "ScaleByStateState",
]

_Numeric = float | jax.Array


# ---------------------------------------------------------------------------------------------
# Scaling by a step size


def scale(step_size: _Numeric) -> optax.GradientTransformation:
    """Multiply updates by a fixed ``step_size``: :func:`optax.scale`.

    Args:
        step_size: the factor; ``-learning_rate`` to turn gradients into a descent step.

    Returns:
        A stateless transformation.

    Example:
        >>> import jax.numpy as jnp
        >>> from axon.optim.updates import scale
        >>> transform = scale(-0.1)
        >>> transform.update(jnp.array([1.0, 2.0]), transform.init(None))[0]
        Array([-0.1, -0.2], dtype=float32)
    """
    if callable(step_size):
        raise TypeError(
            "scale: step_size must be a number; received a callable. For a step size "
            "that changes with the step count use scale_by_schedule(schedule)."
        )
    check.finite("scale", "step_size", step_size)
    return optax.scale(step_size)


class ScaleByStateState(NamedTuple):
    """State of :func:`scale_by_state`: the current factor (Polaris's ``%{scale: ...}``).

    The factor has the widest float dtype of the parameters; replace it between
    steps to change the step size.

    Example:
        >>> import jax.numpy as jnp
        >>> from axon.optim.updates import scale_by_state
        >>> transform = scale_by_state(-0.1)
        >>> state = transform.init({"w": jnp.ones(2)})
        >>> state
        ScaleByStateState(scale=Array(-0.1, dtype=float32))
        >>> slower = state._replace(scale=jnp.float32(-0.01))
        >>> transform.update({"w": jnp.ones(2)}, slower)[0]
        {'w': Array([-0.01, -0.01], dtype=float32)}
    """

    scale: jax.Array


def scale_by_state(step_size: _Numeric) -> optax.GradientTransformation:
    """Multiply updates by a factor held in the state, so it can change between steps.

    Polaris's way of keeping the learning rate adjustable; optax has no direct
    counterpart. ``init`` stores ``step_size`` as ``state.scale`` (in the widest
    float dtype of the parameters); ``update`` multiplies by ``state.scale``.
    Replace it with ``state._replace(scale=new_value)``. The optimizers of
    :mod:`axon.optim` use injected hyperparameters instead, which the helpers of
    :mod:`axon.optim.hyperparams` find anywhere in a state.

    Args:
        step_size: the initial factor (``-learning_rate`` for a descent step).

    Returns:
        A transformation whose state is a :class:`ScaleByStateState`.

    Example:
        >>> import jax.numpy as jnp
        >>> from axon.optim.updates import scale_by_state
        >>> transform = scale_by_state(-0.1)
        >>> grads = jnp.array([1.0, 2.0])
        >>> state = transform.init(grads)._replace(scale=-0.5)
        >>> transform.update(grads, state)[0]
        Array([-0.5, -1. ], dtype=float32)
    """
    check.finite("scale_by_state", "step_size", step_size)

    def init_fn(params: Any) -> ScaleByStateState:
        floats = [
            jnp.result_type(leaf)
            for leaf in jax.tree.leaves(params)
            if jnp.issubdtype(jnp.result_type(leaf), jnp.floating)
        ]
        dtype = jnp.result_type(*floats) if floats else jnp.float32
        return ScaleByStateState(scale=jnp.asarray(step_size, dtype=dtype))

    def update_fn(updates: Any, state: ScaleByStateState, params: Any = None) -> tuple:
        del params
        scaled = jax.tree.map(lambda g: (g * state.scale).astype(jnp.result_type(g)), updates)
        return scaled, state

    return optax.GradientTransformation(init_fn, update_fn)


def scale_by_schedule(schedule: Callable[[Any], Any]) -> optax.GradientTransformation:
    """Multiply updates by ``schedule(count)``, ``count`` being the number of updates
    so far: :func:`optax.scale_by_schedule`.

    Args:
        schedule: a function ``count -> scalar`` (see :mod:`axon.optim.schedules`);
            negate it for a descent step, e.g. ``lambda count: -lr_schedule(count)``.

    Returns:
        A transformation whose state holds the step count.

    Raises:
        TypeError: if ``schedule`` is not callable or fails on a step count.
        ValueError: if it returns something other than a scalar.

    Example:
        >>> import jax.numpy as jnp
        >>> from axon.optim.updates import scale_by_schedule
        >>> transform = scale_by_schedule(lambda count: -0.5**count)
        >>> grads = jnp.array([1.0, 2.0])
        >>> state = transform.init(grads)
        >>> for _ in range(3):
        ...     step, state = transform.update(grads, state)
        >>> step
        Array([-0.25, -0.5 ], dtype=float32)
    """
    if not callable(schedule):
        raise TypeError(
            f"scale_by_schedule: schedule must be a callable count -> scalar; received "
            f"{schedule!r} of type {type(schedule).__name__}. For a fixed factor use scale()."
        )
    check.schedule("scale_by_schedule", "schedule", schedule)
    return optax.scale_by_schedule(schedule)


# ---------------------------------------------------------------------------------------------
# Adaptive scalings


def scale_by_adam(
    b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8, eps_root: float = 1e-15
) -> optax.GradientTransformation:
    """Scale by Adam's bias-corrected moments: :func:`optax.scale_by_adam`.

    ``mu / (sqrt(nu + eps_root) + eps)`` with ``mu``, ``nu`` the bias-corrected
    moving averages of the updates and of their squares.

    Args:
        b1: first-moment decay, in [0, 1). Defaults to ``0.9``.
        b2: second-moment decay, in [0, 1). Defaults to ``0.999``.
        eps: added to the denominator outside the square root. Defaults to ``1e-8``.
        eps_root: added inside the square root. Defaults to ``1e-15`` (optax ``0.0``).

    Returns:
        A transformation whose state holds the count and both moments.

    Example:
        >>> import jax.numpy as jnp
        >>> from axon.optim.updates import scale_by_adam
        >>> transform = scale_by_adam()
        >>> grads = jnp.array([0.5, -2.0])
        >>> transform.update(grads, transform.init(grads))[0].round(4)  # first step: sign(g)
        Array([ 1., -1.], dtype=float32)

    References: Kingma and Ba, https://arxiv.org/abs/1412.6980
    """
    check.adam_moments("scale_by_adam", b1, b2, eps, eps_root)
    return optax.scale_by_adam(b1=b1, b2=b2, eps=eps, eps_root=eps_root)


def scale_by_rss(
    initial_accumulator_value: float = 0.1, eps: float = 1e-7
) -> optax.GradientTransformation:
    """Scale by the root of the sum of all squared updates (Adagrad): :func:`optax.scale_by_rss`.

    Args:
        initial_accumulator_value: starting sum of squares, >= 0. Defaults to ``0.1``.
        eps: added inside the square root. Defaults to ``1e-7``.

    Returns:
        A transformation whose state holds the running sum of squares.

    Example:
        >>> import jax.numpy as jnp
        >>> from axon.optim.updates import scale_by_rss
        >>> transform = scale_by_rss(initial_accumulator_value=0.0, eps=0.0)
        >>> grads = jnp.array([3.0, -4.0])
        >>> transform.update(grads, transform.init(grads))[0]
        Array([ 1., -1.], dtype=float32)

    References: Duchi et al., https://www.jmlr.org/papers/volume12/duchi11a/duchi11a.pdf
    """
    check.non_negative("scale_by_rss", "initial_accumulator_value", initial_accumulator_value)
    check.non_negative("scale_by_rss", "eps", eps)
    return optax.scale_by_rss(initial_accumulator_value=initial_accumulator_value, eps=eps)


def scale_by_rms(
    decay: float = 0.9, eps: float = 1e-8, initial_scale: float = 0.0
) -> optax.GradientTransformation:
    """Scale by the root of a moving average of squared updates (RMSProp):
    :func:`optax.scale_by_rms`.

    ``g / sqrt(nu + eps)`` with ``nu <- decay * nu + (1 - decay) * g**2``.

    Args:
        decay: decay of the moving average, in [0, 1). Defaults to ``0.9``.
        eps: added inside the square root. Defaults to ``1e-8``.
        initial_scale: starting value of the moving average. Defaults to ``0.0``.

    Returns:
        A transformation whose state holds the moving average.

    Example:
        >>> import jax.numpy as jnp
        >>> from axon.optim.updates import scale_by_rms
        >>> transform = scale_by_rms(decay=0.75, eps=0.0)
        >>> grads = jnp.array([1.0, -2.0])
        >>> transform.update(grads, transform.init(grads))[0]  # g / sqrt(0.25 g**2)
        Array([ 2., -2.], dtype=float32)
    """
    check.rms_average("scale_by_rms", decay, eps, initial_scale)
    return optax.scale_by_rms(decay=decay, eps=eps, initial_scale=initial_scale)


def scale_by_belief(
    b1: float = 0.9, b2: float = 0.999, eps: float = 0.0, eps_root: float = 1e-16
) -> optax.GradientTransformation:
    """Scale by AdaBelief's moments: :func:`optax.scale_by_belief`.

    Like :func:`scale_by_adam`, but the second moment tracks ``(g - mu)**2``, the
    "belief" in the current gradient.

    Args:
        b1: first-moment decay, in [0, 1). Defaults to ``0.9``.
        b2: second-moment decay, in [0, 1). Defaults to ``0.999``.
        eps: added to the denominator outside the square root. Defaults to ``0.0``
            (optax ``1e-16``).
        eps_root: added inside the square root. Defaults to ``1e-16``.

    Returns:
        A transformation whose state holds the count and both moments.

    Differs from Polaris: Polaris's ``scale_by_belief`` tracks ``g**2``, which makes
    it Adam; this follows the paper (and optax).

    Example:
        >>> import jax.numpy as jnp
        >>> from axon.optim.updates import scale_by_belief
        >>> transform = scale_by_belief()
        >>> grads = jnp.array([0.5, -2.0])
        >>> step, state = transform.update(grads, transform.init(grads))
        >>> step.shape
        (2,)

    References: Zhuang et al., https://arxiv.org/abs/2010.07468
    """
    check.adam_moments("scale_by_belief", b1, b2, eps, eps_root)
    return optax.scale_by_belief(b1=b1, b2=b2, eps=eps, eps_root=eps_root)


def scale_by_stddev(
    decay: float = 0.9, eps: float = 1e-8, initial_scale: float = 0.0
) -> optax.GradientTransformation:
    """Scale by the moving standard deviation of updates (centred RMSProp):
    :func:`optax.scale_by_stddev`.

    ``g / sqrt(nu - mu**2 + eps)`` with ``mu``, ``nu`` moving averages of ``g`` and ``g**2``.

    Args:
        decay: decay of the moving averages, in [0, 1). Defaults to ``0.9``.
        eps: added inside the square root. Defaults to ``1e-8``.
        initial_scale: starting value of ``nu``. Defaults to ``0.0``.

    Returns:
        A transformation whose state holds both moving averages.

    Example:
        >>> import jax.numpy as jnp
        >>> from axon.optim.updates import scale_by_stddev
        >>> transform = scale_by_stddev(decay=0.5, eps=0.0)
        >>> grads = jnp.array([1.0, -2.0])
        >>> transform.update(grads, transform.init(grads))[0]  # g / sqrt(g**2 / 4)
        Array([ 2., -2.], dtype=float32)
    """
    check.rms_average("scale_by_stddev", decay, eps, initial_scale)
    return optax.scale_by_stddev(decay=decay, eps=eps, initial_scale=initial_scale)


def scale_by_radam(
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    eps_root: float = 0.0,
    threshold: float = 5.0,
) -> optax.GradientTransformation:
    """Scale by Rectified Adam: :func:`optax.scale_by_radam`.

    Plain bias-corrected momentum while the length of the approximated simple
    moving average is below ``threshold``, then Adam's step times the
    rectification term.

    Args:
        b1: first-moment decay, in [0, 1). Defaults to ``0.9``.
        b2: second-moment decay, in [0, 1). Defaults to ``0.999``.
        eps: added to the denominator outside the square root. Defaults to ``1e-8``.
        eps_root: added inside the square root. Defaults to ``0.0``.
        threshold: the SMA length from which the adaptive step is used. Defaults to ``5.0``.

    Returns:
        A transformation whose state holds the count and both moments.

    Differs from Polaris: Polaris computes the maximum SMA length from ``b1``
    instead of ``b2``; this uses the paper's ``2 / (1 - b2) - 1``.

    Example:
        >>> import jax.numpy as jnp
        >>> from axon.optim.updates import scale_by_radam
        >>> transform = scale_by_radam()
        >>> grads = jnp.array([0.5, -2.0])
        >>> transform.update(grads, transform.init(grads))[0].round(4)  # momentum at first
        Array([ 0.5, -2. ], dtype=float32)

    References: Liu et al., https://arxiv.org/abs/1908.03265
    """
    check.adam_moments("scale_by_radam", b1, b2, eps, eps_root)
    check.finite("scale_by_radam", "threshold", threshold)
    return optax.scale_by_radam(b1=b1, b2=b2, eps=eps, eps_root=eps_root, threshold=threshold)


def scale_by_yogi(
    initial_accumulator_value: float = 1e-6,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-3,
    eps_root: float = 0.0,
) -> optax.GradientTransformation:
    """Scale by Yogi's moments: :func:`optax.scale_by_yogi`.

    Like Adam, but the second moment moves additively:
    ``nu <- nu - (1 - b2) * sign(nu - g**2) * g**2``.

    Args:
        initial_accumulator_value: starting value of both moments. Defaults to
            ``1e-6`` (Polaris's code; its docs say ``0.0``).
        b1: first-moment decay, in [0, 1). Defaults to ``0.9``.
        b2: second-moment decay, in [0, 1). Defaults to ``0.999``.
        eps: added to the denominator outside the square root. Defaults to ``1e-3``.
        eps_root: added inside the square root. Defaults to ``0.0``.

    Returns:
        A transformation whose state holds the count and both moments.

    Example:
        >>> import jax.numpy as jnp
        >>> from axon.optim.updates import scale_by_yogi
        >>> transform = scale_by_yogi()
        >>> grads = jnp.array([0.5, -2.0])
        >>> transform.update(grads, transform.init(grads))[0].round(2)
        Array([ 1., -1.], dtype=float32)

    References: Zaheer et al., https://papers.nips.cc/paper/2018/hash/90365351ccc7437a1309dc64e4db32a3-Abstract.html
    """
    check.non_negative("scale_by_yogi", "initial_accumulator_value", initial_accumulator_value)
    check.adam_moments("scale_by_yogi", b1, b2, eps, eps_root)
    return optax.scale_by_yogi(
        b1=b1,
        b2=b2,
        eps=eps,
        eps_root=eps_root,
        initial_accumulator_value=initial_accumulator_value,
    )


def scale_by_trust_ratio(
    min_norm: float = 0.0, trust_coefficient: float = 1.0, eps: float = 0.0
) -> optax.GradientTransformation:
    """Scale each parameter's update by ``trust_coefficient * |param| / (|update| + eps)``
    (LARS/LAMB): :func:`optax.scale_by_trust_ratio`.

    Norms below ``min_norm`` are raised to it; where either norm is zero the
    update is left as is.

    Args:
        min_norm: lower bound of both norms, >= 0. Defaults to ``0.0``.
        trust_coefficient: multiplies the ratio. Defaults to ``1.0``.
        eps: added to the update norm. Defaults to ``0.0``.

    Returns:
        A stateless transformation; ``update`` needs ``params``.

    Example:
        >>> import jax.numpy as jnp
        >>> from axon.optim.updates import scale_by_trust_ratio
        >>> transform = scale_by_trust_ratio()
        >>> params, grads = jnp.array([3.0, 4.0]), jnp.array([0.0, 0.5])
        >>> transform.update(grads, transform.init(params), params)[0]  # |p| / |g| = 10
        Array([0., 5.], dtype=float32)

    References: You et al., https://arxiv.org/abs/1904.00962
    """
    check.non_negative("scale_by_trust_ratio", "min_norm", min_norm)
    check.finite("scale_by_trust_ratio", "trust_coefficient", trust_coefficient)
    check.non_negative("scale_by_trust_ratio", "eps", eps)
    return optax.scale_by_trust_ratio(
        min_norm=min_norm, trust_coefficient=trust_coefficient, eps=eps
    )


# ---------------------------------------------------------------------------------------------
# Momentum, clipping, regularisation, noise


def trace(decay: float = 0.9, nesterov: bool = False) -> optax.GradientTransformation:
    """Momentum: ``t <- g + decay * t``, returning ``t`` (or ``g + decay * t`` with
    Nesterov): :func:`optax.trace`.

    Args:
        decay: decay of the trace, in [0, 1). Defaults to ``0.9`` (optax requires it).
        nesterov: use Nesterov momentum. Defaults to ``False``.

    Returns:
        A transformation whose state holds the trace.

    Example:
        >>> import jax.numpy as jnp
        >>> from axon.optim.updates import trace
        >>> transform = trace(decay=0.5)
        >>> grads = jnp.array([1.0])
        >>> state = transform.init(grads)
        >>> for _ in range(3):
        ...     step, state = transform.update(grads, state)
        >>> step  # 1 + 0.5 + 0.25
        Array([1.75], dtype=float32)
    """
    check.decay_rate("trace", "decay", decay)
    return optax.trace(decay=decay, nesterov=bool(nesterov))


def clip(delta: float = 2.0) -> optax.GradientTransformation:
    """Clip every update element to ``[-delta, delta]``: :func:`optax.clip`.

    Args:
        delta: the largest absolute value, >= 0. Defaults to ``2.0`` (optax requires it).

    Returns:
        A stateless transformation.

    Example:
        >>> import jax.numpy as jnp
        >>> from axon.optim.updates import clip
        >>> transform = clip(delta=1.0)
        >>> transform.update(jnp.array([0.5, -3.0]), transform.init(None))[0]
        Array([ 0.5, -1. ], dtype=float32)
    """
    check.non_negative("clip", "delta", delta)
    return optax.clip(delta)


def clip_by_global_norm(max_norm: float = 1.0) -> optax.GradientTransformation:
    """Rescale all updates together so their global L2 norm is at most ``max_norm``:
    :func:`optax.clip_by_global_norm`.

    Args:
        max_norm: the largest global norm, > 0. Defaults to ``1.0`` (optax requires it).

    Returns:
        A stateless transformation.

    Example:
        >>> import jax.numpy as jnp
        >>> from axon.optim.updates import clip_by_global_norm
        >>> transform = clip_by_global_norm(max_norm=1.0)
        >>> grads = {"a": jnp.array([3.0]), "b": jnp.array([4.0])}  # global norm 5
        >>> transform.update(grads, transform.init(grads))[0]["b"]
        Array([0.8], dtype=float32)
    """
    check.in_range("clip_by_global_norm", "max_norm", max_norm, 0.0, low_open=True)
    return optax.clip_by_global_norm(max_norm)


def centralize() -> optax.GradientTransformation:
    """Gradient centralisation: subtract from each update of rank > 1 its mean over
    all axes but the first: :func:`optax.centralize`.

    Returns:
        A stateless transformation.

    Example:
        >>> import jax.numpy as jnp
        >>> from axon.optim.updates import centralize
        >>> transform = centralize()
        >>> transform.update(jnp.array([[1.0, 3.0], [2.0, 2.0]]), transform.init(None))[0]
        Array([[-1.,  1.],
               [ 0.,  0.]], dtype=float32)

    References: Yong et al., https://arxiv.org/abs/2004.01461
    """
    return optax.centralize()


def add_decayed_weights(decay: float = 0.0, mask: Any = None) -> optax.GradientTransformation:
    """Add ``decay * params`` to the updates (weight decay): :func:`optax.add_decayed_weights`.

    Args:
        decay: the decay rate, >= 0. Defaults to ``0.0``.
        mask: which parameters to decay: ``None`` (all), a glob pattern or a list
            of them over ``'/'``-joined parameter paths (see
            :func:`axon.optim.masks.match`; use :func:`axon.optim.masks.exclude`
            for "all but"), or anything :func:`optax.add_decayed_weights` accepts
            (a pytree of booleans or a function ``params -> pytree of booleans``).

    Returns:
        A stateless transformation; ``update`` needs ``params``.

    Example:
        >>> import jax.numpy as jnp
        >>> from axon.optim.updates import add_decayed_weights
        >>> from axon.optim.masks import exclude
        >>> params = {"kernel": jnp.array([1.0]), "bias": jnp.array([1.0])}
        >>> transform = add_decayed_weights(0.1, mask=exclude("*bias"))
        >>> grads = {"kernel": jnp.array([0.0]), "bias": jnp.array([0.0])}
        >>> transform.update(grads, transform.init(params), params)[0]
        {'bias': Array([0.], dtype=float32), 'kernel': Array([0.1], dtype=float32)}
    """
    check.non_negative("add_decayed_weights", "decay", decay)
    if isinstance(mask, str) or (
        isinstance(mask, (list, tuple)) and mask and all(isinstance(m, str) for m in mask)
    ):
        mask = match(*([mask] if isinstance(mask, str) else mask))
    return optax.add_decayed_weights(decay, mask=mask)


def add_noise(
    eta: float = 0.01, gamma: float = 0.55, seed: int = 0
) -> optax.GradientTransformation:
    """Add Gaussian noise of variance ``eta / (1 + t)**gamma`` at step ``t``:
    :func:`optax.add_noise`.

    Args:
        eta: the initial variance, >= 0. Defaults to ``0.01``.
        gamma: the annealing exponent, >= 0. Defaults to ``0.55``.
        seed: seed of the noise. Defaults to ``0`` (Polaris seeds from the clock,
            which makes runs irreproducible).

    Returns:
        A transformation whose state holds the count and the random key.

    Differs from Polaris: Polaris multiplies unit noise by the variance; this
    follows the paper (and optax): the noise has standard deviation
    ``sqrt(eta / (1 + t)**gamma)``.

    Example:
        >>> import jax.numpy as jnp
        >>> from axon.optim.updates import add_noise
        >>> transform = add_noise(eta=0.0)
        >>> grads = jnp.array([1.0, 2.0])
        >>> transform.update(grads, transform.init(grads))[0]  # no variance, no noise
        Array([1., 2.], dtype=float32)

    References: Neelakantan et al., https://arxiv.org/abs/1511.06807
    """
    check.non_negative("add_noise", "eta", eta)
    check.non_negative("add_noise", "gamma", gamma)
    seed = check.count("add_noise", "seed", seed, minimum=0)
    return optax.add_noise(eta, gamma, seed)  # positional: `seed` in optax 0.2.3, `key` later


# ---------------------------------------------------------------------------------------------
# Primitives and composition


def stateless(fn: Callable[[Any, Any], Any]) -> optax.GradientTransformation:
    """A transformation without state from ``fn(updates, params) -> updates``:
    :func:`optax.stateless`.

    Args:
        fn: the update function; ``params`` is ``None`` when the caller passes none.

    Returns:
        A stateless transformation.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from axon.optim.updates import stateless
        >>> sign = stateless(lambda updates, params: jax.tree.map(jnp.sign, updates))
        >>> sign.update(jnp.array([0.3, -2.0]), sign.init(None))[0]
        Array([ 1., -1.], dtype=float32)
    """
    if not callable(fn):
        raise TypeError(
            f"stateless: fn must be a function (updates, params) -> updates; received "
            f"{type(fn).__name__}."
        )
    return optax.stateless(fn)


def stateful(
    init_fn: Callable[[Any], Any], update_fn: Callable[..., tuple[Any, Any]]
) -> optax.GradientTransformation:
    """A transformation from ``init_fn(params) -> state`` and
    ``update_fn(updates, state, params) -> (updates, state)``.

    This is :class:`optax.GradientTransformation` itself; keep the state a pytree
    (a ``NamedTuple`` reads best) so it works under ``jax.jit``.

    Args:
        init_fn: builds the initial state from the parameters.
        update_fn: transforms the updates and returns the new state.

    Returns:
        The transformation.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from axon.optim.updates import stateful
        >>> def init_fn(params):
        ...     return jax.tree.map(jnp.zeros_like, params)  # running sum
        >>> def update_fn(updates, state, params=None):
        ...     state = jax.tree.map(jnp.add, state, updates)
        ...     return state, state
        >>> total = stateful(init_fn, update_fn)
        >>> state = total.init(jnp.zeros(2))
        >>> for _ in range(3):
        ...     step, state = total.update(jnp.array([1.0, 2.0]), state)
        >>> step
        Array([3., 6.], dtype=float32)
    """
    for name, fn in (("init_fn", init_fn), ("update_fn", update_fn)):
        if not callable(fn):
            raise TypeError(f"stateful: {name} must be a function; received {type(fn).__name__}.")
    return optax.GradientTransformation(init_fn, update_fn)


def identity() -> optax.GradientTransformation:
    """Leave updates unchanged: :func:`optax.identity`.

    Example:
        >>> import jax.numpy as jnp
        >>> from axon.optim.updates import identity
        >>> identity().update(jnp.array([1.0]), identity().init(None))[0]
        Array([1.], dtype=float32)
    """
    return optax.identity()


def compose(*transforms: optax.GradientTransformation) -> optax.GradientTransformation:
    """Apply ``transforms`` one after the other: :func:`optax.chain`.

    Polaris's ``compose(a, b)`` is ``compose(a, b)`` here; any number of
    transformations may be given, any optax transformation among them. The state
    is the tuple of their states.

    Args:
        *transforms: transformations, applied first to last.

    Returns:
        The composed transformation.

    Raises:
        TypeError: if an argument is not a transformation (a factory passed
            without calling it is named).

    Example:
        >>> import jax.numpy as jnp
        >>> from axon.optim.updates import clip, compose, scale
        >>> transform = compose(clip(delta=1.0), scale(-0.1))
        >>> transform.update(jnp.array([0.5, 4.0]), transform.init(None))[0]
        Array([-0.05, -0.1 ], dtype=float32)
    """
    for index, transform in enumerate(transforms, start=1):
        check.transform("compose", index, transform)
    return optax.chain(*transforms)


#: Another name of :func:`compose` (optax's).
chain = compose


def accumulate_gradients(
    transform: optax.GradientTransformation, steps: int
) -> optax.GradientTransformation:
    """Average the updates of ``steps`` micro-steps, then apply ``transform`` once:
    :class:`optax.MultiSteps`.

    On the first ``steps - 1`` of every ``steps`` calls ``update`` only adds the
    gradients to an accumulator and returns zero updates (so the parameters stay
    put); on the last it passes their mean to ``transform`` and returns its
    updates. This trains with an effective batch ``steps`` times larger in the
    memory of one.

    Args:
        transform: the optimizer to apply to the averaged gradients.
        steps: the number of micro-steps per update, >= 1.

    Returns:
        A transformation whose state is :class:`optax.MultiStepsState` (the inner
        state, with its hyperparameters, is ``state.inner_opt_state``).

    Example:
        >>> import jax.numpy as jnp
        >>> from axon.optim import sgd
        >>> from axon.optim.updates import accumulate_gradients
        >>> optimizer = accumulate_gradients(sgd(learning_rate=1.0), steps=2)
        >>> params = jnp.array([0.0])
        >>> state = optimizer.init(params)
        >>> step, state = optimizer.update(jnp.array([1.0]), state, params)
        >>> bool((step == 0).all())  # accumulating
        True
        >>> step, state = optimizer.update(jnp.array([3.0]), state, params)
        >>> step  # -1.0 * mean(1, 3)
        Array([-2.], dtype=float32)
    """
    check.transform("accumulate_gradients", 1, transform)
    steps = check.count("accumulate_gradients", "steps", steps, minimum=1)
    return optax.MultiSteps(transform, every_k_schedule=steps).gradient_transformation()


def _merge_state(params: Any, state: Any) -> Any:
    if isinstance(params, Mapping) and isinstance(state, Mapping):
        merged = dict(params)
        for key, value in state.items():
            merged[key] = _merge_state(params[key], value) if key in params else value
        return type(params)(merged) if type(params) is not dict else merged
    return state


def apply_updates(params: Any, updates: Any, state: Any = None) -> Any:
    """``params + updates``, each sum cast to its parameter's dtype, then ``state``
    merged over the result: :func:`optax.apply_updates` plus Polaris's merge.

    Args:
        params: the parameters.
        updates: updates of the same structure (what an optimizer's ``update``
            returned).
        state: optional non-trainable values to write over the new parameters
            (e.g. batch-norm statistics computed in the forward pass): nested
            mappings are merged key by key, anything else replaces the value at
            its place. Defaults to ``None`` (no merge).

    Returns:
        The new parameters.

    Example:
        >>> import jax.numpy as jnp
        >>> from axon.optim.updates import apply_updates
        >>> params = {"w": jnp.array([1.0]), "bn": {"mean": jnp.array([0.0])}}
        >>> updates = {"w": jnp.array([-0.5]), "bn": {"mean": jnp.array([0.0])}}
        >>> new = apply_updates(params, updates, state={"bn": {"mean": jnp.array([0.3])}})
        >>> new["w"], new["bn"]["mean"]
        (Array([0.5], dtype=float32), Array([0.3], dtype=float32))
    """
    new_params = optax.apply_updates(params, updates)
    return new_params if state is None else _merge_state(new_params, state)
