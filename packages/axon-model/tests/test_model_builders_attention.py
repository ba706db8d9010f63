"""Attention builders: multi_head_attention equals the functional ops; masks; the transformer
encoder block (pre- and post-norm) equals its formula; dropout in train mode."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import axon.model
from axon.functional import activations
from axon.functional import layers as F

X = jax.random.normal(jax.random.key(0), (2, 5, 8))
Y = jax.random.normal(jax.random.key(1), (2, 3, 6))
NAMES = ("query", "key", "value", "output")


def functional_params(p):
    return {k: v for k, v in p.items()}


def test_self_attention_equals_functional_multi_head_attention():
    x = axon.model.input("x", shape=(None, 5, 8))
    for model in (
        x.multi_head_attention(num_heads=2, key_size=4, causal=True),
        axon.model.multi_head_attention(x, num_heads=2, key_size=4, causal=True),
    ):
        state = model.init(0, X)
        p = state.params["attention_0"]
        assert p["query_kernel"].shape == (8, 8) and p["output_bias"].shape == (8,)
        expected = F.multi_head_attention(X, None, p, num_heads=2, causal=True)
        np.testing.assert_allclose(model.apply(state, X)[0], expected, rtol=1e-5, atol=1e-6)


def test_cross_attention_with_separate_value_and_key_padding_mask():
    q = axon.model.input("q", shape=(None, 5, 8))
    kv = axon.model.input("kv", shape=(None, 3, 6))
    valid = axon.model.input("valid", shape=(None, 3))
    v_in = kv.dense(7)
    model = q.multi_head_attention(
        kv, v_in, num_heads=3, key_size=2, value_size=5, output_size=4, mask=valid
    )
    mask = jnp.array([[True, True, False], [True, False, False]])
    inputs = {"q": X, "kv": Y, "valid": mask}
    state = model.init(0, inputs)
    p = state.params["attention_0"]
    assert p["key_kernel"].shape == (6, 6) and p["value_kernel"].shape == (7, 15)
    assert p["output_kernel"].shape == (15, 4)
    v = F.dense(Y, state.params["dense_0"]["kernel"], state.params["dense_0"]["bias"])

    def proj(x, w, size):
        y = F.dense(x, p[f"{w}_kernel"], p[f"{w}_bias"])
        return y.reshape((*y.shape[:-1], 3, size))

    heads = F.dot_product_attention(
        proj(X, "query", 2), proj(Y, "key", 2), proj(v, "value", 5), mask=mask[:, None, None, :]
    )
    expected = F.dense(heads.reshape(2, 5, 15), p["output_kernel"], p["output_bias"])
    got = model.apply(state, inputs)[0]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    # the masked keys do not matter
    changed = {**inputs, "kv": Y.at[1, 1:].set(100.0)}
    np.testing.assert_allclose(model.apply(state, changed)[0][1], got[1], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("norm_first", [True, False])
def test_transformer_encoder_equals_its_formula(norm_first):
    x = axon.model.input("x", shape=(None, 5, 8))
    block = x.transformer_encoder(num_heads=2, hidden_size=16, norm_first=norm_first, name="enc")
    state = block.init(0, X)
    p = state.params
    assert set(p) == {"enc_attention", "enc_norm_1", "enc_norm_2", "enc_ffn_1", "enc_ffn_2"}

    def ln(h, i):
        return F.layer_norm(h, p[f"enc_norm_{i}"]["gamma"], p[f"enc_norm_{i}"]["beta"])

    def attn(h):
        return F.multi_head_attention(h, None, p["enc_attention"], num_heads=2)

    def ffn(h):
        hidden = activations.gelu(F.dense(h, p["enc_ffn_1"]["kernel"], p["enc_ffn_1"]["bias"]))
        return F.dense(hidden, p["enc_ffn_2"]["kernel"], p["enc_ffn_2"]["bias"])

    if norm_first:
        y = X + attn(ln(X, 1))
        expected = y + ffn(ln(y, 2))
    else:
        y = ln(X + attn(X), 1)
        expected = ln(y + ffn(y), 2)
    np.testing.assert_allclose(block.apply(state, X)[0], expected, rtol=1e-4, atol=1e-5)


def test_encoder_dropout_is_active_only_in_training_and_keys_are_required():
    x = axon.model.input("x", shape=(None, 5, 8))
    block = x.transformer_encoder(num_heads=4, hidden_size=8, key_size=3, dropout_rate=0.5)
    state = block.init(0, X)
    assert state.params["attention_0"]["query_kernel"].shape == (8, 12)
    a = block.apply(state, X)[0]
    np.testing.assert_array_equal(a, block.apply(state, X)[0])
    b, _ = block.apply(state, X, mode="train", key=jax.random.key(0))
    assert not np.allclose(a, b)
    grads = jax.grad(
        lambda params: block.apply(state.replace(params=params), X, mode="train",
                                   key=jax.random.key(0))[0].sum()
    )(state.params)  # fmt: skip
    assert all(np.all(np.isfinite(g)) for g in jax.tree.leaves(grads))


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda x: x.multi_head_attention(num_heads=0, key_size=2), r"'num_heads' .* received 0"),
        (lambda x: x.multi_head_attention(num_heads=2, key_size=-1), r"'key_size' .* received -1"),
        (
            lambda x: x.multi_head_attention(num_heads=2, key_size=2, dropout_rate=1.0),
            r"multi_head_attention: option 'dropout_rate' .* received 1.0",
        ),
        (lambda x: x.transformer_encoder(num_heads=2, hidden_size=0), r"'hidden_size'"),
        (
            lambda x: x.transformer_encoder(num_heads=2, hidden_size=4, norm_first="pre"),
            r"transformer_encoder: option 'norm_first' must be a bool",
        ),
    ],
)
def test_bad_options_fail_at_build_time(build, message):
    with pytest.raises(ValueError, match=message):
        build(axon.model.input("x", shape=(None, 5, 8)))


def test_heads_must_divide_the_features_when_key_size_is_inferred():
    block = axon.model.input("x").transformer_encoder(num_heads=3, hidden_size=4)
    with pytest.raises(axon.model.LayerError, match=r"num_heads \(3\) must divide the input's 8"):
        block.init(0, X)


# -- additive (Bahdanau) attention ---------------------------------------------------------


def bahdanau(p, query, key, value, allowed):
    """The score network written out, independently of axon.functional."""
    hidden = (query @ p["query_kernel"])[:, :, None] + (key @ p["key_kernel"])[:, None]
    scores = (jnp.tanh(hidden + p.get("bias", 0.0)) @ p["score_kernel"])[..., 0]
    weights = jnp.where(allowed, jax.nn.softmax(jnp.where(allowed, scores, -1e30), -1), 0.0)
    return weights @ value


def test_additive_attention_cross_attention_with_padding_mask_and_its_gradients():
    decoder = axon.model.input("decoder", shape=(None, 5, 8))
    encoder = axon.model.input("encoder", shape=(None, 3, 6))
    valid = axon.model.input("valid", shape=(None, 3))
    values = encoder.dense(4, name="values")
    model = decoder.additive_attention(encoder, values, units=7, mask=valid, name="align")
    mask = jnp.array([[True, True, False], [True, False, False]])
    inputs = {"decoder": X * 3.0, "encoder": Y * 0.2 - 1.0, "valid": mask}
    state = model.init(0, inputs)
    p = state.params["align"]
    assert {k: v.shape for k, v in p.items()} == {
        "query_kernel": (8, 7), "key_kernel": (6, 7), "score_kernel": (7, 1), "bias": (7,)
    }  # fmt: skip
    state = state.update(params={"align": {**p, "bias": jnp.linspace(-2.0, 2.0, 7)}})
    p = state.params["align"]
    v = F.dense(inputs["encoder"], **state.params["values"])
    allowed = mask[:, None, :]
    expected = bahdanau(p, inputs["decoder"], inputs["encoder"], v, allowed)
    got = model.apply(state, inputs)[0]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    functional = F.additive_attention(
        inputs["decoder"], inputs["encoder"], v, {**p, "score_kernel": p["score_kernel"][:, 0]},
        mask=allowed,
    )  # fmt: skip
    np.testing.assert_allclose(got, functional, rtol=1e-6, atol=1e-6)
    # the masked keys do not matter
    changed = {**inputs, "encoder": inputs["encoder"].at[1, 1:].set(50.0)}
    np.testing.assert_allclose(model.apply(state, changed)[0][1], got[1], rtol=1e-5, atol=1e-5)

    def loss(params, predict):
        return jnp.sum(jnp.sin(predict(params)))

    def through_model(ps):
        return model.apply(state.replace(params=ps), inputs)[0]

    def by_hand(ps):
        values = F.dense(inputs["encoder"], **ps["values"])
        return bahdanau(ps["align"], inputs["decoder"], inputs["encoder"], values, allowed)

    grads = jax.jit(jax.grad(lambda ps: loss(ps, through_model)))(state.params)
    expected_grads = jax.jit(jax.grad(lambda ps: loss(ps, by_hand)))(state.params)
    for layer in ("align", "values"):
        for name, g in grads[layer].items():
            np.testing.assert_allclose(
                g, expected_grads[layer][name], rtol=1e-4, atol=1e-5, err_msg=name
            )


def test_additive_self_attention_causal_without_bias():
    x = axon.model.input("x", shape=(None, 5, 8))
    for model in (
        x.additive_attention(units=3, causal=True, use_bias=False),
        axon.model.additive_attention(x, units=3, causal=True, use_bias=False),
    ):
        state = model.init(1, X)
        p = state.params["additive_attention_0"]
        assert sorted(p) == ["key_kernel", "query_kernel", "score_kernel"]
        causal = jnp.tril(jnp.ones((5, 5), bool))[None]
        expected = bahdanau(p, X, X, X, causal)
        np.testing.assert_allclose(model.apply(state, X)[0], expected, rtol=1e-5, atol=1e-6)
        assert axon.model.get_options(model)["causal"] is True


def test_additive_attention_options_are_checked():
    x = axon.model.input("x", shape=(None, 5, 8))
    with pytest.raises(ValueError, match=r"additive_attention: option 'units' .* received 0"):
        x.additive_attention(units=0)
    with pytest.raises(TypeError, match="additive_attention"):
        x.additive_attention(units=2, mask=jnp.ones((1, 5)))
