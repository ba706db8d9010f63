"""Linear layer builders besides ``dense``: ``bilinear``, ``embedding`` and ``bias``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax

from axon.functional import layers as F

from .._graph.constructors import Initializer, activation_layer, layer, param
from .._graph.model import Model
from .options import check_model, check_positive_int


def bilinear(
    x1: Model,
    x2: Model,
    units: int,
    *,
    activation: str | Callable[..., Any] | None = None,
    use_bias: bool = True,
    kernel_initializer: Initializer = "glorot_uniform",
    bias_initializer: Initializer = "zeros",
    name: str | None = None,
) -> Model:
    """Bilinear layer ``y[..., o] = x1 @ kernel[o] @ x2 + bias[o]`` (``Axon.bilinear``).

    Params: ``kernel (units, in1, in2)``, ``bias (units,)``. ``activation`` is added as a
    separate layer, as in Axon.

    Args:
        x1: first input ``(*batch, in1)``.
        x2: second input ``(*batch, in2)``.
        units: output features.
        activation: optional activation name or function.
        use_bias: whether to add ``bias``.
        kernel_initializer: initializer of ``kernel``.
        bias_initializer: initializer of ``bias``.
        name: layer name.

    >>> import jax.numpy as jnp, axon.model
    >>> a, b = axon.model.input("a", shape=(None, 2)), axon.model.input("b", shape=(None, 3))
    >>> model = a.bilinear(b, 4)
    >>> state = model.init(0, {"a": jnp.ones((1, 2)), "b": jnp.ones((1, 3))})
    >>> state.params["bilinear_0"]["kernel"].shape
    (4, 2, 3)
    """
    check_model("bilinear", "x2", x2)
    units = check_positive_int("bilinear", "units", units)
    args: list[Any] = [
        x1,
        x2,
        param("kernel", lambda s1, s2: (units, s1[-1], s2[-1]), initializer=kernel_initializer),
    ]
    if use_bias:
        args.append(param("bias", (units,), initializer=bias_initializer))
    out = layer(
        F.bilinear,
        args,
        name=name,
        op_name="bilinear",
        config={"units": units, "use_bias": use_bias},
    )
    return out if activation is None else activation_layer(out, activation)


def embedding(
    x: Model,
    vocab_size: int,
    embedding_size: int,
    *,
    kernel_initializer: Initializer = "uniform",
    name: str | None = None,
) -> Model:
    """Look up rows of ``kernel (vocab_size, embedding_size)`` for integer ids (``Axon.embedding``).

    The default initializer is Axon's: uniform on ``[-0.01, 0.01)``. Ids outside
    ``[0, vocab_size)`` are clamped (JAX gather semantics).

    >>> import jax.numpy as jnp, axon.model
    >>> model = axon.model.input("ids", shape=(None, 5)).embedding(100, 8)
    >>> state = model.init(0, jnp.zeros((1, 5), jnp.int32))
    >>> model.apply(state, jnp.zeros((2, 5), jnp.int32))[0].shape
    (2, 5, 8)
    """
    vocab_size = check_positive_int("embedding", "vocab_size", vocab_size)
    embedding_size = check_positive_int("embedding", "embedding_size", embedding_size)
    kernel = param("kernel", (vocab_size, embedding_size), initializer=kernel_initializer)
    return layer(
        F.embedding,
        [x, kernel],
        name=name,
        op_name="embedding",
        config={"vocab_size": vocab_size, "embedding_size": embedding_size},
    )


def add_bias(x: jax.Array, bias: jax.Array) -> jax.Array:
    """``x + bias`` over the last axis (the op of :func:`bias`)."""
    return x + bias


def bias(x: Model, *, bias_initializer: Initializer = "zeros", name: str | None = None) -> Model:
    """Add a trainable bias ``(features,)`` over the last axis (``Axon.bias``).

    >>> import jax.numpy as jnp, axon.model
    >>> model = axon.model.input("x", shape=(None, 3)).bias(bias_initializer="ones")
    >>> model.apply(model.init(0, jnp.zeros((1, 3))), jnp.zeros((1, 3)))[0].tolist()
    [[1.0, 1.0, 1.0]]
    """
    b = param("bias", lambda shape: (shape[-1],), initializer=bias_initializer)
    return layer(add_bias, [x, b], name=name, op_name="bias")


BUILDERS = {"bilinear": bilinear, "embedding": embedding, "bias": bias}
