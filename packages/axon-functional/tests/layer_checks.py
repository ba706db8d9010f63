"""Checks shared by the layer tests (importable because pyproject puts ``tests`` on the path)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest


def assert_error_names(call, error, fragments):
    """``call()`` raises ``error``; its message holds every fragment (function, argument, value)."""
    with pytest.raises(error) as info:
        call()
    for fragment in fragments:
        assert fragment in str(info.value)


def assert_jit_and_vmap_agree(fn, x, *, scale=2, rtol=1e-5, atol=1e-6, vmap=True):
    """``jit(fn)(x)`` equals ``fn(x)``; ``vmap(fn)`` over ``[x, x * scale]`` gives ``fn(x * scale)``
    as its second result (outputs may be pytrees)."""

    def assert_close(actual, expected):
        np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)

    jax.tree.map(assert_close, jax.jit(fn)(x), fn(x))
    if vmap:
        batched = jax.vmap(fn)(jnp.stack([x, x * scale]))
        jax.tree.map(lambda a, b: assert_close(a[1], b), batched, fn(x * scale))
