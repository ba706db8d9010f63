"""Dot-product attention with padding/causal masks and a multi-head helper.

Axon 0.8.1 has no attention; these follow ``jax.nn.dot_product_attention``'s
layout ``(batch, seq, heads, head_dim)`` and its mask convention (**True = may
attend**), and ``torch.nn.MultiheadAttention``'s projection math.

A query whose keys are all masked out attends to nothing: its output is **zero**
(and so is its gradient), never NaN. ``jax.nn.dot_product_attention`` instead
returns the mean of the values for such rows.

>>> import jax.numpy as jnp
>>> q = k = v = jnp.ones((2, 3, 4, 8))
>>> dot_product_attention(q, k, v, causal=True).shape
(2, 3, 4, 8)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp

Array = jax.Array

__all__ = ["additive_attention", "dot_product_attention", "multi_head_attention"]

#: The parameters of additive attention (``bias`` is optional).
ADDITIVE = ("query_kernel", "key_kernel", "score_kernel", "bias")


def _check_attention_shapes(query: Array, key: Array, value: Array) -> None:
    name = "dot_product_attention"
    for arg, x in (("query", query), ("key", key), ("value", value)):
        if x.ndim != 4:
            raise ValueError(
                f"{name}: {arg} must have rank 4 (batch, seq, heads, head_dim), got shape "
                f"{x.shape}."
            )
    if key.shape != (*value.shape[:3], key.shape[3]):
        raise ValueError(
            f"{name}: key and value must agree on (batch, kv_seq, kv_heads), got key "
            f"{key.shape} and value {value.shape}."
        )
    if query.shape[0] != key.shape[0] or query.shape[3] != key.shape[3]:
        raise ValueError(
            f"{name}: query and key must agree on batch and head_dim, got query {query.shape} "
            f"and key {key.shape}."
        )
    if query.shape[2] % key.shape[2]:
        raise ValueError(
            f"{name}: query heads ({query.shape[2]}) must be a multiple of key/value heads "
            f"({key.shape[2]}) for grouped-query attention."
        )


def _broadcastable(name: str, arg: str, x: Array, shape: tuple[int, ...], axes: str) -> Array:
    try:
        return jnp.broadcast_to(x, shape)
    except ValueError:
        raise ValueError(
            f"{name}: {arg} of shape {x.shape} does not broadcast to the attention logits' "
            f"shape {axes} = {shape}."
        ) from None


def _attention_weights(
    name: str, logits: Array, mask: Array | None, causal: bool, axes: str
) -> Array:
    """``softmax(logits)`` over the last (key) axis where ``mask`` and ``causal`` allow it.

    A finite floor (not -inf) keeps fully-masked rows finite; zeroing them afterwards
    makes their output 0 instead of the mean of the values.
    """
    allowed = None
    if mask is not None:
        mask = jnp.asarray(mask)
        if mask.dtype != jnp.bool_:
            raise TypeError(
                f"{name}: mask must be boolean (True = may attend), got dtype {mask.dtype}."
            )
        allowed = _broadcastable(name, "mask", mask, logits.shape, axes)
    if causal:
        lower = jnp.tril(jnp.ones(logits.shape[-2:], dtype=bool))
        allowed = lower if allowed is None else allowed & lower
    if allowed is None:
        return jax.nn.softmax(logits, axis=-1)
    weights = jax.nn.softmax(jnp.where(allowed, logits, jnp.finfo(logits.dtype).min), axis=-1)
    return jnp.where(allowed, weights, 0.0)


def dot_product_attention(
    query: Array,
    key: Array,
    value: Array,
    *,
    mask: Array | None = None,
    causal: bool = False,
    bias: Array | None = None,
    scale: float | None = None,
) -> Array:
    """Scaled dot-product attention ``softmax(q k^T * scale + bias) v``, per head.

    Args:
        query: ``(batch, q_seq, heads, head_dim)``.
        key: ``(batch, kv_seq, kv_heads, head_dim)``; ``heads`` must be a multiple of
            ``kv_heads`` (grouped-query attention shares each key/value head).
        value: ``(batch, kv_seq, kv_heads, v_dim)``.
        mask: booleans broadcastable to ``(batch, heads, q_seq, kv_seq)``, **True where
            a query may attend to a key** (``jax.nn`` convention; PyTorch's
            ``key_padding_mask`` is the negation). A key-padding mask ``valid`` of
            shape ``(batch, kv_seq)`` is passed as ``valid[:, None, None, :]``.
        causal: also forbid query ``i`` to attend to keys ``j > i`` (top-left
            aligned, as ``jax.nn`` and PyTorch).
        bias: added to the logits; broadcastable to ``(batch, heads, q_seq, kv_seq)``.
        scale: multiplies ``q k^T``; defaults to ``1 / sqrt(head_dim)``.

    Returns:
        ``(batch, q_seq, heads, v_dim)``. Rows with no key to attend to are zero.
        The softmax is computed in at least float32.

    >>> import jax.numpy as jnp
    >>> q = jnp.ones((1, 2, 1, 4)); k = jnp.ones((1, 3, 1, 4))
    >>> v = jnp.arange(3.0).reshape(1, 3, 1, 1)
    >>> dot_product_attention(q, k, v)[0, :, 0, 0].tolist()  # equal logits: the mean
    [1.0, 1.0]
    >>> valid = jnp.array([[True, True, False]])  # key padding: the last key is padding
    >>> dot_product_attention(q, k, v, mask=valid[:, None, None, :])[0, :, 0, 0].tolist()
    [0.5, 0.5]
    >>> nothing = jnp.zeros((1, 1, 1, 3), bool)  # no key at all: zeros, not NaN
    >>> dot_product_attention(q, k, v, mask=nothing)[0, :, 0, 0].tolist()
    [0.0, 0.0]
    """
    name = "dot_product_attention"
    query, key, value = jnp.asarray(query), jnp.asarray(key), jnp.asarray(value)
    _check_attention_shapes(query, key, value)
    batch, q_len, heads, head_dim = query.shape
    kv_len, kv_heads = key.shape[1], key.shape[2]
    if kv_heads != heads:  # grouped-query attention: repeat each key/value head
        key = jnp.repeat(key, heads // kv_heads, axis=2)
        value = jnp.repeat(value, heads // kv_heads, axis=2)
    axes = "(batch, heads, q_seq, kv_seq)"
    logits_shape = (batch, heads, q_len, kv_len)
    if scale is None:
        scale = 1.0 / float(head_dim) ** 0.5

    compute_dtype = jnp.promote_types(query.dtype, jnp.float32)
    logits = jnp.einsum("bqhd,bkhd->bhqk", query, key).astype(compute_dtype) * scale
    if bias is not None:
        logits = logits + _broadcastable(name, "bias", jnp.asarray(bias), logits_shape, axes)
    weights = _attention_weights(name, logits, mask, causal, axes).astype(value.dtype)
    return jnp.einsum("bhqk,bkhd->bqhd", weights, value)


def additive_attention(
    query: Array,
    key: Array,
    value: Array,
    params: Mapping[str, Array],
    *,
    mask: Array | None = None,
    causal: bool = False,
    return_weights: bool = False,
) -> Array | tuple[Array, Array]:
    """Additive (Bahdanau) attention: ``softmax(tanh(q W_q + k W_k + b) v_a) value``.

    For each query position ``i`` and key position ``j`` the score is
    ``e_ij = tanh(query_i @ query_kernel + key_j @ key_kernel + bias) @ score_kernel``
    (the names of ``params``)
    (Bahdanau, Cho and Bengio 2015, eq. 6 and appendix A.1.2); the weights are the
    softmax of ``e_i`` over ``j``, and the output is ``sum_j weights_ij * value_j``.

    Args:
        query: ``(batch, q_seq, q_features)``, e.g. a decoder's states.
        key: ``(batch, kv_seq, k_features)``, e.g. an encoder's outputs (the
            "annotations").
        value: ``(batch, kv_seq, v_features)``; often the same array as ``key``.
        params: ``query_kernel (q_features, units)``, ``key_kernel (k_features, units)``,
            ``score_kernel (units,)`` (the vector ``v_a`` that turns each hidden ``tanh``
            vector into a score) and optionally ``bias (units,)`` inside the ``tanh``.
        mask: booleans broadcastable to ``(batch, q_seq, kv_seq)``, **True where a
            query may attend to a key** (as :func:`dot_product_attention`); a
            key-padding mask ``valid`` of shape ``(batch, kv_seq)`` is passed as
            ``valid[:, None, :]``. Queries with no key to attend to get zeros.
        causal: also forbid query ``i`` to attend to keys ``j > i``.
        return_weights: also return the attention weights ``(batch, q_seq, kv_seq)``
            (the alignment Bahdanau et al. plot).

    Returns:
        ``(batch, q_seq, v_features)``, or ``(output, weights)``. The softmax is
        computed in at least float32.

    >>> import jax.numpy as jnp
    >>> query = jnp.ones((1, 2, 3)); keys = jnp.zeros((1, 4, 5))
    >>> values = jnp.arange(4.0).reshape(1, 4, 1)
    >>> p = {"query_kernel": jnp.ones((3, 8)), "key_kernel": jnp.ones((5, 8)),
    ...      "score_kernel": jnp.ones(8)}
    >>> additive_attention(query, keys, values, p)[0, :, 0].tolist()  # equal scores
    [1.5, 1.5]
    >>> valid = jnp.array([[True, True, False, False]])  # the last two keys are padding
    >>> out, weights = additive_attention(
    ...     query, keys, values, p, mask=valid[:, None, :], return_weights=True)
    >>> out[0, :, 0].tolist(), weights[0, 0].tolist()
    ([0.5, 0.5], [0.5, 0.5, 0.0, 0.0])
    """
    name = "additive_attention"
    query, key, value = jnp.asarray(query), jnp.asarray(key), jnp.asarray(value)
    p = _additive_params(query, key, value, params)
    hidden = (query @ p["query_kernel"])[:, :, None, :] + (key @ p["key_kernel"])[:, None, :, :]
    if p["bias"] is not None:
        hidden = hidden + p["bias"]
    compute_dtype = jnp.promote_types(hidden.dtype, jnp.float32)
    logits = (jnp.tanh(hidden) @ p["score_kernel"]).astype(compute_dtype)
    weights = _attention_weights(name, logits, mask, causal, "(batch, q_seq, kv_seq)")
    output = jnp.einsum("bqk,bkd->bqd", weights.astype(value.dtype), value)
    return (output, weights) if return_weights else output


def _additive_params(
    query: Array, key: Array, value: Array, params: Mapping[str, Array]
) -> dict[str, Array | None]:
    """``params`` as arrays (``bias`` may be ``None``), after checking the inputs' ranks and
    agreeing sizes and the parameters' shapes."""
    name = "additive_attention"
    if not isinstance(params, Mapping):
        raise TypeError(
            f"{name}: params must be a dict of query_kernel, key_kernel, score_kernel (and "
            f"bias), got {type(params).__name__}."
        )
    missing = [k for k in ("query_kernel", "key_kernel", "score_kernel") if k not in params]
    if missing:
        raise ValueError(f"{name}: params is missing {missing} (got keys {sorted(params)}).")
    p = {k: None if params.get(k) is None else jnp.asarray(params[k]) for k in ADDITIVE}
    for arg, x in (("query", query), ("key", key), ("value", value)):
        if x.ndim != 3:
            raise ValueError(
                f"{name}: {arg} must have rank 3 (batch, seq, features), got shape {x.shape}."
            )
    if key.shape[:2] != value.shape[:2] or query.shape[0] != key.shape[0]:
        raise ValueError(
            f"{name}: query, key and value must agree on batch, and key and value on kv_seq; "
            f"got query {query.shape}, key {key.shape}, value {value.shape}."
        )
    units = jnp.shape(p["score_kernel"])[0] if jnp.ndim(p["score_kernel"]) == 1 else None
    expected = {
        "query_kernel": (query.shape[-1], units),
        "key_kernel": (key.shape[-1], units),
        "score_kernel": (units,),
        "bias": (units,),
    }
    wrong = {
        k: jnp.shape(p[k])
        for k, want in expected.items()
        if p[k] is not None and (units is None or jnp.shape(p[k]) != want)
    }
    if wrong:
        raise ValueError(
            f"{name}: expected query_kernel (q_features={query.shape[-1]}, units), key_kernel "
            f"(k_features={key.shape[-1]}, units), score_kernel (units,) and bias (units,); got "
            + ", ".join(f"{k} {v}" for k, v in wrong.items())
            + "."
        )
    return p


