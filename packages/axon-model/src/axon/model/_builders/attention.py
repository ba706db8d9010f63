"""Attention builders: ``multi_head_attention``, ``transformer_encoder`` (beyond Axon 0.8.1)
and ``additive_attention`` (Bahdanau; on Axon's roadmap).

The first two are built from :func:`axon.functional.layers.dot_product_attention` plus
dense, layer norm and dropout layers; ``additive_attention`` is one layer running
:func:`axon.functional.layers.additive_attention`. Sequences are ``(batch, seq, features)``.

Attention masks follow ``axon.functional``/``jax.nn``: **True where a query may attend to a
key**. A ``(batch, kv_seq)`` mask marks valid (non-padding) keys; anything broadcastable to
``(batch, heads, q_seq, kv_seq)`` is used as is. (RNN masks are the opposite, True at
padding: turn one into the other with ``m.nx(jnp.logical_not)``.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from axon.functional import layers as F

from .._graph.constructors import Initializer, layer, param
from .._graph.model import Model
from .._graph.penalties import Penalty, Regularizer
from .activations import activation_layer
from .combinators import add
from .common import layer_penalties, sub_name
from .dropout import check_rate, dropout
from .linear import dense
from .normalization import layer_norm
from .options import check_model, check_positive_int, option_error

#: The four projections of an attention layer, in the order of their parameters.
PROJECTIONS = ("query", "key", "value", "output")
#: The parameters of an additive attention layer, in order (``bias`` is optional).
ADDITIVE = ("query_kernel", "key_kernel", "score_kernel", "bias")


def attention_op(
    query: jax.Array,
    *values: Any,
    num_heads: int,
    key_size: int,
    value_size: int,
    has_key: bool,
    has_value: bool,
    has_mask: bool,
    use_bias: bool,
    causal: bool,
) -> jax.Array:
    """Project, attend per head with ``dot_product_attention``, concatenate and project."""
    key, value, mask, params = _split_arguments(query, values, has_key, has_value, has_mask)
    names = [f"{which}_kernel" for which in PROJECTIONS]
    if use_bias:
        names += [f"{which}_bias" for which in PROJECTIONS]
    p = dict(zip(names, params, strict=True))

    def project(x: jax.Array, which: str, size: int) -> jax.Array:
        y = F.dense(x, p[f"{which}_kernel"], p.get(f"{which}_bias"))
        return y.reshape((*y.shape[:-1], num_heads, size))

    heads = F.dot_product_attention(
        project(query, "query", key_size),
        project(key, "key", key_size),
        project(value, "value", value_size),
        mask=_valid_keys(mask, query_axes=2),
        causal=causal,
    )
    merged = heads.reshape((*heads.shape[:2], num_heads * value_size))
    return F.dense(merged, p["output_kernel"], p.get("output_bias"))


def multi_head_attention(
    query: Model,
    key: Model | None = None,
    value: Model | None = None,
    *,
    num_heads: int,
    key_size: int,
    value_size: int | None = None,
    output_size: int | None = None,
    mask: Model | None = None,
    causal: bool = False,
    dropout_rate: float = 0.0,
    use_bias: bool = True,
    kernel_initializer: Initializer = "glorot_uniform",
    bias_initializer: Initializer = "zeros",
    kernel_regularizer: Regularizer = None,
    bias_regularizer: Regularizer = None,
    activity_regularizer: Regularizer = None,
    name: str | None = None,
) -> Model:
    """Multi-head attention (Keras' ``MultiHeadAttention`` sizes, PyTorch's math).

    ``q = query @ query_kernel + query_bias`` (``(q_features, num_heads * key_size)``),
    likewise ``k`` from ``key`` and ``v`` (``num_heads * value_size``) from ``value``,
    scaled dot-product attention per head, heads concatenated, then ``@ output_kernel +
    output_bias`` to ``output_size`` (default: the query's features).

    Args:
        query: ``(batch, q_seq, q_features)``.
        key: ``(batch, kv_seq, k_features)``; default ``query`` (self-attention).
        value: ``(batch, kv_seq, v_features)``; default ``key``.
        num_heads: number of heads.
        key_size: size of each query/key head.
        value_size: size of each value head (default ``key_size``).
        output_size: output features (default: the query's features).
        mask: model of a boolean mask, True = may attend (see the module docs).
        causal: forbid attending to later positions.
        dropout_rate: dropout on the attention output (a :func:`dropout` layer after the
            output projection; the functional op has no attention-weight dropout).
        use_bias: whether projections have biases.
        kernel_initializer: initializer of the four kernels.
        bias_initializer: initializer of the four biases.
        kernel_regularizer: penalty of each kernel (a name such as ``"l2"`` or an
            ``axon.functional.penalties`` object; see :func:`axon.model.penalty`).
        bias_regularizer: penalty of each bias.
        activity_regularizer: penalty of the output (before the dropout).
        name: layer name.

    >>> import jax.numpy as jnp, axon.model
    >>> x = axon.model.input("x", shape=(None, 5, 8))
    >>> model = x.multi_head_attention(num_heads=2, key_size=4, causal=True)
    >>> state = model.init(0, jnp.zeros((1, 5, 8)))
    >>> model.apply(state, jnp.ones((3, 5, 8)))[0].shape
    (3, 5, 8)
    >>> state.params["attention_0"]["query_kernel"].shape
    (8, 8)
    """
    fn = "multi_head_attention"
    check_model(fn, "query", query)
    num_heads = check_positive_int(fn, "num_heads", num_heads)
    key_size = check_positive_int(fn, "key_size", key_size)
    value_size = (
        key_size if value_size is None else check_positive_int(fn, "value_size", value_size)
    )
    if output_size is not None:
        output_size = check_positive_int(fn, "output_size", output_size)
    dropout_rate = check_rate(fn, "dropout_rate", dropout_rate)
    inputs, (q_feat, k_feat, v_feat) = _inputs(fn, query, key, value, mask)
    has_key, has_value = key is not None, value is not None
    width_q, width_v = num_heads * key_size, num_heads * value_size

    def out_size(*shapes: Any) -> int:
        return output_size if output_size is not None else shapes[0][-1]

    kernels = (
        lambda *s: (q_feat(*s), width_q),
        lambda *s: (k_feat(*s), width_q),
        lambda *s: (v_feat(*s), width_v),
        lambda *s: (width_v, out_size(*s)),
    )
    biases = ((width_q,), (width_q,), (width_v,), lambda *s: (out_size(*s),))
    return _attention(
        attention_op, inputs, kernels, biases if use_bias else None,
        kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
        dropout_rate=dropout_rate, name=name, regularizers=layer_penalties(
            fn, name, kernel_regularizer, bias_regularizer, activity_regularizer),
        config={"num_heads": num_heads, "key_size": key_size, "causal": causal},
        num_heads=num_heads, key_size=key_size, value_size=value_size, has_key=has_key,
        has_value=has_value, has_mask=mask is not None, causal=causal,
    )  # fmt: skip


def _attention(
    op: Callable[..., Any],
    inputs: list[Model],
    kernels: tuple[Any, ...],
    biases: tuple[Any, ...] | None,
    *,
    kernel_initializer: Initializer,
    bias_initializer: Initializer,
    dropout_rate: float,
    name: str | None,
    config: dict[str, Any],
    regularizers: tuple[Penalty | None, Penalty | None, Penalty | None] = (None, None, None),
    **options: Any,
) -> Model:
    """An attention layer with the shapes of its four projections' kernels and biases (or
    ``None``: no biases), then dropout on its output when ``dropout_rate > 0``.
    ``regularizers`` are the kernel, bias and activity penalties."""
    kernel_penalty, bias_penalty, activity = regularizers
    params = [
        param(f"{which}_kernel", shape, initializer=kernel_initializer, regularizer=kernel_penalty)
        for which, shape in zip(PROJECTIONS, kernels, strict=True)
    ]
    if biases is not None:
        params += [
            param(f"{which}_bias", shape, initializer=bias_initializer, regularizer=bias_penalty)
            for which, shape in zip(PROJECTIONS, biases, strict=True)
        ]
    out = layer(
        op, [*inputs, *params], name=name, op_name="attention", config=config,
        use_bias=biases is not None, activity_regularizer=activity, **options,
    )  # fmt: skip
    if dropout_rate > 0:
        out = dropout(out, rate=dropout_rate, name=sub_name(name, "dropout"))
    return out


def _inputs(
    fn: str, query: Model, key: Model | None, value: Model | None, mask: Model | None
) -> tuple[list[Model], tuple[Callable[..., int], ...]]:
    """The layer's inputs (query, then key, value and mask when given) and functions of
    the input shapes giving the query's, key's and value's features (key defaults to
    query, value to key)."""
    inputs = [check_model(fn, "query", query)]
    for option, model in (("key", key), ("value", value), ("mask", mask)):
        if model is not None:
            inputs.append(check_model(fn, option, model))
    k_index = 1 if key is not None else 0
    v_index = 1 + (key is not None) if value is not None else k_index

    def features(index: int) -> Callable[..., int]:
        return lambda *shapes: shapes[index][-1]

    return inputs, (features(0), features(k_index), features(v_index))


def _split_arguments(
    query: jax.Array, arguments: tuple[Any, ...], has_key: bool, has_value: bool, has_mask: bool
) -> tuple[jax.Array, jax.Array, Any, list[Any]]:
    """``(key, value, mask, parameters)`` from an attention op's arguments after the query."""
    rest = list(arguments)
    key = rest.pop(0) if has_key else query
    value = rest.pop(0) if has_value else key
    mask = rest.pop(0) if has_mask else None
    return key, value, mask, rest


