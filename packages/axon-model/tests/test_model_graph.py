"""Building graphs: chained and module builders, names, custom layers, plugin layers."""

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import axon.model
from axon.functional import layers as F
from axon.model import plugins

X = jnp.arange(12.0).reshape(3, 4) / 10


def test_chained_and_module_builders_build_the_same_model():
    chained = axon.model.input("x", shape=(None, 4)).dense(5, activation="relu").dense(2)
    x = axon.model.input("x", shape=(None, 4))
    functional = axon.model.dense(axon.model.relu(axon.model.dense(x, 5)), 2)
    s1, s2 = chained.init(0, X), functional.init(0, X)
    np.testing.assert_array_equal(chained.apply(s1, X)[0], functional.apply(s2, X)[0])
    assert list(s1.params) == ["dense_0", "dense_1"]


def test_layer_names_are_numbered_per_op_or_given():
    model = axon.model.input("x", shape=(None, 4)).dense(3, name="encoder").dense(3).relu().dense(1)
    names = set(model.program.names.values())
    assert names == {"x", "encoder", "dense_0", "relu_0", "dense_1"}


def test_duplicate_layer_names_are_rejected_with_both_definition_sites():
    a = axon.model.input("x", shape=(None, 4)).dense(3, name="same")
    b = a.dense(3, name="same")
    with pytest.raises(ValueError) as error:
        b.init(0, X)
    assert str(error.value).count("test_model_graph.py:") == 2


def test_automatic_names_skip_names_taken_explicitly():
    model = axon.model.input("x").dense(2, name="dense_0").dense(2)
    assert set(model.program.names.values()) == {"x", "dense_0", "dense_1"}


def test_custom_layer_with_shape_function_and_initializer():
    def affine(x, scale, shift):
        return x * scale + shift

    x = axon.model.input("x", shape=(None, 4))
    model = axon.model.layer(
        affine,
        [x, axon.model.param("scale", lambda s: (s[-1],), initializer="ones"),
         axon.model.param("shift", lambda s: (s[-1],), initializer="zeros")],
        op_name="affine",
    )  # fmt: skip
    state = model.init(0, X)
    assert state.params["affine_0"]["scale"].shape == (4,)
    np.testing.assert_allclose(model.apply(state, X)[0], X)


def test_activation_options_and_functions():
    model = axon.model.input("x").activation("leaky_relu", alpha=0.5)
    np.testing.assert_allclose(model.apply(model.init(0, -X), -X)[0], -X * 0.5)
    custom = axon.model.input("x").activation(lambda v: v * 2)
    np.testing.assert_allclose(custom.apply(custom.init(0, X), X)[0], X * 2)


def test_unknown_builder_and_activation_names_suggest_matches():
    x = axon.model.input("x")
    with pytest.raises(AttributeError, match="Did you mean 'dense'"):
        x.desne(3)
    with pytest.raises(LookupError, match="Did you mean 'softmax'"):
        x.dense(3, activation="softmx")


def test_invalid_builder_arguments():
    with pytest.raises(ValueError, match="positive int"):
        axon.model.input("x").dense(0)
    with pytest.raises(ValueError, match="positive ints or None"):
        axon.model.input("x", shape=(None, -1))
    with pytest.raises(TypeError, match=r"models or axon\.model\.param"):
        axon.model.layer(jnp.sin, [X])


def test_plugin_layers_become_chained_methods():
    def double(x, *, name=None):
        return axon.model.layer(lambda v: 2 * v, [x], name=name, op_name="double")

    class DoublePlugin:
        @plugins.hookimpl
        def axon_layers(self):
            return {"double": double}

    with plugins.system.temporary(DoublePlugin(), name="double-plugin"):
        model = axon.model.input("x").double().double()
        assert "double" in dir(model)
        np.testing.assert_allclose(model.apply(model.init(0, X), X)[0], 4 * X)
        # the registry hands out the builder wrapped to record its calls (for model files)
        assert inspect.unwrap(axon.model.double) is double
    assert "double" not in axon.model.layers


def test_builtin_layers_come_through_the_entry_point():
    assert axon.model.layers.provider("dense").startswith("axon-model 0.1.0")


def test_repr_is_readable():
    model = axon.model.input("features", shape=(None, 4)).dense(8)
    assert repr(model) == "<Model inputs={'features': (None, 4)} output='dense_0' layers=2>"


def test_dense_matches_the_functional_op():
    model = axon.model.input("x", shape=(None, 4)).dense(3)
    state = model.init(jax.random.key(1), X)
    p = state.params["dense_0"]
    np.testing.assert_allclose(model.apply(state, X)[0], F.dense(X, p["kernel"], p["bias"]))
