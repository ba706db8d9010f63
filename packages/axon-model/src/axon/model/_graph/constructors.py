"""The core constructors: ``input``, ``param``, ``parameter`` and ``layer``, from which every
builder is made."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax.numpy as jnp

from .model import Model
from .node import Node, Parameter, defined_at
from .penalties import Regularizer, as_penalty
from .recording import records
from .remat import current_remat, new_segment, remat_policy

Initializer = str | Callable[..., Any]


def input(name: str, shape: Sequence[int | None] | None = None, *, optional: bool = False) -> Model:
    """A named model input; ``None`` dimensions (usually the batch) accept any size.

    An ``optional=True`` input may be left out when the model is applied (omitted
    from the inputs dict, or given as ``None``). Its value is then missing: every
    layer that consumes a missing value is skipped and its value is missing too,
    until an :func:`axon.model.optional`/:func:`axon.model.or_else` pair supplies a
    fallback. Initialize with the input present so that the layers behind it get
    their parameters.

    >>> input("image", shape=(None, 28, 28, 1))
    <Model inputs={'image': (None, 28, 28, 1)} output='image' layers=1>

    An optional mask that defaults to all ones:

    >>> import jax.numpy as jnp, axon.model
    >>> x = input("x", shape=(None, 3))
    >>> mask = input("mask", shape=(None, 3), optional=True)
    >>> model = axon.model.multiply(x, mask.optional().or_else(axon.model.constant(jnp.ones(3))))
    >>> state = model.init(0, {"x": jnp.ones((1, 3)), "mask": jnp.ones((1, 3))})
    >>> model.apply(state, {"x": jnp.full((1, 3), 2.0)})[0].tolist()
    [[2.0, 2.0, 2.0]]
    >>> inputs = {"x": jnp.full((1, 3), 2.0), "mask": jnp.array([[1.0, 0, 1]])}
    >>> model.apply(state, inputs)[0].tolist()
    [[2.0, 0.0, 2.0]]
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"An input needs a non-empty string name, got {name!r}.")
    if shape is not None:
        shape = tuple(shape)
        if not all(d is None or (isinstance(d, int) and d > 0) for d in shape):
            raise ValueError(
                f"Input {name!r}: shape entries must be positive ints or None, got {shape}."
            )
    config: dict[str, Any] = {"shape": shape}
    if optional:
        config["optional"] = True
    return Model(Node(op=None, op_name="input", name=name, config=config, defined_at=defined_at()))


def param(
    name: str,
    shape: tuple[int, ...] | Callable[..., tuple[int, ...]],
    *,
    initializer: Initializer = "glorot_uniform",
    dtype: Any = None,
    kind: str = "parameter",
    regularizer: Regularizer = None,
) -> Parameter:
    """A parameter for a custom :func:`layer`; ``shape`` may be a function of input shapes.

    ``regularizer`` (a penalty name such as ``"l2"`` or an object from
    ``axon.functional.penalties``) adds a penalty of this parameter to the training
    objective (:func:`axon.model.penalty`).

    >>> kernel = param("kernel", lambda x_shape: (x_shape[-1], 16))
    >>> param("w", (2,), regularizer="l1").regularizer
    L1(l1=0.01)
    """
    if kind not in ("parameter", "state"):
        raise ValueError(f"kind must be 'parameter' or 'state', got {kind!r}.")
    penalty = as_penalty(regularizer, "regularizer", f"param {name!r} ({defined_at()})")
    if penalty is not None and kind != "parameter":
        raise ValueError(f"param {name!r}: only trained parameters take a regularizer, not state.")
    return Parameter(name, shape, initializer, dtype or jnp.float32, kind, penalty)  # type: ignore[arg-type]


def parameter_value(value: Any) -> Any:
    """The op of :func:`parameter`: its one parameter, as the layer's output."""
    return value


