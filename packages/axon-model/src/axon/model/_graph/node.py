"""The graph's building blocks: ``Node`` (one layer), ``Parameter``, ``BlockRef``, their order
and names."""

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

from .recording import BuilderCall, current_origin
from .remat import Remat, current_remat

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


@dataclass(frozen=True)
class BlockRef:
    """The identity of one ``axon.model.block``: every layer that carries it shares weights.

    ``id`` is unique per block (two blocks are the same block exactly when their ids
    are equal), ``name`` the name given to ``block(..., name=)`` or ``None`` (numbered
    ``block_<n>`` when the model is compiled), ``defined_at`` where it was created.
    """

    id: int
    name: str | None
    defined_at: str


@dataclass(frozen=True, eq=False)
class Node:
    """One layer: ``op(*args, **opts)`` where args are input values and parameters.

    ``args`` mixes ``Node`` inputs and ``Parameter`` objects in the order ``op``
    receives them. ``config`` holds descriptive options (shown by ``display``,
    not passed to ``op``). ``mode`` restricts the layer to ``"train"`` or
    ``"inference"``; in the other mode it passes its first input through.
    ``policy`` is a mixed-precision ``Policy`` (``axon.model.mixed_precision``)
    or ``None``; ``hooks`` are ``(event, mode, fn)`` triples run in order
    (``axon.model.attach_hook``). ``origin`` is the registered builder call that
    created the node and its position in it (see ``_graph.recording``); rewritten
    copies keep it. ``activity_regularizer`` is a penalty object
    (``axon.functional.penalties``) of the layer's output, or ``None``. ``remat`` is the
    rematerialized segment (``jax.checkpoint``) the layer belongs to, or ``None``.

    A layer inside a block (``axon.model.block``) is copied into the graph once per
    call of the block; every copy has ``blocks``, the enclosing blocks (outermost
    first), and ``block_layer``, its name inside the innermost one. Copies with the
    same innermost block and ``block_layer`` get the same layer name,
    ``<block path>/<block_layer>``, so they read one set of parameters.
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
    blocks: tuple[BlockRef, ...] = ()
    block_layer: str | None = None
    activity_regularizer: Penalty | None = None
    id: int = field(default_factory=lambda: next(_ids))
    origin: tuple[BuilderCall, int] | None = field(default_factory=current_origin, repr=False)
    remat: Remat | None = field(default_factory=current_remat)

    @functools.cached_property
    def wants(self) -> frozenset[str]:
        """Which of ``mode``, ``key`` and ``cell`` the op declares; the compiler passes those
        (``cell``: the step function of a cell made of layers, see ``_graph/cells.py``)."""
        if self.op is None:
            return frozenset()
        try:
            parameters = inspect.signature(self.op).parameters
        except (TypeError, ValueError):
            return frozenset()
        return frozenset({"mode", "key", "cell"} & set(parameters))

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


def fresh_id() -> int:
    """A node id no existing node has; every node created afterwards has a larger one."""
    return next(_ids)


def assign_names(order: Sequence[Node]) -> dict[int, str]:
    """Unique layer names: explicit ones, else ``<op_name>_<n>`` numbered per op in graph order.

    Layers inside blocks are named ``<block path>/<block_layer>``; every copy of one
    layer of a block gets the same name (that is how they share parameters).
    """
    plain = [node for node in order if not node.blocks]
    names = _plain_names(plain)
    if len(plain) < len(order):
        names.update(_block_layer_names(order, names))
    return names


def _plain_names(order: Sequence[Node]) -> dict[int, str]:
    names: dict[int, str] = {}
    owners: dict[str, Node] = {}
    for node in order:
        if node.name is not None:
            _claim(owners, node.name, node, lambda other, node=node: (
                f"Two layers are named {node.name!r}: one ({other.op_name}) defined at "
                f"{other.defined_at} and one ({node.op_name}) defined at "
                f"{node.defined_at}. Layer names must be unique; rename one."
            ))  # fmt: skip
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


def _claim(
    owners: dict[str, Any],
    name: str,
    owner: Any,
    clash: Callable[[Any], str],
    taken: set[str] | frozenset[str] = frozenset(),
) -> None:
    """Record ``owner`` as ``name``'s, or raise ``clash(other owner or None)`` if it is taken."""
    if name in owners or name in taken:
        raise ValueError(clash(owners.get(name)))
    owners[name] = owner


def _block_layer_names(order: Sequence[Node], plain: Mapping[int, str]) -> dict[int, str]:
    """Names of the layers inside blocks, given the names of the others (``plain``).

    A block is named by its ``name`` or ``block_<n>`` (in order of first use), under
    its enclosing block's name when every use of it is inside that one block.
    """
    refs: dict[int, BlockRef] = {}
    parents: dict[int, set[int | None]] = {}
    for node in order:
        for depth, ref in enumerate(node.blocks):
            refs.setdefault(ref.id, ref)
            parents.setdefault(ref.id, set()).add(node.blocks[depth - 1].id if depth else None)
    taken = set(plain.values())
    owners: dict[str, BlockRef] = {}
    short: dict[int, str] = {}
    for ref in refs.values():
        if ref.name is None:
            continue
        _claim(owners, ref.name, ref, lambda other, ref=ref: (
            f"The block named {ref.name!r} (defined at {ref.defined_at}) has the name of "
            f"{'a layer' if other is None else f'a block defined at {other.defined_at}'}; "
            f"block names prefix their layers' names, so they must differ from other "
            f"blocks' and layers' names. Rename one."
        ), taken=taken)  # fmt: skip
        short[ref.id] = ref.name
    numbered = (f"block_{n}" for n in itertools.count())
    for ref in refs.values():
        if ref.id not in short:
            short[ref.id] = next(n for n in numbered if n not in owners and n not in taken)
    paths: dict[int, str] = {}

    def path(block: int) -> str:
        if block not in paths:
            (parent,) = parents[block] if len(parents[block]) == 1 else (None,)
            paths[block] = short[block] if parent is None else f"{path(parent)}/{short[block]}"
        return paths[block]

    names: dict[int, str] = {}
    for node in order:
        if node.blocks:
            names[node.id] = f"{path(node.blocks[-1].id)}/{node.block_layer}"
            if names[node.id] in taken:
                raise ValueError(
                    f"A layer is named {names[node.id]!r}, the name of layer "
                    f"{node.block_layer!r} of a block (defined at "
                    f"{node.blocks[-1].defined_at}); rename the layer."
                )
    return names
