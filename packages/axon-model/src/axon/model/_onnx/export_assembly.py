"""Assemble the ONNX model: inputs, one traced layer after another, outputs, metadata."""

from __future__ import annotations

import functools
from typing import Any

import jax
import numpy as np
import onnx
from onnx import helper

from .._builders.structured import plain_tree
from .._compiler.options import DEFAULT
from .._compiler.precision import cast_tree
from .._compiler.program import Program, inference_extra
from .._compiler.state import ModelState
from .._errors import ModelError
from .._graph.node import Node
from .export_graph import GraphBuilder
from .export_jaxpr import convert, unsupported_primitives
from .export_primitives import Unsupported, onnx_dtype


def assemble(
    program: Program, state: ModelState, templates: Any, structs: dict[int, Any], opset: int
) -> onnx.ModelProto:
    """The ONNX model of ``program``'s inference path with ``state``'s values."""
    graph = GraphBuilder()
    named = program._named_inputs(templates)
    values: dict[int, Any] = {}  # node id -> pytree of ONNX value names
    graph_inputs = _inputs(graph, named)
    failures: list[tuple[str, Node, str]] = []
    initialized: set[str] = set()
    # a cell's layers are converted inside their recurrent layer's Scan, not on their own
    for node, name in program._layers(graph_inputs, values, "inference", skip=program.in_cells):
        arg_names, arg_structs = [], []
        sources, function = _sources(program, node, name)
        for arg in sources:
            if isinstance(arg, Node):
                arg_names.append(values[arg.id])
                arg_structs.append(structs[arg.id])
            else:
                layer, arg = arg
                value = (state.params if arg.kind == "parameter" else state.state)[layer][arg.name]
                initializer = f"{layer}/{arg.name}"
                if initializer not in initialized:  # a block's layers share one copy
                    graph.const(np.asarray(value), name=initializer)
                    initialized.add(initializer)
                arg_names.append(initializer)
                arg_structs.append(jax.ShapeDtypeStruct(value.shape, value.dtype))
        out_struct = plain_tree(structs[node.id])
        try:
            closed = jax.make_jaxpr(function)(*arg_structs)
            missing = unsupported_primitives(closed.jaxpr)
            if missing:
                raise Unsupported(", ".join(missing))
            layer_graph = GraphBuilder(prefix=f"{name}/", parent=graph)
            outs = convert(layer_graph, closed, jax.tree_util.tree_leaves(arg_names))
            graph.nodes += layer_graph.nodes
            graph.initializers += layer_graph.initializers
        except Unsupported as error:
            failures.append((name, node, f"no ONNX conversion for JAX primitive(s) {error}"))
            outs = [f"{name}/unsupported" for _ in jax.tree_util.tree_leaves(out_struct)]
        except Exception as error:
            failures.append((name, node, f"tracing failed: {type(error).__name__}: {error}"))
            outs = [f"{name}/unsupported" for _ in jax.tree_util.tree_leaves(out_struct)]
        values[node.id] = jax.tree_util.tree_unflatten(
            jax.tree_util.tree_structure(out_struct), outs
        )
    if failures:
        raise unsupported_error(failures)
    outputs = _outputs(graph, program, values, structs)
    onnx_graph = helper.make_graph(
        graph.nodes, "axon_model", [_input_info(n, t) for n, t in named.items() if t is not None],
        outputs, initializer=graph.initializers,
    )  # fmt: skip
    model = helper.make_model(
        onnx_graph, opset_imports=[helper.make_opsetid("", opset)],
        producer_name="axon-model", ir_version=min(onnx.IR_VERSION, 10),
    )  # fmt: skip
    return model


def _inputs(graph: GraphBuilder, named: dict[str, Any]) -> dict[str, Any]:
    """The graph inputs' value names; records where symbolic dimensions are read from."""
    for name, template in named.items():
        if template is None:
            continue
        for axis, d in enumerate(template.shape):
            if not isinstance(d, int) and str(d) not in graph.dims:
                shape = graph.op("Shape", [name], start=axis, end=axis + 1)
                graph.dims[str(d)] = shape
    return {name: (None if t is None else name) for name, t in named.items()}


