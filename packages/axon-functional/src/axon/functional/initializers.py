"""Parameter initializers (``Axon.Initializers``).

Each public function is a *factory*: it takes options and returns an initializer
``init(key, shape, dtype=jnp.float32) -> Array`` with the same signature as
``jax.nn.initializers``, so the two are interchangeable. Fans are computed as in
JAX (kernels are ``(..., in, out)``, receptive field = leading dims), so for
``jax.random.key(0)`` the variance-scaling family reproduces ``jax.nn.initializers``.

>>> import jax
>>> init = glorot_uniform()
>>> init(jax.random.key(0), (64, 10)).shape
(64, 10)
>>> resolve("zeros")(jax.random.key(0), (2,))
Array([0., 0.], dtype=float32)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import jax
import jax.numpy as jnp

from .plugins import initializers as _registered

Array = jax.Array
Initializer = Callable[..., Array]

__all__ = [
    "Initializer",
    "full",
    "get",
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "identity",
    "lecun_normal",
    "lecun_uniform",
    "names",
    "normal",
    "ones",
    "orthogonal",
    "resolve",
    "uniform",
    "variance_scaling",
    "zeros",
]


def zeros() -> Initializer:
    """All zeros.

    >>> zeros()(jax.random.key(0), (2, 2))
    Array([[0., 0.],
           [0., 0.]], dtype=float32)
    """

    def init(key: Array, shape: Sequence[int], dtype: Any = jnp.float32) -> Array:
        return jnp.zeros(shape, dtype)

    return init


def ones() -> Initializer:
    """All ones.

    >>> ones()(jax.random.key(0), (2, 2))
    Array([[1., 1.],
           [1., 1.]], dtype=float32)
    """

    def init(key: Array, shape: Sequence[int], dtype: Any = jnp.float32) -> Array:
        return jnp.ones(shape, dtype)

    return init


def full(value: float) -> Initializer:
    """Every element equal to ``value``.

    >>> full(0.5)(jax.random.key(0), (2,))
    Array([0.5, 0.5], dtype=float32)
    """

    def init(key: Array, shape: Sequence[int], dtype: Any = jnp.float32) -> Array:
        return jnp.full(shape, value, dtype)

    return init


def identity() -> Initializer:
    """The identity matrix (2-D shapes only).

    >>> identity()(jax.random.key(0), (2, 2))
    Array([[1., 0.],
           [0., 1.]], dtype=float32)
    """

    def init(key: Array, shape: Sequence[int], dtype: Any = jnp.float32) -> Array:
        if len(shape) != 2:
            raise ValueError(f"identity initializer needs a 2-D shape, got {tuple(shape)}.")
        return jnp.eye(*shape, dtype=dtype)

    return init


def uniform(scale: float = 0.01) -> Initializer:
    """Uniform on ``[-scale, scale)``.

    Axon's definition; ``jax.nn.initializers.uniform(scale)`` samples ``[0, scale)``.

    >>> uniform()(jax.random.key(0), (2, 2))
    Array([[ 0.00895334,  0.0095716 ],
           [-0.00335417, -0.00062663]], dtype=float32)
    """

    def init(key: Array, shape: Sequence[int], dtype: Any = jnp.float32) -> Array:
        return jax.random.uniform(key, shape, dtype, minval=-scale, maxval=scale)

    return init


def normal(scale: float = 0.01, mean: float = 0.0) -> Initializer:
    """Normal with standard deviation ``scale`` and mean ``mean``.

    >>> normal()(jax.random.key(0), (2, 2))
    Array([[ 0.01622642,  0.02025265],
           [-0.00433594, -0.00078617]], dtype=float32)
    """

    def init(key: Array, shape: Sequence[int], dtype: Any = jnp.float32) -> Array:
        return mean + scale * jax.random.normal(key, shape, dtype)

    return init


def variance_scaling(
    scale: float = 1.0,
    mode: Literal["fan_in", "fan_out", "fan_avg"] = "fan_in",
    distribution: Literal["normal", "truncated_normal", "uniform"] = "normal",
) -> Initializer:
    """Variance ``scale / fan`` with ``fan`` chosen by ``mode``; see ``jax.nn.initializers``.

    >>> variance_scaling()(jax.random.key(0), (2, 2))
    Array([[ 1.1473813 ,  1.4320784 ],
           [-0.30659756, -0.05559086]], dtype=float32)
    """
    if mode not in ("fan_in", "fan_out", "fan_avg"):
        raise ValueError(f"mode must be 'fan_in', 'fan_out' or 'fan_avg', got {mode!r}.")
    if distribution not in ("normal", "truncated_normal", "uniform"):
        raise ValueError(
            f"distribution must be 'normal', 'truncated_normal' or 'uniform', got {distribution!r}."
        )
    return jax.nn.initializers.variance_scaling(scale, mode, distribution)


def lecun_uniform(scale: float = 1.0) -> Initializer:
    """Variance scaling, fan-in, uniform.

    >>> lecun_uniform()(jax.random.key(0), (2, 2))
    Array([[ 1.0965558 ,  1.1722765 ],
           [-0.4108003 , -0.07674628]], dtype=float32)
    """
    return variance_scaling(scale, "fan_in", "uniform")


def lecun_normal(scale: float = 1.0) -> Initializer:
    """Variance scaling, fan-in, truncated normal.

    >>> lecun_normal()(jax.random.key(0), (2, 2))
    Array([[ 1.1704054,  1.3784391],
           [-0.3317383, -0.0603173]], dtype=float32)
    """
    return variance_scaling(scale, "fan_in", "truncated_normal")


def glorot_uniform(scale: float = 1.0) -> Initializer:
    """Variance scaling, fan-average, uniform (Xavier uniform).

    >>> glorot_uniform()(jax.random.key(0), (2, 2))
    Array([[ 1.0965558 ,  1.1722765 ],
           [-0.4108003 , -0.07674628]], dtype=float32)
    """
    return variance_scaling(scale, "fan_avg", "uniform")


def glorot_normal(scale: float = 1.0) -> Initializer:
    """Variance scaling, fan-average, truncated normal (Xavier normal).

    >>> glorot_normal()(jax.random.key(0), (2, 2))
    Array([[ 1.1704054,  1.3784391],
           [-0.3317383, -0.0603173]], dtype=float32)
    """
    return variance_scaling(scale, "fan_avg", "truncated_normal")


def he_uniform(scale: float = 2.0) -> Initializer:
    """Variance scaling ``2 / fan_in``, uniform (Kaiming uniform).

    >>> he_uniform()(jax.random.key(0), (2, 2))
    Array([[ 1.550764  ,  1.6578493 ],
           [-0.5809593 , -0.10853563]], dtype=float32)
    """
    return variance_scaling(scale, "fan_in", "uniform")


def he_normal(scale: float = 2.0) -> Initializer:
    """Variance scaling ``2 / fan_in``, truncated normal (Kaiming normal).

    >>> he_normal()(jax.random.key(0), (2, 2))
    Array([[ 1.6552032 ,  1.9494075 ],
           [-0.46914884, -0.08530156]], dtype=float32)
    """
    return variance_scaling(scale, "fan_in", "truncated_normal")


def orthogonal(distribution: Literal["normal", "uniform"] = "normal") -> Initializer:
    """A (semi-)orthogonal matrix from the QR decomposition of a random one.

    Shapes of rank > 2 are flattened to ``(prod(shape[:-1]), shape[-1])``. With
    ``distribution="normal"`` this is ``jax.nn.initializers.orthogonal()``.

    >>> orthogonal()(jax.random.key(0), (2, 2))
    Array([[ 0.96610296,  0.25815725],
           [-0.25815725,  0.9661029 ]], dtype=float32)
    """
    if distribution == "normal":
        return jax.nn.initializers.orthogonal()
    if distribution != "uniform":
        raise ValueError(f"distribution must be 'normal' or 'uniform', got {distribution!r}.")

    def init(key: Array, shape: Sequence[int], dtype: Any = jnp.float32) -> Array:
        if len(shape) < 2:
            raise ValueError(f"orthogonal initializer needs rank >= 2, got {tuple(shape)}.")
        rows, cols = int(jnp.prod(jnp.array(shape[:-1]))), shape[-1]
        matrix = jax.random.uniform(key, (max(rows, cols), min(rows, cols)), jnp.float32, -1, 1)
        q, r = jnp.linalg.qr(matrix)
        q = q * jnp.sign(jnp.diag(r))  # make the decomposition unique
        if rows < cols:
            q = q.T
        return q.reshape(shape).astype(dtype)

    return init


def get(name: str) -> Callable[..., Initializer]:
    """The initializer *factory* registered under ``name``.

    >>> get('zeros')()(jax.random.key(0), (2,))
    Array([0., 0.], dtype=float32)
    """
    return _registered.get(name)


def names() -> list[str]:
    """Every registered initializer name, sorted.

    >>> names()[:3]
    ['full', 'glorot_normal', 'glorot_uniform']
    """
    return _registered.names()


def resolve(spec: str | Initializer) -> Initializer:
    """An initializer from a registered name (default options) or an initializer itself.

    >>> resolve("ones")(None, (2,))
    Array([1., 1.], dtype=float32)
    """
    if isinstance(spec, str):
        return get(spec)()
    if callable(spec):
        return spec
    raise TypeError(
        f"An initializer must be a name such as 'glorot_uniform' or a function "
        f"init(key, shape, dtype); got {type(spec).__name__}."
    )


#: The built-in initializer factories, by name.
BUILTINS: dict[str, Callable[..., Initializer]] = {
    fn.__name__: fn
    for fn in (
        zeros, ones, full, identity, uniform, normal, variance_scaling, lecun_uniform,
        lecun_normal, glorot_uniform, glorot_normal, he_uniform, he_normal, orthogonal,
    )
}  # fmt: skip
