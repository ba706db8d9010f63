"""Structured values: layers whose value is a tuple, list or dict of arrays.

A node's value may be a pytree (an RNN's ``(sequence, carry)``, a container's dict). The
compiler reads ``.shape`` from every input value when it infers parameter shapes, so a
structured value that feeds another layer carries a ``shape`` attribute: the same
structure with every array replaced by its shape. These are ordinary tuples/dicts/lists
(subclasses), registered as pytrees so ``jax.jit``/``jax.tree`` see through them.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np


def _shapes(tree: Any) -> Any:
    return jax.tree_util.tree_map(lambda leaf: tuple(np.shape(leaf)), tree)


class StructuredTuple(tuple):
    """A tuple of arrays (or pytrees) with ``.shape``: the tuple of their shapes."""

    __slots__ = ()

    @property
    def shape(self) -> tuple[Any, ...]:
        return tuple(_shapes(v) for v in self)


class StructuredList(list):
    """A list of arrays (or pytrees) with ``.shape``: the list of their shapes."""

    @property
    def shape(self) -> list[Any]:
        return [_shapes(v) for v in self]


class StructuredDict(dict):
    """A dict of arrays (or pytrees) with ``.shape``: the dict of their shapes."""

    @property
    def shape(self) -> dict[Any, Any]:
        return {k: _shapes(v) for k, v in self.items()}


jax.tree_util.register_pytree_node(
    StructuredTuple, lambda t: (tuple(t), None), lambda _, children: StructuredTuple(children)
)
jax.tree_util.register_pytree_node(
    StructuredList, lambda t: (list(t), None), lambda _, children: StructuredList(children)
)
jax.tree_util.register_pytree_node(
    StructuredDict,
    lambda d: (tuple(d.values()), tuple(d.keys())),
    lambda keys, children: StructuredDict(zip(keys, children, strict=True)),
)


def structured(value: Any) -> Any:
    """Wrap a top-level tuple/list/dict so the compiler can read its ``.shape``."""
    if isinstance(value, StructuredTuple | StructuredList | StructuredDict):
        return value
    if isinstance(value, dict):
        return StructuredDict(value)
    if isinstance(value, list):
        return StructuredList(value)
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return StructuredTuple(value)
    return value


def plain_tree(value: Any) -> Any:
    """``value`` with every structured tuple/list/dict in it, however deep, made plain:
    for code outside the model (``jax.export`` serializes only the built-in containers)."""
    if isinstance(value, StructuredTuple):
        return tuple(plain_tree(v) for v in value)
    if isinstance(value, StructuredList):
        return [plain_tree(v) for v in value]
    if isinstance(value, (StructuredDict, dict)):
        return {k: plain_tree(v) for k, v in value.items()}
    if type(value) in (tuple, list):
        return type(value)(plain_tree(v) for v in value)
    return value


def plain(value: Any) -> Any:
    """The plain tuple/list/dict behind a structured value (other values unchanged)."""
    if isinstance(value, StructuredTuple):
        return tuple(value)
    if isinstance(value, StructuredList):
        return list(value)
    if isinstance(value, StructuredDict):
        return dict(value)
    return value