def _valid_keys(mask: Any, query_axes: int) -> jax.Array | None:
    """A boolean mask; a ``(batch, kv_seq)`` one (valid keys) gets ``query_axes`` new axes
    before its key axis so that it broadcasts over heads and queries."""
    if mask is None:
        return None
    mask = jnp.asarray(mask).astype(bool)
    if mask.ndim == 2:
        mask = mask.reshape((mask.shape[0],) + (1,) * query_axes + (mask.shape[1],))
    return mask


# -- additive (Bahdanau) attention ---------------------------------------------------------


def additive_attention_op(
    query: jax.Array, *arguments: Any, given: tuple[str, ...], causal: bool
) -> jax.Array:
    """:func:`axon.functional.layers.additive_attention`. ``given`` names which of key,
    value and mask follow the query (then come the parameters); the stored
    ``score_kernel`` is ``(units, 1)`` (a dense projection to one score, so every kernel
    initializer applies)."""
    present = ("key" in given, "value" in given, "mask" in given)
    key, value, mask, params = _split_arguments(query, arguments, *present)
    p = dict(zip(ADDITIVE, params, strict=False))  # without bias: one fewer
    p["score_kernel"] = p["score_kernel"][:, 0]
    return F.additive_attention(
        query, key, value, p, mask=_valid_keys(mask, query_axes=1), causal=causal
    )