def _input_info(name: str, template: Any) -> Any:
    dims = [d if isinstance(d, int) else str(d) for d in template.shape]
    return helper.make_tensor_value_info(name, onnx_dtype(template.dtype), dims)


def _outputs(
    graph: GraphBuilder, program: Program, values: dict[int, Any], structs: dict[int, Any]
) -> list[Any]:
    """One graph output per leaf of the prediction, named after the output layer."""
    layer = program.names[program.output.id]
    leaves = jax.tree_util.tree_leaves_with_path(values[program.output.id])
    struct_leaves = jax.tree_util.tree_leaves(plain_tree(structs[program.output.id]))
    infos = []
    for (path, value), struct in zip(leaves, struct_leaves, strict=True):
        out = layer if len(leaves) == 1 else f"{layer}{jax.tree_util.keystr(path)}"
        graph.nodes.append(helper.make_node("Identity", [value], [out], name=f"{out}/output"))
        dims = [d if isinstance(d, int) else str(d) for d in struct.shape]
        infos.append(helper.make_tensor_value_info(out, onnx_dtype(struct.dtype), dims))
    return infos


def _sources(program: Program, node: Node, name: str) -> tuple[list[Any], Any]:
    """What a layer's function is traced on (input nodes and ``(layer, parameter)`` pairs),
    and the function. A recurrent layer with a cell of layers also takes the cell's
    parameters and the outside values the cell reads, and runs the cell's layers itself."""
    own = [arg if isinstance(arg, Node) else (name, arg) for arg in node.args]
    cell = program.cells.get(node.id)
    if cell is None:
        return own, layer_function(node)
    inside = {n.id for n in (*cell.members, *cell.slots)}
    skipped = len(jax.tree_util.tree_leaves(cell.outputs))  # the op ignores their values
    inputs = list(node.inputs[: len(node.inputs) - skipped])
    outside = {i.id: i for m in cell.members for i in m.inputs if i.id not in inside}
    captured = list(outside.values())
    params = [(program.names[m.id], p) for m in cell.members for p in m.parameters]
    base = layer_function(node)

    def run(*args: Any) -> Any:
        outer = dict(zip((n.id for n in captured), args[len(inputs) :], strict=False))
        keys = [(layer, p.name) for layer, p in params]
        lookup = dict(zip(keys, args[len(inputs) + len(captured) :], strict=True))
        step = program._cell_step(
            cell, lambda n: outer[n.id], lambda layer, p: lookup[(layer, p.name)],
            "inference", None, DEFAULT,
        )  # fmt: skip
        return base(*args[: len(inputs)], *[()] * skipped, cell=step)

    return [*inputs, *captured, *params], run


def layer_function(node: Node) -> Any:
    """The function one layer computes in inference, of its inputs and parameters."""
    op = functools.partial(node.op, **node.opts, **inference_extra(node))

    def run(*args: Any, **extra: Any) -> Any:
        if node.policy is not None:
            args = tuple(cast_tree(a, node.policy.compute) for a in args)
        out = op(*args, **extra)
        return plain_tree(out if node.policy is None else cast_tree(out, node.policy.output))

    return run


def unsupported_error(failures: list[tuple[str, Node, str]]) -> ModelError:
    """One error naming every layer that cannot be exported, with its op and why."""
    lines = [f"  - layer {name!r} ({node.op_name}, defined at {node.defined_at}): {why}"
             for name, node, why in failures]  # fmt: skip
    return ModelError(
        f"to_onnx cannot export {len(failures)} layer(s):\n" + "\n".join(lines) + "\n"
        "Each uses JAX operations that have no ONNX conversion. Rewrite those layers with "
        "jax.numpy/lax operations ONNX can express (see the table of supported operations "
        "in the docs), or replace them (axon.model.map_nodes) before exporting."
    )
