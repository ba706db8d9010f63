"""Write a JAX program (a jaxpr) as ONNX nodes: the walk, calls, and control flow.

The per-primitive converters live in ``export_primitives``; this module walks a jaxpr,
inlines the nested programs of ``jit``, ``custom_jvp``/``custom_vjp`` and ``remat``, and
turns ``scan`` into an ONNX ``Scan`` and ``cond`` into an ``If`` with subgraph bodies.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from jax.extend import core as jex_core
from onnx import helper

from .export_graph import GraphBuilder
from .export_primitives import CONVERTERS, Unsupported, onnx_dtype

# primitives whose parameters hold a program to run in place of the equation
_CALL_PARAMS = {
    "pjit": "jaxpr",
    "jit": "jaxpr",
    "closed_call": "call_jaxpr",
    "core_call": "call_jaxpr",
    "custom_jvp_call": "call_jaxpr",
    "custom_vjp_call": "call_jaxpr",
    "custom_vjp_call_jaxpr": "fun_jaxpr",
    "remat": "jaxpr",
    "checkpoint": "jaxpr",
    "custom_lin": None,
}


def unsupported_primitives(jaxpr: Any) -> list[str]:
    """The primitives of ``jaxpr`` (and the programs it calls) that cannot be converted."""
    missing: list[str] = []
    for eqn in jaxpr.eqns:
        name = eqn.primitive.name
        if name in _CALL_PARAMS and _CALL_PARAMS[name] is not None:
            missing += unsupported_primitives(_open(eqn.params[_CALL_PARAMS[name]]))
        elif name == "scan":
            missing += unsupported_primitives(_open(eqn.params["jaxpr"]))
        elif name == "cond":
            for branch in eqn.params["branches"]:
                missing += unsupported_primitives(_open(branch))
        elif name not in CONVERTERS:
            missing.append(name)
    return sorted(set(missing))


def convert(graph: GraphBuilder, closed: Any, inputs: Sequence[str]) -> list[str]:
    """Add the nodes computing ``closed`` (a ClosedJaxpr) from ``inputs``; its output names."""
    jaxpr = _open(closed)
    consts = [graph.const(np.asarray(c)) for c in getattr(closed, "consts", ())]
    return _walk(graph, jaxpr, [*consts, *inputs] if consts else list(inputs))


def _open(closed: Any) -> Any:
    return getattr(closed, "jaxpr", closed)


def _walk(graph: GraphBuilder, jaxpr: Any, inputs: Sequence[str]) -> list[str]:
    env: dict[Any, str] = {}
    invars = [*jaxpr.constvars, *jaxpr.invars] if len(inputs) > len(jaxpr.invars) else jaxpr.invars
    for var, name in zip(invars, inputs, strict=True):
        env[var] = name

    def read(atom: Any) -> str:
        if isinstance(atom, jex_core.Literal):
            return graph.const(np.asarray(atom.val, dtype=atom.aval.dtype))
        return env[atom]

    for eqn in jaxpr.eqns:
        args = [read(v) for v in eqn.invars]
        outs = _equation(graph, eqn, args)
        for var, name in zip(eqn.outvars, outs, strict=True):
            env[var] = name
    return [read(v) for v in jaxpr.outvars]


def _equation(graph: GraphBuilder, eqn: Any, args: list[str]) -> list[str]:
    name = eqn.primitive.name
    if _CALL_PARAMS.get(name):
        return convert(graph, eqn.params[_CALL_PARAMS[name]], args)
    if name in _CONTROL:
        return _CONTROL[name](graph, eqn, args)
    converter = CONVERTERS.get(name)
    if converter is None:
        raise Unsupported(name)
    out = converter(graph, eqn, args)
    return [out] if isinstance(out, str) else list(out)


def _value_info(name: str, aval: Any) -> Any:
    dims = [d if isinstance(d, int) else None for d in aval.shape]
    return helper.make_tensor_value_info(name, onnx_dtype(aval.dtype), dims)


def _subgraph(
    graph: GraphBuilder, closed: Any, in_avals: Sequence[Any], hint: str,
    body: Callable[[GraphBuilder, list[str]], list[str]] | None = None,
) -> Any:  # fmt: skip
    """A GraphProto computing ``closed`` from fresh inputs (it may read outer values)."""
    sub = GraphBuilder(prefix=graph.fresh(hint) + "/", parent=graph)
    names = [sub.fresh(f"in{i}") for i in range(len(in_avals))]
    outs = body(sub, names) if body else convert(sub, closed, names)
    jaxpr = _open(closed)
    # ONNX graph outputs must be produced inside the body: pass through outer values
    # and give each output its own name (a body may return one value twice)
    unique: list[str] = []
    for o in outs:
        fresh = o not in unique and any(o in node.output for node in sub.nodes)
        unique.append(o if fresh else sub.op("Identity", [o]))
    outs = unique
    return helper.make_graph(
        sub.nodes, sub.prefix.rstrip("/"),
        [_value_info(n, a) for n, a in zip(names, in_avals, strict=True)],
        [_value_info(n, v.aval) for n, v in zip(outs, jaxpr.outvars, strict=True)],
        initializer=sub.initializers,
    )  # fmt: skip


def _scan(graph: GraphBuilder, eqn: Any, args: list[str]) -> list[str]:
    """``lax.scan`` as ONNX ``Scan``: consts are read from the outer scope, the carry is
    the scan state, ``xs`` are scanned along axis 0 (backwards when ``reverse``)."""
    p = eqn.params
    n_consts, n_carry = p["num_consts"], p["num_carry"]
    closed = p["jaxpr"]
    jaxpr = _open(closed)
    consts, carry, xs = (
        args[:n_consts],
        args[n_consts : n_consts + n_carry],
        args[n_consts + n_carry :],
    )
    if not xs:  # ONNX Scan needs a scanned input: scan over an iota of the length
        raise Unsupported("scan (without scanned inputs)")
    in_avals = [v.aval for v in jaxpr.invars[n_consts:]]
    body_consts = [graph.const(np.asarray(c)) for c in getattr(closed, "consts", ())]

    def body(sub: GraphBuilder, names: list[str]) -> list[str]:
        return _walk(
            sub, jaxpr, [*body_consts, *consts, *names] if body_consts else [*consts, *names]
        )

    sub = _subgraph(graph, closed, in_avals, "scan", body)
    n_ys = len(eqn.outvars) - n_carry
    direction = 1 if p["reverse"] else 0
    outs = graph.op(
        "Scan", [*carry, *xs], outputs=len(eqn.outvars), body=sub, num_scan_inputs=len(xs),
        scan_input_directions=[direction] * len(xs), scan_output_directions=[direction] * n_ys,
    )  # fmt: skip
    return [outs] if isinstance(outs, str) else outs


def _cond(graph: GraphBuilder, eqn: Any, args: list[str]) -> list[str]:
    branches = eqn.params["branches"]
    if len(branches) != 2:
        raise Unsupported(f"cond with {len(branches)} branches")
    index, operands = args[0], args[1:]

    def branch(closed: Any) -> Any:
        return _subgraph(graph, closed, [], "branch", lambda sub, _: convert(sub, closed, operands))

    predicate = graph.op("Cast", [index], to=onnx_dtype(np.bool_))
    outs = graph.op(
        "If", [predicate], outputs=len(eqn.outvars),
        then_branch=branch(branches[1]), else_branch=branch(branches[0]),
    )  # fmt: skip
    return [outs] if isinstance(outs, str) else outs


_CONTROL: dict[str, Callable[[GraphBuilder, Any, list[str]], list[str]]] = {
    "scan": _scan,
    "cond": _cond,
}