def additive_attention(
    query: Model,
    key: Model | None = None,
    value: Model | None = None,
    *,
    units: int,
    mask: Model | None = None,
    causal: bool = False,
    use_bias: bool = True,
    kernel_initializer: Initializer = "glorot_uniform",
    bias_initializer: Initializer = "zeros",
    name: str | None = None,
) -> Model:
    """Additive (Bahdanau) attention: each query scores each key with a small network.

    ``score_ij = tanh(query_i @ query_kernel + key_j @ key_kernel + bias) @ score_kernel``;
    the output at query ``i`` is the softmax-weighted sum of the values over ``j``
    (:func:`axon.functional.layers.additive_attention`). In a sequence-to-sequence
    model the query is the decoder's states and key and value the encoder's outputs.

    Args:
        query: ``(batch, q_seq, q_features)``.
        key: ``(batch, kv_seq, k_features)``; default ``query`` (self-attention).
        value: ``(batch, kv_seq, v_features)``; default ``key``.
        units: size of the hidden layer that scores a query-key pair.
        mask: model of a boolean mask, True = may attend: ``(batch, kv_seq)`` marks
            valid keys, anything broadcastable to ``(batch, q_seq, kv_seq)`` is used as is.
        causal: forbid attending to later positions.
        use_bias: whether the scoring layer has a bias.
        kernel_initializer: initializer of ``query_kernel (q_features, units)``,
            ``key_kernel (k_features, units)`` and ``score_kernel (units, 1)``.
        bias_initializer: initializer of ``bias (units,)``.
        name: layer name.

    Returns:
        ``(batch, q_seq, v_features)``.

    >>> import jax.numpy as jnp, axon.model
    >>> decoder = axon.model.input("decoder", shape=(None, 3, 6))
    >>> encoder = axon.model.input("encoder", shape=(None, 7, 4))
    >>> valid = axon.model.input("valid", shape=(None, 7))
    >>> context = decoder.additive_attention(encoder, units=5, mask=valid)
    >>> inputs = {"decoder": jnp.ones((2, 3, 6)), "encoder": jnp.ones((2, 7, 4)),
    ...           "valid": jnp.ones((2, 7), bool)}
    >>> state = context.init(0, inputs)
    >>> context.apply(state, inputs)[0].shape
    (2, 3, 4)
    >>> {k: v.shape for k, v in state.params["additive_attention_0"].items()}
    {'query_kernel': (6, 5), 'key_kernel': (4, 5), 'score_kernel': (5, 1), 'bias': (5,)}
    """
    fn = "additive_attention"
    units = check_positive_int(fn, "units", units)
    inputs, (q_feat, k_feat, _) = _inputs(fn, query, key, value, mask)
    params = [
        param("query_kernel", lambda *s: (q_feat(*s), units), initializer=kernel_initializer),
        param("key_kernel", lambda *s: (k_feat(*s), units), initializer=kernel_initializer),
        param("score_kernel", (units, 1), initializer=kernel_initializer),
    ]
    if use_bias:
        params.append(param("bias", (units,), initializer=bias_initializer))
    given = tuple(k for k, m in (("key", key), ("value", value), ("mask", mask)) if m is not None)
    return layer(
        additive_attention_op, [*inputs, *params], name=name, op_name="additive_attention",
        config={"units": units, "causal": causal}, given=given, causal=causal,
    )  # fmt: skip


