"""``axon.model.from_onnx``: an ONNX file as an axon graph of ``onnx_node`` layers plus its state.

Reading uses ``onnx`` (protobuf parsing only: no code from the file runs). Floating
initializers with at least one axis become named, trainable ``axon.model.parameter``
layers; integer, boolean and scalar initializers are constants. Nodes are folded,
kept as shape computations, or made layers as ``import_shapes`` describes.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from typing import Any

import jax.numpy as jnp
import numpy as np

from .._builders.combinators import container
from .._compiler.state import ModelState
from .._graph.constructors import input as model_input
from .._graph.constructors import parameter
from .._graph.model import Model
from .import_control import evaluate, is_subgraph, outer_names
from .import_layer import onnx_node, run_program
from .import_ops import FUNCTIONS, OPS
from .import_shapes import Folded, Kind, Program, Tensor, classify, from_shapes

DOMAINS = ("", "ai.onnx")
MIN_OPSET = 11
TABLE_TITLE = "# ONNX operators that `axon.model.from_onnx` imports"


class OnnxImportError(ValueError):
    """An ONNX model that ``from_onnx`` cannot convert (the message says what and where)."""


def _onnx() -> Any:
    try:
        import onnx
    except ImportError as error:  # the optional extra
        raise ImportError(
            "axon.model.from_onnx needs the onnx package: pip install 'axon-model[onnx]'"
        ) from error
    return onnx


def _load(source: Any) -> Any:
    onnx = _onnx()
    if isinstance(source, onnx.ModelProto):  # e.g. what to_onnx returns
        return source
    what = "the given bytes" if isinstance(source, bytes | bytearray) else repr(os.fspath(source))
    try:
        if isinstance(source, bytes | bytearray):
            return onnx.load_model_from_string(bytes(source))
        return onnx.load(os.fspath(source))
    except (OSError, TypeError):
        raise
    except Exception as error:  # protobuf's DecodeError and the like: not an ONNX model
        raise OnnxImportError(
            f"{what} is not an ONNX model file ({type(error).__name__}: {error}). Pass the "
            f"path of an .onnx file (e.g. written by torch.onnx.export or axon.model.to_onnx), "
            f"its bytes, or an onnx.ModelProto."
        ) from None


def _opset(model: Any) -> int:
    versions = [o.version for o in model.opset_import if o.domain in DOMAINS]
    return versions[0] if versions else 1


def _every_node(graph: Any) -> Any:
    """The nodes of ``graph`` and of its subgraphs (a ``Scan``'s body), with their names."""
    for index, node in enumerate(graph.node):
        yield node, node.name or f"#{index}"
        for attribute in node.attribute:
            if attribute.HasField("g"):
                yield from _every_node(attribute.g)


def _check_supported(model: Any, opset: int) -> None:
    unsupported: dict[str, list[str]] = defaultdict(list)
    for node, name in _every_node(model.graph):
        op = node.op_type if node.domain in DOMAINS else f"{node.domain}::{node.op_type}"
        if op not in OPS:
            unsupported[op].append(name)
    if unsupported:
        listing = "\n".join(
            f"  {op}: {len(names)} node(s): {', '.join(names)}"
            for op, names in sorted(unsupported.items())
        )
        raise OnnxImportError(
            f"The ONNX model (opset {opset}) uses operators that axon.model.from_onnx does "
            f"not support:\n{listing}\nThe supported operators are listed by "
            f"axon.model._onnx.importer.support_table() (docs: reference/onnx-import-ops.md). "
            f"Re-export without them, or write the model with axon.model's builders and load "
            f"its weights."
        )
    if opset < MIN_OPSET:
        raise OnnxImportError(
            f"The ONNX model's opset is {opset}; from_onnx reads opset {MIN_OPSET} and later. "
            f"Convert it first: onnx.version_converter.convert_version(model, 17)."
        )


def _attributes(node: Any) -> dict[str, Any]:
    onnx = _onnx()
    attrs: dict[str, Any] = {}
    for attribute in node.attribute:
        value = onnx.helper.get_attribute_value(attribute)
        if isinstance(value, onnx.TensorProto):
            value = onnx.numpy_helper.to_array(value)
        elif isinstance(value, onnx.GraphProto):
            value = _subgraph(value)
        elif isinstance(value, bytes):
            value = value.decode()
        elif isinstance(value, list):
            value = [v.decode() if isinstance(v, bytes) else v for v in value]
        attrs[attribute.name] = value
    return attrs


def _encode(node: Any) -> dict[str, Any]:
    """A node as plain data; one with a subgraph lists the outer values it reads."""
    spec = {"op": node.op_type, "inputs": list(node.input), "outputs": list(node.output),
            "attrs": _attributes(node)}  # fmt: skip
    captures = set().union(*(outer_names(v) for v in spec["attrs"].values() if is_subgraph(v)))
    if captures:
        spec["captures"] = sorted(captures)
    return spec


def _subgraph(graph: Any) -> dict[str, Any]:
    """A subgraph (a ``Scan``'s body) as plain data, run by ``import_control``."""
    onnx = _onnx()
    return {
        "inputs": [i.name for i in graph.input],
        "constants": {i.name: onnx.numpy_helper.to_array(i) for i in graph.initializer},
        "nodes": [_encode(node) for node in graph.node],
        "outputs": [o.name for o in graph.output],
    }


def _input_shape(value_info: Any) -> tuple[int | None, ...] | None:
    """A graph input's shape: named (``dim_param``) or unknown axes are dynamic (None)."""
    if not value_info.type.tensor_type.HasField("shape"):
        return None
    dims = value_info.type.tensor_type.shape.dim
    return tuple(d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None for d in dims)


def _is_parameter(array: np.ndarray) -> bool:
    return np.issubdtype(array.dtype, np.floating) and array.ndim > 0


class _Names:
    """Unique axon layer names from ONNX names (nodes may be unnamed or share names)."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def __call__(self, wanted: str) -> str:
        name = re.sub(r"^/+", "", wanted) or "node"
        unique, count = name, 1
        while unique in self.used:
            unique, count = f"{name}_{count}", count + 1
        self.used.add(unique)
        return unique


def from_onnx(source: str | os.PathLike[str] | bytes | Any) -> tuple[Model, ModelState]:
    """Import an ONNX model as an axon graph and its state (needs ``axon-model[onnx]``).

    ``source`` is a path, the file's bytes, or an ``onnx.ModelProto``.

    The result is an ordinary, trainable axon model: each ONNX operator that computes on
    tensors becomes an ``onnx_node`` layer (named after its ONNX node), each floating
    initializer a trainable ``axon.model.parameter`` (named after the initializer,
    value ``state.params[name]["value"]``). Integer, boolean and scalar initializers are
    constants. Shape computations (``Shape``, ``Gather``, ``Concat``, ...) are folded
    at import when their inputs are static, and otherwise computed from the static
    shapes while JAX traces, so axes the file marks as dynamic (named or unknown
    dimensions: the batch, a sequence) take any size. Inputs typed int64 (token ids,
    masks) are accepted as given. Loading executes no code from the file; a model with
    operators the importer does not know raises one error listing each with its node
    names and the opset. The model's inputs are named as in the file; several outputs
    make a dict by output name. Supported operators: ``support_table()``.

    >>> import numpy as np, jax.numpy as jnp, axon.model
    >>> import pytest; onnx = pytest.importorskip("onnx")
    >>> from onnx import helper, numpy_helper, TensorProto
    >>> weight = numpy_helper.from_array(np.ones((3, 2), np.float32), "weight")
    >>> graph = helper.make_graph(
    ...     [helper.make_node("MatMul", ["x", "weight"], ["h"], name="matmul"),
    ...      helper.make_node("Relu", ["h"], ["y"], name="relu")],
    ...     "tiny",
    ...     [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3])],
    ...     [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 2])],
    ...     initializer=[weight],
    ... )
    >>> model, state = axon.model.from_onnx(helper.make_model(graph).SerializeToString())
    >>> state.params["weight"]["value"].shape
    (3, 2)
    >>> axon.model.predict(model, state, jnp.array([[1.0, -2.0, 4.0]])).tolist()
    [[3.0, 3.0]]

    Args:
        source: a path to an ``.onnx`` file, or the model's serialized bytes.

    Returns:
        ``(model, state)``: the graph and its :class:`ModelState`.
    """
    onnx_model = _load(source)
    graph = onnx_model.graph
    opset = _opset(onnx_model)
    _check_supported(onnx_model, opset)
    onnx = _onnx()

    names = _Names()
    values: dict[str, Kind] = {}
    params: dict[str, dict[str, Any]] = {}
    for initializer in graph.initializer:
        array = onnx.numpy_helper.to_array(initializer)
        if _is_parameter(array):
            layer_name = names(initializer.name)
            values[initializer.name] = Tensor(
                parameter(layer_name, array.shape, initializer="zeros", dtype=array.dtype)
            )
            params[layer_name] = {"value": jnp.asarray(array)}
        else:
            values[initializer.name] = Folded(array)
    for value_info in graph.input:
        if value_info.name not in values:
            shape = _input_shape(value_info)
            values[value_info.name] = Tensor(model_input(names(value_info.name), shape=shape))

    encoded = [_encode(node) for node in graph.node]
    for index, (node, spec) in enumerate(zip(graph.node, encoded, strict=True)):
        read = [*node.input, *spec.get("captures", ())]  # a subgraph's outer values too
        inputs = [values[name] if name else None for name in read]
        how = classify(node.op_type, inputs)
        if how == "fold":
            results = evaluate([spec], {n: v.value for n, v in zip(read, inputs, strict=True)
                                        if v is not None}, FUNCTIONS)  # fmt: skip
            results = [results.get(name) for name in node.output]
            values.update(
                (name, Folded(np.asarray(value)))
                for name, value in zip(node.output, results, strict=False)
                if name
            )
        elif how == "shapes":
            value = from_shapes(index, node.op_type, list(node.input), inputs)
            values.update((name, value) for name in node.output if name)
        else:
            program = Program.for_node(index, [n for n in read if n], values)
            layer_name = names(node.name or f"{node.op_type}_{index}")
            model = onnx_node(
                *(t.model for t in program.tensors.values()),
                program=program.encode(encoded, values),
                name=layer_name,
            )
            outputs = [name for name in node.output if name]
            for position, name in enumerate(outputs):
                values[name] = Tensor(model, None if len(outputs) == 1 else position)
    outputs = {info.name: _output(info.name, values.get(info.name), names) for info in graph.output}
    if len(outputs) == 1:
        model = next(iter(outputs.values()))
    else:
        model = container(outputs, name=names("outputs"))
    return model, ModelState(params, {})


def _output(name: str, value: Kind | None, names: _Names) -> Model:
    """A graph output as a model: a layer's value, or one output of a multi-output layer."""
    if isinstance(value, Tensor) and value.index is None:
        return value.model
    if isinstance(value, Tensor):
        program = {
            "inputs": [[name, value.index]],
            "constants": {},
            "nodes": [{"op": "Identity", "inputs": [name], "outputs": ["out"], "attrs": {}}],
            "outputs": ["out"],
        }
        return onnx_node(value.model, program=program, name=names(f"output_{name}"))
    kind = "a constant" if isinstance(value, Folded) else "computed from shapes only"
    raise OnnxImportError(
        f"The ONNX graph output {name!r} is {kind}, not a tensor computed from the inputs; "
        f"from_onnx imports graphs whose outputs depend on their inputs' values."
    )


