"""What each imported ONNX operator computes, in NumPy or JAX (no ``onnx`` import here).

Every op takes its input values (``None`` for an omitted optional input) and the
node's attributes, and returns a list of outputs. An op whose inputs are all NumPy
arrays computes in NumPy, so shape computations (``Shape`` -> ``Gather`` ->
``Concat`` -> ``Reshape``) stay concrete while JAX traces a layer; given a JAX
array it computes in ``jax.numpy``. :data:`OPS` is the table the importer, its
supported-ops table and the ``onnx_node`` layer read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from . import import_control, import_recurrent

Value = Any


@dataclass(frozen=True)
class Op:
    """One supported operator: its function and its family (the docs table's grouping)."""

    fn: Callable[..., list[Value]]
    family: str
    note: str = ""


def xp(*values: Value) -> Any:
    """``numpy`` when every given value is a NumPy array or scalar, else ``jax.numpy``."""
    concrete = all(v is None or isinstance(v, np.ndarray | np.generic) for v in values)
    return np if concrete else jnp


# ONNX TensorProto data types -> NumPy dtypes (the ones tensors of real models use)
DTYPES = {
    1: np.float32, 2: np.uint8, 3: np.int8, 4: np.uint16, 5: np.int16, 6: np.int32,
    7: np.int64, 9: np.bool_, 10: np.float16, 11: np.float64, 12: np.uint32, 13: np.uint64,
    16: jnp.bfloat16,
}  # fmt: skip


def cast(value: Value, dtype: Any) -> Value:
    """``value`` as ``dtype``; in JAX, 64-bit types become JAX's canonical (32-bit) ones."""
    if isinstance(value, np.ndarray | np.generic):
        return np.asarray(value).astype(dtype)
    return value.astype(jax.dtypes.canonicalize_dtype(dtype))


def ints(value: Value) -> list[int]:
    """A shape-like input (always concrete: folded, or computed from static shapes)."""
    if not isinstance(value, np.ndarray | np.generic):
        raise ValueError(
            "this input must be known while tracing (a shape or axes), but it depends on "
            "the values of the model's inputs, not only on their shapes"
        )
    return [int(v) for v in np.asarray(value).reshape(-1)]


def elementwise(fn: Callable[..., Value]) -> Callable[..., list[Value]]:
    """An op that applies ``fn(module, *inputs)`` (``module`` numpy or jax.numpy)."""

    def op(*inputs: Value, **attrs: Any) -> list[Value]:
        return [fn(xp(*inputs), *inputs)]

    return op


def _div(m: Any, a: Value, b: Value) -> Value:
    if np.issubdtype(np.dtype(a.dtype), np.integer):
        return m.sign(a) * m.sign(b) * (m.abs(a) // m.abs(b))  # ONNX truncates
    return a / b


def _variadic(reduce: Callable[[Value, Value], Value]) -> Callable[..., list[Value]]:
    def op(*inputs: Value, **attrs: Any) -> list[Value]:
        result = inputs[0]
        for value in inputs[1:]:
            result = reduce(xp(result, value), result, value)
        return [result]

    return op


def _gelu(x: Value, approximate: str = "none") -> list[Value]:
    return [jax.nn.gelu(x, approximate=approximate == "tanh")]


def _softmax(fn: Callable[..., Value]) -> Callable[..., list[Value]]:
    def op(x: Value, axis: int = -1) -> list[Value]:
        return [fn(x, axis=axis)]

    return op


def _clip(x: Value, low: Value = None, high: Value = None, **attrs: Any) -> list[Value]:
    m = xp(x, low, high)
    low = attrs.get("min") if low is None else low
    high = attrs.get("max") if high is None else high
    return [m.clip(x, low, high)]


def _shape(x: Value, start: int = 0, end: int | None = None) -> list[Value]:
    return [np.array(np.shape(x)[start:end], np.int64)]


def _reshape(x: Value, shape: Value, allowzero: int = 0) -> list[Value]:
    target = ints(shape)
    if not allowzero:  # 0 copies the input's dimension
        target = [np.shape(x)[i] if d == 0 else d for i, d in enumerate(target)]
    return [xp(x).reshape(x, target)]


def _transpose(x: Value, perm: Sequence[int] | None = None) -> list[Value]:
    return [xp(x).transpose(x, perm)]


def _concat(*inputs: Value, axis: int) -> list[Value]:
    m = xp(*inputs)
    return [m.concatenate([m.asarray(v) for v in inputs], axis=axis)]


def _gather(x: Value, indices: Value, axis: int = 0) -> list[Value]:
    m = xp(x, indices)
    indices = m.where(indices < 0, indices + np.shape(x)[axis], indices)
    return [m.take(x, indices, axis=axis)]


def _gather_elements(x: Value, indices: Value, axis: int = 0) -> list[Value]:
    m = xp(x, indices)
    indices = m.where(indices < 0, indices + np.shape(x)[axis], indices)
    return [m.take_along_axis(x, indices, axis=axis)]


def _gather_nd(x: Value, indices: Value, batch_dims: int = 0) -> list[Value]:
    m = xp(x, indices)
    batch = np.shape(x)[:batch_dims]
    depth = np.shape(indices)[-1]
    flat_x = m.reshape(x, (-1, *np.shape(x)[batch_dims:]))
    flat_i = m.reshape(indices, (flat_x.shape[0], -1, depth))
    picked = [flat_x[b][tuple(flat_i[b, :, k] for k in range(depth))] for b in range(len(flat_x))]
    result = m.stack(picked)
    return [m.reshape(result, (*batch, *np.shape(indices)[batch_dims:-1], *result.shape[2:]))]


def _slice(
    x: Value, starts: Value, ends: Value, axes: Value = None, steps: Value = None
) -> list[Value]:
    starts, ends = ints(starts), ints(ends)
    axes = list(range(len(starts))) if axes is None else ints(axes)
    steps = [1] * len(starts) if steps is None else ints(steps)
    index = [slice(None)] * np.ndim(x)
    for start, end, axis, step in zip(starts, ends, axes, steps, strict=True):
        size = np.shape(x)[axis]
        # ONNX clamps INT64_MAX/INT64_MIN-like bounds; Python slices do the same for big ints
        index[axis] = slice(start, None if end <= -size - 1 and step < 0 else end, step)
    return [x[tuple(index)]]


def _axes(axes_input: Value, attrs: dict[str, Any]) -> list[int] | None:
    if axes_input is not None:
        return ints(axes_input)
    return attrs.get("axes")


def _squeeze(x: Value, axes: Value = None, **attrs: Any) -> list[Value]:
    chosen = _axes(axes, attrs)
    return [xp(x).squeeze(x, axis=None if chosen is None else tuple(chosen))]


def _unsqueeze(x: Value, axes: Value = None, **attrs: Any) -> list[Value]:
    rank = np.ndim(x) + len(_axes(axes, attrs))
    result = x
    for axis in sorted(a % rank for a in _axes(axes, attrs)):
        result = xp(x).expand_dims(result, axis)
    return [result]


def _expand(x: Value, shape: Value) -> list[Value]:
    m = xp(x)
    target = np.broadcast_shapes(np.shape(x), tuple(ints(shape)))
    return [m.broadcast_to(x, target)]


def _constant_of_shape(shape: Value, value: Any = None) -> list[Value]:
    fill = np.zeros(1, np.float32) if value is None else np.asarray(value)
    return [np.full(ints(shape), fill.reshape(-1)[0], fill.dtype)]


def _constant(**attrs: Any) -> list[Value]:
    for key in ("value", "value_float", "value_int", "value_floats", "value_ints"):
        if key in attrs:
            return [np.asarray(attrs[key], np.float32 if "float" in key else None)]
    raise ValueError(f"a Constant with attributes {sorted(attrs)} is not supported")


def _range(start: Value, limit: Value, delta: Value) -> list[Value]:
    return [xp(start, limit, delta).arange(start, limit, delta, dtype=np.asarray(start).dtype)]


def _where(condition: Value, a: Value, b: Value) -> list[Value]:
    return [xp(condition, a, b).where(condition, a, b)]


def _flatten(x: Value, axis: int = 1) -> list[Value]:
    shape = np.shape(x)
    return [xp(x).reshape(x, (int(np.prod(shape[:axis])), int(np.prod(shape[axis:]))))]


def _split(x: Value, split: Value = None, axis: int = 0, num_outputs: int | None = None, **attrs):
    size = np.shape(x)[axis]
    if split is not None or "split" in attrs:
        sizes = ints(split) if split is not None else attrs["split"]
    else:
        chunk = -(-size // num_outputs)
        sizes = [min(chunk, size - i * chunk) for i in range(num_outputs)]
    return list(xp(x).split(x, np.cumsum(sizes)[:-1].tolist(), axis=axis))


def _tile(x: Value, repeats: Value) -> list[Value]:
    return [xp(x).tile(x, ints(repeats))]


def _reduce(name: str) -> Callable[..., list[Value]]:
    def op(
        x: Value, axes: Value = None, keepdims: int = 1, noop_with_empty_axes: int = 0, **attrs
    ) -> list[Value]:
        chosen = _axes(axes, attrs)
        if not chosen:
            if noop_with_empty_axes:
                return [x]
            chosen = None
        axis = None if chosen is None else tuple(chosen)
        return [getattr(xp(x), name)(x, axis=axis, keepdims=bool(keepdims))]

    return op


def _argmax(x: Value, axis: int = 0, keepdims: int = 1, select_last_index: int = 0) -> list[Value]:
    m = xp(x)
    if select_last_index:
        flipped = m.flip(x, axis)
        index = np.shape(x)[axis] - 1 - m.argmax(flipped, axis=axis)
    else:
        index = m.argmax(x, axis=axis)
    return [m.expand_dims(index, axis) if keepdims else index]


def _matmul(a: Value, b: Value) -> list[Value]:
    return [xp(a, b).matmul(a, b)]


def _gemm(
    a: Value, b: Value, c: Value = None, alpha=1.0, beta=1.0, transA=0, transB=0
) -> list[Value]:
    a = a.T if transA else a
    b = b.T if transB else b
    result = alpha * (a @ b)
    return [result if c is None else result + beta * c]


def _padding(pads: Sequence[int] | None, rank: int) -> list[tuple[int, int]]:
    pads = list(pads or [0] * (2 * rank))
    return list(zip(pads[:rank], pads[rank:], strict=True))


def _auto_pad(auto_pad: str, size: Sequence[int], window, strides, dilations):
    """Explicit paddings for ONNX's ``SAME_UPPER``/``SAME_LOWER`` (``VALID``: none)."""
    pads = []
    for n, k, s, d in zip(size, window, strides, dilations, strict=True):
        total = max(0, (-(-n // s) - 1) * s + (k - 1) * d + 1 - n)
        low = total // 2 if auto_pad == "SAME_UPPER" else total - total // 2
        pads.append((low, total - low))
    return pads


def _conv_padding(attrs: dict[str, Any], x: Value, window, strides, dilations):
    auto_pad = attrs.get("auto_pad", "NOTSET")
    rank = len(window)
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        return _auto_pad(auto_pad, np.shape(x)[2:], window, strides, dilations)
    return _padding(attrs.get("pads") if auto_pad == "NOTSET" else None, rank)


def _conv(x: Value, w: Value, b: Value = None, group: int = 1, **attrs: Any) -> list[Value]:
    rank = np.ndim(x) - 2
    window = np.shape(w)[2:]
    strides = attrs.get("strides") or [1] * rank
    dilations = attrs.get("dilations") or [1] * rank
    spatial = "DHW"[-rank:] if rank <= 3 else None
    numbers = (f"NC{spatial}", f"OI{spatial}", f"NC{spatial}")
    y = lax.conv_general_dilated(
        x,
        w,
        strides,
        _conv_padding(attrs, x, window, strides, dilations),
        rhs_dilation=dilations,
        dimension_numbers=numbers,
        feature_group_count=group,
    )
    return [y if b is None else y + jnp.reshape(b, (1, -1) + (1,) * rank)]


def _pool_padding(attrs: dict[str, Any], x: Value, window, strides, dilations):
    pads = _conv_padding(attrs, x, window, strides, dilations)
    if attrs.get("ceil_mode"):  # room for the last, partial window
        pads = [
            (lo, hi + (-(n + lo + hi - (k - 1) * d - 1)) % s)
            for (lo, hi), n, k, s, d in zip(
                pads, np.shape(x)[2:], window, strides, dilations, strict=True
            )
        ]
    return [(0, 0), (0, 0), *pads]


def _pool_geometry(x: Value, attrs: dict[str, Any]):
    window = list(attrs["kernel_shape"])
    rank = len(window)
    strides = list(attrs.get("strides") or [1] * rank)
    dilations = list(attrs.get("dilations") or [1] * rank)
    pads = _pool_padding(attrs, x, window, strides, dilations)
    return [1, 1, *window], [1, 1, *strides], [1, 1, *dilations], pads


def _max_pool(x: Value, **attrs: Any) -> list[Value]:
    window, strides, dilations, pads = _pool_geometry(x, attrs)
    return [
        lax.reduce_window(x, -jnp.inf, lax.max, window, strides, pads, window_dilation=dilations)
    ]


def _average_pool(x: Value, count_include_pad: int = 0, **attrs: Any) -> list[Value]:
    window, strides, dilations, pads = _pool_geometry(x, attrs)
    total = lax.reduce_window(x, 0.0, lax.add, window, strides, pads, window_dilation=dilations)
    if count_include_pad:
        # only the explicit pads count; ceil_mode's extra end padding does not
        explicit = [
            (0, 0),
            (0, 0),
            *_conv_padding(attrs, x, window[2:], strides[2:], dilations[2:]),
        ]
        ones = jnp.pad(jnp.ones(np.shape(x), x.dtype), explicit, constant_values=1)
        extra = [(0, hi - e_hi) for (_, hi), (_, e_hi) in zip(pads, explicit, strict=True)]
        counts = lax.reduce_window(ones, 0.0, lax.add, window, strides, extra)
    else:
        ones = jnp.ones(np.shape(x), x.dtype)
        counts = lax.reduce_window(ones, 0.0, lax.add, window, strides, pads)
    return [total / counts]


def _global_pool(reduce: Callable[..., Value]) -> Callable[..., list[Value]]:
    def op(x: Value) -> list[Value]:
        return [reduce(x, axis=tuple(range(2, np.ndim(x))), keepdims=True)]

    return op


def _batch_norm(x: Value, scale, bias, mean, var, epsilon=1e-5, **attrs: Any) -> list[Value]:
    shape = (1, -1) + (1,) * (np.ndim(x) - 2)
    inv = scale / jnp.sqrt(var + epsilon)
    return [(x - jnp.reshape(mean, shape)) * jnp.reshape(inv, shape) + jnp.reshape(bias, shape)]


def _layer_norm(x: Value, scale, bias=None, axis=-1, epsilon=1e-5, **attrs: Any) -> list[Value]:
    axes = tuple(range(axis % np.ndim(x), np.ndim(x)))
    mean = jnp.mean(x, axis=axes, keepdims=True)
    var = jnp.mean(jnp.square(x - mean), axis=axes, keepdims=True)
    y = (x - mean) * lax.rsqrt(var + epsilon) * scale
    return [y if bias is None else y + bias]


def _resize(
    x: Value,
    roi: Value = None,
    scales: Value = None,
    sizes: Value = None,
    mode: str = "nearest",
    coordinate_transformation_mode: str = "half_pixel",
    nearest_mode: str = "round_prefer_floor",
    **attrs: Any,
) -> list[Value]:
    shape = np.shape(x)
    if sizes is not None and np.size(sizes):
        out = ints(sizes)
        factors = [o / n for o, n in zip(out, shape, strict=True)]
    else:
        factors = [float(s) for s in np.asarray(scales).reshape(-1)]
        out = [int(np.floor(n * f)) for n, f in zip(shape, factors, strict=True)]
    if mode not in ("nearest", "linear"):
        raise ValueError(f"Resize mode {mode!r} is not supported (nearest, linear are)")
    result = x
    for axis, (n, o, f) in enumerate(zip(shape, out, factors, strict=True)):
        if n == o:
            continue
        source = _source_coordinates(coordinate_transformation_mode, n, o, f)
        if mode == "nearest":
            index = _nearest(source, nearest_mode)
            result = jnp.take(result, np.clip(index, 0, n - 1), axis=axis)
        else:
            source = np.clip(source, 0, n - 1)
            low = np.floor(source).astype(np.int64)
            high = np.minimum(low + 1, n - 1)
            weight = (source - low).astype(np.float32)
            weight = weight.reshape((-1,) + (1,) * (len(shape) - axis - 1))
            a, b = jnp.take(result, low, axis=axis), jnp.take(result, high, axis=axis)
            result = a + (b - a) * weight.astype(a.dtype)
    return [result]


def _source_coordinates(mode: str, n: int, o: int, factor: float) -> np.ndarray:
    out = np.arange(o, dtype=np.float64)
    if mode == "asymmetric":
        return out / factor
    if mode == "align_corners":
        return out * (n - 1) / (o - 1) if o > 1 else np.zeros(o)
    if mode == "pytorch_half_pixel":
        return (out + 0.5) / factor - 0.5 if o > 1 else np.zeros(o)
    if mode in ("half_pixel", "half_pixel_symmetric"):
        return (out + 0.5) / factor - 0.5
    raise ValueError(f"Resize coordinate_transformation_mode {mode!r} is not supported")


def _nearest(source: np.ndarray, mode: str) -> np.ndarray:
    rounding = {
        "floor": np.floor,
        "ceil": np.ceil,
        "round_prefer_floor": lambda s: np.ceil(s - 0.5),
        "round_prefer_ceil": lambda s: np.floor(s + 0.5),
    }
    return rounding[mode](source).astype(np.int64)


def _dropout(x: Value, *rest: Value, **attrs: Any) -> list[Value]:
    return [x, jnp.ones(np.shape(x), bool)]  # an inference graph: dropout is the identity


def _pad(
    x: Value, pads: Value, constant_value: Value = None, axes: Value = None,
    mode: str = "constant",
) -> list[Value]:  # fmt: skip
    rank = np.ndim(x)
    axes = list(range(rank)) if axes is None else [a % rank for a in ints(axes)]
    amounts, widths = ints(pads), [(0, 0)] * rank
    for i, axis in enumerate(axes):
        widths[axis] = (amounts[i], amounts[i + len(axes)])
    m = xp(x)
    if mode == "constant":
        fill = 0 if constant_value is None else constant_value
        if any(a < 0 for pair in widths for a in pair):  # negative pads crop
            return [lax.pad(x, m.asarray(fill, x.dtype), [(lo, hi, 0) for lo, hi in widths])]
        return [m.pad(x, widths, mode="constant", constant_values=fill)]
    return [m.pad(x, widths, mode={"reflect": "reflect", "edge": "edge", "wrap": "wrap"}[mode])]


def _scan(*inputs: Value, **attrs: Any) -> list[Value]:
    return import_control.scan(*inputs, **attrs, ops=FUNCTIONS)


def _unary(name: str) -> Callable[..., list[Value]]:
    return elementwise(lambda m, x: getattr(m, name)(x))


def _binary(name: str) -> Callable[..., list[Value]]:
    return elementwise(lambda m, a, b: getattr(m, name)(a, b))


OPS: dict[str, Op] = {
    # arithmetic and comparisons (NumPy on shapes, JAX on tensors)
    **{
        op: Op(_binary(fn), "elementwise")
        for op, fn in {
            "Add": "add", "Sub": "subtract", "Mul": "multiply", "Pow": "power",
            "Equal": "equal", "Less": "less", "LessOrEqual": "less_equal",
            "Greater": "greater", "GreaterOrEqual": "greater_equal", "And": "logical_and",
            "Or": "logical_or", "Xor": "logical_xor", "Mod": "mod",
        }.items()
    },
    "Div": Op(elementwise(_div), "elementwise", "integer division truncates"),
    "Max": Op(_variadic(lambda m, a, b: m.maximum(a, b)), "elementwise"),
    "Min": Op(_variadic(lambda m, a, b: m.minimum(a, b)), "elementwise"),
    "Sum": Op(_variadic(lambda m, a, b: m.add(a, b)), "elementwise"),
    "Where": Op(_where, "elementwise"),
    **{
        op: Op(_unary(fn), "elementwise")
        for op, fn in {
            "Neg": "negative", "Abs": "abs", "Exp": "exp", "Log": "log", "Sqrt": "sqrt",
            "Reciprocal": "reciprocal", "Floor": "floor", "Ceil": "ceil", "Not": "logical_not",
            "IsNaN": "isnan", "IsInf": "isinf", "Sin": "sin", "Cos": "cos", "Tanh": "tanh",
            "Sign": "sign",
        }.items()
    },
    "Identity": Op(lambda x: [x], "elementwise"),
    # activations
    "Relu": Op(lambda x: [jax.nn.relu(x)], "activation"),
    "Sigmoid": Op(lambda x: [jax.nn.sigmoid(x)], "activation"),
    "Erf": Op(lambda x: [jax.scipy.special.erf(x)], "activation"),
    "Gelu": Op(_gelu, "activation", "approximate none or tanh"),
    "Softplus": Op(lambda x: [jax.nn.softplus(x)], "activation"),
    "LeakyRelu": Op(lambda x, alpha=0.01: [jax.nn.leaky_relu(x, alpha)], "activation"),
    "Elu": Op(lambda x, alpha=1.0: [jax.nn.elu(x, alpha)], "activation"),
    "Selu": Op(lambda x, **attrs: [jax.nn.selu(x)], "activation", "default alpha, gamma"),
    "HardSigmoid": Op(
        lambda x, alpha=0.2, beta=0.5: [jnp.clip(alpha * x + beta, 0, 1)], "activation"
    ),
    "HardSwish": Op(lambda x: [x * jnp.clip(x / 6 + 0.5, 0, 1)], "activation"),
    "Clip": Op(_clip, "activation"),
    "Softmax": Op(_softmax(jax.nn.softmax), "activation"),
    "LogSoftmax": Op(_softmax(jax.nn.log_softmax), "activation"),
    # shapes and indexing (folded at import, or computed from static shapes while tracing)
    "Shape": Op(_shape, "shape"),
    "Size": Op(lambda x: [np.array(np.size(x), np.int64)], "shape"),
    "Reshape": Op(_reshape, "shape"),
    "Flatten": Op(_flatten, "shape"),
    "Transpose": Op(_transpose, "shape"),
    "Squeeze": Op(_squeeze, "shape"),
    "Unsqueeze": Op(_unsqueeze, "shape"),
    "Concat": Op(_concat, "shape"),
    "Split": Op(_split, "shape"),
    "Slice": Op(_slice, "shape"),
    "Gather": Op(_gather, "shape"),
    "GatherElements": Op(_gather_elements, "shape"),
    "GatherND": Op(_gather_nd, "shape"),
    "Expand": Op(_expand, "shape"),
    "Tile": Op(_tile, "shape"),
    "ConstantOfShape": Op(_constant_of_shape, "shape"),
    "Constant": Op(_constant, "shape"),
    "Range": Op(_range, "shape"),
    "Cast": Op(lambda x, to: [cast(x, DTYPES[to])], "shape"),
    "CastLike": Op(lambda x, like, **attrs: [cast(x, like.dtype)], "shape"),
    # reductions
    **{
        op: Op(_reduce(fn), "reduction")
        for op, fn in {
            "ReduceMean": "mean", "ReduceSum": "sum", "ReduceMax": "max", "ReduceMin": "min",
            "ReduceProd": "prod",
        }.items()
    },
    "ArgMax": Op(_argmax, "reduction"),
    # layers
    "MatMul": Op(_matmul, "layer"),
    "Gemm": Op(_gemm, "layer"),
    "Conv": Op(_conv, "layer", "1-3 spatial axes, groups, dilations, auto_pad"),
    "BatchNormalization": Op(_batch_norm, "layer", "inference mode"),
    "LayerNormalization": Op(_layer_norm, "layer"),
    "MaxPool": Op(_max_pool, "layer", "ceil_mode, dilations; no indices output"),
    "AveragePool": Op(_average_pool, "layer", "ceil_mode, count_include_pad"),
    "GlobalAveragePool": Op(_global_pool(jnp.mean), "layer"),
    "GlobalMaxPool": Op(_global_pool(jnp.max), "layer"),
    "Resize": Op(_resize, "layer", "nearest and linear; scales or sizes"),
    "Dropout": Op(_dropout, "layer", "the identity (inference graph)"),
    "LSTM": Op(import_recurrent.lstm, "layer", import_recurrent.NOTE),
    "GRU": Op(import_recurrent.gru, "layer", import_recurrent.NOTE),
    "Einsum": Op(lambda *xs, equation: [xp(*xs).einsum(equation, *xs)], "layer"),
    "Pad": Op(_pad, "shape", "constant (negative pads crop), reflect, edge, wrap"),
    # control flow
    "Scan": Op(_scan, "control", "opset 9+: a lax.scan; the body may read outer values"),
}  # fmt: skip
#: each operator's function, by name (what a program or a subgraph runs)
FUNCTIONS: dict[str, Callable[..., list[Value]]] = {name: op.fn for name, op in OPS.items()}
"""Every ONNX operator (default domain) the importer converts."""
