"""Linear layer builders: ``dense``, ``bilinear``, ``embedding`` and ``bias``."""

from __future__ import annotations

import jax

from axon.functional import layers as F

from .._graph.constructors import Initializer, layer, param
from .._graph.model import Model
from .._graph.penalties import Regularizer
from .._graph.recording import records
from .activations import Activation
from .common import check_kernel, kernel_layer, layer_penalties, with_activity_regularizer
from .options import check_model, check_positive_int


@records("dense")  # exported as axon.model.dense: record direct calls too
def dense(
    x: Model,
    units: int,
    *,
    activation: Activation | None = None,
    use_bias: bool = True,
    kernel_initializer: Initializer = "glorot_uniform",
    bias_initializer: Initializer = "zeros",
    kernel: Model | None = None,
    kernel_regularizer: Regularizer = None,
    bias_regularizer: Regularizer = None,
    activity_regularizer: Regularizer = None,
    name: str | None = None,
) -> Model:
    """Fully connected layer ``x @ kernel + bias`` with ``kernel: (in, units)``.

    ``activation`` (a name or function) is added as a separate layer, as in Axon.
    ``kernel`` (a model whose value is ``(in, units)``, e.g. an
    :func:`axon.model.parameter`, or an embedding table's ``.transpose()`` to tie a
    language model's output projection to its input embedding) replaces the layer's
    own kernel; the bias stays the layer's own.
    ``kernel_regularizer``/``bias_regularizer`` penalize the parameters and
    ``activity_regularizer`` the output after the activation, as in Keras: each a
    penalty name (``"l1"``, ``"l2"``, ``"l1_l2"``) or an ``axon.functional.penalties``
    object (see :func:`axon.model.penalty`).

    >>> import axon.model
    >>> from axon.functional.penalties import L2
    >>> model = axon.model.input("x", shape=(None, 4)).dense(2, activation="relu")
    >>> model = model.dense(1, kernel_regularizer=L2(1e-4), activity_regularizer="l1")
    """
    if not isinstance(units, int) or units <= 0:
        raise ValueError(f"dense units must be a positive int, got {units!r}.")
    op, options = (F.dense, {}) if kernel is None else (shared_kernel_dense, {"units": units})
    return kernel_layer(
        op, "dense", [x], lambda shape: (shape[-1], units), (units,),
        use_bias=use_bias, kernel_initializer=kernel_initializer,
        bias_initializer=bias_initializer, activation=activation, name=name,
        config={"units": units}, kernel=kernel, **options,
        kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
        activity_regularizer=activity_regularizer,
    )  # fmt: skip


def shared_kernel_dense(
    x: jax.Array, kernel: jax.Array, bias: jax.Array | None = None, *, units: int
) -> jax.Array:
    """The op of ``dense(..., kernel=<model>)``: ``F.dense`` once the kernel's shape is checked."""
    if kernel.ndim != 2 or kernel.shape[1] != units:
        raise ValueError(
            f"dense(units={units}, kernel=...) needs a kernel of shape (in, {units}); the "
            f"kernel model gives {tuple(kernel.shape)}. A (vocab, features) embedding "
            f"table is used as an output projection transposed: kernel=table.transpose()."
        )
    return F.dense(x, kernel, bias)


