"""A small ResNet-style graph from many builder families: builds, displays, inits, and runs in
train and inference mode (batch-norm state, dropout keys, a shared skip connection)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import axon.model
from axon.model import plugins

X = jax.random.normal(jax.random.key(0), (4, 8, 8, 3))


def resnet():
    x = axon.model.input("image", shape=(None, 8, 8, 3))
    stem = x.conv(8, kernel_size=3, padding="same", name="stem").batch_norm().relu()
    h = stem.conv(8, kernel_size=3, padding="same").batch_norm().relu()
    h = h.conv(8, kernel_size=3, padding="same").batch_norm()
    block = h.add(stem).relu()  # the skip connection shares `stem`
    pooled = block.global_avg_pool()
    return pooled.dropout(rate=0.3).dense(10, name="head")


def test_resnet_builds_displays_inits_and_runs_in_both_modes():
    model = resnet()
    table = axon.model.display.as_table(model, X)
    expected_rows = ("stem (conv)", "batch_norm_2 (batch_norm)", "add_0 (add)")
    expected_rows += ("global_avg_pool_0", "dropout_0", "head (dense)", "Total parameters")
    for expected in expected_rows:
        assert expected in table
    state = model.init(0, X)
    assert set(state.state) == {"batch_norm_0", "batch_norm_1", "batch_norm_2"}
    assert state.params["stem"]["kernel"].shape == (3, 3, 3, 8)

    _, predict_fn = axon.model.build(model)
    prediction = predict_fn(state, X)
    assert prediction.shape == (4, 10) and np.all(np.isfinite(prediction))

    _, train_fn = axon.model.build(model, mode="train")
    train_pred, new_state = train_fn(state, X, key=jax.random.key(1))
    assert train_pred.shape == (4, 10)
    assert not np.allclose(train_pred, prediction)
    for layer in new_state:
        assert not np.allclose(new_state[layer]["mean"], state.state[layer]["mean"])

    def loss(params):
        y, layer_state = train_fn(state.replace(params=params), X, key=jax.random.key(1))
        return jnp.mean(y**2), layer_state

    grads, _ = jax.grad(loss, has_aux=True)(state.params)
    assert all(np.all(np.isfinite(g)) for g in jax.tree.leaves(grads))
    assert float(jnp.abs(grads["stem"]["kernel"]).sum()) > 0


@pytest.mark.parametrize("pool", ["max_pool", "avg_pool", "lp_pool"])
def test_window_pools_are_differentiable_inside_a_model(pool):
    model = getattr(axon.model.input("x", shape=(None, 8, 8, 3)), pool)(kernel_size=2)
    state = model.init(0, X)
    grad = jax.grad(lambda x: model.apply(state, x)[0].sum())(X)
    assert np.all(np.isfinite(grad))


def test_every_builder_is_a_chained_method_and_a_module_attribute():
    names = set(axon.model.layers.names())
    expected = {
        "bilinear", "embedding", "bias", "conv", "conv_transpose", "depthwise_conv",
        "separable_conv2d", "separable_conv3d", "max_pool", "avg_pool", "lp_pool", "blur_pool",
        "adaptive_avg_pool", "adaptive_max_pool", "adaptive_lp_pool", "global_avg_pool",
        "global_max_pool", "global_lp_pool", "batch_norm", "instance_norm", "layer_norm",
        "group_norm", "rms_norm", "dropout", "spatial_dropout", "alpha_dropout",
        "feature_alpha_dropout", "reshape", "transpose", "pad", "resize", "concatenate", "add",
        "subtract", "multiply", "split", "cond", "container", "constant", "nx", "stack_columns",
        "optional", "or_else", "mask", "lstm", "gru", "conv_lstm", "rnn", "bidirectional",
        "multi_head_attention", "transformer_encoder",
    }  # fmt: skip
    assert expected <= names
    x = axon.model.input("x")
    for name in expected:
        assert callable(getattr(axon.model, name)) and callable(getattr(x, name))


def test_a_plugin_layer_can_be_registered_temporarily():
    class Scale:
        @plugins.hookimpl
        def axon_layers(self):
            def scale(x, factor, *, name=None):
                return axon.model.layer(lambda v: v * factor, [x], name=name, op_name="scale")

            return {"scale_by_for_test": scale}

    with plugins.system.temporary(Scale(), name="scale-by-test-plugin"):
        model = axon.model.input("x", shape=(None, 2)).scale_by_for_test(3.0)
        np.testing.assert_array_equal(
            model.apply(model.init(0, jnp.ones((1, 2))), jnp.ones((1, 2)))[0], [[3.0, 3.0]]
        )
