"""Saving and loading a ``ModelState`` as safetensors, without pickle.

File layout (a plain safetensors file, readable by any safetensors reader):

- one tensor per entry, keyed ``params/<layer>/<name>`` or ``state/<layer>/<name>``;
- header metadata ``"axon"``: a JSON object ``{"format": "axon.model.ModelState",
  "version": 1, "frozen": [paths], "index": {key: [kind, layer, name]},
  "prng_keys": {key: impl}}``. The index makes names containing ``/`` exact;
  PRNG key arrays are stored as their raw key data and re-wrapped on load.

Loading never executes code: safetensors holds only tensors and strings.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import safetensors
import safetensors.numpy

from .._compiler.state import ModelState
from .._errors import ModelError
from .._graph.model import Model
from .atomic import write_atomically

__all__ = ["SerializationError", "from_bytes", "load", "save", "to_bytes"]

FORMAT = "axon.model.ModelState"
VERSION = 1
_KINDS = ("params", "state")
_MAX_HEADER = 100 * 1024 * 1024  # safetensors' own limit on the JSON header

# safetensors dtype names -> numpy dtypes (safetensors.numpy lacks bfloat16 and float8).
_DTYPES: dict[str, Any] = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16,
    "BF16": ml_dtypes.bfloat16, "F8_E4M3": ml_dtypes.float8_e4m3fn,
    "F8_E5M2": ml_dtypes.float8_e5m2,
    "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8,
    "U64": np.uint64, "U32": np.uint32, "U16": np.uint16, "U8": np.uint8,
    "BOOL": np.bool_, "C64": np.complex64,
}  # fmt: skip


class SerializationError(ModelError, ValueError):
    """A model state could not be written, or a file is not a valid model state.

    Also a ``ValueError``. :func:`load` raises it for a file that is not a
    safetensors model state, or (given a model) one that does not fit the model:

    >>> import pathlib, tempfile, jax.numpy as jnp, axon.model
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = pathlib.Path(tmp.name) / "model.safetensors"
    >>> small = axon.model.input("x", shape=(None, 3)).dense(2, name="out")
    >>> _ = axon.model.save(path, small.init(0, jnp.ones((1, 3))))
    >>> wide = axon.model.input("x", shape=(None, 4)).dense(2, name="out")
    >>> try:
    ...     axon.model.load(path, wide)
    ... except axon.model.SerializationError as error:
    ...     print(str(error).splitlines()[1].strip())
    wrong shape or dtype: params/out/kernel is f32[3,2], the model needs f32[4,2]
    >>> _ = path.write_bytes(b"not a model")
    >>> try:
    ...     axon.model.load(path)
    ... except axon.model.SerializationError as error:
    ...     print(str(error).split(": ")[0])
    '...model.safetensors' is not a safetensors model state (or it is truncated)
    >>> tmp.cleanup()
    """


# -- writing -------------------------------------------------------------------------------


def to_bytes(model_state: ModelState, *, metadata: Mapping[str, str] | None = None) -> bytes:
    """Serialize a ``ModelState`` to safetensors bytes (see :func:`save` for the layout).

    Args:
        model_state: the state to serialize.
        metadata: more header metadata entries (strings), e.g. a model file's graph.

    Returns:
        The bytes of a safetensors file.

    >>> import jax.numpy as jnp
    >>> data = to_bytes(ModelState({"dense_0": {"bias": jnp.zeros(2)}}))
    >>> from_bytes(data).params["dense_0"]["bias"].tolist()
    [0.0, 0.0]
    """
    if not isinstance(model_state, ModelState):
        raise TypeError(
            f"Expected an axon.model.ModelState (from init_fn or load), got "
            f"{type(model_state).__name__}. Wrap plain dicts with ModelState(params, state)."
        )
    tensors: dict[str, np.ndarray] = {}
    index: dict[str, list[str]] = {}
    prng_keys: dict[str, str] = {}
    for kind in _KINDS:
        tree = getattr(model_state, kind)
        for layer, entries in tree.items():
            if not isinstance(entries, Mapping):
                raise SerializationError(
                    f"model_state.{kind}[{layer!r}] must be a dict {{name: array}}, got "
                    f"{type(entries).__name__}."
                )
            for name, value in entries.items():
                key = f"{kind}/{layer}/{name}"
                if key in index:
                    other = index[key]
                    raise SerializationError(
                        f"Entries {kind}[{layer!r}][{name!r}] and {other[0]}[{other[1]!r}]"
                        f"[{other[2]!r}] would both be stored as {key!r}: rename a layer or "
                        f"parameter so their names do not combine into the same path."
                    )
                index[key] = [kind, str(layer), str(name)]
                tensors[key], impl = _to_numpy(value, f"{kind}[{layer!r}][{name!r}]")
                if impl is not None:
                    prng_keys[key] = impl
    header = {
        "format": FORMAT,
        "version": VERSION,
        "frozen": sorted(getattr(model_state, "frozen", ())),
        "index": index,
        "prng_keys": prng_keys,
    }
    try:
        return safetensors.numpy.save(
            tensors, metadata={**(metadata or {}), "axon": json.dumps(header)}
        )
    except Exception as error:  # e.g. a dtype safetensors cannot store
        raise SerializationError(f"Could not serialize the model state: {error}") from error


def _to_numpy(value: Any, where: str) -> tuple[np.ndarray, str | None]:
    impl = None
    dtype = getattr(value, "dtype", None)
    if dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
        impl = str(jax.random.key_impl(value))
        value = jax.random.key_data(value)
    if not hasattr(value, "shape") and not isinstance(value, (int, float, bool, np.generic)):
        raise SerializationError(
            f"model_state.{where} is a {type(value).__name__}, not an array; a model state "
            f"holds arrays only."
        )
    array = np.asarray(jax.device_get(value))
    # ascontiguousarray alone would make a 0-d array (a scalar parameter) 1-d
    array = np.ascontiguousarray(array).reshape(array.shape)
    if array.dtype.name not in {np.dtype(t).name for t in _DTYPES.values()}:
        raise SerializationError(
            f"model_state.{where} has dtype {array.dtype}, which safetensors cannot store "
            f"(supported: {sorted(np.dtype(t).name for t in _DTYPES.values())})."
        )
    return array, impl


def save(path: str | os.PathLike[str], model_state: ModelState) -> str:
    """Write a ``ModelState`` to a safetensors file, atomically.

    Tensors are keyed ``params/<layer>/<name>`` and ``state/<layer>/<name>``; the
    header's ``"axon"`` metadata (JSON) records the format version, the frozen
    paths and PRNG-key entries. The file is written to a temporary file in the
    same directory and moved into place, so ``path`` holds either the old file
    or the complete new one, never a partial write; if anything fails, nothing
    is changed.

    Args:
        path: the file to write (conventionally ``*.safetensors``).
        model_state: the state to save.

    Returns:
        The path written, as a string.

    >>> import os, tempfile, jax.numpy as jnp
    >>> path = os.path.join(tempfile.mkdtemp(), "model.safetensors")
    >>> _ = save(path, ModelState({"dense_0": {"kernel": jnp.ones((2, 3))}}).freeze())
    >>> restored = load(path)
    >>> restored.params["dense_0"]["kernel"].shape, sorted(restored.frozen)
    ((2, 3), ['dense_0/kernel'])
    """
    path = os.fspath(path)
    data = to_bytes(model_state)  # serialize first: a failure leaves the disk untouched
    write_atomically(path, data)
    return path


# -- reading -------------------------------------------------------------------------------


def load(
    path: str | os.PathLike[str], model: Model | None = None, inputs: Any = None
) -> ModelState:
    """Read a ``ModelState`` written by :func:`save`, optionally checking it against a model.

    With ``model``, every entry is compared with what ``model.init`` would create
    for ``inputs`` (arrays or ``jax.ShapeDtypeStruct`` templates; they may be left
    out when every input declares its shape except the batch axis): missing,
    unexpected, mis-shaped and mis-typed entries are all reported in one error.
    Nothing is run and no parameters are allocated for the check.

    A plain safetensors file whose keys follow ``params/<layer>/<name>`` and
    ``state/<layer>/<name>`` (e.g. converted from another framework) loads too.

    Args:
        path: the file to read.
        model: a model to validate the entries against.
        inputs: input templates for ``model``.

    Returns:
        The ``ModelState`` (arrays on JAX's default device, frozen paths restored).

    >>> import os, tempfile, jax.numpy as jnp, axon.model
    >>> model = axon.model.input("x", shape=(None, 3)).dense(2)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.safetensors")
    >>> _ = save(path, model.init(0, jnp.ones((1, 3))))
    >>> load(path, model).params["dense_0"]["kernel"].shape
    (3, 2)
    """
    path = os.fspath(path)
    with open(path, "rb") as file:
        data = file.read()
    return from_bytes(data, model, inputs, source=repr(path))


def from_bytes(
    data: bytes, model: Model | None = None, inputs: Any = None, *, source: str = "the data"
) -> ModelState:
    """Deserialize bytes written by :func:`to_bytes`; see :func:`load` for ``model``/``inputs``.

    Args:
        data: the bytes of a safetensors file.
        model: a model to validate the entries against.
        inputs: input templates for ``model``.
        source: how to name the data in error messages.

    Returns:
        The ``ModelState``.

    >>> import jax.numpy as jnp
    >>> data = to_bytes(ModelState(state={"bn": {"mean": jnp.zeros(3)}}))
    >>> from_bytes(data).state["bn"]["mean"].shape
    (3,)
    """
    header = _read_header(data, source)
    metadata = header.get("__metadata__") or {}
    info = _axon_metadata(metadata, source)
    try:
        raw = safetensors.deserialize(bytes(data))
    except Exception as error:
        raise SerializationError(
            f"{source} is not a complete safetensors file (truncated or corrupted?): {error}"
        ) from error
    index = info.get("index") or {}
    prng_keys = info.get("prng_keys") or {}
    trees: dict[str, dict[str, dict[str, Any]]] = {kind: {} for kind in _KINDS}
    bad: list[str] = []
    for key, view in raw:
        path = index.get(key) or _parse_key(key)
        if path is None or len(path) != 3 or path[0] not in _KINDS:
            bad.append(key)
            continue
        kind, layer, name = path
        dtype = _DTYPES.get(view["dtype"])
        if dtype is None:
            raise SerializationError(
                f"Entry {key!r} of {source} has dtype {view['dtype']}, which axon.model cannot "
                f"read (supported: {sorted(_DTYPES)})."
            )
        array = np.frombuffer(view["data"], dtype=dtype).reshape(view["shape"])
        value = jnp.asarray(array)
        if key in prng_keys:
            value = jax.random.wrap_key_data(value, impl=prng_keys[key])
        trees[kind].setdefault(layer, {})[name] = value
    if bad:
        raise SerializationError(
            f"{source} has entries that are not model-state entries: {sorted(bad)[:10]}. An "
            f"axon model state stores tensors as 'params/<layer>/<name>' or "
            f"'state/<layer>/<name>'; save one with axon.model.save(path, model_state)."
        )
    frozen = frozenset(info.get("frozen") or ())
    if frozen and not hasattr(ModelState, "freeze"):
        raise SerializationError(
            f"{source} freezes {len(frozen)} entries, but this version of axon-model has no "
            f"frozen parameters; upgrade axon-model."
        )
    if hasattr(ModelState, "freeze"):
        model_state = ModelState(trees["params"], trees["state"], frozen)  # type: ignore[call-arg]
    else:
        model_state = ModelState(trees["params"], trees["state"])
    if model is not None:
        check_against(model_state, model, inputs, source=source)
    return model_state


def _read_header(data: bytes, source: str) -> dict[str, Any]:
    if len(data) < 8:
        raise SerializationError(
            f"{source} is not a safetensors model state: it has {len(data)} bytes, fewer than "
            f"the 8-byte header length (empty or truncated file?)."
        )
    (length,) = struct.unpack("<Q", data[:8])
    if length > min(_MAX_HEADER, len(data) - 8):
        raise SerializationError(
            f"{source} is not a safetensors model state (or it is truncated): its first 8 "
            f"bytes announce a {length}-byte header, but only {len(data) - 8} bytes follow."
        )
    try:
        header = json.loads(bytes(data[8 : 8 + length]).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SerializationError(
            f"{source} is not a safetensors model state: its header is not valid JSON ({error})."
        ) from error
    if not isinstance(header, dict):
        raise SerializationError(f"{source} is not a safetensors model state: bad header.")
    return header


def _axon_metadata(metadata: Mapping[str, Any], source: str) -> dict[str, Any]:
    text = metadata.get("axon")
    if text is None:
        return {}  # a plain safetensors file: keys must follow the layout
    return versioned_json(text, source, "'axon' metadata", FORMAT, VERSION, "model-state")


def versioned_json(
    text: str, source: str, what: str, format: str, version: int, kind: str
) -> dict[str, Any]:
    """The JSON object ``text`` (``what`` in ``source``) of ``format``, at most ``version``;
    a ``SerializationError`` saying which of these it is not."""
    try:
        info = json.loads(text)
    except json.JSONDecodeError as error:
        raise SerializationError(f"{source} has corrupted {what} (not JSON: {error}).") from error
    if not isinstance(info, dict) or info.get("format") != format:
        raise SerializationError(
            f"{source} has {what} of another format ({str(info)[:80]!r}); expected format "
            f"{format!r}."
        )
    written = info.get("version")
    if not isinstance(written, int) or written > version:
        raise SerializationError(
            f"{source} was written in {kind} format version {written!r}, newer than the "
            f"version {version} this axon-model reads. Upgrade axon-model to load it."
        )
    return info


def _parse_key(key: str) -> list[str] | None:
    kind, _, rest = key.partition("/")
    layer, _, name = rest.rpartition("/")
    return [kind, layer, name] if layer and name else None


# -- validation ----------------------------------------------------------------------------


def check_against(
    model_state: ModelState, model: Model, inputs: Any = None, *, source: str = "the model state"
) -> None:
    """Raise a ``SerializationError`` unless ``model_state`` has exactly ``model``'s entries.

    Entries are compared, by kind, layer and name, with what ``model.init``
    creates for ``inputs`` (computed with ``jax.eval_shape``: nothing is run).

    Args:
        model_state: the state to check.
        model: the model it should belong to.
        inputs: arrays or templates, or ``None`` when every input declares its
            shape except the batch axis.
        source: how to name the state in the error.

    >>> import jax.numpy as jnp, axon.model
    >>> model = axon.model.input("x", shape=(None, 3)).dense(2)
    >>> check_against(model.init(0, jnp.ones((1, 3))), model)
    >>> check_against(ModelState({"dense_0": {"kernel": jnp.ones((4, 2))}}), model)
    Traceback (most recent call last):
    ...
    axon.model._files.parameters.SerializationError: the model state does not match the model:
      missing: params/dense_0/bias (f32[2])
      wrong shape or dtype: params/dense_0/kernel is f32[4,2], the model needs f32[3,2]
    """
    if inputs is None:
        inputs = _templates(model)
    expected = jax.eval_shape(lambda: model.init(0, inputs))
    want, have = _specs(expected), _specs(model_state)
    missing = sorted(k for k in want if k not in have)
    unexpected = sorted(k for k in have if k not in want)
    wrong = sorted(k for k in want if k in have and want[k] != have[k])
    if not (missing or unexpected or wrong):
        return
    lines = [f"{source} does not match the model:"]
    if missing:
        lines.append("  missing: " + ", ".join(f"{k} ({want[k]})" for k in missing))
    if unexpected:
        lines.append("  unexpected: " + ", ".join(f"{k} ({have[k]})" for k in unexpected))
    if wrong:
        lines.append(
            "  wrong shape or dtype: "
            + ", ".join(f"{k} is {have[k]}, the model needs {want[k]}" for k in wrong)
        )
    raise SerializationError("\n".join(lines))


def _specs(model_state: Any) -> dict[str, str]:
    specs = {}
    for kind in _KINDS:
        for layer, entries in getattr(model_state, kind).items():
            for name, value in entries.items():
                dims = ",".join(str(d) for d in np.shape(value))
                specs[f"{kind}/{layer}/{name}"] = f"{_short_dtype(value.dtype)}[{dims}]"
    return specs


def _short_dtype(dtype: Any) -> str:
    if jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
        return str(dtype)
    dtype = np.dtype(dtype)
    if dtype == ml_dtypes.bfloat16:
        return "bf16"
    return f"{ {'i': 's'}.get(dtype.kind, dtype.kind) }{dtype.itemsize * 8}"


def _templates(model: Model) -> Any:
    program = model.program
    templates = {}
    for node in program.inputs:
        name = program.names[node.id]
        shape = node.config.get("shape")
        if shape is None or any(d is None for d in shape[1:]):
            raise ValueError(
                f"To check a model state against the model, pass inputs= (arrays or "
                f"jax.ShapeDtypeStruct templates): input {name!r} declares shape {shape}, so "
                f"the parameter shapes cannot be known without example inputs."
            )
        batch = 1 if shape and shape[0] is None else shape[0] if shape else None
        full = (batch, *shape[1:]) if shape else ()
        templates[name] = jax.ShapeDtypeStruct(full, jnp.float32)
    return templates if len(templates) > 1 else next(iter(templates.values()))
