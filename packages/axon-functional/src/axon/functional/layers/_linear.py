"""Linear layers: dense, bilinear and embedding.

>>> import jax.numpy as jnp
>>> dense(jnp.ones((2, 3)), jnp.ones((3, 4)), jnp.zeros(4)).shape
(2, 4)
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

Array = jax.Array

__all__ = ["bilinear", "dense", "embedding"]


def dense(x: Array, kernel: Array, bias: Array | None = None) -> Array:
    """``x @ kernel + bias`` over the last axis of ``x``; ``kernel`` is ``(in, out)``.

    >>> dense(jnp.ones((1, 2)), jnp.full((2, 3), 0.5)).tolist()
    [[1.0, 1.0, 1.0]]
    """
    if x.shape[-1] != kernel.shape[0]:
        raise ValueError(
            f"dense expects inputs whose last axis matches the kernel's first axis: input "
            f"shape {x.shape}, kernel shape {kernel.shape} ({x.shape[-1]} != {kernel.shape[0]})."
        )
    y = jnp.matmul(x, kernel)
    return y if bias is None else y + bias


def bilinear(x1: Array, x2: Array, kernel: Array, bias: Array | None = None) -> Array:
    """``y[..., o] = sum_ij x1[..., i] * kernel[o, i, j] * x2[..., j] + bias[o]``.

    Args:
        x1: ``(*batch, in1)``.
        x2: ``(*batch, in2)``, with the same leading axes as ``x1``.
        kernel: ``(out, in1, in2)`` (Axon's and ``torch.nn.functional.bilinear``'s layout).
        bias: ``(out,)``, a scalar, or ``None``.

    Returns:
        ``(*batch, out)``.

    >>> bilinear(jnp.ones((1, 2)), jnp.ones((1, 3)), jnp.ones((4, 2, 3)), jnp.ones(4)).tolist()
    [[7.0, 7.0, 7.0, 7.0]]
    """
    x1, x2, kernel = jnp.asarray(x1), jnp.asarray(x2), jnp.asarray(kernel)
    if x1.ndim < 1 or x1.shape[:-1] != x2.shape[:-1]:
        raise ValueError(
            f"bilinear: arguments 'x1' and 'x2' must share every axis but the last; received "
            f"shapes {x1.shape} and {x2.shape}."
        )
    if kernel.ndim != 3 or kernel.shape[1:] != (x1.shape[-1], x2.shape[-1]):
        raise ValueError(
            f"bilinear: argument 'kernel' must have shape (out, {x1.shape[-1]}, {x2.shape[-1]}) "
            f"(out, x1 features, x2 features); received shape {kernel.shape}."
        )
    y = jnp.einsum("...i,oij,...j->...o", x1, kernel, x2)
    return y if bias is None else y + bias


def embedding(x: Array, kernel: Array) -> Array:
    """Rows of ``kernel`` ``(vocab, features)`` for integer ids ``x``: ``(*x.shape, features)``.

    Ids outside ``[0, vocab)`` are clamped (JAX's gather semantics); validate ids upstream if
    that matters.

    >>> embedding(jnp.array([[2, 0]]), jnp.arange(6.0).reshape(3, 2)).tolist()
    [[[4.0, 5.0], [0.0, 1.0]]]
    """
    x, kernel = jnp.asarray(x), jnp.asarray(kernel)
    if not jnp.issubdtype(x.dtype, jnp.integer):
        raise TypeError(
            f"embedding: argument 'x' must hold integer ids; received dtype {x.dtype}. Cast "
            f"with x.astype(jnp.int32)."
        )
    if kernel.ndim != 2:
        raise ValueError(
            f"embedding: argument 'kernel' must have shape (vocab, features); received shape "
            f"{kernel.shape}."
        )
    return jnp.take(kernel, x, axis=0, mode="clip")
