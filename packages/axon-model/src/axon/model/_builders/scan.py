"""The scan of a custom recurrent cell over a sequence, shared by ``rnn``'s two kinds of
cell (a function, or a block of layers)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from axon.functional import layers as F

from .structured import plain, structured


def scan_cell(
    cell_fn: Callable[[jax.Array, Any, dict[str, Any]], tuple[Any, Any]],
    x: jax.Array,
    carry: Any,
    mask: Any,
    params: dict[str, Any],
    *,
    unroll: str,
    reverse: bool,
) -> Any:
    """``cell_fn(x_t, carry, params) -> (y_t, new_carry)`` over axis 1 of ``x``; the
    structured value ``(sequence, final carry)``. At padding steps of ``mask`` the carry is
    kept and ``y_t`` is zero."""
    carry = jax.tree_util.tree_map(jnp.asarray, plain(carry))

    def cell(x_t: jax.Array, carry: Any, mask_t: Any, params: dict[str, Any]) -> Any:
        y_t, new_carry = cell_fn(x_t, carry, params)
        if mask_t is not None:  # outputs at padding steps are zeros; the unroll keeps the carry
            y_t = jax.tree_util.tree_map(
                lambda y: jnp.where(mask_t.reshape((-1,) + (1,) * (y.ndim - 1)), 0, y), y_t
            )
        return y_t, new_carry

    unroll_fn = F.dynamic_unroll if unroll == "dynamic" else F.static_unroll
    seq, final = unroll_fn(cell, x, carry, mask, params, reverse=reverse)
    return structured((seq, final))