def dense_like_op(
    x: jax.Array, reference: jax.Array, kernel: jax.Array, bias: jax.Array
) -> jax.Array:
    """``dense(x, kernel, bias)``; ``reference`` only fixes the output width (its last axis)."""
    return F.dense(x, kernel, bias)


def transformer_encoder(
    x: Model,
    *,
    num_heads: int,
    hidden_size: int,
    key_size: int | None = None,
    mask: Model | None = None,
    causal: bool = False,
    dropout_rate: float = 0.0,
    activation: str | Callable[..., Any] = "gelu",
    norm_first: bool = True,
    epsilon: float = 1e-5,
    kernel_initializer: Initializer = "glorot_uniform",
    name: str | None = None,
) -> Model:
    """One transformer encoder block: self-attention and a feed-forward network, each in a
    residual connection with layer norm.

    Pre-norm (``norm_first=True``, default; GPT-2/ViT, stabler to train)::

        y = x + dropout(attention(layer_norm(x)))
        out = y + dropout(dense(activation(dense(layer_norm(y), hidden_size)), features))

    Post-norm (``norm_first=False``, the original Transformer and PyTorch's default)::

        y = layer_norm(x + dropout(attention(x)))
        out = layer_norm(y + dropout(ffn(y)))

    The output has ``x``'s shape; ``key_size`` defaults to ``features // num_heads``.

    Args:
        x: ``(batch, seq, features)``.
        num_heads: attention heads.
        hidden_size: width of the feed-forward network.
        key_size: per-head size (default ``features // num_heads``, found at init).
        mask: attention mask model (True = may attend; ``(batch, seq)`` for valid keys).
        causal: causal self-attention.
        dropout_rate: dropout after attention and after the feed-forward network.
        activation: feed-forward activation.
        norm_first: pre-norm (True) or post-norm (False).
        epsilon: layer-norm epsilon.
        kernel_initializer: initializer of every kernel.
        name: prefix of the block's layer names (``<name>_attention``, ``<name>_norm_1``...).

    >>> import jax.numpy as jnp, axon.model
    >>> x = axon.model.input("x", shape=(None, 6, 8))
    >>> block = x.transformer_encoder(num_heads=2, hidden_size=16, name="enc")
    >>> state = block.init(0, jnp.zeros((1, 6, 8)))
    >>> block.apply(state, jnp.ones((2, 6, 8)))[0].shape
    (2, 6, 8)
    """
    fn = "transformer_encoder"
    check_model(fn, "x", x)
    num_heads = check_positive_int(fn, "num_heads", num_heads)
    hidden_size = check_positive_int(fn, "hidden_size", hidden_size)
    if not isinstance(norm_first, bool):
        raise option_error(fn, "norm_first", "a bool", norm_first)

    def attend(h: Model) -> Model:
        if key_size is None:
            size = _KeySize(num_heads)
            return _attention_with_inferred_key_size(
                h, size, mask, causal, dropout_rate, kernel_initializer, sub_name(name, "attention")
            )
        return multi_head_attention(
            h, num_heads=num_heads, key_size=key_size, mask=mask, causal=causal,
            dropout_rate=dropout_rate, kernel_initializer=kernel_initializer,
            name=sub_name(name, "attention"),
        )  # fmt: skip

    def feed_forward(h: Model) -> Model:
        hidden = dense(
            h, hidden_size, kernel_initializer=kernel_initializer, name=sub_name(name, "ffn_1")
        )
        hidden = activation_layer(hidden, activation, name=sub_name(name, "ffn_activation"))
        out = layer(
            dense_like_op,
            [
                hidden,
                h,
                param("kernel", lambda a, b: (a[-1], b[-1]), initializer=kernel_initializer),
                param("bias", lambda a, b: (b[-1],), initializer="zeros"),
            ],
            name=sub_name(name, "ffn_2"),
            op_name="dense",
        )
        if dropout_rate > 0:
            out = dropout(out, rate=dropout_rate, name=sub_name(name, "ffn_dropout"))
        return out

    def norm(h: Model, i: int) -> Model:
        return layer_norm(h, epsilon=epsilon, name=sub_name(name, f"norm_{i}"))

    def residual(a: Model, b: Model, i: int) -> Model:
        return add(a, b, name=sub_name(name, f"residual_{i}"))

    if norm_first:
        y = residual(x, attend(norm(x, 1)), 1)
        return residual(y, feed_forward(norm(y, 2)), 2)
    y = norm(residual(x, attend(x), 1), 1)
    return norm(residual(y, feed_forward(y), 2), 2)


