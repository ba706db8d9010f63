"""Hooks: functions called with a layer's values while a model runs (``Axon.attach_hook``).

A hook is ``(event, mode, fn)`` on a node. The compiler calls it through
``jax.debug.callback``, so it fires on every call of a jitted function, not only
while tracing, and receives concrete values on the host (NumPy arrays), never
tracers. Hooks observe; they cannot change what the model computes.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import jax
import numpy as np

from .._errors import ModelError

if TYPE_CHECKING:
    from .model import Model
    from .node import Node

EVENTS = ("initialize", "pre_forward", "forward", "backward", "all")
HOOK_MODES = ("both", "train", "inference")


def attach_hook(
    model: Model, fn: Callable[[Any], Any], on: str = "forward", mode: str = "both"
) -> Model:
    """A new model whose output layer calls ``fn`` on ``on`` events (``Axon.attach_hook``).

    Events (``on``):

    - ``"initialize"``: after init, with the layer's dict ``{name: array}`` of
      parameters and state (after any given model state was merged in);
    - ``"pre_forward"``: before the op, with the tuple of the layer's inputs as the
      op receives them (after a mixed-precision compute cast);
    - ``"forward"``: after the op, with its output;
    - ``"backward"``: when differentiating, with the gradient flowing into the
      layer's output (integer outputs give ``None``);
    - ``"all"``: every one of the above.

    ``mode`` (``"both"``, ``"train"`` or ``"inference"``) restricts the forward and
    backward events to one mode of ``apply``; ``"initialize"`` hooks always fire.
    Several hooks on a layer run in the order they were attached.

    Hooks run through ``jax.debug.callback``: they fire on every call, also inside
    ``jax.jit``, ``jax.grad`` and ``lax.scan``, and receive host NumPy arrays. A
    jitted call may return before its hooks have run; call ``jax.effects_barrier()``
    to wait for them. The order of hooks on *different* layers is not guaranteed.
    An exception raised by a hook surfaces as an error naming the layer and event.

    Args:
        model: the model whose output layer gets the hook.
        fn: called as ``fn(value)``; its return value is ignored.
        on: the event, one of ``"initialize"``, ``"pre_forward"``, ``"forward"``,
            ``"backward"``, ``"all"``.
        mode: ``"both"``, ``"train"`` or ``"inference"``.

    Returns:
        The new model (the original one is unchanged).

    >>> import jax, jax.numpy as jnp, axon.model
    >>> seen = []
    >>> model = axon.model.input("x", shape=(None, 2)).dense(3)
    >>> model = attach_hook(model, lambda y: seen.append(y.shape))
    >>> _ = model.apply(model.init(0, jnp.ones((1, 2))), jnp.ones((4, 2)))
    >>> jax.effects_barrier()
    >>> seen
    [(4, 3)]
    """
    from .model import Model  # the compiler imports this module; Model imports the compiler

    if not isinstance(model, Model):
        raise TypeError(f"attach_hook expects a Model, got {type(model).__name__}.")
    if not callable(fn):
        raise TypeError(
            f"attach_hook: the hook must be a function fn(value), got {type(fn).__name__}."
        )
    _check_option("on", on, EVENTS, model.node)
    _check_option("mode", mode, HOOK_MODES, model.node)
    node = model.node
    return Model(node.rebuilt(hooks=(*node.hooks, (on, mode, fn))))


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


def _check_option(option: str, value: Any, allowed: Sequence[str], node: Node) -> None:
    if value in allowed:
        return
    close = difflib.get_close_matches(str(value), list(allowed), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(
        f"attach_hook({option}={value!r}) on the {node.op_name} layer defined at "
        f"{node.defined_at}: {option} must be one of {list(allowed)}.{hint}"
    )