@records("parameter", kind="parameter")  # a model file stores it as this call
def parameter(
    name: str,
    shape: Sequence[int],
    *,
    initializer: Initializer = "glorot_uniform",
    dtype: Any = None,
) -> Model:
    """A free-standing trainable parameter: a model whose value is one array (``Axon.parameter``).

    Unlike :func:`param`, which belongs to the one layer it is given to, a
    ``parameter`` is a node of the graph: pass it to any number of layers (as an
    input of :func:`layer`, or as ``kernel=`` of ``dense``/``embedding``) and they
    all read the same array, so its gradient is the sum of all uses. It is stored as
    ``model_state.params[name]["value"]``. This is how input and output embeddings
    are tied:

    >>> import jax.numpy as jnp, axon.model
    >>> table = axon.model.parameter("embedding", (50, 8), initializer="normal")
    >>> ids = axon.model.input("ids", shape=(None, 6))
    >>> hidden = ids.embedding(50, 8, kernel=table).dense(8, activation="tanh")
    >>> logits = hidden.dense(50, kernel=table.transpose())  # the table, transposed
    >>> state = logits.init(0, jnp.zeros((1, 6), jnp.int32))
    >>> state.params["embedding"]["value"].shape, sorted(state.params)
    ((50, 8), ['dense_0', 'dense_1', 'embedding'])

    A model file (:func:`axon.model.save_model`) stores the parameter as this call, so
    its ``initializer`` must be a registered name there, not a function.

    Args:
        name: the parameter's (layer) name; required, unique in the model.
        shape: a tuple of positive ints (it has no input to take a shape from).
        initializer: a registered initializer name or ``init(key, shape, dtype)``.
        dtype: the parameter's dtype (float32 by default).

    Returns:
        A :class:`Model` whose value is the parameter.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"axon.model.parameter needs a non-empty string name, got {name!r}.")
    if not (isinstance(shape, Sequence) and all(isinstance(d, int) and d > 0 for d in shape)):
        raise ValueError(
            f"axon.model.parameter({name!r}): shape must be a tuple of positive ints, got "
            f"{shape!r}. A parameter has no input to compute its shape from; for a shape "
            f"that depends on a layer's input, give axon.model.param(...) to that layer."
        )
    value = param("value", tuple(shape), initializer=initializer, dtype=dtype)
    return Model(
        Node(
            op=parameter_value,
            op_name="parameter",
            args=(value,),
            name=name,
            config={"shape": tuple(shape)},
            defined_at=defined_at(),
        )
    )


def layer(
    op: Callable[..., Any],
    args: Sequence[Model | Parameter],
    *,
    name: str | None = None,
    op_name: str | None = None,
    config: dict[str, Any] | None = None,
    mode: str = "both",
    activity_regularizer: Regularizer = None,
    remat: Any = None,
    **opts: Any,
) -> Model:
    """A custom layer: ``op(*values, **opts)`` with ``args`` (models and params) in order.

    If ``op`` declares a ``mode`` parameter it receives ``"train"`` or
    ``"inference"``; if it declares ``key`` it receives a PRNG key for this layer
    (derived from the key given to ``apply``, ``None`` when none was given). A
    layer with ``kind="state"`` parameters returns ``(output, {name: new_value})``
    in train mode, and the new values become the model's state. With
    ``mode="train"`` (or ``"inference"``) the layer only runs in that mode and
    passes its first input through in the other. ``activity_regularizer`` (a penalty
    name or object) penalizes the layer's output (:func:`axon.model.penalty`).
    ``remat`` (``True``, a policy name or a ``jax.checkpoint_policies`` function)
    recomputes the layer in the backward pass instead of keeping what its op saves
    (``jax.checkpoint``); every registered builder takes the same ``remat=`` option,
    for all the layers it makes (see :func:`axon.model.build`).

    >>> import jax.numpy as jnp
    >>> x = input("x", shape=(None, 3))
    >>> scaled = layer(lambda v, s: v * s, [x, param("s", (), initializer="ones")], op_name="scale")
    >>> scaled.init(0, jnp.ones((1, 3))).params
    {'scale_0': {'s': Array(1., dtype=float32)}}
    >>> layer(jnp.sin, [x], remat="dots_saveable").node.remat.policy
    'dots_saveable'
    """
    nodes: list[Node | Parameter] = []
    seen: set[str] = set()
    for arg in args:
        if isinstance(arg, Model):
            nodes.append(arg.node)
        elif isinstance(arg, Parameter):
            if arg.name in seen:
                raise ValueError(f"Parameter name {arg.name!r} is used twice in one layer.")
            seen.add(arg.name)
            nodes.append(arg)
        else:
            raise TypeError(
                f"Layer arguments must be models or axon.model.param(...), got "
                f"{type(arg).__name__}."
            )
    if not any(isinstance(n, Node) for n in nodes):
        raise ValueError("A layer needs at least one model input among its arguments.")
    if mode not in ("both", "train", "inference"):
        raise ValueError(f"mode must be 'both', 'train' or 'inference', got {mode!r}.")
    op_name = op_name or getattr(op, "__name__", "custom")
    where = f"layer {name or op_name!r} ({defined_at()})"
    segment, policy = current_remat(), remat_policy(remat, where)
    if segment is None and policy is not None:
        segment = new_segment(policy)
    return Model(
        Node(
            op=op,
            op_name=op_name,
            args=tuple(nodes),
            opts=opts,
            config=config or {},
            name=name,
            defined_at=defined_at(),
            mode=mode,
            activity_regularizer=as_penalty(activity_regularizer, "activity_regularizer", where),
            remat=segment,
        )
    )
