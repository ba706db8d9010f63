"""Optimizers (``Polaris.Optimizers``): Polaris names and defaults, built on optax.

Every optimizer is a plain :class:`optax.GradientTransformation` assembled from
optax transforms and wrapped in :func:`axon.optim.inject_hyperparams`, so its
float hyperparameters live in the optimizer state and can be read or changed
between steps (``state.hyperparams["learning_rate"]``, or the helpers of
:mod:`axon.optim.hyperparams`), as Axon's loop does for learning-rate reduction.
Each also has a ``learning_rate_scale`` hyperparameter (``1.0``) multiplying the
learning rate, which stays adjustable when the learning rate is a schedule.
``learning_rate`` (and any other float option) may also be a schedule, a callable
``count -> value``; see :mod:`axon.optim.schedules`.

Options keep Polaris's names and its defaults as written in its code (which in
a few places differ from its docs and from optax); each docstring says where.

>>> import jax, jax.numpy as jnp, optax
>>> from axon.optim import optimizers
>>> optimizer = optimizers.adam(learning_rate=0.1)
>>> params = {"w": jnp.array([1.0, -2.0])}
>>> state = optimizer.init(params)
>>> loss = lambda p: jnp.sum(p["w"] ** 2)
>>> for _ in range(100):
...     updates, state = optimizer.update(jax.grad(loss)(params), state, params)
...     params = optax.apply_updates(params, updates)
>>> bool(loss(params) < 1e-2)
True
>>> optimizers.get("sgd", momentum=0.9).init(params).hyperparams["learning_rate"]
Array(0.01, dtype=float32)
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import optax

from . import _validation as check
from . import plugins
from .hyperparams import inject_hyperparams

__all__ = [
    "adabelief",
    "adagrad",
    "adam",
    "adamw",
    "fromage",
    "lamb",
    "noisy_sgd",
    "radam",
    "rmsprop",
    "sgd",
    "yogi",
    "get",
    "names",
]

#: A float, or a schedule ``count -> value`` evaluated at every step.
ScalarOrSchedule = float | Callable[[Any], Any]


def _optimizer(
    compose: Callable[..., optax.GradientTransformation],
    *hyperparams: Any,
    static_args: tuple[str, ...] = (),
) -> optax.GradientTransformation:
    """The optimizer ``compose(learning_rate, *options)``, Polaris-style.

    ``hyperparams`` are the arguments of ``compose`` in order, the learning rate
    first. :func:`inject_hyperparams` keeps the numeric ones in the state, adds
    ``learning_rate_scale`` and evaluates those given as schedules at every step;
    ``compose`` is called again with their current values at each update.
    """
    return inject_hyperparams(compose, static_args=static_args)(*hyperparams)


def _check_momentum(name: str, momentum: Any, nesterov: bool) -> None:
    """``momentum`` is ``None`` (no momentum) or a decay in [0, 1); Nesterov needs one."""
    if momentum is not None:
        check.decay_rate(name, "momentum", momentum)
    if nesterov and momentum is None:
        raise ValueError(
            f"{name}: nesterov=True needs momentum (received momentum=None); "
            f"pass momentum=0.9 for example, or drop nesterov."
        )


def _momentum(momentum: Any, nesterov: bool) -> optax.GradientTransformation:
    """The momentum trace of SGD and RMSProp, or nothing when ``momentum`` is ``None``."""
    return optax.identity() if momentum is None else optax.trace(decay=momentum, nesterov=nesterov)


def adabelief(
    learning_rate: ScalarOrSchedule = 1e-3,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 0.0,
    eps_root: float = 1e-16,
) -> optax.GradientTransformation:
    """AdaBelief: Adam with the second moment of ``g - mu`` instead of ``g``.

    Args:
        learning_rate: step size or schedule. Defaults to ``1e-3``.
        b1: first-moment decay. Defaults to ``0.9``.
        b2: second-moment decay. Defaults to ``0.999``.
        eps: added to the denominator outside the square root. Defaults to ``0.0``.
        eps_root: added to the second moment. Defaults to ``1e-16``.

    Differs from optax: ``eps`` defaults to ``0.0`` (optax ``1e-16``). Differs from
    Polaris: Polaris's ``scale_by_belief`` tracks ``g**2`` (so it behaves like Adam);
    this uses the paper's ``(g - mu)**2`` through :func:`optax.scale_by_belief`.

    Example:
        >>> import jax.numpy as jnp
        >>> from axon.optim import adabelief
        >>> optimizer = adabelief(learning_rate=0.1)
        >>> params = jnp.array([1.0, -2.0])
        >>> updates, state = optimizer.update(2 * params, optimizer.init(params), params)
        >>> [round(float(u), 4) for u in updates]
        [-0.1111, 0.1111]

    References: Zhuang et al., https://arxiv.org/abs/2010.07468
    """
    check.learning_rate("adabelief", learning_rate)
    check.adam_moments("adabelief", b1, b2, eps, eps_root)
    return _optimizer(_adabelief, learning_rate, b1, b2, eps, eps_root)


def _adabelief(learning_rate, b1, b2, eps, eps_root):
    return optax.chain(
        optax.scale_by_belief(b1=b1, b2=b2, eps=eps, eps_root=eps_root),
        optax.scale_by_learning_rate(learning_rate),
    )


def adagrad(
    learning_rate: ScalarOrSchedule = 1e-3,
    initial_accumulator_value: float = 0.1,
    eps: float = 1e-7,
) -> optax.GradientTransformation:
    """Adagrad: scale by the root of the sum of all squared gradients so far.

    Args:
        learning_rate: step size or schedule. Defaults to ``1e-3``.
        initial_accumulator_value: starting sum of squares. Defaults to ``0.1``.
        eps: added inside the square root. Defaults to ``1e-7``.

    Same defaults as :func:`optax.adagrad` apart from the learning rate, which
    optax requires.

    Example:
        >>> import jax.numpy as jnp
        >>> from axon.optim import adagrad
        >>> optimizer = adagrad(learning_rate=0.1)
        >>> params = jnp.array([1.0, -2.0])
        >>> updates, state = optimizer.update(2 * params, optimizer.init(params), params)
        >>> [round(float(u), 4) for u in updates]
        [-0.0988, 0.0997]

    References: Duchi et al., https://www.jmlr.org/papers/volume12/duchi11a/duchi11a.pdf
    """
    check.learning_rate("adagrad", learning_rate)
    check.non_negative("adagrad", "initial_accumulator_value", initial_accumulator_value)
    check.non_negative("adagrad", "eps", eps)
    return _optimizer(_adagrad, learning_rate, initial_accumulator_value, eps)


def _adagrad(learning_rate, initial_accumulator_value, eps):
    return optax.chain(
        optax.scale_by_rss(initial_accumulator_value=initial_accumulator_value, eps=eps),
        optax.scale_by_learning_rate(learning_rate),
    )


def adam(
    learning_rate: ScalarOrSchedule = 1e-3,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    eps_root: float = 1e-15,
) -> optax.GradientTransformation:
    """Adam: bias-corrected moving averages of the gradient and its square.

    Args:
        learning_rate: step size or schedule. Defaults to ``1e-3``.
        b1: first-moment decay. Defaults to ``0.9``.
        b2: second-moment decay. Defaults to ``0.999``.
        eps: added to the denominator outside the square root. Defaults to ``1e-8``.
        eps_root: added inside the square root. Defaults to ``1e-15``.

    Differs from optax: ``eps_root`` defaults to ``1e-15`` (optax ``0.0``), as in Polaris.

    Example:
        >>> import jax.numpy as jnp
        >>> from axon.optim import adam
        >>> optimizer = adam(learning_rate=0.5)
        >>> params = jnp.array([1.0, -2.0])
        >>> state = optimizer.init(params)
        >>> updates, state = optimizer.update(2 * params, state, params)
        >>> updates  # the first Adam step is -learning_rate * sign(gradient)
        Array([-0.5,  0.5], dtype=float32)
        >>> state.hyperparams["learning_rate"] = 0.25  # e.g. reduce on plateau
        >>> updates, state = optimizer.update(2 * params, state, params)
        >>> updates.round(4)
        Array([-0.25,  0.25], dtype=float32)

    References: Kingma and Ba, https://arxiv.org/abs/1412.6980
    """
    check.learning_rate("adam", learning_rate)
    check.adam_moments("adam", b1, b2, eps, eps_root)
    return _optimizer(_adam, learning_rate, b1, b2, eps, eps_root)


def _adam(learning_rate, b1, b2, eps, eps_root):
    return optax.chain(
        optax.scale_by_adam(b1=b1, b2=b2, eps=eps, eps_root=eps_root),
        optax.scale_by_learning_rate(learning_rate),
    )


def adamw(
    learning_rate: ScalarOrSchedule = 1e-3,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    eps_root: float = 1e-15,
    decay: float = 0.0,
) -> optax.GradientTransformation:
    """Adam with decoupled weight decay (``decay * params`` added before the step size).

    Args:
        learning_rate: step size or schedule. Defaults to ``1e-3``.
        b1: first-moment decay. Defaults to ``0.9``.
        b2: second-moment decay. Defaults to ``0.999``.
        eps: added to the denominator outside the square root. Defaults to ``1e-8``.
        eps_root: added inside the square root. Defaults to ``1e-15`` (Polaris's
            code; its docs say ``0.0``).
        decay: weight-decay rate. Defaults to ``0.0``.

    Differs from optax: the option is ``decay`` (optax ``weight_decay``) and defaults
    to ``0.0`` (optax ``1e-4``); ``eps_root`` defaults to ``1e-15`` (optax ``0.0``).

    Example:
        >>> import jax.numpy as jnp
        >>> from axon.optim import adamw
        >>> optimizer = adamw(learning_rate=0.1, decay=0.01)
        >>> params = jnp.array([1.0, -2.0])
        >>> updates, state = optimizer.update(2 * params, optimizer.init(params), params)
        >>> [round(float(u), 4) for u in updates]
        [-0.101, 0.102]

    References: Loshchilov and Hutter, https://arxiv.org/abs/1711.05101
    """
    check.learning_rate("adamw", learning_rate)
    check.adam_moments("adamw", b1, b2, eps, eps_root)
    check.non_negative("adamw", "decay", decay)
    return _optimizer(_adamw, learning_rate, b1, b2, eps, eps_root, decay)


def _adamw(learning_rate, b1, b2, eps, eps_root, decay):
    return optax.chain(
        optax.scale_by_adam(b1=b1, b2=b2, eps=eps, eps_root=eps_root),
        optax.add_decayed_weights(decay),
        optax.scale_by_learning_rate(learning_rate),
    )


def fromage(
    learning_rate: ScalarOrSchedule = 1e-2,
    min_norm: float = 1e-6,
) -> optax.GradientTransformation:
    """Fromage (Frobenius matched gradient descent), :func:`optax.fromage`.

    Polaris lists Fromage in its README but ships no implementation, so there are
    no Polaris defaults to keep: ``learning_rate`` defaults to ``1e-2``, the value
    the paper recommends (optax requires it), and ``min_norm`` to optax's ``1e-6``.

    Args:
        learning_rate: step size or schedule. Defaults to ``1e-2``.
        min_norm: lower bound of the parameter and update norms in the trust
            ratio. Defaults to ``1e-6``.

    Example:
        >>> import jax.numpy as jnp
        >>> from axon.optim import fromage
        >>> optimizer = fromage()
        >>> params = jnp.array([1.0, -2.0])
        >>> updates, state = optimizer.update(2 * params, optimizer.init(params), params)
        >>> [round(float(u), 4) for u in updates]
        [-0.01, 0.0201]

    References: Bernstein et al., https://arxiv.org/abs/2002.03432
    """
    check.learning_rate("fromage", learning_rate)
    check.non_negative("fromage", "min_norm", min_norm)
    return _optimizer(_fromage, learning_rate, min_norm)


def _fromage(learning_rate, min_norm):
    return optax.fromage(learning_rate, min_norm=min_norm)


def lamb(
    learning_rate: ScalarOrSchedule = 1e-2,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    eps_root: float = 1e-15,
    decay: float = 0.0,
    min_norm: float = 0.0,
) -> optax.GradientTransformation:
    """LAMB: Adam plus weight decay, scaled per parameter by the trust ratio.

    Args:
        learning_rate: step size or schedule. Defaults to ``1e-2``.
        b1: first-moment decay. Defaults to ``0.9``.
        b2: second-moment decay. Defaults to ``0.999``.
        eps: added to the denominator outside the square root. Defaults to ``1e-8``.
        eps_root: added inside the square root. Defaults to ``1e-15`` (Polaris's
            code; its docs say ``0.0``).
        decay: weight-decay rate. Defaults to ``0.0``.
        min_norm: lower bound of the norms in the trust ratio. Defaults to ``0.0``.

    Differs from optax: ``eps`` defaults to ``1e-8`` (optax ``1e-6``), ``eps_root``
    to ``1e-15`` (optax ``0.0``); the weight decay option is ``decay`` (optax
    ``weight_decay``); ``min_norm`` is not an option of :func:`optax.lamb`.

    Example:
        >>> import jax.numpy as jnp
        >>> from axon.optim import lamb
        >>> optimizer = lamb(learning_rate=0.1)
        >>> params = jnp.array([1.0, -2.0])
        >>> updates, state = optimizer.update(2 * params, optimizer.init(params), params)
        >>> [round(float(u), 4) for u in updates]
        [-0.1581, 0.1581]

    References: You et al., https://arxiv.org/abs/1904.00962
    """
    check.learning_rate("lamb", learning_rate)
    check.adam_moments("lamb", b1, b2, eps, eps_root)
    check.non_negative("lamb", "decay", decay)
    check.non_negative("lamb", "min_norm", min_norm)
    return _optimizer(_lamb, learning_rate, b1, b2, eps, eps_root, decay, min_norm)


def _lamb(learning_rate, b1, b2, eps, eps_root, decay, min_norm):
    return optax.chain(
        optax.scale_by_adam(b1=b1, b2=b2, eps=eps, eps_root=eps_root),
        optax.add_decayed_weights(decay),
        optax.scale_by_trust_ratio(min_norm=min_norm),
        optax.scale_by_learning_rate(learning_rate),
    )


def noisy_sgd(
    learning_rate: ScalarOrSchedule = 1e-2,
    eta: float = 0.01,
    gamma: float = 0.55,
    seed: int = 0,
) -> optax.GradientTransformation:
    """SGD on gradients plus annealed Gaussian noise of variance ``eta / (1 + t)**gamma``.

    Args:
        learning_rate: step size or schedule. Defaults to ``1e-2``.
        eta: initial noise variance. Defaults to ``0.01`` (Polaris's code; its docs
            say ``0.1``).
        gamma: annealing exponent of the variance. Defaults to ``0.55``.
        seed: seed of the noise. Defaults to ``0`` (Polaris seeds from the clock,
            which makes runs irreproducible).

    Differs from Polaris: Polaris adds ``variance * noise`` after the step size,
    so its noise is neither a standard deviation nor scaled by the learning
    rate. This follows the paper and :func:`optax.noisy_sgd`: noise with standard
    deviation ``sqrt(eta / (1 + t)**gamma)`` is added to the gradient, then the
    sum is scaled by ``-learning_rate``.

    Example:
        >>> import jax.numpy as jnp
        >>> from axon.optim import noisy_sgd
        >>> optimizer = noisy_sgd(learning_rate=0.1, eta=0.0)
        >>> params = jnp.array([1.0, -2.0])
        >>> updates, state = optimizer.update(2 * params, optimizer.init(params), params)
        >>> [round(float(u), 4) for u in updates]
        [-0.2, 0.4]

    References: Neelakantan et al., https://arxiv.org/abs/1511.06807
    """
    check.learning_rate("noisy_sgd", learning_rate)
    check.non_negative("noisy_sgd", "eta", eta)
    check.non_negative("noisy_sgd", "gamma", gamma)
    seed = check.count("noisy_sgd", "seed", seed, minimum=0)
    return _optimizer(_noisy_sgd, learning_rate, eta, gamma, seed, static_args=("seed",))


def _noisy_sgd(learning_rate, eta, gamma, seed):
    return optax.chain(
        optax.add_noise(eta, gamma, seed),  # positional: `seed` in optax 0.2.3, `key` later
        optax.scale_by_learning_rate(learning_rate),
    )


def radam(
    learning_rate: ScalarOrSchedule = 1e-3,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    eps_root: float = 0.0,
    threshold: float = 5.0,
) -> optax.GradientTransformation:
    """Rectified Adam: plain momentum until the variance estimate is tractable.

    Args:
        learning_rate: step size or schedule. Defaults to ``1e-3``.
        b1: first-moment decay. Defaults to ``0.9``.
        b2: second-moment decay. Defaults to ``0.999``.
        eps: added to the denominator outside the square root. Defaults to ``1e-8``.
        eps_root: added inside the square root. Defaults to ``0.0``.
        threshold: the length of the approximated SMA above which the adaptive
            step is used. Defaults to ``5.0``.

    Same defaults as :func:`optax.radam` apart from the learning rate, which optax
    requires. Differs from Polaris: Polaris computes the maximum SMA length from
    ``b1`` instead of ``b2`` (so it stays on plain momentum for about 2000 steps);
    this uses the paper's ``2 / (1 - b2) - 1`` through :func:`optax.scale_by_radam`.

    Example:
        >>> import jax.numpy as jnp
        >>> from axon.optim import radam
        >>> optimizer = radam(learning_rate=0.1)
        >>> params = jnp.array([1.0, -2.0])
        >>> updates, state = optimizer.update(2 * params, optimizer.init(params), params)
        >>> [round(float(u), 4) for u in updates]
        [-0.2, 0.4]

    References: Liu et al., https://arxiv.org/abs/1908.03265
    """
    check.learning_rate("radam", learning_rate)
    check.adam_moments("radam", b1, b2, eps, eps_root)
    check.finite("radam", "threshold", threshold)
    return _optimizer(_radam, learning_rate, b1, b2, eps, eps_root, threshold)


def _radam(learning_rate, b1, b2, eps, eps_root, threshold):
    return optax.chain(
        optax.scale_by_radam(b1=b1, b2=b2, eps=eps, eps_root=eps_root, threshold=threshold),
        optax.scale_by_learning_rate(learning_rate),
    )


def rmsprop(
    learning_rate: ScalarOrSchedule = 1e-2,
    centered: bool = False,
    momentum: float | None = None,
    nesterov: bool = False,
    initial_scale: float = 0.0,
    decay: float = 0.9,
    eps: float = 1e-8,
) -> optax.GradientTransformation:
    """RMSProp: scale by the root of a moving average of squared gradients.

    Args:
        learning_rate: step size or schedule. Defaults to ``1e-2``.
        centered: divide by the moving standard deviation instead of the moving
            root mean square. Defaults to ``False``.
        momentum: decay of a momentum trace applied after the step size; ``None``
            for none. Defaults to ``None``.
        nesterov: use Nesterov momentum (needs ``momentum``). Defaults to ``False``.
        initial_scale: starting value of the moving average. Defaults to ``0.0``.
        decay: decay of the moving average. Defaults to ``0.9``.
        eps: added inside the square root. Defaults to ``1e-8``.

    Same defaults as :func:`optax.rmsprop` apart from the learning rate, which
    optax requires.

    Example:
        >>> import jax.numpy as jnp
        >>> from axon.optim import rmsprop
        >>> optimizer = rmsprop(learning_rate=0.1)
        >>> params = jnp.array([1.0, -2.0])
        >>> updates, state = optimizer.update(2 * params, optimizer.init(params), params)
        >>> [round(float(u), 4) for u in updates]
        [-0.3162, 0.3162]
    """
    check.learning_rate("rmsprop", learning_rate)
    check.decay_rate("rmsprop", "decay", decay)
    check.non_negative("rmsprop", "initial_scale", initial_scale)
    check.non_negative("rmsprop", "eps", eps)
    _check_momentum("rmsprop", momentum, nesterov)
    return _optimizer(
        _rmsprop, learning_rate, bool(centered), momentum, bool(nesterov), initial_scale, decay, eps
    )


def _rmsprop(learning_rate, centered, momentum, nesterov, initial_scale, decay, eps):
    scale_by = optax.scale_by_stddev if centered else optax.scale_by_rms
    return optax.chain(
        scale_by(decay=decay, eps=eps, initial_scale=initial_scale),
        optax.scale_by_learning_rate(learning_rate),
        _momentum(momentum, nesterov),
    )


def sgd(
    learning_rate: ScalarOrSchedule = 1e-2,
    momentum: float | None = None,
    nesterov: bool = False,
) -> optax.GradientTransformation:
    """Stochastic gradient descent, optionally with (Nesterov) momentum.

    Args:
        learning_rate: step size or schedule. Defaults to ``1e-2``.
        momentum: decay of the momentum trace; ``None`` for plain SGD. Defaults to
            ``None``.
        nesterov: use Nesterov momentum (needs ``momentum``). Defaults to ``False``.

    Same defaults as :func:`optax.sgd` apart from the learning rate, which optax
    requires.

    Example:
        >>> import jax.numpy as jnp
        >>> from axon.optim import sgd
        >>> optimizer = sgd(learning_rate=0.1, momentum=0.9)
        >>> params = jnp.array([1.0, -2.0])
        >>> updates, state = optimizer.update(2 * params, optimizer.init(params), params)
        >>> [round(float(u), 4) for u in updates]
        [-0.2, 0.4]
    """
    check.learning_rate("sgd", learning_rate)
    _check_momentum("sgd", momentum, nesterov)
    return _optimizer(_sgd, learning_rate, momentum, bool(nesterov))


def _sgd(learning_rate, momentum, nesterov):
    return optax.chain(
        _momentum(momentum, nesterov),
        optax.scale_by_learning_rate(learning_rate),
    )


def yogi(
    learning_rate: ScalarOrSchedule = 1e-2,
    initial_accumulator_value: float = 1e-6,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-3,
    eps_root: float = 0.0,
) -> optax.GradientTransformation:
    """Yogi: Adam with an additive, sign-controlled second-moment update.

    Args:
        learning_rate: step size or schedule. Defaults to ``1e-2``.
        initial_accumulator_value: starting value of both moments. Defaults to
            ``1e-6`` (Polaris's code; its docs say ``0.0``).
        b1: first-moment decay. Defaults to ``0.9``.
        b2: second-moment decay. Defaults to ``0.999``.
        eps: added to the denominator outside the square root. Defaults to ``1e-3``
            (Polaris's code; its docs say ``1e-8``).
        eps_root: added inside the square root. Defaults to ``0.0``.

    Same defaults as :func:`optax.yogi` apart from the learning rate, which optax
    requires; ``initial_accumulator_value`` and ``eps_root`` are options of
    :func:`optax.scale_by_yogi` only.

    Example:
        >>> import jax.numpy as jnp
        >>> from axon.optim import yogi
        >>> optimizer = yogi(learning_rate=0.1)
        >>> params = jnp.array([1.0, -2.0])
        >>> updates, state = optimizer.update(2 * params, optimizer.init(params), params)
        >>> [round(float(u), 4) for u in updates]
        [-0.0999, 0.1]

    References: Zaheer et al., https://papers.nips.cc/paper/2018/hash/90365351ccc7437a1309dc64e4db32a3-Abstract.html
    """
    check.learning_rate("yogi", learning_rate)
    check.non_negative("yogi", "initial_accumulator_value", initial_accumulator_value)
    check.adam_moments("yogi", b1, b2, eps, eps_root)
    return _optimizer(_yogi, learning_rate, initial_accumulator_value, b1, b2, eps, eps_root)


def _yogi(learning_rate, initial_accumulator_value, b1, b2, eps, eps_root):
    return optax.chain(
        optax.scale_by_yogi(
            b1=b1,
            b2=b2,
            eps=eps,
            eps_root=eps_root,
            initial_accumulator_value=initial_accumulator_value,
        ),
        optax.scale_by_learning_rate(learning_rate),
    )


def get(name: str, **options: Any) -> optax.GradientTransformation:
    """Build the optimizer registered under ``name`` (built-in or from a plugin).

    >>> get("adamw", learning_rate=3e-4, decay=1e-2).init({}).hyperparams["decay"]
    Array(0.01, dtype=float32)
    """
    registry = plugins.optimizers
    factory = registry.get(name)
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):  # builtins without a signature: let the call decide
        return factory(**options)
    try:
        signature.bind(**options)
    except TypeError as error:
        accepted = ", ".join(signature.parameters) or "no options"
        raise TypeError(
            f"Optimizer {name!r} ({registry.provider(name)}) does not accept these options: "
            f"{error}. It accepts: {accepted}."
        ) from None
    return factory(**options)


def names() -> list[str]:
    """Every registered optimizer name, sorted.

    Example:
        >>> "adam" in names()
        True
    """
    return plugins.optimizers.names()


#: The built-in optimizers, by name (registered by ``axon.optim._builtins``).
BUILTINS: dict[str, Callable[..., optax.GradientTransformation]] = {
    fn.__name__: fn
    for fn in (adabelief, adagrad, adam, adamw, fromage, lamb, noisy_sgd, radam, rmsprop, sgd, yogi)
}
