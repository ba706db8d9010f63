"""Linear layers: dense (and, later, bilinear and embedding).

>>> import jax.numpy as jnp
>>> dense(jnp.ones((2, 3)), jnp.ones((3, 4)), jnp.zeros(4)).shape
(2, 4)
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

Array = jax.Array

__all__ = ["dense"]


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
