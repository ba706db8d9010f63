"""Activation functions (``Axon.Activations``): element-wise or along an axis.

Every function is pure and ``jax.jit``-able. Options follow Axon's names and
defaults; where Axon differs from ``jax.nn`` the docstring says so.

>>> import jax.numpy as jnp
>>> from axon.functional import activations
>>> activations.relu(jnp.array([-1.0, 2.0]))
Array([0., 2.], dtype=float32)
>>> activations.get("leaky_relu")(jnp.array([-1.0]), alpha=0.1)
Array([-0.1], dtype=float32)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .plugins import activations as _registered

Array = jax.Array

__all__ = [
    "celu",
    "elu",
    "exp",
    "gelu",
    "get",
    "hard_sigmoid",
    "hard_silu",
    "hard_tanh",
    "leaky_relu",
    "linear",
    "log_sigmoid",
    "log_softmax",
    "log_sumexp",
    "mish",
    "names",
    "relu",
    "relu6",
    "selu",
    "sigmoid",
    "silu",
    "softmax",
    "softplus",
    "softsign",
    "swiglu",
    "tanh",
]


def celu(x: Array, alpha: float = 1.0) -> Array:
    """Continuously-differentiable ELU: ``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``.

    ``alpha`` must be non-zero: the formula divides by it (Axon raises too; ``jax.nn``
    would return NaN).

    >>> celu(jnp.array([-1.0, 0.0, 2.0]))
    Array([-0.63212055,  0.        ,  2.        ], dtype=float32)
    """
    # A traced alpha cannot be checked here; a concrete one always is.
    if not isinstance(alpha, jax.core.Tracer) and np.any(np.asarray(alpha) == 0):
        raise ValueError(f"celu: alpha must be non-zero (it divides x), got {alpha!r}.")
    return jax.nn.celu(x, alpha)


def elu(x: Array, alpha: float = 1.0) -> Array:
    """Exponential linear unit: ``x`` if ``x > 0`` else ``alpha * (exp(x) - 1)``.

    >>> elu(jnp.array([-1.0, 0.0, 2.0]))
    Array([-0.63212055,  0.        ,  2.        ], dtype=float32)
    """
    return jax.nn.elu(x, alpha)


def exp(x: Array) -> Array:
    """Element-wise exponential.

    >>> exp(jnp.array([-1.0, 0.0, 2.0]))
    Array([0.36787945, 1.        , 7.389056  ], dtype=float32)
    """
    return jnp.exp(x)


def gelu(x: Array, approximate: bool = False) -> Array:
    """Gaussian error linear unit.

    Axon's default is the exact erf form (``approximate=False``); ``jax.nn.gelu``
    defaults to the tanh approximation, available here with ``approximate=True``.

    >>> gelu(jnp.array([-1.0, 0.0, 2.0]))
    Array([-0.15865527,  0.        ,  1.9544997 ], dtype=float32)
    """
    return jax.nn.gelu(x, approximate=approximate)


def hard_sigmoid(x: Array, alpha: float = 0.2, beta: float = 0.2) -> Array:
    """Piecewise-linear sigmoid ``clip(alpha * x + beta, 0, 1)``.

    Axon's definition and defaults; ``jax.nn.hard_sigmoid`` is ``relu6(x + 3) / 6``,
    which is ``alpha=1/6, beta=0.5``.

    >>> hard_sigmoid(jnp.array([-1.0, 0.0, 2.0]))
    Array([0. , 0.2, 0.6], dtype=float32)
    """
    return jnp.clip(alpha * x + beta, 0.0, 1.0)


def hard_silu(x: Array, alpha: float = 0.2, beta: float = 0.2) -> Array:
    """``x * hard_sigmoid(x, alpha, beta)`` (Axon's hard swish).

    >>> hard_silu(jnp.array([-1.0, 0.0, 2.0]))
    Array([-0. ,  0. ,  1.2], dtype=float32)
    """
    return x * hard_sigmoid(x, alpha, beta)


def hard_tanh(x: Array) -> Array:
    """``clip(x, -1, 1)``.

    >>> hard_tanh(jnp.array([-1.0, 0.0, 2.0]))
    Array([-1.,  0.,  1.], dtype=float32)
    """
    return jnp.clip(x, -1.0, 1.0)


def leaky_relu(x: Array, alpha: float = 0.01) -> Array:
    """``x`` if ``x > 0`` else ``alpha * x``.

    >>> leaky_relu(jnp.array([-1.0, 0.0, 2.0]))
    Array([-0.01,  0.  ,  2.  ], dtype=float32)
    """
    return jax.nn.leaky_relu(x, alpha)


def linear(x: Array) -> Array:
    """The identity.

    >>> linear(jnp.array([-1.0, 0.0, 2.0]))
    Array([-1.,  0.,  2.], dtype=float32)
    """
    return x


def log_sumexp(x: Array, axis: int = -1) -> Array:
    """Numerically stable ``log(sum(exp(x), axis))``, keeping the reduced axis (as Axon).

    >>> log_sumexp(jnp.array([-1.0, 0.0, 2.0]))
    Array([2.169846], dtype=float32)
    """
    return jax.nn.logsumexp(x, axis=axis, keepdims=True)


def log_sigmoid(x: Array) -> Array:
    """``log(sigmoid(x))``, stable for large ``|x|``.

    >>> log_sigmoid(jnp.array([-1.0, 0.0, 2.0]))
    Array([-1.3132617, -0.6931472, -0.126928 ], dtype=float32)
    """
    return jax.nn.log_sigmoid(x)


def log_softmax(x: Array, axis: int = -1) -> Array:
    """``log(softmax(x, axis))``, stable.

    >>> log_softmax(jnp.array([-1.0, 0.0, 2.0]))
    Array([-3.169846  , -2.169846  , -0.16984604], dtype=float32)
    """
    return jax.nn.log_softmax(x, axis=axis)


def mish(x: Array) -> Array:
    """``x * tanh(softplus(x))``.

    >>> mish(jnp.array([-1.0, 0.0, 2.0]))
    Array([-0.30340144,  0.        ,  1.943959  ], dtype=float32)
    """
    return x * jnp.tanh(jax.nn.softplus(x))


def relu(x: Array) -> Array:
    """``max(x, 0)``.

    >>> relu(jnp.array([-1.0, 0.0, 2.0]))
    Array([0., 0., 2.], dtype=float32)
    """
    return jax.nn.relu(x)


def relu6(x: Array) -> Array:
    """``min(max(x, 0), 6)``.

    >>> relu6(jnp.array([-1.0, 0.0, 2.0]))
    Array([0., 0., 2.], dtype=float32)
    """
    return jax.nn.relu6(x)


def selu(x: Array, alpha: float = 1.6732632423543772, gamma: float = 1.0507009873554805) -> Array:
    """Scaled ELU: ``gamma * elu(x, alpha)``; the defaults make it self-normalizing.

    >>> selu(jnp.array([-1.0, 0.0, 2.0]))
    Array([-1.1113307,  0.       ,  2.101402 ], dtype=float32)
    """
    return gamma * jax.nn.elu(x, alpha)


def sigmoid(x: Array) -> Array:
    """Logistic sigmoid ``1 / (1 + exp(-x))``.

    >>> sigmoid(jnp.array([-1.0, 0.0, 2.0]))
    Array([0.26894143, 0.5       , 0.880797  ], dtype=float32)
    """
    return jax.nn.sigmoid(x)


def silu(x: Array) -> Array:
    """``x * sigmoid(x)`` (swish).

    >>> silu(jnp.array([-1.0, 0.0, 2.0]))
    Array([-0.26894143,  0.        ,  1.761594  ], dtype=float32)
    """
    return jax.nn.silu(x)


def softmax(x: Array, axis: int = -1) -> Array:
    """Softmax along ``axis`` (the last axis by default, as in Axon's code and ``jax.nn``).

    >>> softmax(jnp.array([-1.0, 0.0, 2.0]))
    Array([0.04201007, 0.11419519, 0.8437947 ], dtype=float32)
    """
    return jax.nn.softmax(x, axis=axis)


def softplus(x: Array) -> Array:
    """``log(1 + exp(x))``, stable.

    >>> softplus(jnp.array([-1.0, 0.0, 2.0]))
    Array([0.3132617, 0.6931472, 2.126928 ], dtype=float32)
    """
    return jax.nn.softplus(x)


def softsign(x: Array) -> Array:
    """``x / (1 + |x|)``.

    >>> softsign(jnp.array([-1.0, 0.0, 2.0]))
    Array([-0.5      ,  0.       ,  0.6666667], dtype=float32)
    """
    return jax.nn.soft_sign(x)


def swiglu(x: Array, axis: int = -1) -> Array:
    """Swish-gated linear unit: ``silu(a) * b`` for the halves ``a, b`` of ``x`` along ``axis``.

    The **first** half goes through ``silu`` (the gate), the second is the value,
    as in Axon (post-0.8.1, PR #642) and LLaMA's fused ``[gate, up]`` projection;
    the output is half as wide along ``axis``. (``jax.nn.glu`` gates the other way:
    ``a * sigmoid(b)``.) Registered by name like the others, so also usable as a
    layer activation when the preceding layer doubles its width.

    >>> import jax.numpy as jnp
    >>> swiglu(jnp.array([[-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0]])).round(4)
    Array([[-0.1423, -0.4768, -0.8068,  0.    ]], dtype=float32)
    """
    x = jnp.asarray(x)
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"swiglu: axis {axis} is out of range for input of shape {x.shape}.")
    if x.shape[axis] % 2:
        raise ValueError(
            f"swiglu: axis {axis} of the input must have an even size (it is split into "
            f"gate and value halves), got shape {x.shape}."
        )
    gate, value = jnp.split(x, 2, axis=axis)
    return jax.nn.silu(gate) * value


def tanh(x: Array) -> Array:
    """Hyperbolic tangent.

    >>> tanh(jnp.array([-1.0, 0.0, 2.0]))
    Array([-0.7615942,  0.       ,  0.9640276], dtype=float32)
    """
    return jnp.tanh(x)


def get(name: str) -> Callable[..., Any]:
    """The activation registered under ``name`` (built-in or from a plugin).

    >>> get("relu") is relu
    True
    """
    return _registered.get(name)


def names() -> list[str]:
    """Every registered activation name, sorted.

    >>> names()[:3]
    ['celu', 'elu', 'exp']
    """
    return _registered.names()


#: The built-in activations, by name (registered by ``axon.functional._builtins``).
BUILTINS: dict[str, Callable[..., Any]] = {
    fn.__name__: fn
    for fn in (
        celu, elu, exp, gelu, hard_sigmoid, hard_silu, hard_tanh, leaky_relu, linear,
        log_sumexp, log_sigmoid, log_softmax, mish, relu, relu6, selu, sigmoid, silu,
        softmax, softplus, softsign, swiglu, tanh,
    )
}  # fmt: skip
