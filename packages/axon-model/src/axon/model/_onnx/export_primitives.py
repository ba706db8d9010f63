"""One converter per JAX primitive: the ONNX nodes that compute it.

A converter takes the graph, the jaxpr equation and the ONNX names of its operands and
returns the name(s) of its result(s). ``CONVERTERS`` maps primitive names to them and
``ONNX_OPS`` says which ONNX operators each one writes (``support_table`` renders it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from onnx import helper

from .export_graph import GraphBuilder, is_static

Converter = Callable[[GraphBuilder, Any, list[str]], Any]
CONVERTERS: dict[str, Converter] = {}
ONNX_OPS: dict[str, tuple[str, ...]] = {}


class Unsupported(Exception):
    """A primitive (or a use of one) that has no ONNX conversion."""


def onnx_dtype(dtype: Any) -> int:
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


def converts(*primitives: str, onnx: Sequence[str]) -> Callable[[Converter], Converter]:
    def register(fn: Converter) -> Converter:
        for p in primitives:
            CONVERTERS[p] = fn
            ONNX_OPS[p] = tuple(onnx)
        return fn

    return register


def _in_aval(eqn: Any, i: int = 0) -> Any:
    return eqn.invars[i].aval


def _out_aval(eqn: Any, i: int = 0) -> Any:
    return eqn.outvars[i].aval


def _scalar(g: GraphBuilder, value: Any, like: Any) -> str:
    return g.const(np.asarray(value, dtype=like.dtype))


# -- elementwise ---------------------------------------------------------------------------

_UNARY = {
    "neg": "Neg", "exp": "Exp", "log": "Log", "tanh": "Tanh", "logistic": "Sigmoid",
    "sin": "Sin", "cos": "Cos", "tan": "Tan", "asin": "Asin", "acos": "Acos", "atan": "Atan",
    "sinh": "Sinh", "cosh": "Cosh", "asinh": "Asinh", "acosh": "Acosh", "atanh": "Atanh",
    "abs": "Abs", "sign": "Sign", "floor": "Floor", "ceil": "Ceil", "sqrt": "Sqrt",
    "erf": "Erf", "not": "Not", "copy": "Identity", "copy_p": "Identity",
    "reduce_precision": "Identity", "optimization_barrier": "Identity", "stop_gradient": "Identity",
}  # fmt: skip
_BINARY = {
    "add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "max": "Max", "min": "Min",
    "pow": "Pow", "and": "And", "or": "Or", "xor": "Xor", "eq": "Equal", "lt": "Less",
    "le": "LessOrEqual", "gt": "Greater", "ge": "GreaterOrEqual", "add_any": "Add",
}  # fmt: skip


def _unary(op: str) -> Converter:
    return lambda g, eqn, a: g.op(op, a)


def _binary(op: str) -> Converter:
    return lambda g, eqn, a: g.op(op, a)


for _p, _op in _UNARY.items():
    converts(_p, onnx=[_op])(_unary(_op))
for _p, _op in _BINARY.items():
    converts(_p, onnx=[_op])(_binary(_op))


@converts("and", "or", "xor", "not", onnx=["BitwiseAnd", "And"])
def _logical(g: GraphBuilder, eqn: Any, a: list[str]) -> str:
    name = eqn.primitive.name
    boolean = np.dtype(_out_aval(eqn).dtype) == np.bool_
    op = {"and": "And", "or": "Or", "xor": "Xor", "not": "Not"}[name]
    return g.op(op if boolean else "Bitwise" + op.title(), a)


@converts("ne", onnx=["Equal", "Not"])
def _ne(g: GraphBuilder, eqn: Any, a: list[str]) -> str:
    return g.op("Not", [g.op("Equal", a)])


@converts("rsqrt", onnx=["Sqrt", "Reciprocal"])
def _rsqrt(g: GraphBuilder, eqn: Any, a: list[str]) -> str:
    return g.op("Reciprocal", [g.op("Sqrt", a)])


@converts("erfc", onnx=["Erf", "Sub"])
def _erfc(g: GraphBuilder, eqn: Any, a: list[str]) -> str:
    return g.op("Sub", [_scalar(g, 1, _in_aval(eqn)), g.op("Erf", a)])


@converts("log1p", onnx=["Add", "Log"])
def _log1p(g: GraphBuilder, eqn: Any, a: list[str]) -> str:
    return g.op("Log", [g.op("Add", [a[0], _scalar(g, 1, _in_aval(eqn))])])


@converts("expm1", onnx=["Exp", "Sub"])
def _expm1(g: GraphBuilder, eqn: Any, a: list[str]) -> str:
    return g.op("Sub", [g.op("Exp", a), _scalar(g, 1, _in_aval(eqn))])


@converts("exp2", onnx=["Pow"])
def _exp2(g: GraphBuilder, eqn: Any, a: list[str]) -> str:
    return g.op("Pow", [_scalar(g, 2, _in_aval(eqn)), a[0]])


@converts("square", onnx=["Mul"])
def _square(g: GraphBuilder, eqn: Any, a: list[str]) -> str:
    return g.op("Mul", [a[0], a[0]])


@converts("integer_pow", onnx=["Mul", "Reciprocal"])
def _integer_pow(g: GraphBuilder, eqn: Any, a: list[str]) -> str:
    y = eqn.params["y"]
    if y == 0:
        return g.op("Expand", [_scalar(g, 1, _in_aval(eqn)), g.op("Shape", a)])
    result = a[0]  # repeated products, as XLA computes integer powers
    for _ in range(abs(y) - 1):
        result = g.op("Mul", [result, a[0]])
    return g.op("Reciprocal", [result]) if y < 0 else result


@converts("round", onnx=["Round", "Sign", "Floor", "Abs"])
def _round(g: GraphBuilder, eqn: Any, a: list[str]) -> str:
    method = int(eqn.params.get("rounding_method", 0))
    if method == 1:  # to nearest even: ONNX Round
        return g.op("Round", a)
    half = _scalar(g, 0.5, _in_aval(eqn))  # away from zero
    return g.op("Mul", [g.op("Sign", a), g.op("Floor", [g.op("Add", [g.op("Abs", a), half])])])


@converts("rem", onnx=["Mod"])
def _rem(g: GraphBuilder, eqn: Any, a: list[str]) -> str:
    floating = np.issubdtype(np.dtype(_out_aval(eqn).dtype), np.floating)
    return g.op("Mod", a, fmod=1 if floating else 0) if floating else g.op("Mod", a, fmod=1)


@converts("atan2", onnx=["Atan", "Div", "Where"])
def _atan2(g: GraphBuilder, eqn: Any, a: list[str]) -> str:
    y, x = a
    aval = _in_aval(eqn)
    base = g.op("Atan", [g.op("Div", [y, x])])
    pi = _scalar(g, np.pi, aval)
    zero = _scalar(g, 0, aval)
    shift = g.op("Where", [g.op("Less", [y, zero]), g.op("Neg", [pi]), pi])
    return g.op("Where", [g.op("Less", [x, zero]), g.op("Add", [base, shift]), base])


@converts("is_finite", onnx=["IsInf", "IsNaN", "Or", "Not"])
def _is_finite(g: GraphBuilder, eqn: Any, a: list[str]) -> str:
    return g.op("Not", [g.op("Or", [g.op("IsInf", a), g.op("IsNaN", a)])])


@converts("clamp", onnx=["Max", "Min"])
def _clamp(g: GraphBuilder, eqn: Any, a: list[str]) -> str:
    low, x, high = a
    return g.op("Max", [g.op("Min", [x, high]), low])


@converts("convert_element_type", onnx=["Cast"])
def _convert(g: GraphBuilder, eqn: Any, a: list[str]) -> str:
    return g.op("Cast", a, to=onnx_dtype(eqn.params["new_dtype"]))


@converts("select_n", onnx=["Where"])
def _select_n(g: GraphBuilder, eqn: Any, a: list[str]) -> str:
    predicate, *cases = a
    if len(cases) != 2:
        raise Unsupported(f"select_n with {len(cases)} cases")
    if np.dtype(_in_aval(eqn).dtype) != np.bool_:
        predicate = g.op("Cast", [predicate], to=onnx_dtype(np.bool_))
    if np.dtype(_out_aval(eqn).dtype) == np.bool_:  # onnxruntime has no boolean Where
        cases = [g.op("Cast", [c], to=onnx_dtype(np.int32)) for c in cases]
        chosen = g.op("Where", [predicate, cases[1], cases[0]])
        return g.op("Cast", [chosen], to=onnx_dtype(np.bool_))
    return g.op("Where", [predicate, cases[1], cases[0]])


# -- shapes --------------------------------------------------------------------------------


@converts("broadcast_in_dim", onnx=["Unsqueeze", "Expand"])
def _broadcast_in_dim(g: GraphBuilder, eqn: Any, a: list[str]) -> str:
    shape, kept = eqn.params["shape"], eqn.params["broadcast_dimensions"]
    x = a[0]
    new_axes = [i for i in range(len(shape)) if i not in kept]
    if new_axes:
        x = g.op("Unsqueeze", [x, g.const(new_axes, np.int64)])
    if tuple(_in_aval(eqn).shape) == tuple(shape) or (
        is_static(_in_aval(eqn).shape) and is_static(shape)
        and int(np.prod(_in_aval(eqn).shape)) == int(np.prod(shape))
    ):  # fmt: skip
        return x if new_axes else g.op("Identity", [x])
    return g.op("Expand", [x, g.shape(shape)])


@converts("reshape", onnx=["Reshape"])
def _reshape(g: GraphBuilder, eqn: Any, a: list[str]) -> str:
    if eqn.params.get("dimensions"):
        raise Unsupported("reshape with dimensions")
    return g.op("Reshape", [a[0], g.shape(eqn.params["new_sizes"])])


@converts("squeeze", onnx=["Squeeze"])
def _squeeze(g: GraphBuilder, eqn: Any, a: list[str]) -> str:
    return g.op("Squeeze", [a[0], g.const(list(eqn.params["dimensions"]), np.int64)])


@converts("expand_dims", onnx=["Unsqueeze"])
def _expand_dims(g: GraphBuilder, eqn: Any, a: list[str]) -> str:
    return g.op("Unsqueeze", [a[0], g.const(list(eqn.params["dimensions"]), np.int64)])


@converts("transpose", onnx=["Transpose"])
def _transpose(g: GraphBuilder, eqn: Any, a: list[str]) -> str:
    return g.op("Transpose", a, perm=list(eqn.params["permutation"]))


@converts("concatenate", onnx=["Concat"])
def _concatenate(g: GraphBuilder, eqn: Any, a: list[str]) -> str:
    return g.op("Concat", a, axis=eqn.params["dimension"])


@converts("split", onnx=["Split"])
def _split(g: GraphBuilder, eqn: Any, a: list[str]) -> Any:
    sizes = g.const(list(eqn.params["sizes"]), np.int64)
    return g.op("Split", [a[0], sizes], outputs=len(eqn.outvars), axis=eqn.params["axis"])


@converts("pad", onnx=["Pad"])
def _pad(g: GraphBuilder, eqn: Any, a: list[str]) -> str:
    config = eqn.params["padding_config"]
    if any(interior for _, _, interior in config):
        return _pad_interior(g, eqn, a)
    pads = [lo for lo, _, _ in config] + [hi for _, hi, _ in config]
    return g.op("Pad", [a[0], g.const(pads, np.int64), a[1]], mode="constant")


def _pad_interior(g: GraphBuilder, eqn: Any, a: list[str]) -> str:
    x, value = a
    shape = list(_in_aval(eqn).shape)
    for axis, (_, _, interior) in enumerate(eqn.params["padding_config"]):
        if interior:
            x = dilate(g, x, shape, axis, interior + 1, value)
            shape[axis] = (shape[axis] - 1) * (interior + 1) + 1
    config = eqn.params["padding_config"]
    pads = [lo for lo, _, _ in config] + [hi for _, hi, _ in config]
    return g.op("Pad", [x, g.const(pads, np.int64), value], mode="constant")


def dilate(g: GraphBuilder, x: str, shape: list[Any], axis: int, factor: int, value: str) -> str:
    """``x`` with ``factor - 1`` copies of ``value`` between its entries along ``axis``."""
    x = g.op("Unsqueeze", [x, g.const([axis + 1], np.int64)])
    pads = [0] * (2 * (len(shape) + 1))
    pads[len(shape) + 1 + axis + 1] = factor - 1
    x = g.op("Pad", [x, g.const(pads, np.int64), value], mode="constant")
    merged = [*shape[:axis], shape[axis] * factor, *shape[axis + 1 :]]
    x = g.op("Reshape", [x, g.shape(merged)])
    keep = (shape[axis] - 1) * factor + 1
    return g.op("Slice", [x, g.const([0], np.int64), g.const([keep], np.int64),
                          g.const([axis], np.int64)])  # fmt: skip


@converts("slice", onnx=["Slice"])
def _slice(g: GraphBuilder, eqn: Any, a: list[str]) -> str:
    starts, limits = eqn.params["start_indices"], eqn.params["limit_indices"]
    strides = eqn.params["strides"] or [1] * len(starts)
    axes = [i for i, (s, e) in enumerate(zip(starts, limits, strict=True))
            if not (isinstance(s, int) and s == 0 and e is _in_aval(eqn).shape[i]) or
            strides[i] != 1]  # fmt: skip
    axes = [i for i in axes if not (starts[i] == 0 and limits[i] == _in_aval(eqn).shape[i]
                                    and strides[i] == 1)]  # fmt: skip
    if not axes:
        return g.op("Identity", a)
    return g.op("Slice", [
        a[0], g.shape([starts[i] for i in axes]), g.shape([limits[i] for i in axes]),
        g.const(axes, np.int64), g.const([strides[i] for i in axes], np.int64),
    ])  # fmt: skip


@converts("dynamic_slice", onnx=["Clip", "Slice"])
def _dynamic_slice(g: GraphBuilder, eqn: Any, a: list[str]) -> str:
    x, *starts = a
    sizes = eqn.params["slice_sizes"]
    shape = _in_aval(eqn).shape
    begin = []
    for i, start in enumerate(starts):  # XLA clamps the start into range
        start = g.op("Cast", [g.op("Reshape", [start, g.const([1], np.int64)])],
                     to=onnx_dtype(np.int64))  # fmt: skip
        high = g.op("Sub", [g.dim(shape[i]), g.dim(sizes[i])])
        begin.append(g.op("Min", [g.op("Max", [start, g.const([0], np.int64)]), high]))
    begin_t = g.op("Concat", begin, axis=0)
    end_t = g.op("Add", [begin_t, g.shape(sizes)])
    return g.op("Slice", [x, begin_t, end_t])


@converts("iota", onnx=["Range", "Reshape", "Expand"])
def _iota(g: GraphBuilder, eqn: Any, a: list[str]) -> str:
    dtype, shape, axis = eqn.params["dtype"], eqn.params["shape"], eqn.params["dimension"]
    n = g.op("Squeeze", [g.dim(shape[axis])])
    values = g.op("Range", [g.const(0, np.int64), n, g.const(1, np.int64)])
    values = g.op("Cast", [values], to=onnx_dtype(dtype))
    view = [1] * len(shape)
    view[axis] = -1
    values = g.op("Reshape", [values, g.const(view, np.int64)])
    return g.op("Expand", [values, g.shape(shape)])


# -- reductions ----------------------------------------------------------------------------

_REDUCE = {"reduce_sum": "ReduceSum", "reduce_max": "ReduceMax", "reduce_min": "ReduceMin",
           "reduce_prod": "ReduceProd"}  # fmt: skip


def _reduce(op: str) -> Converter:
    def convert(g: GraphBuilder, eqn: Any, a: list[str]) -> str:
        axes = list(eqn.params["axes"])
        if not axes:
            return g.op("Identity", a)
        return g.op(op, [a[0], g.const(axes, np.int64)], keepdims=0)

    return convert


for _p, _op in _REDUCE.items():
    converts(_p, onnx=[_op])(_reduce(_op))


@converts("reduce_and", "reduce_or", onnx=["Cast", "ReduceMin", "ReduceMax"])
def _reduce_logical(g: GraphBuilder, eqn: Any, a: list[str]) -> str:
    op = "ReduceMin" if eqn.primitive.name == "reduce_and" else "ReduceMax"
    as_int = g.op("Cast", a, to=onnx_dtype(np.int32))
    reduced = g.op(op, [as_int, g.const(list(eqn.params["axes"]), np.int64)], keepdims=0)
    return g.op("Cast", [reduced], to=onnx_dtype(np.bool_))


@converts("argmax", "argmin", onnx=["ArgMax", "ArgMin", "Cast"])
def _argmax(g: GraphBuilder, eqn: Any, a: list[str]) -> str:
    (axis,) = eqn.params["axes"]
    op = "ArgMax" if eqn.primitive.name == "argmax" else "ArgMin"
    index = g.op(op, a, axis=axis, keepdims=0, select_last_index=0)
    return g.op("Cast", [index], to=onnx_dtype(eqn.params["index_dtype"]))


@converts("cumsum", onnx=["CumSum"])
def _cumsum(g: GraphBuilder, eqn: Any, a: list[str]) -> str:
    axis = g.const(eqn.params["axis"], np.int64)
    return g.op("CumSum", [a[0], axis], reverse=int(eqn.params["reverse"]))


# -- linear algebra and convolutions ---------------------------------------------------------

_LETTERS = "abcdefghijklmnopqrstuvwxyz"


@converts("dot_general", onnx=["MatMul", "Einsum"])
def _dot_general(g: GraphBuilder, eqn: Any, a: list[str]) -> str:
    (lc, rc), (lb, rb) = eqn.params["dimension_numbers"]
    lrank, rrank = len(_in_aval(eqn, 0).shape), len(_in_aval(eqn, 1).shape)
    if not lb and lc == (lrank - 1,) and rc == (0,) and rrank == 2:
        out = g.op("MatMul", a)  # (..., k) @ (k, n): the dense layer
    else:
        letters = iter(_LETTERS)
        left = [next(letters) for _ in range(lrank)]
        right = [next(letters) for _ in range(rrank)]
        for i, j in zip([*lc, *lb], [*rc, *rb], strict=True):
            right[j] = left[i]
        batch = [left[i] for i in lb]
        free = [c for i, c in enumerate(left) if i not in lc and i not in lb]
        free += [c for j, c in enumerate(right) if j not in rc and j not in rb]
        equation = f"{''.join(left)},{''.join(right)}->{''.join(batch + free)}"
        out = g.op("Einsum", a, equation=equation)
    wanted = np.dtype(_out_aval(eqn).dtype)
    return (
        out
        if wanted == np.dtype(_in_aval(eqn).dtype)
        else g.op("Cast", [out], to=onnx_dtype(wanted))
    )


@converts("conv_general_dilated", onnx=["Transpose", "Pad", "Conv"])
def _conv(g: GraphBuilder, eqn: Any, a: list[str]) -> str:
    p = eqn.params
    lhs_spec, rhs_spec, out_spec = p["dimension_numbers"]
    if p["batch_group_count"] != 1:
        raise Unsupported("conv_general_dilated with batch_group_count")
    x = g.op("Transpose", [a[0]], perm=list(lhs_spec))  # to (N, C, spatial...)
    w = g.op("Transpose", [a[1]], perm=list(rhs_spec))  # to (O, I, spatial...)
    shape = [_in_aval(eqn).shape[i] for i in lhs_spec]
    for axis, factor in enumerate(p["lhs_dilation"], start=2):
        if factor != 1:  # a transposed convolution: spread the input out
            x = dilate(g, x, shape, axis, factor, _scalar(g, 0, _in_aval(eqn)))
            shape[axis] = (shape[axis] - 1) * factor + 1
    pads = [lo for lo, _ in p["padding"]] + [hi for _, hi in p["padding"]]
    if any(pads):
        x = g.op("Pad", [x, g.const([0, 0, *pads[: len(pads) // 2], 0, 0,
                                     *pads[len(pads) // 2 :]], np.int64)])  # fmt: skip
    y = g.op("Conv", [x, w], strides=list(p["window_strides"]),
             dilations=list(p["rhs_dilation"]), group=p["feature_group_count"])  # fmt: skip
    return g.op("Transpose", [y], perm=list(np.argsort(out_spec)))


_POOLS = {"reduce_window_max": "MaxPool", "reduce_window_sum": "AveragePool",
          "reduce_window_min": "MaxPool"}  # fmt: skip


@converts(*_POOLS, onnx=["Transpose", "MaxPool", "AveragePool", "Mul"])
def _reduce_window(g: GraphBuilder, eqn: Any, a: list[str]) -> str:
    p = eqn.params
    window, strides = p["window_dimensions"], p["window_strides"]
    padding, dilation = p["padding"], p["window_dilation"]
    if any(d != 1 for d in p["base_dilation"]):
        raise Unsupported(f"{eqn.primitive.name} with base dilation")
    shape = _in_aval(eqn).shape
    pooled = [i for i in range(len(shape))
              if window[i] != 1 or strides[i] != 1 or padding[i] != (0, 0)]  # fmt: skip
    kept = [i for i in range(len(shape)) if i not in pooled]
    if not pooled:
        return g.op("Identity", a)
    if not kept or not all(isinstance(shape[i], int) for i in kept[1:]):
        raise Unsupported(f"{eqn.primitive.name} over every axis")
    perm = [*kept, *pooled]
    x = g.op("Transpose", [a[0]], perm=perm)
    channels = int(np.prod([shape[i] for i in kept[1:]]))
    lead = [shape[kept[0]], channels]
    x = g.op("Reshape", [x, g.shape([*lead, *[shape[i] for i in pooled]])])
    name = eqn.primitive.name
    if name == "reduce_window_min":
        x = g.op("Neg", [x])
    attrs = dict(kernel_shape=[window[i] for i in pooled], strides=[strides[i] for i in pooled],
                 pads=[padding[i][0] for i in pooled] + [padding[i][1] for i in pooled],
                 dilations=[dilation[i] for i in pooled])  # fmt: skip
    if name == "reduce_window_sum":
        y = g.op("AveragePool", [x], count_include_pad=1, **attrs)
        y = g.op("Mul", [y, _scalar(g, int(np.prod(attrs["kernel_shape"])), _in_aval(eqn))])
    else:
        y = g.op("MaxPool", [x], **attrs)
    if name == "reduce_window_min":
        y = g.op("Neg", [y])
    out_shape = _out_aval(eqn).shape
    y = g.op(
        "Reshape", [y, g.shape([*[out_shape[i] for i in kept], *[out_shape[i] for i in pooled]])]
    )
    return g.op("Transpose", [y], perm=list(np.argsort(perm)))


# -- indexing ------------------------------------------------------------------------------


@converts("gather", onnx=["Gather", "Clip"])
def _gather(g: GraphBuilder, eqn: Any, a: list[str]) -> str:
    """The gathers of ``jnp.take`` and ``x[ids]`` along one axis (embedding lookups)."""
    p = eqn.params
    dims = p["dimension_numbers"]
    operand = _in_aval(eqn, 0)
    indices = _in_aval(eqn, 1)
    along_one_axis = (
        not dims.operand_batching_dims
        and len(dims.start_index_map) == 1
        and dims.collapsed_slice_dims == dims.start_index_map
        and indices.shape[-1] == 1
    )
    if not along_one_axis:
        raise Unsupported("gather (other than along one axis)")
    (axis,) = dims.start_index_map
    full = [s for i, s in enumerate(operand.shape) if i != axis]
    if [s for i, s in enumerate(p["slice_sizes"]) if i != axis] != full:
        raise Unsupported("gather of partial slices")
    batch_rank = len(indices.shape) - 1
    onnx_order = (*range(axis), *range(axis + batch_rank, batch_rank + len(full)))
    if tuple(dims.offset_dims) != onnx_order:
        raise Unsupported("gather with reordered output axes")
    ids = g.op("Squeeze", [a[1], g.const([batch_rank], np.int64)])
    ids = g.op("Cast", [ids], to=onnx_dtype(np.int64))
    mode = str(p["mode"])
    size = g.dim(operand.shape[axis])
    if "CLIP" in mode or "PROMISE" in mode:
        high = g.op("Sub", [size, g.const([1], np.int64)])
        ids = g.op("Clip", [ids, g.const(0, np.int64), g.op("Squeeze", [high])])
        return g.op("Gather", [a[0], ids], axis=axis)
    raise Unsupported(f"gather with mode {mode}")


def support_table() -> list[tuple[str, tuple[str, ...]]]:
    """``(JAX primitive, ONNX operators it becomes)`` for every convertible primitive."""
    control = {"scan": ("Scan",), "cond": ("If",), "pjit": ("(inlined)",),
               "custom_jvp_call": ("(inlined)",), "custom_vjp_call": ("(inlined)",)}  # fmt: skip
    return sorted({**ONNX_OPS, **control}.items())