def support_table() -> str:
    """The operators ``from_onnx`` imports: the markdown of docs/reference/onnx-import-ops.md.

    >>> print(support_table().splitlines()[0])
    # ONNX operators that `axon.model.from_onnx` imports
    """
    families = {
        "layer": "Layers",
        "activation": "Activations",
        "elementwise": "Arithmetic, comparison and logic",
        "reduction": "Reductions",
        "shape": "Shapes, indexing and constants",
        "control": "Control flow",
    }
    lines = [
        TABLE_TITLE,
        "",
        "Generated from `axon.model._onnx.import_ops.OPS` (the test "
        "`tests/onnx/test_import_table.py` keeps this page equal to it). Operators of the "
        f"default domain, opset {MIN_OPSET} and later. Shape operators whose inputs are "
        "static are folded at import; those reading dynamic shapes run in NumPy while JAX "
        "traces, so they cost nothing at run time.",
    ]
    for family, title in families.items():
        lines += ["", f"## {title}", "", "| operator | notes |", "|---|---|"]
        lines += [
            f"| `{name}` | {op.note} |" for name, op in sorted(OPS.items()) if op.family == family
        ]
    return "\n".join(lines) + "\n"


__all__ = ["OnnxImportError", "from_onnx", "run_program", "support_table"]
