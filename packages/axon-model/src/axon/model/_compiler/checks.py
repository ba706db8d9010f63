"""What the compiler checks before it trusts what it is given, each where it costs least
per call: inputs (names, shapes, dtypes), a model state against the model, layer outputs
that came out empty, and embedding ids.

Shapes are checked while shapes are inferred or a call is traced, so once per input and
model-state signature; a jitted step that reuses its trace pays nothing. Values (ids) can
only be checked where they are concrete: see :func:`id_range`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np

from .._errors import InputError, LayerError
from .state import ModelState

if TYPE_CHECKING:
    from .._graph.node import Node

Structs = Mapping[str, Mapping[str, jax.ShapeDtypeStruct]]

# -- inputs -------------------------------------------------------------------------------

#: NumPy dtype kinds JAX cannot hold: object, strings, raw bytes.
_NON_NUMERIC_KINDS = frozenset("OSUV")


def has_non_numeric_leaf(inputs: Any) -> bool:
    """Whether any leaf of ``inputs`` is an array of a dtype JAX cannot hold (e.g. object)."""
    return any(
        _is_non_numeric(getattr(leaf, "dtype", None)) for leaf in jax.tree_util.tree_leaves(inputs)
    )


def check_input(name: str, node: Node, value: Any) -> None:
    """Raise an ``InputError`` unless ``value`` is an array that input ``node`` accepts."""
    expected = node.config.get("shape")
    if not hasattr(value, "shape"):
        raise InputError(
            f"Input {name!r} (defined at {node.defined_at}) must be an array, got "
            f"{type(value).__name__}."
        )
    if _is_non_numeric(getattr(value, "dtype", None)):
        raise InputError(
            f"Input {name!r} (defined at {node.defined_at}) is an array of dtype "
            f"{value.dtype}, which JAX cannot compute with; it needs numbers. Object arrays "
            f"usually come from ragged lists or mixed-type columns: pad the sequences to one "
            f"length and convert with np.asarray(x, dtype=np.float32) (int32 for ids)."
        )
    if expected is None:
        return
    received = tuple(value.shape)
    mismatch = len(received) != len(expected) or any(
        e is not None and e != r for e, r in zip(expected, received, strict=False)
    )
    if mismatch:
        unbatched = len(received) == len(expected) - 1 and all(
            e is None or e == r for e, r in zip(expected[1:], received, strict=True)
        )
        if unbatched:
            advice = (
                "It looks like one example without the batch axis: pass x[None] (shape "
                f"{(1, *received)})."
            )
        else:
            suggestion = format_shape((None, *received[1:]))
            advice = f"Reshape the data to match, or declare the input with shape={suggestion}."
        raise InputError(
            f"Input {name!r} (defined at {node.defined_at}) expects shape "
            f"{format_shape(expected)} (None = any size), received {received}. {advice}"
        )


def _is_non_numeric(dtype: Any) -> bool:
    return isinstance(dtype, np.dtype) and dtype.kind in _NON_NUMERIC_KINDS


def format_shape(shape: Sequence[int | None]) -> str:
    return (
        "("
        + ", ".join("None" if d is None else str(d) for d in shape)
        + ("," if len(shape) == 1 else "")
        + ")"
    )


# -- model states ---------------------------------------------------------------------------


def misfits(layers: Mapping[str, Node], needed: Structs, model_state: ModelState) -> list[str]:
    """A line for every entry of ``model_state`` whose shape, or kind of dtype, differs
    from what the model ``needed`` (``{layer: {name: struct}}``); ``layers`` maps layer
    names to nodes.

    Dtypes are compared by kind (floating, integer, boolean, complex, key): a float32
    state runs a bfloat16 model, whose policy casts it. Entries the model does not need
    are left alone, and missing ones are reported where the layer reads them.
    """
    problems = []
    for layer, entries in needed.items():
        node = layers[layer]
        kinds = {p.name: p.kind for p in node.parameters}
        for pname, struct in entries.items():
            tree = model_state.params if kinds[pname] == "parameter" else model_state.state
            value = tree.get(layer, {}).get(pname)
            if value is None:
                continue
            shape, dtype = tuple(np.shape(value)), getattr(value, "dtype", None)
            if shape != tuple(struct.shape) or _family(dtype) != _family(struct.dtype):
                problems.append(
                    f"  {kinds[pname]} {pname!r} of {node.describe(layer)} has shape {shape} "
                    f"{dtype} in the model state; this model needs {tuple(struct.shape)} "
                    f"{struct.dtype}"
                )
    return problems


def misfit_error(problems: Sequence[str], context: str, advice: str) -> InputError:
    """The error for the lines of :func:`misfits`."""
    return InputError(
        f"The model state does not fit this model{context}:\n" + "\n".join(problems) + f"\n{advice}"
    )


def _family(dtype: Any) -> str:
    families = (
        ("key", jax.dtypes.prng_key),
        ("boolean", jnp.bool_),
        ("integer", jnp.integer),
        ("floating", jnp.floating),
        ("complex", jnp.complexfloating),
    )
    for family, kind in families:
        if dtype is not None and jax.dtypes.issubdtype(dtype, kind):
            return family
    return str(dtype)


# -- layer outputs --------------------------------------------------------------------------


def check_not_empty(node: Node, name: str, output: Any, inputs: Sequence[Any]) -> None:
    """Raise a ``LayerError`` if ``output`` has an empty axis although no input is empty.

    That is what a ``"valid"`` convolution or pooling whose window is larger than its
    input does: it returns a ``(batch, 0, 0, channels)`` array, and every layer after
    it computes on nothing.
    """
    shapes = [leaf.shape for leaf in jax.tree_util.tree_leaves(output) if hasattr(leaf, "shape")]
    if not any(_has_zero(s) for s in shapes):
        return
    received = [leaf.shape for leaf in jax.tree_util.tree_leaves(inputs) if hasattr(leaf, "shape")]
    if any(_has_zero(s) for s in received):
        return  # empty in, empty out (e.g. a batch of zero examples)
    options = {**node.opts, **node.config}
    if "kernel_size" in options:
        window = ", ".join(
            f"{k}={options[k]!r}" for k in ("kernel_size", "strides", "padding") if k in options
        )
        advice = (
            f"Its window ({window}) is larger than the input along an axis: use "
            f"padding='same', a smaller kernel_size or strides, or larger inputs."
        )
    else:
        advice = f"Check its options ({dict(node.config)}) against the input shapes."
    out = shapes[0] if len(shapes) == 1 else shapes
    raise LayerError(
        f"{node.describe(name).capitalize()} produces an empty output {tuple(out)} from "
        f"inputs of shape {', '.join(str(tuple(s)) for s in received)}. {advice}"
    )


def _has_zero(shape: Sequence[Any]) -> bool:
    return any(isinstance(d, int) and d == 0 for d in shape)


# -- embedding ids ----------------------------------------------------------------------------


def id_range(node: Node, args: Sequence[Any]) -> jax.Array | None:
    """``[min, max]`` of an embedding layer's ids (``None`` for other layers).

    Computed inside the model's jitted apply and returned beside the prediction; the
    eager caller compares it with the vocabulary (:func:`check_id_ranges`). Inside the
    caller's own ``jit`` it is never read, and XLA removes the reductions.
    """
    if node.op_name != "embedding" or "vocab_size" not in node.config:
        return None
    ids = args[0]
    if not hasattr(ids, "dtype") or not jnp.issubdtype(ids.dtype, jnp.integer) or not ids.size:
        return None  # the op itself refuses non-integer ids; no ids, nothing to check
    return jnp.stack([jnp.min(ids), jnp.max(ids)])


def check_id_ranges(layers: Mapping[str, Node], ranges: Mapping[str, Any]) -> None:
    """Raise an ``InputError`` for an embedding layer whose ids leave ``[0, vocab_size)``.

    Only concrete ranges are checked (an eager ``apply``, a loop run with ``jit=False``);
    reading them waits for the call to finish, so only models with embeddings pay.
    """
    for layer, bounds in ranges.items():
        if isinstance(bounds, jax.core.Tracer):
            return  # inside the caller's jit: JAX clamps, see the embedding builder
        low, high = (int(b) for b in np.asarray(bounds))
        vocab = layers[layer].config["vocab_size"]
        if low < 0 or high >= vocab:
            raise InputError(
                f"{layers[layer].describe(layer).capitalize()} received ids from {low} to "
                f"{high}, outside [0, {vocab}) (vocab_size={vocab}); JAX would clamp them "
                f"to the first or last row without a word. Check the ids (a tokenizer with "
                f"a larger vocabulary, or negative padding ids), or build the layer with "
                f"vocab_size={max(high + 1, vocab)} and map unknown ids to a reserved one."
            )
