"""Attention against jax.nn.dot_product_attention (at runtime) and torch.nn.MultiheadAttention.

The PyTorch references are in ``fixtures/attention.npz`` (``make_sequence_fixtures.py``).
"""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from axon.functional import layers

FIXTURES = Path(__file__).parent / "fixtures"
MHA = dict(np.load(FIXTURES / "attention.npz"))
RNG = np.random.default_rng(0)


def qkv(batch=2, q_len=5, kv_len=7, heads=4, kv_heads=4, dim=8):
    shapes = (
        (batch, q_len, heads, dim),
        (batch, kv_len, kv_heads, dim),
        (batch, kv_len, kv_heads, dim),
    )
    return tuple(jnp.asarray(RNG.normal(size=s), jnp.float32) for s in shapes)


# --- against jax.nn.dot_product_attention ----------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"causal": True},
        {"scale": 0.3},
        {"bias": "random"},
        {"mask": "padding"},
        {"mask": "padding", "causal": True, "bias": "random"},
    ],
    ids=["plain", "causal", "scale", "bias", "padding", "all"],
)
def test_matches_jax_nn(options):
    q, k, v = qkv(q_len=7)
    options = dict(options)
    if options.get("bias") == "random":
        options["bias"] = jnp.asarray(RNG.normal(size=(2, 4, 7, 7)), jnp.float32)
    if options.get("mask") == "padding":
        valid = jnp.arange(7)[None, :] < jnp.array([[7], [4]])  # keys 4.. of row 1 are padding
        options["mask"] = valid[:, None, None, :]
    ours = jax.jit(lambda q, k, v: layers.dot_product_attention(q, k, v, **options))(q, k, v)
    causal = options.pop("causal", False)
    expected = jax.nn.dot_product_attention(q, k, v, is_causal=causal, **options)
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-5)


def test_grouped_query_attention_matches_jax_nn():
    q, k, v = qkv(heads=6, kv_heads=2)
    np.testing.assert_allclose(
        layers.dot_product_attention(q, k, v, causal=True),
        jax.nn.dot_product_attention(q, k, v, is_causal=True),
        rtol=1e-5,
        atol=1e-5,
    )


def test_fully_masked_rows_are_zero_with_zero_gradient_and_no_nan():
    q, k, v = qkv(batch=1, q_len=3, kv_len=4)
    # Query 1 may attend to nothing; the others to keys 0 and 1 only.
    allowed = jnp.array([[1, 1, 0, 0], [0, 0, 0, 0], [1, 1, 0, 0]], bool)[None, None]

    def f(q, k, v):
        return layers.dot_product_attention(q, k, v, mask=allowed)

    out = f(q, k, v)
    assert not np.any(np.isnan(out))
    np.testing.assert_array_equal(out[:, 1], 0.0)
    reference = jax.nn.dot_product_attention(q[:, [0, 2]], k[:, :2], v[:, :2])
    np.testing.assert_allclose(out[:, [0, 2]], reference, rtol=1e-5, atol=1e-6)
    gq, gk, gv = jax.grad(lambda *a: jnp.sum(f(*a) ** 2), argnums=(0, 1, 2))(q, k, v)
    assert not any(np.any(np.isnan(g)) for g in (gq, gk, gv))
    np.testing.assert_array_equal(gq[:, 1], 0.0)
    np.testing.assert_array_equal(gk[:, 2:], 0.0)  # masked keys get no gradient
    np.testing.assert_array_equal(gv[:, 2:], 0.0)


def test_bfloat16_inputs_keep_their_dtype_and_stay_close():
    q, k, v = qkv()
    out = layers.dot_product_attention(*(x.astype(jnp.bfloat16) for x in (q, k, v)), causal=True)
    assert out.dtype == jnp.bfloat16
    np.testing.assert_allclose(
        out.astype(jnp.float32), layers.dot_product_attention(q, k, v, causal=True), atol=5e-2
    )


# --- multi-head attention against torch.nn.MultiheadAttention --------------------------------


def mha_case(name):
    data = {k.split("/", 1)[1]: v for k, v in MHA.items() if k.startswith(f"{name}/")}
    params = {k: jnp.asarray(v) for k, v in data.items() if k.endswith(("_kernel", "_bias"))}
    mask = None
    if "key_padding" in data:
        mask = jnp.asarray(~data["key_padding"])[:, None, None, :]
    return data, params, mask


@pytest.mark.parametrize("name", ["self_causal", "cross_padded"])
def test_multi_head_attention_matches_torch(name):
    data, params, mask = mha_case(name)
    heads, causal = int(data["heads"]), bool(data["causal"])
    kv = None if name.startswith("self") else jnp.asarray(data["kv"])

    def f(query, params):
        return layers.multi_head_attention(
            query, kv, params, num_heads=heads, mask=mask, causal=causal
        )

    q = jnp.asarray(data["query"])
    np.testing.assert_allclose(jax.jit(f)(q, params), data["output"], rtol=1e-4, atol=1e-5)
    grad = jax.grad(lambda q: jnp.sum(f(q, params) * data["out_weight"]))(q)
    np.testing.assert_allclose(grad, data["grad/query"], rtol=1e-4, atol=1e-5)


