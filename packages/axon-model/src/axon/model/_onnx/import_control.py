"""Operators with a subgraph (``Scan``) and the evaluation of ONNX node lists they share with
the ``onnx_node`` layer.

A subgraph is imported as plain data, like a layer's program: ``{"inputs": [names],
"constants": {name: array}, "nodes": [...], "outputs": [names]}``. Its nodes may read
values of the enclosing graph by name (ONNX's outer scope, e.g. an exported LSTM's
weights); the importer lists those names as the node's ``captures``, which the layer
passes to the operator as ``outer``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax.numpy as jnp
from jax import lax

Value = Any


def evaluate(
    nodes: Sequence[Mapping[str, Any]],
    env: dict[str, Value],
    ops: Mapping[str, Callable[..., list[Value]]],
) -> dict[str, Value]:
    """Run ONNX ``nodes`` in order on the values of ``env`` (updated with their outputs)."""
    for node in nodes:
        args = [env[name] if name else None for name in node["inputs"]]
        attrs = dict(node["attrs"])
        if node.get("captures"):
            attrs["outer"] = {name: env[name] for name in node["captures"]}
        results = ops[node["op"]](*args, **attrs)
        named = zip(node["outputs"], results, strict=False)  # trailing outputs may be unused
        env.update((name, value) for name, value in named if name)
    return env


def scan(
    *inputs: Value,
    body: Mapping[str, Any],
    num_scan_inputs: int,
    scan_input_axes: Sequence[int] | None = None,
    scan_input_directions: Sequence[int] | None = None,
    scan_output_axes: Sequence[int] | None = None,
    scan_output_directions: Sequence[int] | None = None,
    outer: Mapping[str, Value] | None = None,
    ops: Mapping[str, Callable[..., list[Value]]],
) -> list[Value]:
    """ONNX ``Scan`` (opset 9+) as one ``lax.scan``: the final states, then the stacked
    per-iteration outputs."""
    states, scanned = list(inputs[: len(inputs) - num_scan_inputs]), inputs[-num_scan_inputs:]
    input_axes = scan_input_axes or [0] * num_scan_inputs
    input_directions = scan_input_directions or [0] * num_scan_inputs
    xs = []
    for x, axis, direction in zip(scanned, input_axes, input_directions, strict=True):
        x = jnp.moveaxis(jnp.asarray(x), axis, 0)
        xs.append(x[::-1] if direction else x)
    names = list(body["inputs"])

    def step(carry: list[Value], slices: list[Value]) -> tuple[list[Value], list[Value]]:
        env = {**(outer or {}), **body["constants"]}
        env.update(zip(names, [*carry, *slices], strict=True))
        out = [evaluate(body["nodes"], env, ops)[name] for name in body["outputs"]]
        return [jnp.asarray(v) for v in out[: len(carry)]], out[len(carry) :]

    final, ys = lax.scan(step, [jnp.asarray(s) for s in states], xs)
    count = len(ys)
    output_axes = scan_output_axes or [0] * count
    output_directions = scan_output_directions or [0] * count
    stacked = []
    for y, axis, direction in zip(ys, output_axes, output_directions, strict=True):
        y = y[::-1] if direction else y
        stacked.append(jnp.moveaxis(y, 0, axis))
    return [*final, *stacked]


def subgraph_names(graph: Mapping[str, Any]) -> tuple[set[str], set[str]]:
    """The names ``graph`` defines, and those its nodes (and their subgraphs) read from
    outside it."""
    defined = set(graph["inputs"]) | set(graph["constants"])
    read: set[str] = set()
    for node in graph["nodes"]:
        read.update(name for name in node["inputs"] if name)
        for value in node["attrs"].values():
            if is_subgraph(value):
                read |= outer_names(value)
        defined.update(node["outputs"])
    return defined, read


def outer_names(graph: Mapping[str, Any]) -> set[str]:
    """The names of the enclosing graph that ``graph`` reads."""
    defined, read = subgraph_names(graph)
    return read - defined


def is_subgraph(value: Any) -> bool:
    """Whether an attribute value is an imported subgraph (a ``Scan``'s ``body``)."""
    return isinstance(value, Mapping) and {"inputs", "nodes", "outputs", "constants"} <= set(value)