PROJECTIONS = ("query", "key", "value", "output")


def _projection(params: Mapping[str, Any], which: str, x: Array, out_dim: int | None) -> Array:
    name = "multi_head_attention"
    kernel = jnp.asarray(params[f"{which}_kernel"])
    if kernel.ndim != 2 or kernel.shape[0] != x.shape[-1]:
        raise ValueError(
            f"{name}: params['{which}_kernel'] must have shape (in, out) with in = "
            f"{x.shape[-1]} (the {which} input's last axis), got {kernel.shape}."
        )
    if out_dim is not None and kernel.shape[1] != out_dim:
        raise ValueError(
            f"{name}: params['{which}_kernel'] must project to {out_dim} features (like "
            f"query_kernel), got shape {kernel.shape}."
        )
    y = x @ kernel
    bias = params.get(f"{which}_bias")
    return y if bias is None else y + jnp.asarray(bias)


def multi_head_attention(
    query_input: Array,
    kv_input: Array | None,
    params: Mapping[str, Array],
    *,
    num_heads: int,
    mask: Array | None = None,
    causal: bool = False,
    bias: Array | None = None,
    scale: float | None = None,
) -> Array:
    """Multi-head attention with projections, as ``torch.nn.MultiheadAttention`` computes it.

    ``q = query_input @ query_kernel + query_bias`` (likewise ``k``, ``v`` from
    ``kv_input``), split into ``num_heads`` contiguous chunks of the feature axis,
    :func:`dot_product_attention` per head, heads concatenated, then
    ``@ output_kernel + output_bias``.

    Args:
        query_input: ``(batch, q_seq, q_features)``.
        kv_input: ``(batch, kv_seq, kv_features)``, or ``None`` for self-attention.
        params: ``query_kernel (q_features, embed)``, ``key_kernel (kv_features, embed)``,
            ``value_kernel (kv_features, embed)``, ``output_kernel (embed, out)``, and
            optionally ``query_bias``, ``key_bias``, ``value_bias`` ``(embed,)`` and
            ``output_bias (out,)``. Kernels are ``(in, out)``, as :func:`dense` (PyTorch's
            weights transposed).
        num_heads: divides ``embed``.
        mask: as in :func:`dot_product_attention` (True = may attend; for key
            padding pass ``valid[:, None, None, :]``).
        causal: as in :func:`dot_product_attention`.
        bias: as in :func:`dot_product_attention`.
        scale: as in :func:`dot_product_attention`.

    Returns:
        ``(batch, q_seq, out)``.

    >>> import jax.numpy as jnp
    >>> p = {f"{n}_kernel": jnp.eye(4) for n in ("query", "key", "value", "output")}
    >>> x = jnp.ones((2, 3, 4))
    >>> multi_head_attention(x, None, p, num_heads=2, causal=True).shape
    (2, 3, 4)
    """
    name = "multi_head_attention"
    if not isinstance(params, Mapping):
        raise TypeError(
            f"{name}: params must be a dict of query/key/value/output kernels (and biases), "
            f"got {type(params).__name__}."
        )
    missing = [f"{p}_kernel" for p in PROJECTIONS if f"{p}_kernel" not in params]
    if missing:
        raise ValueError(f"{name}: params is missing {missing} (got keys {sorted(params)}).")
    query_input = jnp.asarray(query_input)
    kv_input = query_input if kv_input is None else jnp.asarray(kv_input)
    for arg, x in (("query_input", query_input), ("kv_input", kv_input)):
        if x.ndim != 3:
            raise ValueError(
                f"{name}: {arg} must have rank 3 (batch, seq, features), got shape {x.shape}."
            )
    if not isinstance(num_heads, int) or num_heads < 1:
        raise ValueError(f"{name}: num_heads must be a positive int, got {num_heads!r}.")

    q = _projection(params, "query", query_input, None)
    embed = q.shape[-1]
    if embed % num_heads:
        raise ValueError(
            f"{name}: num_heads ({num_heads}) must divide the projected size ({embed})."
        )
    k = _projection(params, "key", kv_input, embed)
    v = _projection(params, "value", kv_input, embed)

    def split_heads(x: Array) -> Array:
        return x.reshape((*x.shape[:2], num_heads, embed // num_heads))

    heads = dot_product_attention(
        split_heads(q),
        split_heads(k),
        split_heads(v),
        mask=mask,
        causal=causal,
        bias=bias,
        scale=scale,
    )
    return _projection(params, "output", heads.reshape((*heads.shape[:2], embed)), None)
