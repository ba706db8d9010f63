"""The evaluation schedule: layers in order, with each rematerialized segment in one piece.

``apply`` runs a segment (the nodes that share a ``Node.remat``) as one ``jax.checkpoint``
function, so its nodes must be evaluated together. The graph's order (which also numbers
the layer names, and so must not change) may interleave a segment with other layers: a
branch feeding its second layer, or reading its first. The schedule is a depth-first
order of *units* (a segment, or a single node), each after the units it reads, which
exists whenever no path leaves a segment and comes back, true of every segment a builder
call or a block call makes (its layers are made from values that existed before it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .._errors import ModelError
from .._graph.node import Node
from .._graph.remat import Remat


@dataclass(frozen=True)
class Unit:
    """One step of the schedule: a segment's nodes (``remat`` set) or a single node.

    ``reads`` are the nodes outside the unit whose values it uses; ``escapes`` the ids of
    its nodes used after it (by other units or as the model's output).
    """

    remat: Remat | None
    nodes: tuple[Node, ...]
    reads: tuple[Node, ...] = ()
    escapes: tuple[int, ...] = ()


def schedule(order: Sequence[Node], output: Node) -> list[Unit]:
    """The units of ``order`` (a topological order) in an order that evaluates each segment
    in one piece; ``[Unit(None, order)]`` when nothing is rematerialized."""
    if all(node.remat is None or node.op is None for node in order):
        return [Unit(None, tuple(order))]

    def unit_of(node: Node) -> int:
        return node.remat.id if node.remat is not None and node.op is not None else -1 - node.id

    members: dict[int, list[Node]] = {}
    for node in order:
        members.setdefault(unit_of(node), []).append(node)
    done: list[int] = []
    state: dict[int, str] = {}  # "visiting" or "done"
    for start in members:  # iterative depth-first search over units, in graph order
        if start in state:
            continue
        state[start] = "visiting"
        stack = [(start, iter(_dependencies(members[start], unit_of)))]
        while stack:
            unit, pending = stack[-1]
            dependency = next(pending, None)
            if dependency is None:
                stack.pop()
                state[unit] = "done"
                done.append(unit)
            elif state.get(dependency) == "visiting":
                raise _not_convex(members[dependency])
            elif dependency not in state:
                state[dependency] = "visiting"
                stack.append((dependency, iter(_dependencies(members[dependency], unit_of))))
    readers: dict[int, set[int]] = {}  # node id -> the units that read its value
    for node in order:
        for i in node.inputs:
            readers.setdefault(i.id, set()).add(unit_of(node))
    units = []
    for key in done:
        nodes = members[key]
        ids = {node.id for node in nodes}
        reads = {i.id: i for node in nodes for i in node.inputs if i.id not in ids}
        escapes = tuple(
            node.id for node in nodes if node is output or readers.get(node.id, set()) - {key}
        )
        units.append(Unit(nodes[0].remat if key >= 0 else None, tuple(nodes),
                          tuple(reads.values()), escapes))  # fmt: skip
    return units


def _dependencies(nodes: list[Node], unit_of: Callable[[Node], int]) -> list[int]:
    own = unit_of(nodes[0])
    found = dict.fromkeys(unit_of(i) for node in nodes for i in node.inputs)
    return [unit for unit in found if unit != own]


def _not_convex(nodes: list[Node]) -> ModelError:
    first = nodes[0]
    return ModelError(
        f"The rematerialized segment of layer ({first.op_name}, defined at {first.defined_at}) "
        f"is not contiguous: a path leaves it and comes back into it through other layers, "
        f"so it cannot be computed as one jax.checkpoint. Rematerialize the layers in "
        f"between too (one builder call or block), or split the request."
    )
