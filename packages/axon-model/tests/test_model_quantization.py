"""Weight-only int8 quantization: kernels, the functional op, model and state rewriting."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import axon.model
from axon.model import ModelState, get_op_counts, properties
from axon.model import quantization as Q
from axon.model._files.parameters import from_bytes, to_bytes

X = jax.random.normal(jax.random.key(42), (16, 32))


def mlp():
    x = axon.model.input("x", shape=(None, 32))
    return x.dense(64, activation="relu").dense(64, name="hidden").tanh().dense(10)


def test_kernels_are_quantized_per_output_channel_symmetrically():
    kernel = jax.random.normal(jax.random.key(0), (32, 8)) * jnp.arange(1.0, 9.0)
    values, scale = Q.quantize_kernel(kernel)
    assert values.dtype == jnp.int8 and values.shape == (32, 8) and scale.shape == (8,)
    np.testing.assert_allclose(scale, np.abs(kernel).max(axis=0) / 127, rtol=1e-6)
    assert int(jnp.abs(values).max(axis=0).min()) == 127  # every channel uses the full range
    error = jnp.abs(Q.dequantize_kernel(values, scale) - kernel)
    assert bool((error <= scale / 2 + 1e-6).all())
    zero_values, zero_scale = Q.quantize_kernel(jnp.zeros((3, 2)))
    np.testing.assert_array_equal(zero_values, np.zeros((3, 2)))
    np.testing.assert_array_equal(zero_scale, np.ones(2))
    with pytest.raises(TypeError, match="already quantized"):
        Q.quantize_kernel(values)


def test_the_functional_op_matches_the_dequantized_dense():
    kernel = jax.random.normal(jax.random.key(1), (32, 8))
    bias = jnp.arange(8.0)
    values, scale = Q.quantize_kernel(kernel)
    expected = X @ Q.dequantize_kernel(values, scale) + bias
    np.testing.assert_allclose(
        Q.quantized_dense(X, values, scale, bias), expected, rtol=1e-5, atol=1e-5
    )
    np.testing.assert_allclose(
        Q.quantized_dense(X, values, scale), expected - bias, rtol=1e-5, atol=1e-5
    )
    with pytest.raises(ValueError, match="last axis matches"):
        Q.quantized_dense(jnp.ones((2, 3)), values, scale)


def test_quantize_model_rewrites_every_dense_and_keeps_names():
    model = mlp()
    q_model = Q.quantize_model(model)
    assert get_op_counts(q_model) == {
        "input": 1, "weight_only_quantized_dense": 3, "relu": 1, "tanh": 1,
    }  # fmt: skip
    assert list(properties(q_model)) == list(properties(model))
    assert get_op_counts(model)["dense"] == 3  # the original is unchanged
    fresh = q_model.init(0, X)
    assert {k: (v.shape, v.dtype.name) for k, v in fresh.params["hidden"].items()} == {
        "kernel": ((64, 64), "int8"),
        "kernel_scale": ((64,), "float32"),
        "bias": ((64,), "float32"),
    }


def test_quantized_predictions_are_close_to_float_with_int8_storage():
    model = mlp()
    state = model.init(0, X)
    q_model, q_state = Q.quantize(model, state)
    for layer in ("dense_0", "hidden", "dense_1"):
        assert q_state.params[layer]["kernel"].dtype == jnp.int8
        np.testing.assert_array_equal(q_state.params[layer]["bias"], state.params[layer]["bias"])
    assert q_state.frozen == {
        f"{layer}/{name}" for layer in ("dense_0", "hidden", "dense_1")
        for name in ("kernel", "kernel_scale")
    }  # fmt: skip
    layers = ("dense_0", "hidden", "dense_1")
    float_kernel_bytes = sum(state.params[name]["kernel"].nbytes for name in layers)
    int8_kernel_bytes = sum(q_state.params[name]["kernel"].nbytes for name in layers)
    assert int8_kernel_bytes * 4 == float_kernel_bytes
    expected = axon.model.predict(model, state, X)
    got = axon.model.predict(q_model, q_state, X)
    assert not np.array_equal(got, expected)  # it really is quantized
    np.testing.assert_allclose(got, expected, atol=0.02 * float(jnp.abs(expected).max()))
    # the quantized state is checked against the quantized model, and saves as int8
    restored = from_bytes(to_bytes(q_state), q_model, X)
    assert restored.params["hidden"]["kernel"].dtype == jnp.int8
    np.testing.assert_array_equal(axon.model.predict(q_model, restored, X), got)


def test_quantize_model_state_accepts_the_quantized_model_and_is_idempotent():
    model = mlp()
    state = model.init(0, X)
    q_model = Q.quantize_model(model)
    once = Q.quantize_model_state(q_model, state)
    twice = Q.quantize_model_state(q_model, once)
    jax.tree_util.tree_map(np.testing.assert_array_equal, once, twice)
    with pytest.raises(KeyError, match="no kernel for dense layer 'dense_0'"):
        Q.quantize_model_state(model, ModelState())


def test_quantized_kernels_get_no_gradient():
    model = axon.model.input("x", shape=(None, 32)).dense(4)
    _, q_state = Q.quantize(model, model.init(0, X))
    trainable = q_state.trainable_parameters
    assert {layer: sorted(entries) for layer, entries in trainable.items()} == {"dense_0": ["bias"]}


def test_builder_checks_units():
    with pytest.raises(ValueError, match="positive int"):
        Q.weight_only_quantized_dense(axon.model.input("x"), 0)


def test_quantize_model_keeps_a_mixed_precision_policy():
    from axon.model import mixed_precision

    policy = mixed_precision.create_policy(compute=jnp.bfloat16, output=jnp.float32)
    model = mixed_precision.apply_policy(mlp(), policy)
    state = model.init(0, X)
    q_model, q_state = Q.quantize(model, state)
    assert all(n.policy == policy for n in q_model.program.order if n.op is not None)
    got = axon.model.predict(q_model, q_state, X)
    assert got.dtype == jnp.float32 and q_state.params["hidden"]["kernel"].dtype == jnp.int8
    expected = axon.model.predict(model, state, X)
    np.testing.assert_allclose(got, expected, atol=0.05 * float(jnp.abs(expected).max()))


def test_weight_only_quantized_dense_is_a_chained_builder_too():
    x = axon.model.input("x", shape=(None, 3))
    chained, module = x.weight_only_quantized_dense(2), Q.weight_only_quantized_dense(x, 2)
    assert "weight_only_quantized_dense" in axon.model.layers.names()
    inputs = jnp.ones((1, 3))
    shapes = lambda m: jax.tree_util.tree_map(jnp.shape, m.init(0, inputs).params)  # noqa: E731
    assert shapes(chained) == shapes(module)
