"""init / apply / build: determinism, shapes, compilation, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import axon.model
from axon.model import InputError, LayerError, ModelState

X = jnp.ones((2, 4))


def mlp():
    return axon.model.input("x", shape=(None, 4)).dense(8, activation="relu").dense(3)


def test_init_is_deterministic_per_seed_and_accepts_templates():
    template = jax.ShapeDtypeStruct((1, 4), jnp.float32)
    a, b, c = mlp().init(0, template), mlp().init(0, X), mlp().init(1, X)
    jax.tree_util.tree_map(np.testing.assert_array_equal, a, b)
    assert not np.array_equal(a.params["dense_0"]["kernel"], c.params["dense_0"]["kernel"])


def test_parameters_depend_on_layer_names_not_order():
    small = axon.model.input("x", shape=(None, 4)).dense(3, name="head")
    bigger = axon.model.input("x", shape=(None, 4)).dense(4, name="extra").dense(3, name="head")
    k_small = small.init(0, X).params["head"]["bias"]
    assert bigger.init(0, X).params["head"]["kernel"].shape == (4, 3)
    np.testing.assert_array_equal(k_small, bigger.init(0, X).params["head"]["bias"])
    np.testing.assert_array_equal(
        axon.model.input("x", shape=(None, 4))
        .dense(4, name="extra")
        .init(0, X)
        .params["extra"]["kernel"],
        bigger.init(0, X).params["extra"]["kernel"],
    )


def test_partial_model_state_is_kept_for_fine_tuning():
    pretrained = ModelState({"dense_0": {"bias": jnp.full((8,), 7.0)}})
    state = mlp().init(0, X, pretrained)
    assert (state.params["dense_0"]["bias"] == 7.0).all()
    assert state.params["dense_0"]["kernel"].shape == (4, 8)
    with pytest.raises(InputError, match=r"shape \(2,\).*needs \(8,\)"):
        mlp().init(0, X, ModelState({"dense_0": {"bias": jnp.zeros(2)}}))


def test_build_gives_inference_and_train_functions():
    init_fn, predict_fn = axon.model.build(mlp())
    state = init_fn(0, X)
    assert predict_fn(state, X).shape == (2, 3)
    _, train_fn = axon.model.build(mlp(), mode="train")
    prediction, new_state = train_fn(state, X, key=jax.random.key(0))
    np.testing.assert_allclose(prediction, predict_fn(state, X))
    assert new_state == {}
    with pytest.raises(ValueError, match="mode"):
        axon.model.build(mlp(), mode="eval")


def test_predict_compiles_once_per_input_shape():
    traces = []

    def traced_relu(x):
        traces.append(x.shape)
        return jax.nn.relu(x)

    model = axon.model.input("x", shape=(None, 4)).dense(2).activation(traced_relu)
    state = model.init(0, X)
    traces.clear()
    for _ in range(3):
        model.apply(state, X)
    model.apply(state, jnp.ones((5, 4)))
    assert traces == [(2, 2), (5, 2)]


def test_a_shared_subgraph_is_computed_once():
    calls = []

    def counted(x):
        calls.append(1)
        return x + 1

    x = axon.model.input("x", shape=(None, 4))
    trunk = x.activation(counted)
    model = axon.model.layer(jnp.add, [trunk.dense(2, name="a"), trunk.dense(2, name="b")])
    state = model.init(0, X)
    calls.clear()
    model.apply(state, X)
    assert len(calls) == 1


def test_multiple_inputs_by_name():
    a, b = axon.model.input("a", shape=(None, 2)), axon.model.input("b", shape=(None, 3))
    model = axon.model.layer(lambda u, v: jnp.concatenate([u, v], -1), [a, b]).dense(1)
    inputs = {"a": jnp.ones((4, 2)), "b": jnp.ones((4, 3))}
    assert model.apply(model.init(0, inputs), inputs)[0].shape == (4, 1)
    with pytest.raises(InputError, match=r"missing: \['b'\]"):
        model.init(0, {"a": jnp.ones((4, 2))})
    with pytest.raises(InputError, match="pass them as a dict"):
        model.init(0, jnp.ones((4, 2)))


def test_wrong_input_shape_is_explained():
    init_fn, predict_fn = axon.model.build(mlp())
    state = init_fn(0, X)
    with pytest.raises(InputError) as error:
        predict_fn(state, jnp.ones((2, 5)))
    message = str(error.value)
    assert "Input 'x'" in message and "test_model_execution.py" in message
    assert "(None, 4)" in message and "(2, 5)" in message and "shape=(None, 5)" in message


def test_a_failing_layer_names_itself_and_its_arguments():
    # no declared input shape, and a kernel whose shape does not follow the input's:
    # the op itself meets the mismatch
    kernel = axon.model.param("kernel", (4, 3))
    model = axon.model.layer(jnp.matmul, [axon.model.input("x"), kernel], op_name="dense")
    state = model.init(0, X)
    with pytest.raises(LayerError) as error:
        model.apply(state, jnp.ones((2, 5)))
    message = str(error.value)
    assert "'dense_0'" in message and "test_model_execution.py" in message
    assert "(2, 5) float32" in message and "(4, 3) float32" in message
    assert "Traced" not in message


def test_apply_checks_its_state_argument():
    with pytest.raises(TypeError, match="ModelState"):
        mlp().apply({"dense_0": {}}, X)


def test_get_output_shape_and_predict():
    model = mlp()
    assert axon.model.get_output_shape(model, X) == jax.ShapeDtypeStruct((2, 3), jnp.float32)
    state = model.init(0, X)
    np.testing.assert_array_equal(axon.model.predict(model, state, X), model.apply(state, X)[0])


def test_model_state_is_a_pytree_for_jax_transforms():
    model = mlp()
    state = model.init(0, X)
    grads = jax.grad(lambda s: model.apply(s, X)[0].sum())(state)
    assert isinstance(grads, ModelState)
    assert grads.params["dense_1"]["bias"].tolist() == [2.0, 2.0, 2.0]
    assert state.num_parameters == 4 * 8 + 8 + 8 * 3 + 3


def test_display_as_table_lists_layers_shapes_and_totals():
    table = axon.model.display.as_table(mlp(), jax.ShapeDtypeStruct((1, 4), jnp.float32))
    assert "dense_0 (dense)" in table and "x (1, 4)" in table and "(1, 3)" in table
    assert "kernel f32[4,8]" in table and "units=8" in table
    assert table.endswith("Total parameters: 67 (268 B)")


def test_a_missing_batch_axis_is_recognised():
    init_fn, predict_fn = axon.model.build(mlp())
    state = init_fn(0, X)
    with pytest.raises(
        InputError, match=r"without the batch axis: pass x\[None\] \(shape \(1, 4\)\)"
    ):
        predict_fn(state, jnp.ones((4,)))