class _KeySize:
    """``features // num_heads``, resolved from the input shape (which the builder lacks)."""

    def __init__(self, num_heads: int):
        self.num_heads = num_heads

    def __call__(self, features: int) -> int:
        if features % self.num_heads:
            raise ValueError(
                f"transformer_encoder: num_heads ({self.num_heads}) must divide the input's "
                f"{features} features, or pass key_size explicitly."
            )
        return features // self.num_heads


def self_attention_op(x: jax.Array, *values: Any, num_heads: int, **options: Any) -> jax.Array:
    """Self-attention with ``key_size = features // num_heads``."""
    key_size = x.shape[-1] // num_heads
    return attention_op(
        x, *values, num_heads=num_heads, key_size=key_size, value_size=key_size, **options
    )


def _attention_with_inferred_key_size(
    h: Model,
    size: _KeySize,
    mask: Model | None,
    causal: bool,
    dropout_rate: float,
    kernel_initializer: Initializer,
    name: str | None,
) -> Model:
    def square(*shapes: Any) -> tuple[int, int]:
        features = shapes[0][-1]
        size(features)  # checks divisibility
        return (features, features)

    def width(*shapes: Any) -> tuple[int]:
        return (shapes[0][-1],)

    inputs = [h] if mask is None else [h, check_model("transformer_encoder", "mask", mask)]
    return _attention(
        self_attention_op, inputs, (square,) * 4, (width,) * 4,
        kernel_initializer=kernel_initializer, bias_initializer="zeros",
        dropout_rate=dropout_rate, name=name,
        config={"num_heads": size.num_heads, "causal": causal}, num_heads=size.num_heads,
        has_key=False, has_value=False, has_mask=mask is not None, causal=causal,
    )  # fmt: skip


BUILDERS = {
    "additive_attention": additive_attention,
    "multi_head_attention": multi_head_attention,
    "transformer_encoder": transformer_encoder,
}