def bilinear(
    x1: Model,
    x2: Model,
    units: int,
    *,
    activation: Activation | None = None,
    use_bias: bool = True,
    kernel_initializer: Initializer = "glorot_uniform",
    bias_initializer: Initializer = "zeros",
    kernel_regularizer: Regularizer = None,
    bias_regularizer: Regularizer = None,
    activity_regularizer: Regularizer = None,
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
        kernel_regularizer: penalty of ``kernel`` (a name such as ``"l2"`` or an
            ``axon.functional.penalties`` object; see :func:`axon.model.penalty`).
        bias_regularizer: penalty of ``bias``.
        activity_regularizer: penalty of the output (after the activation).
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
    return kernel_layer(
        F.bilinear, "bilinear", [x1, x2], lambda s1, s2: (units, s1[-1], s2[-1]), (units,),
        use_bias=use_bias, kernel_initializer=kernel_initializer,
        bias_initializer=bias_initializer, activation=activation, name=name,
        config={"units": units},
        kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
        activity_regularizer=activity_regularizer,
    )  # fmt: skip


def embedding(
    x: Model,
    vocab_size: int,
    embedding_size: int,
    *,
    kernel_initializer: Initializer = "uniform",
    kernel: Model | None = None,
    kernel_regularizer: Regularizer = None,
    activity_regularizer: Regularizer = None,
    name: str | None = None,
) -> Model:
    """Look up rows of ``kernel (vocab_size, embedding_size)`` for integer ids (``Axon.embedding``).

    The default initializer is Axon's: uniform on ``[-0.01, 0.01)``. ``kernel``, a
    model whose value is the table (an :func:`axon.model.parameter`), replaces the
    layer's own table: the way to share it, e.g. with the output projection
    (``dense(vocab_size, kernel=table.transpose())``: tied embeddings).
    ``kernel_regularizer`` penalizes the whole table (Keras's ``embeddings_regularizer``)
    and ``activity_regularizer`` the looked-up vectors.

    Ids must lie in ``[0, vocab_size)``. Eager calls check them: ``apply`` or
    ``predict`` outside ``jax.jit`` (also under ``jax.grad``) and a loop run with
    ``jit=False`` raise an :class:`~axon.model.InputError` naming the layer and the
    ids' range. The check costs a min and a max of the ids, and waiting for the call
    to finish (to read them), in models with embeddings only. Inside ``jax.jit`` (a
    training loop's compiled step, ``jax.jit(model.apply)``) ids are not checked:
    JAX's gather clamps them, so ``-1`` reads row 0 and ``vocab_size`` the last row,
    as on every accelerator. An axon.loop run with ``debug=True`` checks them inside
    its compiled step (JAX's ``checkify``) and raises ``IndexError``; so does
    ``jit=False``.

    >>> import jax.numpy as jnp, axon.model
    >>> model = axon.model.input("ids", shape=(None, 5)).embedding(100, 8)
    >>> state = model.init(0, jnp.zeros((1, 5), jnp.int32))
    >>> model.apply(state, jnp.zeros((2, 5), jnp.int32))[0].shape
    (2, 5, 8)
    >>> try:
    ...     model.apply(state, jnp.array([[1, 2, 3, 100, 4]]))
    ... except axon.model.InputError as error:
    ...     print(str(error).split(") received ")[1].split(";")[0])
    ids from 1 to 100, outside [0, 100) (vocab_size=100)
    """
    vocab_size = check_positive_int("embedding", "vocab_size", vocab_size)
    embedding_size = check_positive_int("embedding", "embedding_size", embedding_size)
    config = {"vocab_size": vocab_size, "embedding_size": embedding_size}
    kernel_penalty, _, activity = layer_penalties(
        "embedding", name, kernel_regularizer, None, activity_regularizer
    )
    if kernel is None:
        table = param(
            "kernel", (vocab_size, embedding_size), initializer=kernel_initializer,
            regularizer=kernel_penalty,
        )  # fmt: skip
        out = layer(F.embedding, [x, table], name=name, op_name="embedding", config=config)
    elif kernel_penalty is not None:
        raise ValueError(
            "embedding: kernel_regularizer= penalizes the layer's own table, and kernel= "
            "replaces it with a shared one; penalize the shared parameter once instead, "
            "not per use."
        )
    else:
        out = layer(
            shared_table_embedding, [x, check_kernel(kernel, "embedding")], name=name,
            op_name="embedding", config=config, **config,
        )  # fmt: skip
    return with_activity_regularizer(out, activity)


def shared_table_embedding(
    ids: jax.Array, table: jax.Array, *, vocab_size: int, embedding_size: int
) -> jax.Array:
    """The op of ``embedding(..., kernel=<model>)``: ``F.embedding`` once the table is checked."""
    if tuple(table.shape) != (vocab_size, embedding_size):
        raise ValueError(
            f"embedding({vocab_size}, {embedding_size}, kernel=...) needs a table of shape "
            f"({vocab_size}, {embedding_size}); the kernel model gives {tuple(table.shape)}."
        )
    return F.embedding(ids, table)


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


BUILDERS = {"dense": dense, "bilinear": bilinear, "embedding": embedding, "bias": bias}
