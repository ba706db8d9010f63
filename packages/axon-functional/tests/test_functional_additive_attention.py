"""additive_attention (Bahdanau) against a hand-written NumPy loop (float64) and its gradients
against jax.grad of a hand-written JAX formula."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from axon.functional import layers

RNG = np.random.default_rng(7)
B, Q, K, QF, KF, VF, UNITS = 2, 3, 5, 4, 6, 3, 7


def arrays():
    """Inputs far from unit scale: large queries, small keys, shifted values."""
    return {
        "query": RNG.normal(size=(B, Q, QF)) * 4.0,
        "key": RNG.normal(size=(B, K, KF)) * 0.05,
        "value": RNG.normal(size=(B, K, VF)) * 30.0 + 100.0,
        "query_kernel": RNG.normal(size=(QF, UNITS)) * 0.3,
        "key_kernel": RNG.normal(size=(KF, UNITS)) * 20.0,
        "score_kernel": RNG.normal(size=(UNITS,)) * 2.5,
        "bias": RNG.normal(size=(UNITS,)),
    }


def reference(a, allowed=None):
    """One query, one key at a time, as the paper writes it."""
    out = np.zeros((B, Q, VF))
    weights = np.zeros((B, Q, K))
    for b in range(B):
        for i in range(Q):
            scores = np.array(
                [
                    np.tanh(
                        a["query"][b, i] @ a["query_kernel"]
                        + a["key"][b, j] @ a["key_kernel"]
                        + a["bias"]
                    )
                    @ a["score_kernel"]
                    for j in range(K)
                ]
            )
            ok = np.ones(K, bool) if allowed is None else allowed[b, i]
            if not ok.any():
                continue  # nothing to attend to: zeros
            e = np.exp(scores[ok] - scores[ok].max())
            weights[b, i, ok] = e / e.sum()
            out[b, i] = weights[b, i] @ a["value"][b]
    return out, weights


def as_jax(a):
    return {k: jnp.asarray(v, jnp.float32) for k, v in a.items()}


def call(a, **options):
    params = {k: a[k] for k in ("query_kernel", "key_kernel", "score_kernel", "bias") if k in a}
    return layers.additive_attention(a["query"], a["key"], a["value"], params, **options)


def test_matches_the_hand_written_loop():
    a = arrays()
    out, weights = call(as_jax(a), return_weights=True)
    expected, expected_weights = reference(a)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(weights, expected_weights, rtol=1e-4, atol=1e-6)
    assert out.dtype == jnp.float32 and out.shape == (B, Q, VF)


def test_without_bias_equals_a_zero_bias():
    a = as_jax(arrays())
    no_bias = call({k: v for k, v in a.items() if k != "bias"})
    np.testing.assert_allclose(no_bias, call({**a, "bias": jnp.zeros(UNITS)}), rtol=1e-6)


def test_padding_mask_causal_and_fully_masked_rows():
    a = arrays()
    valid = np.array([[True] * 5, [True, True, False, False, False]])
    pad = np.broadcast_to(valid[:, None, :], (B, Q, K))
    np.testing.assert_allclose(
        call(as_jax(a), mask=jnp.asarray(valid)[:, None, :]), reference(a, pad)[0], rtol=1e-4,
        atol=1e-3,
    )  # fmt: skip
    causal = np.tril(np.ones((Q, K), bool))
    np.testing.assert_allclose(
        call(as_jax(a), mask=jnp.asarray(valid)[:, None, :], causal=True),
        reference(a, pad & causal)[0],
        rtol=1e-4,
        atol=1e-3,
    )
    nothing = np.zeros((B, Q, K), bool)
    nothing[0, 1] = True  # only query 1 of example 0 may attend anywhere
    out = call(as_jax(a), mask=jnp.asarray(nothing))
    np.testing.assert_allclose(out, reference(a, nothing)[0], rtol=1e-4, atol=1e-3)
    assert np.all(np.asarray(out)[1] == 0) and np.isfinite(out).all()


def hand_written(a, mask):
    """The same formula in plain JAX, written independently of the library."""
    hidden = (
        jnp.einsum("bqf,fu->bqu", a["query"], a["query_kernel"])[:, :, None]
        + jnp.einsum("bkf,fu->bku", a["key"], a["key_kernel"])[:, None]
    )
    scores = jnp.einsum("bqku,u->bqk", jnp.tanh(hidden + a["bias"]), a["score_kernel"])
    scores = jnp.where(mask, scores, -1e30)
    weights = jnp.where(mask, jax.nn.softmax(scores, axis=-1), 0.0)
    return jnp.einsum("bqk,bkd->bqd", weights, a["value"])


def test_gradients_equal_jax_grad_of_the_hand_written_formula():
    a = as_jax(arrays())
    mask = jnp.asarray(RNG.random((B, Q, K)) > 0.3).at[:, :, 0].set(True)
    cotangent = jnp.asarray(RNG.normal(size=(B, Q, VF)), jnp.float32)

    def objective(fn):
        return lambda params: jnp.sum(fn(params) * cotangent)

    grads = jax.jit(jax.grad(objective(lambda p: call(p, mask=mask))))(a)
    expected = jax.jit(jax.grad(objective(lambda p: hand_written(p, mask))))(a)
    for name in a:
        np.testing.assert_allclose(grads[name], expected[name], rtol=2e-3, atol=1e-3, err_msg=name)


def test_gradients_match_finite_differences():
    with jax.enable_x64():
        a = {k: jnp.asarray(v, jnp.float64) for k, v in arrays().items()}
        mask = jnp.asarray(np.tril(np.ones((Q, K), bool)))[None]
        fn = jax.jit(lambda *v: call(dict(zip(a, v, strict=True)), mask=mask))
        check_grads(fn, tuple(a.values()), order=1, eps=1e-6)


def test_bad_shapes_are_explained():
    a = as_jax(arrays())
    with pytest.raises(ValueError, match=r"key_kernel \(4, 7\)"):
        call({**a, "key_kernel": jnp.ones((4, UNITS))})
    with pytest.raises(ValueError, match="query must have rank 3"):
        call({**a, "query": a["query"][0]})
    with pytest.raises(ValueError, match="agree on batch"):
        call({**a, "value": a["value"][:, :2]})
    with pytest.raises(ValueError, match=r"params is missing \['score_kernel'\]"):
        call({k: v for k, v in a.items() if k != "score_kernel"})
    with pytest.raises(TypeError, match="params must be a dict"):
        layers.additive_attention(a["query"], a["key"], a["value"], [a["query_kernel"]])
    with pytest.raises(TypeError, match="mask must be boolean"):
        call(a, mask=jnp.ones((B, Q, K)))
    with pytest.raises(ValueError, match=r"does not broadcast .* \(batch, q_seq, kv_seq\)"):
        call(a, mask=jnp.ones((B, K, Q), bool))
