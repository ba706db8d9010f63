"""Recurrent cells made of layers: a block as the cell of ``rnn``.

A cell block is called once, at graph construction, on *slot* layers: the sequence's
first step standing for ``x_t`` and the initial carry standing for ``carry``. Its layers
become ordinary graph nodes (block copies, so they share parameters with every other call
of the block), which is how init finds their parameters. The recurrent layer's node lists
``[x, *slots, (mask), *cell outputs]`` as inputs and a :class:`CellSpec` in its options;
the compiler (``_compiler.cells``) gives its op a function that runs the cell's layers on
one time step, which the op scans over the sequence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax

from .node import Node


@dataclass(frozen=True)
class CellSpec:
    """How a recurrent node's inputs divide: ``x``, ``slots`` slot layers (``x_t``, then one
    per carry leaf), an optional mask, then the leaves of the cell's ``(y_t, carry)``."""

    slots: int
    has_mask: bool
    outputs: jax.tree_util.PyTreeDef  # the structure of the cell's (y_t, new_carry)

    def split(self, inputs: tuple[Node, ...]) -> tuple[tuple[Node, ...], Any]:
        """The slot nodes and the cell's output tree of nodes, from the node's inputs."""
        slots = inputs[1 : 1 + self.slots]
        leaves = inputs[1 + self.slots + int(self.has_mask) :]
        return slots, jax.tree_util.tree_unflatten(self.outputs, leaves)


@dataclass(frozen=True)
class Cell:
    """A cell of layers in a compiled graph: its slots (``x_t``, then the carry's leaves),
    its layers in evaluation order, and its ``(y_t, new_carry)`` tree of nodes."""

    slots: tuple[Node, ...]
    members: tuple[Node, ...]
    outputs: Any


def cells_of(order: list[Node]) -> dict[int, Cell]:
    """The cell of every recurrent node in ``order`` whose cell is made of layers, by id."""
    cells = {}
    for node in order:
        spec = node.opts.get("cell_spec")
        if isinstance(spec, CellSpec):
            slots, outputs = spec.split(node.inputs)
            cells[node.id] = Cell(slots, members(slots, outputs, order), outputs)
    return cells


def members(slots: tuple[Node, ...], outputs: Any, order: list[Node]) -> tuple[Node, ...]:
    """The cell's layers in ``order`` (e.g. a topological order of the outputs): those on
    a path from a slot to an output."""
    below = {node.id for node in slots}
    for node in order:
        if node.id not in below and any(i.id in below for i in node.inputs):
            below.add(node.id)
    slot_ids = {node.id for node in slots}
    above: set[int] = set()
    stack = list(jax.tree_util.tree_leaves(outputs))
    while stack:
        node = stack.pop()
        if node.id in above or node.id not in below or node.id in slot_ids:
            continue
        above.add(node.id)
        stack.extend(node.inputs)
    return tuple(node for node in order if node.id in above)
