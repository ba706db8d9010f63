"""Pooling builders: forward equals the functional op in both forms, options, errors."""

import jax
import numpy as np
import pytest

import axon.model
from axon.functional import layers as F

X = jax.random.uniform(jax.random.key(0), (2, 9, 8, 3))


def run(model, x=X):
    state = model.init(0, x)
    assert state.params == {} and state.state == {}
    return model.apply(state, x)[0]


@pytest.mark.parametrize(
    "builder, functional, options, functional_options",
    [
        ("max_pool", F.max_pool, {"kernel_size": 2}, {"kernel_size": 2}),
        (
            "max_pool",
            F.max_pool,
            {"kernel_size": 3, "strides": 1, "padding": "same", "dilations": 2},
            {"kernel_size": 3, "strides": 1, "padding": "same", "window_dilations": 2},
        ),
        ("avg_pool", F.avg_pool, {"kernel_size": (3, 2)}, {"kernel_size": (3, 2)}),
        (
            "lp_pool",
            F.lp_pool,
            {"kernel_size": 2, "norm": 3},
            {"kernel_size": 2, "norm": 3},
        ),
        ("blur_pool", F.blur_pool, {}, {}),
        (
            "adaptive_avg_pool",
            F.adaptive_avg_pool,
            {"output_size": (4, 3)},
            {"output_size": (4, 3)},
        ),
        ("adaptive_max_pool", F.adaptive_max_pool, {"output_size": 2}, {"output_size": 2}),
        (
            "adaptive_lp_pool",
            F.adaptive_lp_pool,
            {"output_size": 2, "norm": 1},
            {"output_size": 2, "norm": 1},
        ),
        ("global_avg_pool", F.global_avg_pool, {}, {}),
        ("global_max_pool", F.global_max_pool, {"keep_axes": True}, {"keep_axes": True}),
        ("global_lp_pool", F.global_lp_pool, {"norm": 3}, {"norm": 3}),
    ],
)
def test_pool_equals_functional_op(builder, functional, options, functional_options):
    x = axon.model.input("x", shape=(None, 9, 8, 3))
    chained = getattr(x, builder)(**options)
    module = getattr(axon.model, builder)(x, **options)
    expected = functional(X, **functional_options)
    np.testing.assert_allclose(run(chained), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(run(module), expected, rtol=1e-5, atol=1e-6)


def test_channels_first_pools():
    x = np.moveaxis(np.asarray(X), -1, 1)
    model = axon.model.input("x").max_pool(kernel_size=2, channels="first")
    np.testing.assert_array_equal(run(model, x), F.max_pool(x, kernel_size=2, channels="first"))
    assert run(axon.model.input("x").global_avg_pool(channels="first"), x).shape == (2, 3)


def test_default_strides_equal_the_kernel_size_and_are_shown():
    model = axon.model.input("x").avg_pool(kernel_size=3)
    assert run(model).shape == (2, 3, 2, 3)
    assert model.node.config["strides"] == 3


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda x: x.max_pool(kernel_size=0), r"max_pool: option 'kernel_size' .* received 0"),
        (lambda x: x.avg_pool(strides=-1), r"avg_pool: option 'strides' .* received -1"),
        (lambda x: x.lp_pool(norm=0), r"lp_pool: option 'norm' must be > 0"),
        (lambda x: x.max_pool(padding="full"), r"max_pool: option 'padding'"),
        (lambda x: x.adaptive_avg_pool(0), r"adaptive_avg_pool: option 'output_size'"),
        (lambda x: x.global_avg_pool(keep_axes=1), r"global_avg_pool: option 'keep_axes'"),
        (lambda x: x.blur_pool(channels="mid"), r"blur_pool: option 'channels'"),
    ],
)
def test_bad_options_fail_at_build_time(build, message):
    with pytest.raises(ValueError, match=message):
        build(axon.model.input("x"))
