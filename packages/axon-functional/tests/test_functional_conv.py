"""Convolutions against PyTorch CPU fixtures (forward and gradients, both channel layouts),
finite-difference gradients, jit/vmap, shape properties and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jax.test_util import check_grads
from layer_checks import assert_error_names

from axon.functional import layers

FIXTURES = np.load(Path(__file__).parent / "fixtures" / "conv.npz")
CASES = sorted({key.split("/")[0] for key in FIXTURES.files})


def load(case):
    spec = json.loads(str(FIXTURES[f"{case}/spec"]))
    return spec, {k.split("/")[1]: FIXTURES[k] for k in FIXTURES.files if k.startswith(case + "/")}


def to_last(x):
    return jnp.moveaxis(x, 1, -1)


def to_first(x):
    return jnp.moveaxis(x, -1, 1)


def kernel_to_last(w):
    """PyTorch OIHW -> HWIO."""
    return jnp.transpose(w, (*range(2, w.ndim), 1, 0))


def pairs(padding):
    return padding if isinstance(padding, str) else [tuple(p) for p in padding]


def conv_like(spec, channels):
    """A function of PyTorch-layout (x, w, b) computing the case with the axon op in `channels`."""
    kind = spec.get("kind", "conv")
    opts = {"padding": pairs(spec.get("padding", "valid"))}
    for name in ("strides", "kernel_dilation", "input_dilation"):
        if name in spec:
            opts[name] = tuple(spec[name])
    if kind == "conv":
        opts["feature_group_size"] = spec.get("groups", 1)
    op = {
        "conv": layers.conv,
        "depthwise": layers.depthwise_conv,
        "conv_transpose": layers.conv_transpose,
    }[kind]

    def prepare(w):
        if kind == "conv_transpose":
            # The documented PyTorch relation: swap in/out and flip the spatial axes.
            w = jnp.flip(jnp.swapaxes(w, 0, 1), axis=tuple(range(2, w.ndim)))
        return w

    def fn(x, w, b):
        w = prepare(w)
        if channels == "first":
            return op(x, w, b, channels="first", **opts)
        return to_first(op(to_last(x), kernel_to_last(w), b, channels="last", **opts))

    return fn


SINGLE = [c for c in CASES if load(c)[0].get("kind", "conv") != "separable"]
SEPARABLE = [c for c in CASES if load(c)[0].get("kind") == "separable"]


@pytest.mark.parametrize("channels", ["first", "last"])
@pytest.mark.parametrize("case", SINGLE)
def test_forward_and_gradients_match_pytorch(case, channels):
    spec, d = load(case)
    fn = conv_like(spec, channels)
    y, vjp = jax.vjp(fn, d["x"], d["w"], d["b"])
    np.testing.assert_allclose(y, d["y"], rtol=1e-4, atol=1e-5)
    dx, dw, db = vjp(jnp.asarray(d["g"]))
    np.testing.assert_allclose(dx, d["dx"], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(dw, d["dw"], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(db, d["db"], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("channels", ["first", "last"])
@pytest.mark.parametrize("case", SEPARABLE)
def test_separable_matches_pytorch_depthwise_chain(case, channels):
    spec, d = load(case)
    n = d["x"].ndim - 2
    op = {2: layers.separable_conv2d, 3: layers.separable_conv3d}[n]
    opts = {"strides": tuple(spec["strides"]), "padding": pairs(spec["padding"])}
    if "kernel_dilation" in spec:
        opts["kernel_dilation"] = tuple(spec["kernel_dilation"])

    def fn(x, *params):
        kernels, biases = params[:n], params[n:]
        if channels == "last":
            x, kernels = to_last(x), [kernel_to_last(k) for k in kernels]
        args = [a for pair in zip(kernels, biases, strict=True) for a in pair]
        y = op(x, *args, channels=channels, **opts)
        return y if channels == "first" else to_first(y)

    params = [d[f"k{i}"] for i in range(n)] + [d[f"b{i}"] for i in range(n)]
    y, vjp = jax.vjp(fn, d["x"], *params)
    np.testing.assert_allclose(y, d["y"], rtol=1e-4, atol=1e-5)
    grads = vjp(jnp.asarray(d["g"]))
    expected = [d["dx"]] + [d[f"dk{i}"] for i in range(n)] + [d[f"db{i}"] for i in range(n)]
    for got, want in zip(grads, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_fixtures_cover_the_conv_transpose_paths_pytorch_cannot_express():
    references = {load(c)[0].get("reference") for c in CASES}
    assert {"torch padding/output_padding", "cropped full torch output"} <= references


def test_conv_transpose_padding_rule():
    assert layers.conv_transpose_padding([3], [2], "valid") == [(2, 2)]
    assert layers.conv_transpose_padding([2], [3], "valid") == [(1, 2)]
    assert layers.conv_transpose_padding([3, 4], [2, 2], "same") == [(2, 1), (2, 2)]
    assert layers.conv_transpose_padding([3], [1], "same", [2]) == [(2, 2)]
    assert layers.conv_transpose_padding([3], [2], [(0, 1)]) == [(0, 1)]


def test_conv_transpose_matches_jax_lax_conv_transpose():
    key1, key2 = jax.random.split(jax.random.key(0))
    x = jax.random.normal(key1, (2, 5, 6, 3))
    k = jax.random.normal(key2, (3, 2, 3, 4))
    for padding in ("valid", "same"):
        expected = jax.lax.conv_transpose(
            x, k, (2, 3), padding.upper(), dimension_numbers=("NHWC", "HWIO", "NHWC")
        )
        got = layers.conv_transpose(x, k, strides=(2, 3), padding=padding)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_same_padding_puts_the_extra_element_last_whatever_the_stride():
    # Axon/Nx's rule (not jax's "SAME", which depends on the stride): for k=4, 3 pads -> (1, 2).
    x = jnp.arange(6.0).reshape(1, 6, 1)
    k = jnp.zeros((4, 1, 1)).at[0].set(1.0)  # picks the first element of each window
    assert layers.conv(x, k, padding="same", strides=2).ravel().tolist() == [0.0, 1.0, 3.0]


def test_options_accept_numpy_integers_from_shapes():
    x = jnp.ones((1, 6, 6, 2))
    k = jnp.ones((3, 3, 2, 4))
    strides, pad = np.int64(2), [(np.int64(1), np.int32(1))] * 2
    assert layers.conv(x, k, strides=strides, padding=pad).shape == (1, 3, 3, 4)


def test_depthwise_output_channel_order_is_channel_major():
    x = jnp.stack([jnp.ones((1, 3)), 2 * jnp.ones((1, 3))], axis=-1)  # 2 channels
    k = jnp.broadcast_to(jnp.array([1.0, 10.0, 1.0, 10.0]), (1, 1, 4))  # multiplier 2
    y = layers.depthwise_conv(x, k)
    assert y[0, 0].tolist() == [1.0, 10.0, 2.0, 20.0]


KEY = jax.random.key(7)


def _rand(shape, i):
    return jax.random.normal(jax.random.fold_in(KEY, i), shape)


GRAD_CASES = {
    "conv": (
        lambda x, w, b: layers.conv(x, w, b, strides=2, padding="same", kernel_dilation=(1, 2)),
        [(1, 5, 6, 2), (2, 2, 2, 3), (3,)],
    ),
    "conv_grouped_first": (
        lambda x, w, b: layers.conv(
            x, w, b, feature_group_size=2, channels="first", input_dilation=2
        ),
        [(1, 4, 5), (4, 2, 3), (4,)],
    ),
    "conv_transpose": (
        lambda x, w, b: layers.conv_transpose(x, w, b, strides=(2, 1), padding="same"),
        [(1, 3, 4, 2), (3, 2, 2, 3), (3,)],
    ),
    "depthwise_conv": (
        lambda x, w, b: layers.depthwise_conv(x, w, b, padding="same"),
        [(1, 4, 5, 2), (3, 3, 1, 4), (4,)],
    ),
    "separable_conv2d": (
        lambda x, k1, k2: layers.separable_conv2d(x, k1, None, k2, None, strides=2),
        [(1, 5, 5, 2), (3, 1, 1, 2), (1, 3, 1, 2)],
    ),
    "separable_conv3d": (
        lambda x, k1, k2, k3: layers.separable_conv3d(x, k1, None, k2, None, k3, None),
        [(1, 3, 3, 3, 1), (2, 1, 1, 1, 1), (1, 2, 1, 1, 1), (1, 1, 2, 1, 1)],
    ),
}


@pytest.mark.parametrize("name", sorted(GRAD_CASES))
def test_gradients_match_finite_differences(name):
    fn, shapes = GRAD_CASES[name]
    args = [_rand(s, i) for i, s in enumerate(shapes)]
    check_grads(fn, args, order=1, modes=["fwd", "rev"], atol=2e-2, rtol=2e-2)


@pytest.mark.parametrize("name", sorted(GRAD_CASES))
def test_jit_and_vmap(name):
    fn, shapes = GRAD_CASES[name]
    args = [_rand(s, i) for i, s in enumerate(shapes)]
    np.testing.assert_allclose(jax.jit(fn)(*args), fn(*args), rtol=1e-5, atol=1e-5)
    # vmap over an extra leading axis of the input only (parameters shared).
    xs = jnp.stack([args[0], 2 * args[0]])
    batched = jax.vmap(lambda x: fn(x, *args[1:]))(xs)
    np.testing.assert_allclose(batched[1], fn(2 * args[0], *args[1:]), rtol=1e-5, atol=1e-5)


@settings(max_examples=40, deadline=None)
@given(
    data=st.data(),
    rank=st.integers(1, 3),
    channels=st.sampled_from(["first", "last"]),
)
def test_conv_output_shape_matches_pytorch_formula(data, rank, channels):
    sizes = data.draw(st.lists(st.integers(1, 9), min_size=rank, max_size=rank))
    kernel = data.draw(st.lists(st.integers(1, 4), min_size=rank, max_size=rank))
    strides = data.draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank))
    dilation = data.draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank))
    in_dilation = data.draw(st.lists(st.integers(1, 2), min_size=rank, max_size=rank))
    padding = data.draw(
        st.one_of(
            st.sampled_from(["valid", "same"]),
            st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=rank, max_size=rank),
        )
    )
    dilated = [(n - 1) * i + 1 for n, i in zip(sizes, in_dilation, strict=True)]
    effective = [(k - 1) * d + 1 for k, d in zip(kernel, dilation, strict=True)]
    if padding == "valid":
        pads = [(0, 0)] * rank
    elif padding == "same":
        pads = [((e - 1) // 2, e - 1 - (e - 1) // 2) for e in effective]
    else:
        pads = padding
    # PyTorch's Conv output size with padding lo + hi: floor((in + pad - d(k-1) - 1) / s) + 1.
    expected = [
        (n + lo + hi - d * (k - 1) - 1) // s + 1
        for n, (lo, hi), d, k, s in zip(dilated, pads, dilation, kernel, strides, strict=True)
    ]
    if min(expected) < 1:
        return  # an empty output is not a shape question
    x_shape = (2, *sizes, 3) if channels == "last" else (2, 3, *sizes)
    k_shape = (*kernel, 3, 4) if channels == "last" else (4, 3, *kernel)
    out = jax.eval_shape(
        lambda x, k: layers.conv(
            x,
            k,
            strides=strides,
            padding=padding,
            kernel_dilation=dilation,
            input_dilation=in_dilation,
            channels=channels,
        ),
        jax.ShapeDtypeStruct(x_shape, jnp.float32),
        jax.ShapeDtypeStruct(k_shape, jnp.float32),
    )
    spatial = out.shape[1:-1] if channels == "last" else out.shape[2:]
    assert list(spatial) == expected
    if padding == "same" and in_dilation == [1] * rank:
        assert list(spatial) == [-(-n // s) for n, s in zip(sizes, strides, strict=True)]


@settings(max_examples=40, deadline=None)
@given(
    size=st.integers(1, 8),
    kernel=st.integers(1, 4),
    stride=st.integers(1, 3),
    dilation=st.integers(1, 2),
    padding=st.sampled_from(["valid", "same"]),
)
def test_conv_transpose_output_size(size, kernel, stride, dilation, padding):
    effective = (kernel - 1) * dilation + 1
    out = jax.eval_shape(
        lambda x, k: layers.conv_transpose(
            x, k, strides=stride, padding=padding, kernel_dilation=dilation
        ),
        jax.ShapeDtypeStruct((1, size, 2), jnp.float32),
        jax.ShapeDtypeStruct((kernel, 2, 3), jnp.float32),
    )
    expected = size * stride + max(effective - stride, 0) if padding == "valid" else size * stride
    assert out.shape == (1, expected, 3)


X = jnp.ones((1, 5, 5, 2))
K = jnp.ones((3, 3, 2, 4))


@pytest.mark.parametrize(
    "call, error, fragments",
    [
        (
            lambda: layers.conv(jnp.ones((5, 2)), K),
            ValueError,
            ["conv", "'x'", "rank >= 3", "rank 2"],
        ),
        (
            lambda: layers.conv(X, jnp.ones((3, 2, 4))),
            ValueError,
            ["conv", "'kernel'", "same rank"],
        ),
        (
            lambda: layers.conv(X, jnp.ones((3, 3, 3, 4))),
            ValueError,
            ["conv", "mismatched channels", "2 channels", "(3, 3, 3, 4)"],
        ),
        (
            lambda: layers.conv(X, K, padding="full"),
            ValueError,
            ["conv", "'padding'", "'valid', 'same'", "'full'"],
        ),
        (
            lambda: layers.conv(X, K, padding=[(1, 1)]),
            ValueError,
            ["conv", "'padding'", "2 (low, high)"],
        ),
        (
            lambda: layers.conv(X, K, channels="middle"),
            ValueError,
            ["conv", "'channels'", "'middle'"],
        ),
        (
            lambda: layers.conv(X, K, strides=0),
            ValueError,
            ["conv", "'strides'", ">= 1", "received 0"],
        ),
        (
            lambda: layers.conv(X, K, kernel_dilation=(1, 2, 3)),
            ValueError,
            ["conv", "'kernel_dilation'", "2 such ints"],
        ),
        (
            lambda: layers.conv(X, K, feature_group_size=0),
            ValueError,
            ["conv", "'feature_group_size'"],
        ),
        (lambda: layers.conv(X, K, jnp.ones(3)), ValueError, ["conv", "'bias'", "(4,)", "(3,)"]),
        (lambda: layers.depthwise_conv(X, K), ValueError, ["depthwise_conv", "'kernel'", "in = 2"]),
        (
            lambda: layers.conv_transpose(X, K, padding="circular"),
            ValueError,
            ["conv_transpose", "'padding'"],
        ),
        (
            lambda: layers.separable_conv2d(X, K, None, K, None),
            ValueError,
            ["separable_conv2d", "'kernel_1'", "axis 0 only"],
        ),
        (
            lambda: layers.separable_conv3d(X, K, None, K, None, K, None),
            ValueError,
            ["separable_conv3d", "'x'", "rank 5"],
        ),
    ],
)
def test_bad_input_names_function_argument_and_values(call, error, fragments):
    assert_error_names(call, error, fragments)
