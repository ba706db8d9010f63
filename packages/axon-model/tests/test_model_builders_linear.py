"""Linear builders (bilinear, embedding, bias): forward equals the functional op, params, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import axon.model
from axon.functional import layers as F

A = jax.random.normal(jax.random.key(0), (3, 2))
B = jax.random.normal(jax.random.key(1), (3, 4))


def test_bilinear_matches_the_functional_op_in_both_forms():
    a, b = axon.model.input("a", shape=(None, 2)), axon.model.input("b", shape=(None, 4))
    inputs = {"a": A, "b": B}
    for model in (a.bilinear(b, 5), axon.model.bilinear(a, b, 5)):
        state = model.init(0, inputs)
        p = state.params["bilinear_0"]
        assert p["kernel"].shape == (5, 2, 4) and p["bias"].shape == (5,)
        assert p["kernel"].dtype == jnp.float32
        np.testing.assert_allclose(
            model.apply(state, inputs)[0], F.bilinear(A, B, p["kernel"], p["bias"]), rtol=1e-6
        )


def test_bilinear_without_bias_and_with_activation():
    a, b = axon.model.input("a", shape=(None, 2)), axon.model.input("b", shape=(None, 4))
    model = a.bilinear(b, 3, use_bias=False, activation="relu")
    state = model.init(0, {"a": A, "b": B})
    assert set(state.params["bilinear_0"]) == {"kernel"}
    expected = jax.nn.relu(F.bilinear(A, B, state.params["bilinear_0"]["kernel"]))
    np.testing.assert_allclose(model.apply(state, {"a": A, "b": B})[0], expected, rtol=1e-6)


def test_embedding_uses_axons_small_uniform_initializer():
    model = axon.model.input("ids", shape=(None, 4)).embedding(50, 6)
    ids = jnp.array([[1, 2, 3, 49]])
    state = model.init(0, ids)
    kernel = state.params["embedding_0"]["kernel"]
    assert kernel.shape == (50, 6)
    assert float(jnp.abs(kernel).max()) <= 0.01 and float(jnp.abs(kernel).max()) > 0.001
    np.testing.assert_array_equal(model.apply(state, ids)[0], F.embedding(ids, kernel))
    assert axon.model.embedding(axon.model.input("ids"), 50, 6).init(0, ids).params


def test_bias_adds_a_trainable_vector_over_the_last_axis():
    model = axon.model.bias(axon.model.input("x", shape=(None, 3)), bias_initializer="ones")
    state = model.init(0, A[:, :1].repeat(3, 1))
    assert state.params["bias_0"]["bias"].shape == (3,)
    np.testing.assert_array_equal(model.apply(state, jnp.zeros((2, 3)))[0], jnp.ones((2, 3)))


@pytest.mark.parametrize(
    "build, message",
    [
        (
            lambda x: x.bilinear(x, 0),
            r"bilinear: option 'units' must be a positive int; received 0",
        ),
        (lambda x: x.embedding(-1, 3), r"embedding: option 'vocab_size' .* received -1"),
        (lambda x: x.embedding(3, 2.5), r"embedding: option 'embedding_size' .* received 2.5"),
    ],
)
def test_bad_options_fail_at_build_time(build, message):
    with pytest.raises(ValueError, match=message):
        build(axon.model.input("x", shape=(None, 2)))
