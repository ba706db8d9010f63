"""Hooks on the graph (``Axon.attach_hook``): a hook is an ``(event, mode, fn)`` triple on a node.

Attaching one rebuilds the node with the hook added (``Model.attach_hook`` and
``axon.model.attach_hook`` both come here); ``_compiler.hooks`` calls the hooks while the
model runs.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from typing import Any

from .node import Node

EVENTS = ("initialize", "pre_forward", "forward", "backward", "all")
HOOK_MODES = ("both", "train", "inference")


def with_hook(node: Node, fn: Callable[[Any], Any], on: str, mode: str) -> Node:
    """A copy of ``node`` whose hooks end with ``(on, mode, fn)``, after checking all three."""
    if not callable(fn):
        raise TypeError(
            f"attach_hook: the hook must be a function fn(value), got {type(fn).__name__}."
        )
    _check_option("on", on, EVENTS, node)
    _check_option("mode", mode, HOOK_MODES, node)
    return node.rebuilt(hooks=(*node.hooks, (on, mode, fn)))


def _check_option(option: str, value: Any, allowed: Sequence[str], node: Node) -> None:
    if value in allowed:
        return
    close = difflib.get_close_matches(str(value), list(allowed), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(
        f"attach_hook({option}={value!r}) on the {node.op_name} layer defined at "
        f"{node.defined_at}: {option} must be one of {list(allowed)}.{hint}"
    )
