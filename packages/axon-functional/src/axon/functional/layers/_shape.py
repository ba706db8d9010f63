"""Shape layers: flatten (and, later, reshape, transpose, pad, resize)."""

from __future__ import annotations

import jax

Array = jax.Array

__all__ = ["flatten"]


def flatten(x: Array) -> Array:
    """Flatten every axis but the first (batch) one.

    >>> import jax.numpy as jnp
    >>> flatten(jnp.ones((2, 3, 4))).shape
    (2, 12)
    """
    return x.reshape(x.shape[0], -1)
