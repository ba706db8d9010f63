"""The graph's building blocks: ``Node`` (one layer), ``Parameter``, their order and names."""

from __future__ import annotations

import functools
import inspect
import itertools
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import jax.numpy as jnp

from axon.functional.penalties import Penalty

Shape = tuple[int | None, ...]
_ids = itertools.count()
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def defined_at() -> str:
    """``file:line`` of the first caller outside axon.model (where the user built the layer)."""
    frame = sys._getframe(1)
    while frame is not None and _inside_package(frame.f_code.co_filename):
        frame = frame.f_back
    if frame is None:
        return "<unknown>"
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


def _inside_package(filename: str) -> bool:
    return os.path.abspath(filename).startswith(_PACKAGE_DIR + os.sep)


@dataclass(frozen=True)
class Parameter:
    """A trainable parameter (or, with ``kind="state"``, non-trainable layer state).

    Args:
        name: unique within its layer; parameters are keyed by name, never by order.
        shape: a shape tuple, or a function of the layer's input shapes returning one.
        initializer: a registered initializer name or ``init(key, shape, dtype)``.
        dtype: the parameter's dtype.
        kind: ``"parameter"`` (trained) or ``"state"`` (updated by the layer itself).
        regularizer: a penalty object (``axon.functional.penalties``) added to the
            training objective for this parameter, or ``None``.

    Usually created with :func:`axon.model.param` and given to
    :func:`axon.model.layer`:

    >>> import jax.numpy as jnp, axon.model
    >>> x = axon.model.input("x", shape=(None, 3))
    >>> scale = axon.model.Parameter("scale", lambda shape: (shape[-1],), initializer="ones")
    >>> model = axon.model.layer(lambda v, s: v * s, [x, scale], name="scaled")
    >>> model.init(0, jnp.ones((1, 3))).params["scaled"]["scale"]
    Array([1., 1., 1.], dtype=float32)
    """

    name: str
    shape: tuple[int, ...] | Callable[..., tuple[int, ...]]
    initializer: str | Callable[..., Any] = "glorot_uniform"
    dtype: Any = jnp.float32
    kind: Literal["parameter", "state"] = "parameter"
    regularizer: Penalty | None = None

    def resolve_shape(self, input_shapes: Sequence[Shape]) -> tuple[int, ...]:
        """The concrete shape for a layer whose inputs have ``input_shapes``.

        A fixed shape is returned as it is; a function is called with the input
        shapes, one argument per input.

        >>> from axon.model import Parameter
        >>> kernel = Parameter("kernel", lambda x: (x[-1], 4))
        >>> kernel.resolve_shape([(None, 3)])
        (3, 4)
        >>> Parameter("bias", (4,)).resolve_shape([(None, 3)])
        (4,)
        """
        shape = self.shape(*input_shapes) if callable(self.shape) else self.shape
        return tuple(int(d) for d in shape)


@dataclass(frozen=True, eq=False)
class Node:
    """One layer: ``op(*args, **opts)`` where args are input values and parameters.

    ``args`` mixes ``Node`` inputs and ``Parameter`` objects in the order ``op``
    receives them. ``config`` holds descriptive options (shown by ``display``,
    not passed to ``op``). ``mode`` restricts the layer to ``"train"`` or
    ``"inference"``; in the other mode it passes its first input through.
    ``policy`` is a mixed-precision ``Policy`` (``axon.model.mixed_precision``)
    or ``None``; ``hooks`` are ``(event, mode, fn)`` triples run in order
    (``axon.model.attach_hook``). ``activity_regularizer`` is a penalty object
    (``axon.functional.penalties``) of the layer's output, or ``None``.
    """

    op: Callable[..., Any] | None
    op_name: str
    args: tuple[Node | Parameter, ...] = ()
    opts: Mapping[str, Any] = field(default_factory=dict)
    config: Mapping[str, Any] = field(default_factory=dict)
    name: str | None = None
    defined_at: str = "<unknown>"
    mode: Literal["both", "train", "inference"] = "both"
    policy: Any = None
    hooks: tuple[tuple[str, str, Callable[..., Any]], ...] = ()
    activity_regularizer: Penalty | None = None
    id: int = field(default_factory=lambda: next(_ids))

    @functools.cached_property
    def wants(self) -> frozenset[str]:
        """Which of ``mode`` and ``key`` the op declares; the compiler passes those."""
        if self.op is None:
            return frozenset()
        try:
            parameters = inspect.signature(self.op).parameters
        except (TypeError, ValueError):
            return frozenset()
        return frozenset({"mode", "key"} & set(parameters))

    @property
    def inputs(self) -> tuple[Node, ...]:
        return tuple(a for a in self.args if isinstance(a, Node))

    @property
    def parameters(self) -> tuple[Parameter, ...]:
        return tuple(a for a in self.args if isinstance(a, Parameter))

    def rebuilt(self, **changes: Any) -> Node:
        """A new node (with a new id) like this one but with ``changes``."""
        return replace(self, id=next(_ids), **changes)

    def describe(self, name: str) -> str:
        return f"layer {name!r} ({self.op_name}, defined at {self.defined_at})"


def topological_order(outputs: Sequence[Node]) -> list[Node]:
    """Every node reachable from ``outputs``, each after its inputs (depth first, stable)."""
    order: list[Node] = []
    seen: set[int] = set()
    stack: list[tuple[Node, Iterator[Node]]] = []
    for out in outputs:
        if out.id in seen:
            continue
        seen.add(out.id)
        stack.append((out, iter(out.inputs)))
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                order.append(node)
            elif child.id not in seen:
                seen.add(child.id)
                stack.append((child, iter(child.inputs)))
    return order


def assign_names(order: Sequence[Node]) -> dict[int, str]:
    """Unique layer names: explicit ones, else ``<op_name>_<n>`` numbered per op in graph order."""
    names: dict[int, str] = {}
    owners: dict[str, Node] = {}
    for node in order:
        if node.name is not None:
            if node.name in owners:
                other = owners[node.name]
                raise ValueError(
                    f"Two layers are named {node.name!r}: one ({other.op_name}) defined at "
                    f"{other.defined_at} and one ({node.op_name}) defined at "
                    f"{node.defined_at}. Layer names must be unique; rename one."
                )
            owners[node.name] = node
            names[node.id] = node.name
    counters: dict[str, int] = {}
    for node in order:
        if node.id in names:
            continue
        n = counters.get(node.op_name, 0)
        while f"{node.op_name}_{n}" in owners:
            n += 1
        names[node.id] = f"{node.op_name}_{n}"
        owners[names[node.id]] = node
        counters[node.op_name] = n + 1
    return names
