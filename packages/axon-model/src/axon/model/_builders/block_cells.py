"""``rnn`` with a block as its cell: a recurrent cell written with layers.

``x.rnn(cell, carry_init=...)`` where ``cell = axon.model.block(lambda x_t, h: ...)``
returns ``(y_t, new_carry)``. The block is called once here, on slot layers (the first
time step and the initial carry), so its layers are graph nodes that init sees and that
share parameters with the block's other calls; see ``_graph/cells.py`` for the node
layout and ``_compiler/program.py`` for how the step runs inside the scan.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from .._graph.blocks import Block
from .._graph.cells import CellSpec, members
from .._graph.constructors import layer
from .._graph.model import Model
from .._graph.node import Node, topological_order
from .scan import scan_cell
from .structured import plain, structured


def first_step_op(x: jax.Array) -> jax.Array:
    """``x[:, 0]``: what a cell's ``x_t`` looks like (its value only sizes the cell's layers)."""
    return x[:, 0]


def initial_carry_op(x: jax.Array, *, carry_init: Callable[[jax.Array], Any]) -> Any:
    """The initial carry ``carry_init(x)`` as a structured value (one selection per leaf)."""
    return structured(tuple(jax.tree_util.tree_leaves(carry_init(x))))


def carry_slot_op(value: Any, *, index: int | None) -> Any:
    """One leaf of the initial carry: what the cell's ``carry`` input is at the first step."""
    return jnp.asarray(value if index is None else plain(value)[index])


def block_rnn_op(
    x: jax.Array,
    *values: Any,
    cell_spec: CellSpec,
    carry_treedef: Any,
    unroll: str,
    reverse: bool,
    cell: Callable[[jax.Array, Any], tuple[Any, Any]],
) -> Any:
    """Scan ``cell`` (the cell's layers at one step, from the compiler) over axis 1.

    ``values`` are the slots' values (the first step, then the initial carry's leaves),
    the mask if any, then the cell's outputs at the first step (unused: only their layers
    matter, run by ``cell``)."""
    leaves = values[1 : cell_spec.slots]
    carry = jax.tree_util.tree_unflatten(carry_treedef, leaves)
    mask = values[cell_spec.slots] if cell_spec.has_mask else None

    def cell_fn(x_t: jax.Array, carry: Any, params: dict[str, Any]) -> tuple[Any, Any]:
        y_t, new_carry = cell(x_t, jax.tree_util.tree_leaves(carry))
        return y_t, jax.tree_util.tree_unflatten(
            carry_treedef, jax.tree_util.tree_leaves(new_carry)
        )

    return scan_cell(cell_fn, x, carry, mask, {}, unroll=unroll, reverse=reverse)


def block_rnn(
    x: Model,
    cell: Block,
    *,
    carry_init: Any,
    mask: Model | None,
    unroll: str,
    reverse: bool,
    name: str | None,
    op_name: str,
) -> Model:
    """The recurrent node scanning ``cell`` (a block ``(x_t, *carry) -> (y_t, carry)``)."""
    where = f"rnn: the cell {cell._describe()}"
    count = _carry_count(cell, carry_init, where)
    if isinstance(carry_init, Model) or not callable(carry_init):
        leaves = jax.tree_util.tree_leaves(carry_init, is_leaf=lambda v: isinstance(v, Model))
        slots = [layer(carry_slot_op, [leaf], op_name="carry_slot", index=None) for leaf in leaves]
    else:
        initial = layer(initial_carry_op, [x], op_name="initial_carry", carry_init=carry_init)
        slots = [
            layer(carry_slot_op, [initial], op_name="carry_slot", index=i) for i in range(count)
        ]
    step = layer(first_step_op, [x], op_name="first_step")
    result = cell(step, *slots)
    if not (isinstance(result, tuple | list) and len(result) == 2):
        size = f" of {len(result)}" if isinstance(result, tuple | list) else ""
        raise TypeError(
            f"{where} must return (y_t, new_carry): a pair of models; it returned "
            f"{type(result).__name__}{size}."
        )
    new_leaves = jax.tree_util.tree_leaves(result[1])
    if len(new_leaves) != count:
        raise ValueError(
            f"{where} returns a new carry of {len(new_leaves)} model(s); the initial carry "
            f"has {count}. Return the carry in the same structure it is given."
        )
    outputs, treedef = jax.tree_util.tree_flatten(result)
    _check_layers(where, tuple(s.node for s in [step, *slots]), [m.node for m in outputs])
    inputs = [x, step, *slots, *([mask] if mask is not None else []), *outputs]
    return layer(
        block_rnn_op, inputs, name=name, op_name=op_name,
        config={"cell": cell.name or "block", "unroll": unroll},
        cell_spec=CellSpec(1 + count, mask is not None, treedef),
        carry_treedef=jax.tree_util.tree_structure(0 if count == 1 else (0,) * count),
        unroll=unroll, reverse=reverse,
    )  # fmt: skip


def _check_layers(where: str, slots: tuple[Node, ...], outputs: list[Node]) -> None:
    """Refuse what a cell's layers cannot do at every step of a scan: update state (batch
    norm's statistics) or add an activity penalty (counted once per graph walk)."""
    for node in members(slots, outputs, topological_order(outputs)):
        what = (
            "has state (e.g. batch norm's running statistics), which a scan cannot update"
            if any(p.kind == "state" for p in node.parameters)
            else "has an activity regularizer, which is not counted per step"
            if node.activity_regularizer is not None
            else None
        )
        if what:
            raise ValueError(
                f"{where} uses layer {node.block_layer or node.op_name!r} ({node.op_name}, "
                f"defined at {node.defined_at}), which {what} inside a recurrent cell. Use "
                f"a stateless layer (e.g. layer_norm instead of batch_norm) or put it "
                f"outside the cell."
            )


def _carry_count(cell: Block, carry_init: Any, where: str) -> int:
    """How many carry leaves the cell takes: the initial carry's models, or its function's
    arguments after ``x_t``."""
    if isinstance(carry_init, Model) or not callable(carry_init):
        leaves = jax.tree_util.tree_leaves(carry_init, is_leaf=lambda v: isinstance(v, Model))
        if not leaves or not all(isinstance(leaf, Model) for leaf in leaves):
            raise TypeError(
                f"rnn: carry_init must be a function of the input sequence or a model (or "
                f"tuple of models); received {carry_init!r}."
            )
        return len(leaves)
    try:
        parameters = inspect.signature(cell.fn).parameters.values()
    except (TypeError, ValueError):
        parameters = None
    kinds = [p.kind for p in parameters or ()]
    if parameters is None or inspect.Parameter.VAR_POSITIONAL in kinds or len(kinds) < 2:
        raise TypeError(
            f"{where} must take (x_t, carry...) with one argument per carry array, so that "
            f"a carry_init function's result can be passed to it; or give carry_init as a "
            f"model (or tuple of models) whose value is the initial carry."
        )
    return len(kinds) - 1
