"""Hooks at run time: the compiler calls a node's hooks with the values of each layer call.

Hooks run through ``jax.debug.callback``, so they fire on every call of a jitted
function, not only while tracing, and receive concrete values on the host (NumPy
arrays), never tracers. They observe; they cannot change what the model computes.
Attaching hooks is the graph's business (``_graph.hooks``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import jax
import numpy as np

from .._errors import ModelError

if TYPE_CHECKING:
    from .._graph.node import Node

# -- used by the compiler -----------------------------------------------------------------


def hooks_for(node: Node, event: str, mode: str | None) -> tuple[Callable[[Any], Any], ...]:
    """The node's hooks for ``event`` in ``mode`` (``None``: any mode), in attach order."""
    return tuple(
        fn
        for on, hook_mode, fn in node.hooks
        if on in (event, "all") and (mode is None or hook_mode in ("both", mode))
    )


def run_hooks(fns: Sequence[Callable[[Any], Any]], value: Any, event: str, where: str) -> None:
    """Call every hook with ``value`` on the host, in order, on every run."""
    if not fns:
        return
    call = functools.partial(_call_all, tuple(fns), event, where)
    if any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves(value)):
        jax.debug.callback(call, value)
    else:  # concrete values (e.g. an eager init): call now, synchronously
        call(value)


def with_backward_hooks(fns: Sequence[Callable[[Any], Any]], value: Any, where: str) -> Any:
    """``value`` unchanged, but its cotangent is shown to ``fns`` when differentiating."""
    if not fns:
        return value

    @jax.custom_vjp
    def identity(v: Any) -> Any:
        return v

    def forward(v: Any) -> tuple[Any, None]:
        return v, None

    def backward(_: None, cotangent: Any) -> tuple[Any]:
        shown = jax.tree_util.tree_map(
            lambda g: None if g.dtype == jax.dtypes.float0 else g, cotangent
        )
        jax.debug.callback(functools.partial(_call_all, tuple(fns), "backward", where), shown)
        return (cotangent,)

    identity.defvjp(forward, backward)
    return identity(value)


def _call_all(fns: tuple[Callable[[Any], Any], ...], event: str, where: str, value: Any) -> None:
    host = jax.tree_util.tree_map(np.asarray, value)
    for fn in fns:
        try:
            fn(host)
        except Exception as error:
            name = getattr(fn, "__qualname__", type(fn).__name__)
            raise ModelError(
                f"The {event!r} hook {name} of {where} raised {type(error).__name__}: {error}. "
                f"Hooks are called as fn(value) with host NumPy arrays."
            ) from error
