"""What an ONNX value is at import: a folded constant, a static-shape computation, or a tensor.

The importer walks the nodes in order and gives each value one of three kinds:

- :class:`Folded`: known now (initializers that are not parameters, ``Constant``, and
  every node whose inputs are all folded: evaluated once, in NumPy, at import);
- :class:`FromShapes`: computed only from the *shapes* of tensors (``Shape`` of a
  tensor whose batch axis is dynamic, and whatever is computed from it). It is known
  whenever the tensors' shapes are, i.e. while JAX traces: the nodes computing it
  travel into the layer that reads it (see ``import_layer``);
- :class:`Tensor`: a value of the axon graph (an input, a parameter, a layer output).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._graph.model import Model

#: ops whose output depends on their input's shape only, not its values
SHAPE_READERS = frozenset({"Shape", "Size"})


@dataclass(frozen=True)
class Folded:
    value: np.ndarray


@dataclass(frozen=True)
class FromShapes:
    nodes: tuple[int, ...]  # the ONNX nodes computing it, in graph order
    sources: tuple[str, ...]  # the tensors whose shapes it reads


@dataclass(frozen=True)
class Tensor:
    model: Model
    index: int | None = None  # which output of a layer with several


Kind = Folded | FromShapes | Tensor


def classify(op_type: str, inputs: Sequence[Kind | None]) -> str:
    """``"fold"``, ``"shapes"`` or ``"tensor"``: how a node with these inputs is imported."""
    given = [v for v in inputs if v is not None]
    if all(isinstance(v, Folded) for v in given):
        return "fold"
    if op_type in SHAPE_READERS or not any(isinstance(v, Tensor) for v in given):
        return "shapes"
    return "tensor"


def from_shapes(
    index: int, op_type: str, names: Sequence[str], inputs: Sequence[Any]
) -> FromShapes:
    """The :class:`FromShapes` value node ``index`` computes from ``inputs`` (named ``names``)."""
    nodes: set[int] = {index}
    sources: list[str] = []
    for name, value in zip(names, inputs, strict=True):
        if isinstance(value, FromShapes):
            nodes.update(value.nodes)
            sources += value.sources
        elif isinstance(value, Tensor) and op_type in SHAPE_READERS:
            sources.append(name)
    return FromShapes(tuple(sorted(nodes)), tuple(dict.fromkeys(sources)))


@dataclass
class Program:
    """What one ``onnx_node`` layer runs: its tensor inputs, constants and nodes."""

    tensors: dict[str, Tensor]
    constants: dict[str, np.ndarray]
    nodes: list[int]

    @classmethod
    def for_node(cls, index: int, names: Sequence[str], values: dict[str, Kind]) -> Program:
        """The program of node ``index`` reading ``names``, with the shape nodes it needs."""
        nodes: set[int] = {index}
        tensors: dict[str, Tensor] = {}
        for name in names:
            value = values.get(name)
            if isinstance(value, Tensor):
                tensors[name] = value
            elif isinstance(value, FromShapes):
                nodes.update(value.nodes)
                tensors.update((source, values[source]) for source in value.sources)  # type: ignore[misc]
        return cls(tensors, {}, sorted(nodes))

    def encode(self, graph_nodes: Sequence[dict[str, Any]], values: dict[str, Kind]) -> dict:
        """The ``program`` argument of ``onnx_node`` (plain data: a model file stores it)."""
        nodes = [graph_nodes[i] for i in self.nodes]
        for node in nodes:
            for name in [*node["inputs"], *node.get("captures", ())]:
                value = values.get(name)
                if isinstance(value, Folded):
                    self.constants[name] = value.value
        return {
            "inputs": [[name, t.index] for name, t in self.tensors.items()],
            "constants": self.constants,
            "nodes": nodes,
            "outputs": [name for name in nodes[-1]["outputs"] if name],
        }
