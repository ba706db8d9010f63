"""Train and inference mode: layer state updates, per-layer PRNG keys, mode-only layers."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import axon.model
from axon.model import LayerError

X = jnp.arange(6.0).reshape(2, 3)


def running_mean(x, mean, *, mode, momentum=0.5):
    """A stateful op: in train mode it updates ``mean`` from the batch."""
    if mode == "inference":
        return x - mean
    batch_mean = x.mean(axis=0)
    return x - batch_mean, {"mean": momentum * mean + (1 - momentum) * batch_mean}


def centered(x, name=None):
    mean = axon.model.param("mean", lambda s: (s[-1],), initializer="zeros", kind="state")
    return axon.model.layer(running_mean, [x, mean], name=name, op_name="center")


def test_train_mode_returns_updated_state_and_inference_uses_it():
    model = centered(axon.model.input("x", shape=(None, 3)))
    state = model.init(0, X)
    np.testing.assert_array_equal(state.state["center_0"]["mean"], np.zeros(3))
    _, train_fn = axon.model.build(model, mode="train")
    y, new_layer_state = train_fn(state, X)
    np.testing.assert_allclose(y, X - X.mean(0))
    np.testing.assert_allclose(new_layer_state["center_0"]["mean"], 0.5 * X.mean(0))
    np.testing.assert_allclose(new_layer_state["center_0"]["mean"], [0.75, 1.25, 1.75])
    trained = state.replace(state=new_layer_state)
    np.testing.assert_allclose(
        axon.model.predict(model, trained, X), X - jnp.array([0.75, 1.25, 1.75])
    )
    assert state.params == {}  # state is not trainable


def noise(x, *, key, mode):
    if mode == "inference":
        return x
    return x + jax.random.normal(key, x.shape)


def test_random_layers_get_their_own_key_in_training():
    x = axon.model.input("x", shape=(None, 3))
    model = axon.model.layer(
        lambda a, b: jnp.stack([a, b]),
        [axon.model.layer(noise, [x], name="n1"), axon.model.layer(noise, [x], name="n2")],
    )
    state = model.init(0, X)
    a, _ = model.apply(state, X, mode="train", key=jax.random.key(1))
    b, _ = model.apply(state, X, mode="train", key=jax.random.key(1))
    c, _ = model.apply(state, X, mode="train", key=jax.random.key(2))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c) and not np.array_equal(a[0], a[1])
    np.testing.assert_array_equal(model.apply(state, X)[0], jnp.stack([X, X]))
    with pytest.raises(LayerError, match="pass key="):
        model.apply(state, X, mode="train")


def test_a_train_only_layer_passes_its_input_through_in_inference():
    model = axon.model.layer(lambda v: v * 10, [axon.model.input("x")], mode="train")
    state = model.init(0, X)
    np.testing.assert_array_equal(model.apply(state, X)[0], X)
    np.testing.assert_array_equal(model.apply(state, X, mode="train")[0], X * 10)
    with pytest.raises(ValueError, match="mode must be"):
        axon.model.layer(jnp.sin, [axon.model.input("x")], mode="eval")


def test_a_stateful_op_must_return_its_updates():
    def forgetful(x, mean, *, mode):
        return x

    x = axon.model.input("x", shape=(None, 3))
    model = axon.model.layer(
        forgetful, [x, axon.model.param("mean", (3,), initializer="zeros", kind="state")]
    )
    state = model.init(0, X)
    with pytest.raises(LayerError, match=r"must return \(output, \{state_name: new_value\}\)"):
        model.apply(state, X, mode="train")
