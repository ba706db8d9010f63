"""Shape layers: reshape, transpose, pad and resize (against jax.image and NumPy), gradients,
jit/vmap, property tests and bad input."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jax.test_util import check_grads
from layer_checks import assert_error_names, assert_jit_and_vmap_agree

from axon.functional import layers

X = jax.random.normal(jax.random.key(0), (2, 4, 6, 3))


def test_reshape_batch_and_auto():
    assert layers.reshape(X, ("batch", -1)).shape == (2, 72)
    assert layers.reshape(X, ("batch", "auto", 3)).shape == (2, 24, 3)
    assert layers.reshape(X, (2, 12, 6)).shape == (2, 12, 6)
    np.testing.assert_array_equal(layers.reshape(X, ("batch", 72)), np.asarray(X).reshape(2, 72))


def test_transpose_none_reverses_all_axes_including_batch():
    np.testing.assert_array_equal(layers.transpose(X), np.transpose(np.asarray(X)))
    np.testing.assert_array_equal(
        layers.transpose(X, (0, 3, 1, 2)), np.transpose(np.asarray(X), (0, 3, 1, 2))
    )


@pytest.mark.parametrize("channels", ["last", "first"])
def test_pad_pads_spatial_axes_only_with_value(channels):
    x = X if channels == "last" else jnp.moveaxis(X, -1, 1)
    y = layers.pad(x, [(1, 2), (0, -1)], value=7.0, channels=channels)
    spatial = [(1, 2), (0, -1)]
    full = [(0, 0), *spatial, (0, 0)] if channels == "last" else [(0, 0), (0, 0), *spatial]
    cropped = np.asarray(x)
    # NumPy has no negative padding: crop by hand, then pad.
    cropped = cropped[:, :, :-1] if channels == "last" else cropped[..., :-1]
    full = [(lo, max(hi, 0)) for lo, hi in full]
    np.testing.assert_array_equal(y, np.pad(cropped, full, constant_values=7.0))


@pytest.mark.parametrize("method", ["nearest", "bilinear", "bicubic", "lanczos3", "lanczos5"])
@pytest.mark.parametrize("antialias", [True, False])
@pytest.mark.parametrize("channels", ["last", "first"])
def test_resize_matches_jax_image(method, antialias, channels):
    jax_method = {"bilinear": "linear", "bicubic": "cubic"}.get(method, method)
    for size in [(8, 9), (2, 3)]:  # up and down
        expected = jax.image.resize(X, (2, *size, 3), jax_method, antialias=antialias)
        if channels == "last":
            got = layers.resize(X, size, method=method, antialias=antialias)
        else:
            got = jnp.moveaxis(
                layers.resize(
                    jnp.moveaxis(X, -1, 1),
                    size,
                    method=method,
                    antialias=antialias,
                    channels="first",
                ),
                1,
                -1,
            )
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_resize_nearest_upsampling_repeats_pixels():
    x = jnp.arange(4.0).reshape(1, 2, 2, 1)
    y = layers.resize(x, 4)
    np.testing.assert_array_equal(
        y[0, :, :, 0], np.kron(np.arange(4.0).reshape(2, 2), np.ones((2, 2)))
    )


def test_resize_is_n_dimensional():
    assert layers.resize(jnp.ones((1, 5, 2)), 10, method="bilinear").shape == (1, 10, 2)
    assert layers.resize(jnp.ones((1, 2, 3, 4, 1)), (4, 6, 8), method="bicubic").shape == (
        1,
        4,
        6,
        8,
        1,
    )


FUNCTIONS = {
    "flatten": layers.flatten,
    "reshape": lambda x: layers.reshape(x, ("batch", 3, -1)),
    "transpose": lambda x: layers.transpose(x, (0, 2, 1, 3)),
    "pad": lambda x: layers.pad(x, [(1, 0), (2, -1)], value=0.5),
    "resize_bilinear": lambda x: layers.resize(x, (7, 3), method="bilinear"),
    "resize_lanczos3": lambda x: layers.resize(x, (3, 9), method="lanczos3"),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_gradients_match_finite_differences(name):
    check_grads(FUNCTIONS[name], (X,), order=1, modes=["fwd", "rev"], atol=1e-2, rtol=1e-2)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_jit_and_vmap(name):
    # transpose: a fixed permutation would also permute the batched axis; jit is enough.
    assert_jit_and_vmap_agree(FUNCTIONS[name], X, vmap=name != "transpose")


@settings(max_examples=30, deadline=None)
@given(dims=st.lists(st.integers(1, 4), min_size=1, max_size=4), data=st.data())
def test_reshape_with_auto_preserves_elements(dims, data):
    x = jnp.zeros((3, *dims))
    auto = data.draw(st.integers(0, len(dims) - 1))
    target = ["batch", *[d if i != auto else "auto" for i, d in enumerate(dims)]]
    assert layers.reshape(x, target).shape == x.shape


@pytest.mark.parametrize(
    "call, fragments",
    [
        (lambda: layers.reshape(X, ("batch", 5, -1)), ["reshape", "(2, 4, 6, 3)", "144 elements"]),
        (lambda: layers.reshape(X, ("batch", -1, -1)), ["reshape", "(2, 4, 6, 3)"]),
        (lambda: layers.reshape(X, ("rows", -1)), ["reshape", "'shape'", "'rows'"]),
        (lambda: layers.transpose(X, (0, 1, 1, 2)), ["transpose", "'permutation'", "(0, 1, 1, 2)"]),
        (lambda: layers.pad(X, [(1, 1)]), ["pad", "'config'", "2 (low, high)", "(2, 4, 6, 3)"]),
        (lambda: layers.pad(jnp.ones((2, 3)), [(1, 1)]), ["pad", "'x'", "rank >= 3"]),
        (
            lambda: layers.resize(X, (4, 4), method="area"),
            ["resize", "'method'", "'area'", "bilinear"],
        ),
        (lambda: layers.resize(X, (4, 0)), ["resize", "'size'", "(4, 0)"]),
        (lambda: layers.resize(X, 4, channels="both"), ["resize", "'channels'", "'both'"]),
    ],
)
def test_bad_input_names_function_argument_and_values(call, fragments):
    assert_error_names(call, ValueError, fragments)