def test_multi_head_attention_cross_attention_with_one_kv_input():
    # A kv input of another length than the queries, against the same math in numpy.
    _, params, _ = mha_case("self_causal")
    q = jnp.asarray(RNG.normal(size=(2, 3, 8)), jnp.float32)
    kv = jnp.asarray(RNG.normal(size=(2, 5, 8)), jnp.float32)
    out = layers.multi_head_attention(q, kv, params, num_heads=2)
    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    qp = (np.asarray(q) @ p["query_kernel"] + p["query_bias"]).reshape(2, 3, 2, 4)
    kp = (np.asarray(kv) @ p["key_kernel"] + p["key_bias"]).reshape(2, 5, 2, 4)
    vp = (np.asarray(kv) @ p["value_kernel"] + p["value_bias"]).reshape(2, 5, 2, 4)
    logits = np.einsum("bqhd,bkhd->bhqk", qp, kp) / 2.0
    w = np.exp(logits - logits.max(-1, keepdims=True))
    w /= w.sum(-1, keepdims=True)
    heads = np.einsum("bhqk,bkhd->bqhd", w, vp).reshape(2, 3, 8)
    expected = heads @ p["output_kernel"] + p["output_bias"]
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


# --- gradients, vmap, bad input --------------------------------------------------------------


def test_gradients_match_finite_differences():
    q, k, v = qkv(batch=1, q_len=3, kv_len=4, heads=2, kv_heads=2, dim=4)
    allowed = jnp.array([[1, 1, 0, 1], [0, 0, 0, 0], [1, 0, 0, 0]], bool)[None, None]
    check_grads(
        lambda q, k, v: layers.dot_product_attention(q, k, v, mask=allowed, causal=True),
        (q, k, v),
        order=1,
        modes=["rev"],
        atol=1e-2,
        rtol=1e-2,
    )
    _, params, _ = mha_case("self_causal")
    x = jnp.asarray(RNG.normal(size=(1, 3, 8)), jnp.float32)
    check_grads(
        lambda x, params: layers.multi_head_attention(x, None, params, num_heads=2),
        (x, params),
        order=1,
        modes=["rev"],
        atol=1e-2,
        rtol=1e-2,
    )


def test_vmap_over_examples_equals_the_batched_call():
    q, k, v = qkv()
    per_example = jax.vmap(
        lambda q, k, v: layers.dot_product_attention(q[None], k[None], v[None], causal=True)[0]
    )(q, k, v)
    np.testing.assert_allclose(
        per_example, layers.dot_product_attention(q, k, v, causal=True), rtol=1e-5, atol=1e-6
    )


def test_bad_input_is_explained():
    q, k, v = qkv()
    with pytest.raises(ValueError, match=r"dot_product_attention: query must have rank 4"):
        layers.dot_product_attention(q[0], k, v)
    with pytest.raises(ValueError, match=r"query and key must agree on batch and head_dim"):
        layers.dot_product_attention(q[..., :4], k, v)
    with pytest.raises(ValueError, match=r"key and value must agree"):
        layers.dot_product_attention(q, k, v[:, :3])
    with pytest.raises(ValueError, match=r"multiple of key/value heads \(3\)"):
        layers.dot_product_attention(q, k[:, :, :3], v[:, :, :3])
    with pytest.raises(TypeError, match=r"mask must be boolean \(True = may attend\)"):
        layers.dot_product_attention(q, k, v, mask=jnp.ones((2, 1, 1, 7)))
    with pytest.raises(
        ValueError,
        match=r"mask of shape \(2, 7\) does not broadcast.*"
        r"\(2, 4, 5, 7\)",
    ):
        layers.dot_product_attention(q, k, v, mask=jnp.ones((2, 7), bool))
    _, params, _ = mha_case("self_causal")
    x = jnp.ones((2, 3, 8))
    with pytest.raises(ValueError, match=r"num_heads \(3\) must divide the projected size \(8\)"):
        layers.multi_head_attention(x, None, params, num_heads=3)
    with pytest.raises(ValueError, match=r"params is missing \['output_kernel'\]"):
        layers.multi_head_attention(
            x, None, {k: v for k, v in params.items() if k != "output_kernel"}, num_heads=2
        )
    with pytest.raises(
        ValueError,
        match=r"params\['key_kernel'\] must have shape \(in, out\) "
        r"with in = 5",
    ):
        layers.multi_head_attention(x, jnp.ones((2, 4, 5)), params, num_heads=2)
    with pytest.raises(ValueError, match="query_input must have rank 3"):
        layers.multi_head_attention(x[0], None, params, num_heads=2)
