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
    "tanh",
]


def celu(x: Array, alpha: float = 1.0) -> Array:
    """Continuously-differentiable ELU: ``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``."""
    return jax.nn.celu(x, alpha)


def elu(x: Array, alpha: float = 1.0) -> Array:
    """Exponential linear unit: ``x`` if ``x > 0`` else ``alpha * (exp(x) - 1)``."""
    return jax.nn.elu(x, alpha)


def exp(x: Array) -> Array:
    """Element-wise exponential."""
    return jnp.exp(x)


def gelu(x: Array, approximate: bool = False) -> Array:
    """Gaussian error linear unit.

    Axon's default is the exact erf form (``approximate=False``); ``jax.nn.gelu``
    defaults to the tanh approximation, available here with ``approximate=True``.
    """
    return jax.nn.gelu(x, approximate=approximate)


def hard_sigmoid(x: Array, alpha: float = 0.2, beta: float = 0.2) -> Array:
    """Piecewise-linear sigmoid ``clip(alpha * x + beta, 0, 1)``.

    Axon's definition and defaults; ``jax.nn.hard_sigmoid`` is ``relu6(x + 3) / 6``,
    which is ``alpha=1/6, beta=0.5``.
    """
    return jnp.clip(alpha * x + beta, 0.0, 1.0)


def hard_silu(x: Array, alpha: float = 0.2, beta: float = 0.2) -> Array:
    """``x * hard_sigmoid(x, alpha, beta)`` (Axon's hard swish)."""
    return x * hard_sigmoid(x, alpha, beta)


def hard_tanh(x: Array) -> Array:
    """``clip(x, -1, 1)``."""
    return jnp.clip(x, -1.0, 1.0)


def leaky_relu(x: Array, alpha: float = 0.01) -> Array:
    """``x`` if ``x > 0`` else ``alpha * x``."""
    return jax.nn.leaky_relu(x, alpha)


def linear(x: Array) -> Array:
    """The identity."""
    return x


def log_sumexp(x: Array, axis: int = -1) -> Array:
    """Numerically stable ``log(sum(exp(x), axis))``, keeping the reduced axis (as Axon)."""
    return jax.nn.logsumexp(x, axis=axis, keepdims=True)


def log_sigmoid(x: Array) -> Array:
    """``log(sigmoid(x))``, stable for large ``|x|``."""
    return jax.nn.log_sigmoid(x)


def log_softmax(x: Array, axis: int = -1) -> Array:
    """``log(softmax(x, axis))``, stable."""
    return jax.nn.log_softmax(x, axis=axis)


def mish(x: Array) -> Array:
    """``x * tanh(softplus(x))``."""
    return x * jnp.tanh(jax.nn.softplus(x))


def relu(x: Array) -> Array:
    """``max(x, 0)``."""
    return jax.nn.relu(x)


def relu6(x: Array) -> Array:
    """``min(max(x, 0), 6)``."""
    return jax.nn.relu6(x)


def selu(x: Array, alpha: float = 1.6732632423543772, gamma: float = 1.0507009873554805) -> Array:
    """Scaled ELU: ``gamma * elu(x, alpha)``; the defaults make it self-normalizing."""
    return gamma * jax.nn.elu(x, alpha)


def sigmoid(x: Array) -> Array:
    """Logistic sigmoid ``1 / (1 + exp(-x))``."""
    return jax.nn.sigmoid(x)


def silu(x: Array) -> Array:
    """``x * sigmoid(x)`` (swish)."""
    return jax.nn.silu(x)


def softmax(x: Array, axis: int = -1) -> Array:
    """Softmax along ``axis`` (the last axis by default, as in Axon's code and ``jax.nn``)."""
    return jax.nn.softmax(x, axis=axis)


def softplus(x: Array) -> Array:
    """``log(1 + exp(x))``, stable."""
    return jax.nn.softplus(x)


def softsign(x: Array) -> Array:
    """``x / (1 + |x|)``."""
    return jax.nn.soft_sign(x)


def tanh(x: Array) -> Array:
    """Hyperbolic tangent."""
    return jnp.tanh(x)


def get(name: str) -> Callable[..., Any]:
    """The activation registered under ``name`` (built-in or from a plugin).

    >>> get("relu") is relu
    True
    """
    from .plugins import activations as registry

    return registry.get(name)


def names() -> list[str]:
    """Every registered activation name, sorted."""
    from .plugins import activations as registry

    return registry.names()


#: The built-in activations, by name (registered by ``axon.functional._builtins``).
BUILTINS: dict[str, Callable[..., Any]] = {
    fn.__name__: fn
    for fn in (
        celu, elu, exp, gelu, hard_sigmoid, hard_silu, hard_tanh, leaky_relu, linear,
        log_sumexp, log_sigmoid, log_softmax, mish, relu, relu6, selu, sigmoid, silu,
        softmax, softplus, softsign, tanh,
    )
}  # fmt: skip
