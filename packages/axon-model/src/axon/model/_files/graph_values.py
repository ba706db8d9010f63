"""Builder arguments as JSON, and back, without code: the value encoding of the model file.

JSON numbers, strings, booleans, ``null`` and lists stand for themselves. Everything else
is an object with exactly one ``$``-tag:

- ``{"$layer": name}``: another layer of the model (an argument that was a ``Model``),
  or ``{"$layer": [call, position]}`` for a copy of a block's layer (copies share their
  name): the one made by the file's call ``call``, at ``position`` among those it made;
- in a block's body, ``{"$block_layer": [call, position]}``, the layer made by the body's
  call ``call``, and ``{"$block_input": i}``, the block's ``i``-th input;
- ``{"$block": i}``: the file's ``i``-th block, an argument that was a ``Block`` (the cell
  of ``rnn``);
- ``{"$tuple": [...]}``, ``{"$dict": {...}}``: tuples, and dicts with string keys;
- ``{"$array": {"dtype", "shape", "data"}}``: a NumPy/JAX array, its bytes in base64
  (little-endian), of a plain numeric or boolean dtype;
- ``{"$dtype": name}``: a dtype;
- ``{"$activation": name}``: a function registered as an activation
  (``axon.functional.activations``), stored by its registered name;
- ``{"$penalty": {"name", "config"}}``: a regularizer (``axon.functional.penalties``),
  its registered class's name and constructor arguments (numbers).

Decoding builds only these values (``numpy.frombuffer`` over a whitelisted dtype; a
registry lookup by name); an unknown tag is an error. Other functions (lambdas, closures
such as a configured initializer) cannot be stored: :class:`Unencodable` names the
argument. ``summary`` is a looser, one-way view of any value, used to describe and
compare layers (the file's ``layers`` list).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from typing import Any

import jax
import ml_dtypes
import numpy as np

from axon.functional import activations, penalties

from .._graph.blocks import Block
from .._graph.model import Model

#: dtypes an ``$array``/``$dtype`` may name (never ``object``: decoding makes no Python objects).
DTYPES: dict[str, Any] = {
    np.dtype(t).name: np.dtype(t)
    for t in (
        np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
        np.uint64, np.float16, np.float32, np.float64, np.complex64, np.complex128,
        ml_dtypes.bfloat16,
    )
}  # fmt: skip


class Unencodable(TypeError):
    """A builder argument that the model file cannot store (``where`` names it)."""

    #: what to do instead, where the generic advice (pass data or registered names) is not it
    advice: str | None = None

    def __init__(self, where: str, value: Any, advice: str | None = None):
        self.where, self.value, self.advice = where, value, advice
        super().__init__(f"{where} = {_short_repr(value)}")


def encode(value: Any, layer_ref: Callable[[Any], Any], where: str) -> Any:
    """``value`` as JSON data; ``layer_ref(model)`` is a model argument's ``$layer`` object
    (and ``layer_ref(block)`` a block argument's ``$block``)."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value)
    if isinstance(value, Model | Block):
        return layer_ref(value)
    if isinstance(value, list):
        return [encode(v, layer_ref, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return {"$tuple": [encode(v, layer_ref, f"{where}[{i}]") for i, v in enumerate(value)]}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"$dict": {k: encode(v, layer_ref, f"{where}[{k!r}]") for k, v in value.items()}}
    if isinstance(value, np.ndarray | jax.Array) and value.dtype.name in DTYPES:
        array = np.asarray(value)
        array = np.ascontiguousarray(array, array.dtype.newbyteorder("<")).reshape(array.shape)
        data = base64.b64encode(array.tobytes()).decode("ascii")
        return {"$array": {"dtype": array.dtype.name, "shape": list(array.shape), "data": data}}
    if _is_dtype(value):
        name = np.dtype(value).name
        if name in DTYPES:
            return {"$dtype": name}
    if isinstance(value, penalties.Penalty):
        try:
            return {"$penalty": penalties.serialize(value)}
        except TypeError:  # a class that is not registered: nothing could rebuild it
            advice = (
                f"Register the penalty class {type(value).__qualname__} (an axon_penalties "
                f"hook: see axon.functional.penalties), or use L1, L2 or L1L2"
            )
            raise Unencodable(where, value, advice) from None
    if callable(value):
        name = _activation_name(value)
        if name is not None:
            return {"$activation": name}
    raise Unencodable(where, value)


def decode(data: Any, layer: Callable[[str, Any], Any], where: str) -> Any:
    """The value ``data`` (from :func:`encode`) stands for; ``layer(tag, reference)`` gives the
    model a ``$layer``, ``$block_layer`` or ``$block_input`` object refers to, or the block
    of a ``$block``."""
    if data is None or isinstance(data, bool | int | float | str):
        return data
    if isinstance(data, list):
        return [decode(v, layer, f"{where}[{i}]") for i, v in enumerate(data)]
    if not isinstance(data, dict) or len(data) != 1:
        raise ValueError(f"{where}: expected a JSON value or a {{'$tag': ...}} object: {data!r}.")
    ((tag, body),) = data.items()
    if (
        (tag == "$layer" and (isinstance(body, str) or _is_position(body)))
        or (tag == "$block_layer" and _is_position(body))
        or (tag in ("$block_input", "$block") and type(body) is int)
    ):
        return layer(tag, body)
    if tag == "$tuple" and isinstance(body, list):
        return tuple(decode(v, layer, f"{where}[{i}]") for i, v in enumerate(body))
    if tag == "$dict" and isinstance(body, dict):
        return {k: decode(v, layer, f"{where}[{k!r}]") for k, v in body.items()}
    if tag == "$array" and isinstance(body, dict):
        return _decode_array(body, where)
    if tag == "$dtype" and body in DTYPES:
        return DTYPES[body]
    if tag == "$activation" and isinstance(body, str):
        return activations.get(body)
    if tag == "$penalty" and isinstance(body, dict):
        return penalties.deserialize(body)  # a registered class, from numbers only
    raise ValueError(f"{where}: unknown or malformed value {{{tag!r}: {_short_repr(body)}}}.")


def _decode_array(body: Mapping[str, Any], where: str) -> np.ndarray:
    dtype, shape = DTYPES.get(body.get("dtype")), body.get("shape")  # type: ignore[arg-type]
    if dtype is None or not isinstance(shape, list) or not all(isinstance(d, int) for d in shape):
        raise ValueError(f"{where}: malformed array (dtype {body.get('dtype')!r}, shape {shape}).")
    raw = base64.b64decode(str(body.get("data", "")), validate=True)
    count = int(np.prod(shape, dtype=np.int64))
    if len(raw) != count * dtype.itemsize:
        raise ValueError(f"{where}: array data has {len(raw)} bytes, shape {shape} needs "
                         f"{count * dtype.itemsize}.")  # fmt: skip
    return np.frombuffer(raw, dtype=dtype.newbyteorder("<")).astype(dtype).reshape(shape)


def _is_position(body: Any) -> bool:
    return (
        isinstance(body, list)
        and len(body) == 2
        and all(isinstance(i, int) and not isinstance(i, bool) for i in body)
    )


def _is_dtype(value: Any) -> bool:
    """A dtype, a NumPy scalar type, or a JAX one (``jnp.float32``, which is not np.generic)."""
    if isinstance(value, np.dtype):
        return True
    return isinstance(value, type) and (
        issubclass(value, np.generic) or isinstance(getattr(value, "dtype", None), np.dtype)
    )


def _activation_name(fn: Any) -> str | None:
    for name in activations.names():
        if activations.get(name) is fn:
            return name
    return None


def summary(value: Any) -> Any:
    """A JSON view of any value for describing a layer (functions by qualified name)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list | tuple):
        return [summary(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): summary(v) for k, v in value.items()}
    if isinstance(value, np.ndarray | jax.Array):
        return f"array {np.asarray(value).dtype.name}{list(np.shape(value))}"
    if isinstance(value, penalties.Penalty):  # its factors, so that differing ones show
        return {"penalty": type(value).__qualname__, **summary(value.get_config())}
    if _is_dtype(value):
        return np.dtype(value).name
    if callable(value) and hasattr(value, "__qualname__"):
        return f"{getattr(value, '__module__', '?')}.{value.__qualname__}"
    if isinstance(value, jax.tree_util.PyTreeDef):
        return str(value)
    return type(value).__qualname__


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
