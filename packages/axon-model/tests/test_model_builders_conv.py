"""Convolution builders: forward equals the functional op, kernel layouts, options, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import axon.model
from axon.functional import layers as F
from axon.model import LayerError

X = jax.random.normal(jax.random.key(0), (2, 7, 7, 4))


def params(model, x=X):
    state = model.init(0, x)
    (layer,) = state.params.values()
    return state, layer


def test_conv_matches_the_functional_op_with_every_option():
    opts = dict(kernel_size=(3, 2), strides=2, padding="same", kernel_dilation=(1, 2))
    for model in (
        axon.model.input("x", shape=(None, 7, 7, 4)).conv(6, feature_group_size=2, **opts),
        axon.model.conv(axon.model.input("x"), 6, feature_group_size=2, **opts),
    ):
        state, p = params(model)
        assert p["kernel"].shape == (3, 2, 2, 6) and p["bias"].shape == (6,)
        functional_opts = {k: v for k, v in opts.items() if k != "kernel_size"}
        expected = F.conv(X, p["kernel"], p["bias"], feature_group_size=2, **functional_opts)
        np.testing.assert_allclose(model.apply(state, X)[0], expected, rtol=1e-5, atol=1e-6)


def test_conv_channels_first_input_dilation_and_activation():
    x = jnp.moveaxis(X, -1, 1)
    model = axon.model.input("x").conv(
        3, kernel_size=2, input_dilation=2, channels="first", activation="relu", use_bias=False
    )
    state, p = params(model, x)
    assert set(p) == {"kernel"} and p["kernel"].shape == (3, 4, 2, 2)
    expected = jax.nn.relu(F.conv(x, p["kernel"], input_dilation=2, channels="first"))
    np.testing.assert_allclose(model.apply(state, x)[0], expected, rtol=1e-5, atol=1e-6)


def test_conv_works_in_1d_and_3d():
    x1, x3 = jnp.ones((1, 9, 2)), jnp.ones((1, 4, 4, 4, 2))
    m1 = axon.model.input("x").conv(5, kernel_size=3)
    m3 = axon.model.input("x").conv(5, kernel_size=3)
    assert params(m1, x1)[1]["kernel"].shape == (3, 2, 5)
    assert m3.apply(m3.init(0, x3), x3)[0].shape == (1, 2, 2, 2, 5)


def test_conv_transpose_matches_the_functional_op():
    model = axon.model.input("x").conv_transpose(3, kernel_size=3, strides=2, padding="same")
    state, p = params(model)
    assert p["kernel"].shape == (3, 3, 4, 3)
    expected = F.conv_transpose(X, p["kernel"], p["bias"], strides=2, padding="same")
    np.testing.assert_allclose(model.apply(state, X)[0], expected, rtol=1e-5, atol=1e-6)
    assert model.apply(state, X)[0].shape == (2, 14, 14, 3)


def test_depthwise_conv_matches_the_functional_op():
    model = axon.model.input("x").depthwise_conv(3, kernel_size=3, strides=(1, 2))
    state, p = params(model)
    assert p["kernel"].shape == (3, 3, 1, 12) and p["bias"].shape == (12,)
    expected = F.depthwise_conv(X, p["kernel"], p["bias"], strides=(1, 2))
    np.testing.assert_allclose(model.apply(state, X)[0], expected, rtol=1e-5, atol=1e-6)


def test_separable_convs_match_the_functional_ops():
    model = axon.model.input("x").separable_conv2d(2, kernel_size=(3, 5), padding="same")
    state, p = params(model)
    assert p["kernel_1"].shape == (3, 1, 1, 8) and p["kernel_2"].shape == (1, 5, 1, 8)
    expected = F.separable_conv2d(
        X, p["kernel_1"], p["bias_1"], p["kernel_2"], p["bias_2"], padding="same"
    )
    np.testing.assert_allclose(model.apply(state, X)[0], expected, rtol=1e-5, atol=1e-6)

    x3 = jax.random.normal(jax.random.key(1), (1, 5, 5, 5, 2))
    model3 = axon.model.input("x").separable_conv3d(1, kernel_size=2, use_bias=False)
    state3, p3 = params(model3, x3)
    assert sorted(p3) == ["kernel_1", "kernel_2", "kernel_3"]
    assert p3["kernel_3"].shape == (1, 1, 2, 1, 2)
    expected3 = F.separable_conv3d(
        x3, p3["kernel_1"], None, p3["kernel_2"], None, p3["kernel_3"], None
    )
    np.testing.assert_allclose(model3.apply(state3, x3)[0], expected3, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda x: x.conv(0), r"conv: option 'units' must be a positive int; received 0"),
        (lambda x: x.conv(4, kernel_size=0), r"conv: option 'kernel_size' .* received 0"),
        (lambda x: x.conv(4, padding="full"), r"conv: option 'padding' .* received 'full'"),
        (lambda x: x.conv(4, channels="middle"), r"conv: option 'channels' .*'middle'"),
        (lambda x: x.conv(5, feature_group_size=2), r"'feature_group_size' \(2\) must divide"),
        (lambda x: x.conv_transpose(-2), r"conv_transpose: option 'units' .* received -2"),
        (lambda x: x.depthwise_conv(0), r"depthwise_conv: option 'channel_multiplier'"),
        (lambda x: x.separable_conv2d(1, kernel_size=(1, 2, 3)), r"separable_conv2d: .*2 ints"),
    ],
)
def test_bad_options_fail_at_build_time(build, message):
    with pytest.raises(ValueError, match=message):
        build(axon.model.input("x", shape=(None, 7, 7, 4)))


def test_shape_errors_name_the_layer():
    model = axon.model.input("x").conv(4, kernel_size=(3, 3, 3), name="stem")
    with pytest.raises(LayerError, match=r"'stem'.*kernel_size.*3 entries.*2 spatial axes"):
        model.init(0, X)
    grouped = axon.model.input("x").conv(6, feature_group_size=3)
    with pytest.raises(LayerError, match=r"feature_group_size' \(3\) must divide the input's 4"):
        grouped.init(0, X)
