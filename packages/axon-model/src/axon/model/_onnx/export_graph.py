"""The ONNX graph being written: nodes, initializers, and shapes whose batch size is dynamic.

Values are named by strings, as in ONNX. A shape may hold JAX symbolic dimensions (the
batch size, from ``jax.export.symbolic_shape``); :meth:`GraphBuilder.shape` turns it into
an int64 tensor that computes those dimensions from the graph's inputs at run time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper


class GraphBuilder:
    """Collects the nodes and initializers of one ONNX graph (or of a subgraph's body)."""

    def __init__(self, prefix: str = "", parent: GraphBuilder | None = None):
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.prefix = prefix
        self.parent = parent
        self._root = parent._root if parent is not None else self
        self._counts: dict[str, int] = {}
        # symbolic dimension name -> int64 tensor of shape (1,) holding its value
        self.dims: dict[str, str] = {} if parent is None else parent.dims
        self._constants: dict[tuple[Any, ...], str] = {}

    def fresh(self, hint: str) -> str:
        """A value or node name used nowhere else in the model."""
        root = self._root
        base = f"{self.prefix}{hint}"
        n = root._counts.get(base, 0)
        root._counts[base] = n + 1
        return base if n == 0 else f"{base}_{n}"

    def op(self, op_type: str, inputs: Sequence[str], outputs: int = 1, **attrs: Any) -> Any:
        """Add a node; its output name (or a list of them when ``outputs > 1``)."""
        names = [self.fresh(f"{op_type}") for _ in range(outputs)]
        self.nodes.append(
            helper.make_node(op_type, list(inputs), names, name=self.fresh(f"{op_type}_node"),
                             **attrs)
        )  # fmt: skip
        return names[0] if outputs == 1 else names

    def const(self, value: Any, dtype: Any = None, name: str | None = None) -> str:
        """An initializer holding ``value`` (deduplicated for small unnamed constants)."""
        array = np.asarray(value, dtype=dtype)
        key = None
        if name is None and array.size <= 16:
            key = (array.dtype.str, array.shape, array.tobytes())
            if key in self._constants:
                return self._constants[key]
        tensor = numpy_helper.from_array(array, name or self.fresh("const"))
        self.initializers.append(tensor)
        if key is not None:
            self._constants[key] = tensor.name
        return tensor.name

    def dim(self, d: Any) -> str:
        """An int64 tensor of shape (1,) holding dimension ``d`` (an int or symbolic)."""
        if isinstance(d, (int, np.integer)):
            return self.const([int(d)], np.int64)
        return d._evaluate({k: _Dim(self, v) for k, v in self.dims.items()}).name

    def shape(self, dims: Sequence[Any]) -> str:
        """An int64 tensor holding the shape ``dims`` (ints or symbolic dimensions)."""
        if all(isinstance(d, (int, np.integer)) for d in dims):
            return self.const([int(d) for d in dims], np.int64)
        return self.op("Concat", [self.dim(d) for d in dims], axis=0)


def is_static(dims: Sequence[Any]) -> bool:
    return all(isinstance(d, (int, np.integer)) for d in dims)


class _Dim:
    """A dimension value in the graph, with the arithmetic that symbolic dimensions use."""

    def __init__(self, graph: GraphBuilder, name: str):
        self.graph, self.name = graph, name

    def _binary(self, op: str, other: Any, swap: bool = False) -> _Dim:
        other_name = other.name if isinstance(other, _Dim) else self.graph.dim(int(other))
        a, b = (other_name, self.name) if swap else (self.name, other_name)
        return _Dim(self.graph, self.graph.op(op, [a, b]))

    def __add__(self, other: Any) -> _Dim:
        return self._binary("Add", other)

    __radd__ = __add__

    def __mul__(self, other: Any) -> _Dim:
        return self._binary("Mul", other)

    __rmul__ = __mul__

    def __sub__(self, other: Any) -> _Dim:
        return self._binary("Sub", other)

    def __rsub__(self, other: Any) -> _Dim:
        return self._binary("Sub", other, swap=True)

    def __floordiv__(self, other: Any) -> _Dim:
        return self._binary("Div", other)  # dimensions are non-negative: Div floors

    def __pow__(self, power: int) -> _Dim:
        result = self
        for _ in range(int(power) - 1):
            result = result * self
        return result
