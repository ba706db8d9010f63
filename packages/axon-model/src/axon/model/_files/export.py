"""Exporting a model with its parameters as a self-contained ``jax.export`` artifact.

The artifact is the serialized ``jax.export.Exported`` of the model's predict
function with the parameters **baked in** as constants: whoever loads it needs
JAX (``jax.export.deserialize(data).call(x)``), not axon or the code that built
the model. The trade-off is that the parameters are part of the artifact: to
ship new weights, export again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax
import numpy as np

from .._builders.structured import plain_tree
from .._compiler.hooks import hooks_for
from .._compiler.state import ModelState
from .._errors import ModelError
from .._graph.model import Model

__all__ = ["ExportedModel", "export", "load_exported"]

_NAMES = {"inference": "axon_model_inference", "train": "axon_model_train"}


def export(
    model: Model,
    model_state: ModelState,
    inputs: Any,
    *,
    mode: str = "inference",
    platforms: Sequence[str] | None = None,
    dynamic_batch: bool = False,
) -> bytes:
    """Serialize the model and its parameters into a ``jax.export`` artifact (bytes).

    The predict function is traced for the input templates and lowered to
    StableHLO with ``model_state`` baked in as constants, so the artifact runs
    with JAX alone::

        exported = jax.export.deserialize(bytearray(data))
        prediction = exported.call(x)          # inference
        prediction, new_layer_state = exported.call(x, jax.random.key_data(key))  # train

    or with :func:`load_exported`. Input shapes are fixed, except dimensions
    given as symbols (``jax.export.symbolic_shape("b, 64")`` in a
    ``jax.ShapeDtypeStruct``), or the leading (batch) axis of every input with
    ``dynamic_batch=True``.

    ``model_state`` is checked against the model first. Hooks cannot be exported
    (they are host callbacks): a model with forward or pre-forward hooks for
    ``mode`` is refused, naming the hooked layers; export
    ``axon.model.map_nodes(model, lambda node: dataclasses.replace(node, hooks=()))``,
    which keeps the layer names, so the same model state applies.

    Args:
        model: the model.
        model_state: its parameters and state (e.g. from training or :func:`load`).
        inputs: arrays or ``jax.ShapeDtypeStruct`` templates, a dict by input name
            for several inputs; only shapes and dtypes are used.
        mode: ``"inference"`` (returns the prediction) or ``"train"`` (dropout
            active, takes the raw PRNG key data ``jax.random.key_data(key)`` as a
            second argument, returns ``(prediction, new_layer_state)``).
        platforms: the platforms to lower for, e.g. ``("cpu", "cuda")``; default:
            the current backend.
        dynamic_batch: make the leading axis of every input a shared symbolic
            dimension ``batch``, so one artifact serves any batch size.

    Returns:
        The serialized ``jax.export.Exported``.

    >>> import jax, jax.numpy as jnp, axon.model
    >>> model = axon.model.input("x", shape=(None, 3)).dense(2)
    >>> state = model.init(0, jnp.ones((1, 3)))
    >>> data = export(model, state, jnp.ones((1, 3)), dynamic_batch=True)
    >>> jax.export.deserialize(bytearray(data)).call(jnp.ones((5, 3))).shape
    (5, 2)
    """
    check_model_and_state("export", model, model_state)
    if mode not in _NAMES:
        raise ValueError(f"mode must be 'inference' or 'train', got {mode!r}.")
    _check_no_hooks(model, mode)
    templates = jax.tree_util.tree_map(_template, inputs)
    if dynamic_batch:
        templates = _with_symbolic_batch(templates)
    # Checks inputs and parameters against the model now, with a clear error, rather
    # than in the middle of lowering.
    model.program.infer(templates)

    if mode == "inference":

        def axon_model_inference(x: Any) -> Any:
            return plain_tree(model.apply(model_state, x, mode="inference")[0])

        fn, args = axon_model_inference, (templates,)
    else:
        key_data = jax.random.key_data(jax.random.key(0))
        key_template = jax.ShapeDtypeStruct(key_data.shape, key_data.dtype)

        def axon_model_train(x: Any, key_data: Any) -> Any:
            key = jax.random.wrap_key_data(key_data)
            return plain_tree(model.apply(model_state, x, mode="train", key=key))

        fn, args = axon_model_train, (templates, key_template)
    exporter = jax.export.export(
        jax.jit(fn), platforms=None if platforms is None else tuple(platforms)
    )
    try:
        exported = exporter(*args)
    except ModelError:
        raise  # already says what is wrong with the model, its inputs or its state
    except Exception as error:
        hint = (
            " A layer calls jax.debug.print or jax.debug.callback, which run on the host "
            "and cannot be exported: remove those calls from the exported model."
            if "host_callbacks" in str(error)
            else ""
        )
        raise RuntimeError(
            f"jax.export could not export the model for inputs {_describe(templates)}: "
            f"{type(error).__name__}: {error}.{hint}"
        ) from error
    try:
        return bytes(exported.serialize())
    except ImportError as error:  # jax needs flatbuffers to serialize
        raise ImportError(
            f"Serializing an export needs the 'flatbuffers' package: pip install flatbuffers "
            f"({error})."
        ) from error


def check_model_and_state(function: str, model: Any, state: Any) -> None:
    """Raise a ``TypeError`` naming ``function`` unless given a model and its state."""
    if not isinstance(model, Model):
        raise TypeError(f"{function} expects an axon.model.Model, got {type(model).__name__}.")
    if not isinstance(state, ModelState):
        raise TypeError(
            f"{function} expects the model's ModelState (from init_fn or load), got "
            f"{type(state).__name__}."
        )


def _check_no_hooks(model: Model, mode: str) -> None:
    """Refuse a model whose hooks would run in ``mode``: they are host callbacks."""
    program = model.program
    hooked = [
        node.describe(program.names[node.id])
        for node in program.order
        if hooks_for(node, "pre_forward", mode) or hooks_for(node, "forward", mode)
    ]
    if hooked:
        raise ValueError(
            f"export cannot save the hooks of {'; '.join(hooked)}: hooks run on the host "
            f"through jax.debug.callback, which jax.export cannot serialize. Export the "
            f"model without them: unhooked = axon.model.map_nodes(model, lambda node: "
            f"dataclasses.replace(node, hooks=())) keeps every layer name, so the same "
            f"model state applies."
        )


def _template(value: Any) -> jax.ShapeDtypeStruct:
    if isinstance(value, jax.ShapeDtypeStruct):
        return value
    if not hasattr(value, "shape") or not hasattr(value, "dtype"):
        raise TypeError(
            f"export needs arrays or jax.ShapeDtypeStruct templates as inputs, got "
            f"{type(value).__name__}."
        )
    return jax.ShapeDtypeStruct(tuple(value.shape), value.dtype)


def _with_symbolic_batch(templates: Any) -> Any:
    (batch,) = jax.export.symbolic_shape("batch")

    def replace(t: jax.ShapeDtypeStruct) -> jax.ShapeDtypeStruct:
        if not t.shape:
            raise ValueError("dynamic_batch=True needs inputs with a leading batch axis.")
        return jax.ShapeDtypeStruct((batch, *t.shape[1:]), t.dtype)

    return jax.tree_util.tree_map(replace, templates)


def _describe(templates: Any) -> str:
    if isinstance(templates, Mapping):
        return "{" + ", ".join(f"{k!r}: {_describe(v)}" for k, v in templates.items()) + "}"
    return f"{jax.numpy.dtype(templates.dtype).name}{list(templates.shape)}"


class ExportedModel:
    """A model loaded from :func:`export`'s bytes: call it like the predict function.

    Attributes:
        exported: the underlying ``jax.export.Exported``.
        mode: ``"inference"`` or ``"train"``.

    >>> import jax, jax.numpy as jnp, axon.model
    >>> model = axon.model.input("x", shape=(None, 3)).dense(2).dropout(rate=0.5)
    >>> state = model.init(0, jnp.ones((1, 3)))
    >>> data = axon.model.export(model, state, jnp.ones((4, 3)), mode="train")
    >>> training = axon.model.load_exported(data)
    >>> training.mode
    'train'
    >>> prediction, new_layer_state = training(jnp.ones((4, 3)), key=jax.random.key(0))
    >>> prediction.shape, new_layer_state
    ((4, 2), {})
    """

    def __init__(self, exported: jax.export.Exported):
        self.exported = exported
        self.mode = "train" if exported.fun_name == _NAMES["train"] else "inference"
        self._call = jax.jit(exported.call)

    @property
    def in_avals(self) -> tuple[Any, ...]:
        """The shapes and dtypes the function accepts (symbolic dimensions by name).

        >>> import jax.numpy as jnp, axon.model
        >>> model = axon.model.input("x", shape=(None, 3)).dense(2)
        >>> state = model.init(0, jnp.ones((1, 3)))
        >>> fixed = axon.model.load_exported(axon.model.export(model, state, jnp.ones((8, 3))))
        >>> fixed.in_avals
        (ShapedArray(float32[8,3]),)
        >>> data = axon.model.export(model, state, jnp.ones((8, 3)), dynamic_batch=True)
        >>> axon.model.load_exported(data).in_avals
        (ShapedArray(float32[batch,3]),)
        """
        return self.exported.in_avals

    @property
    def out_avals(self) -> tuple[Any, ...]:
        """The shapes and dtypes it returns, one per output leaf.

        >>> import jax.numpy as jnp, axon.model
        >>> x = axon.model.input("x", shape=(None, 3))
        >>> two_heads = axon.model.container((x.dense(2), x.dense(1)))
        >>> params = two_heads.init(0, jnp.ones((1, 3)))
        >>> exported = axon.model.export(two_heads, params, jnp.ones((4, 3)))
        >>> axon.model.load_exported(exported).out_avals
        (ShapedArray(float32[4,2]), ShapedArray(float32[4,1]))
        """
        return self.exported.out_avals

    @property
    def platforms(self) -> tuple[str, ...]:
        """The platforms the artifact was lowered for.

        By default the current backend's; :func:`export` takes ``platforms=``.

        >>> import jax, jax.numpy as jnp, axon.model
        >>> model = axon.model.input("x", shape=(None, 3)).dense(2)
        >>> state = model.init(0, jnp.ones((1, 3)))
        >>> x = jnp.ones((1, 3))
        >>> axon.model.load_exported(axon.model.export(model, state, x)).platforms
        ('...',)
        >>> data = axon.model.export(model, state, x, platforms=("cpu", "cuda"))
        >>> axon.model.load_exported(data).platforms
        ('cpu', 'cuda')
        """
        return tuple(self.exported.platforms)

    def __call__(self, inputs: Any, key: Any = None) -> Any:
        """Run it: the prediction (inference) or ``(prediction, new_layer_state)`` (train)."""
        args: tuple[Any, ...] = (inputs,)
        if self.mode == "train":
            if key is None:
                raise TypeError(
                    "This model was exported in train mode: pass key= (a jax.random.key), "
                    "which drives its random layers."
                )
            if jax.dtypes.issubdtype(getattr(key, "dtype", np.float32), jax.dtypes.prng_key):
                key = jax.random.key_data(key)
            args = (inputs, key)
        elif key is not None:
            raise TypeError("This model was exported in inference mode; it takes no key.")
        try:
            return self._call(*args)
        except (ValueError, TypeError) as error:
            expected = ", ".join(str(a) for a in self.in_avals)
            raise type(error)(
                f"The exported model expects inputs ({expected}), in the structure "
                f"{self.exported.in_tree}; calling it failed: {error}"
            ) from error

    def __repr__(self) -> str:
        ins = ", ".join(str(a) for a in self.in_avals)
        outs = ", ".join(str(a) for a in self.out_avals)
        return (
            f"<ExportedModel mode={self.mode!r} inputs=({ins}) outputs=({outs}) "
            f"platforms={self.platforms}>"
        )


def load_exported(data: bytes | bytearray) -> ExportedModel:
    """Load the bytes written by :func:`export` into a callable model.

    Needs only JAX at run time; the model-building code is not imported or run.

    Args:
        data: the serialized artifact.

    Returns:
        An :class:`ExportedModel`; ``exported_model(x)`` returns the prediction.

    >>> import jax.numpy as jnp, axon.model
    >>> model = axon.model.input("x", shape=(None, 3)).dense(2)
    >>> state = model.init(0, jnp.ones((1, 3)))
    >>> x = jnp.ones((4, 3))
    >>> loaded = load_exported(export(model, state, x))
    >>> loaded.mode, loaded.in_avals, loaded.out_avals
    ('inference', (ShapedArray(float32[4,3]),), (ShapedArray(float32[4,2]),))
    >>> bool(jnp.allclose(loaded(x), axon.model.predict(model, state, x)))
    True
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(
            f"load_exported expects the bytes returned by export(...), got {type(data).__name__}."
        )
    try:
        exported = jax.export.deserialize(bytearray(data))
    except ImportError as error:
        raise ImportError(
            f"Loading an export needs the 'flatbuffers' package: pip install flatbuffers ({error})."
        ) from error
    except Exception as error:
        raise ValueError(
            f"These {len(data)} bytes are not a serialized jax.export artifact (truncated or "
            f"corrupted?): {type(error).__name__}: {error}"
        ) from error
    return ExportedModel(exported)
