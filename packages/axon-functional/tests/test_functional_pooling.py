"""Pooling against PyTorch CPU fixtures (forward and gradients, both channel layouts) and
independent NumPy references, with finite-difference gradients, jit/vmap, shape properties
and bad input."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jax.test_util import check_grads
from layer_checks import assert_error_names, assert_jit_and_vmap_agree

from axon.functional import layers

FIXTURES = np.load(Path(__file__).parent / "fixtures" / "pooling.npz")
CASES = sorted({key.split("/")[0] for key in FIXTURES.files})


def load(case):
    spec = json.loads(str(FIXTURES[f"{case}/spec"]))
    return spec, {k.split("/")[1]: FIXTURES[k] for k in FIXTURES.files if k.startswith(case + "/")}


def in_layout(fn, channels):
    """Run ``fn`` (which takes ``channels=``) on a PyTorch-layout input in either layout."""
    if channels == "first":
        return lambda x: fn(x, channels="first")
    return lambda x: jnp.moveaxis(fn(jnp.moveaxis(x, 1, -1), channels="last"), -1, 1)


def check_against_fixture(case, fn, channels):
    _, d = load(case)
    f = in_layout(fn, channels)
    y, vjp = jax.vjp(f, jnp.asarray(d["x"]))
    np.testing.assert_allclose(y, d["y"], rtol=1e-5, atol=1e-5)
    (dx,) = vjp(jnp.asarray(d["g"]))
    np.testing.assert_allclose(dx, d["dx"], rtol=1e-4, atol=1e-5)


WINDOWED = [
    c
    for c in CASES
    if load(c)[0].get("kind") in ("max", "avg", "lp") and "kernel_size" in load(c)[0]
]
ADAPTIVE = [c for c in CASES if c.startswith("adaptive")]


@pytest.mark.parametrize("channels", ["first", "last"])
@pytest.mark.parametrize("case", WINDOWED)
def test_windowed_pools_match_pytorch(case, channels):
    spec, _ = load(case)
    op = {"max": layers.max_pool, "avg": layers.avg_pool, "lp": layers.lp_pool}[spec["kind"]]
    opts = {"kernel_size": tuple(spec["kernel_size"])}
    if "strides" in spec:
        opts["strides"] = tuple(spec["strides"])
    if "window_dilations" in spec:
        opts["window_dilations"] = tuple(spec["window_dilations"])
    if "padding" in spec:
        padding = spec["padding"]
        opts["padding"] = padding if isinstance(padding, str) else [tuple(p) for p in padding]
    if "norm" in spec:
        opts["norm"] = spec["norm"]
    check_against_fixture(case, lambda x, channels: op(x, channels=channels, **opts), channels)


@pytest.mark.parametrize("channels", ["first", "last"])
@pytest.mark.parametrize("case", ADAPTIVE)
def test_adaptive_pools_match_pytorch(case, channels):
    spec, _ = load(case)
    op = {"avg": layers.adaptive_avg_pool, "max": layers.adaptive_max_pool}[spec["kind"]]
    size = tuple(spec["output_size"])
    check_against_fixture(
        case, lambda x, channels: op(x, output_size=size, channels=channels), channels
    )


@pytest.mark.parametrize("channels", ["first", "last"])
def test_blur_pool_matches_pytorch_depthwise_blur(channels):
    check_against_fixture("blur", layers.blur_pool, channels)


def adaptive_lp_reference(x, output_size, norm):
    """Loops over PyTorch's bins (channels-first NumPy input)."""
    spatial = x.shape[2:]
    out = np.zeros(x.shape[:2] + tuple(output_size))
    for index in itertools.product(*[range(o) for o in output_size]):
        window = tuple(
            slice((i * n) // o, -(-((i + 1) * n) // o))
            for i, n, o in zip(index, spatial, output_size, strict=True)
        )
        block = x[(slice(None), slice(None), *window)]
        out[(slice(None), slice(None), *index)] = np.sum(
            block**norm, axis=tuple(range(2, x.ndim))
        ) ** (1 / norm)
    return out


@pytest.mark.parametrize(
    "shape, output_size, norm",
    [((2, 3, 7), (3,), 2), ((1, 2, 5, 6), (3, 4), 3), ((1, 1, 3, 4, 5), (4, 2, 3), 2)],
)
def test_adaptive_lp_pool_matches_bin_by_bin_reference(shape, output_size, norm):
    x = np.random.default_rng(0).uniform(0.1, 1.0, shape)
    got = layers.adaptive_lp_pool(
        jnp.asarray(x, jnp.float32), output_size=output_size, norm=norm, channels="first"
    )
    np.testing.assert_allclose(got, adaptive_lp_reference(x, output_size, norm), rtol=1e-5)


def test_avg_pool_with_dilation_and_same_padding_equals_a_ones_convolution():
    x = jax.random.uniform(jax.random.key(0), (2, 7, 6, 3))
    got = layers.avg_pool(
        x, kernel_size=(3, 2), strides=(2, 1), window_dilations=(2, 2), padding="same"
    )
    ones = jnp.zeros((3, 2, 1, 3)).at[...].set(1.0)
    expected = (
        layers.conv(
            x, ones, strides=(2, 1), kernel_dilation=(2, 2), padding="same", feature_group_size=3
        )
        / 6
    )
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_lp_pool_with_dilation_equals_reduce_by_hand():
    x = jax.random.uniform(jax.random.key(1), (1, 7, 1))
    got = layers.lp_pool(x, kernel_size=2, strides=1, window_dilations=3, norm=2)
    expected = jnp.sqrt(x[0, :4, 0] ** 2 + x[0, 3:, 0] ** 2)
    np.testing.assert_allclose(got.ravel(), expected, rtol=1e-6)


@pytest.mark.parametrize("keep_axes", [False, True])
@pytest.mark.parametrize("channels", ["first", "last"])
def test_global_pools_match_numpy(keep_axes, channels):
    x = np.random.default_rng(1).uniform(0.1, 1.0, (2, 3, 4, 5)).astype(np.float32)
    axes = (1, 2) if channels == "last" else (2, 3)
    opts = {"keep_axes": keep_axes, "channels": channels}
    np.testing.assert_allclose(
        layers.global_avg_pool(x, **opts), x.mean(axis=axes, keepdims=keep_axes), rtol=1e-6
    )
    np.testing.assert_allclose(
        layers.global_max_pool(x, **opts), x.max(axis=axes, keepdims=keep_axes), rtol=1e-6
    )
    np.testing.assert_allclose(
        layers.global_lp_pool(x, norm=3, **opts),
        (x**3).sum(axis=axes, keepdims=keep_axes) ** (1 / 3),
        rtol=1e-5,
    )


# Distinct values at least 5e-3 apart: finite differences never flip which element is a max.
X = jax.random.permutation(jax.random.key(3), jnp.linspace(0.5, 1.5, 180)).reshape(2, 5, 6, 3)
FUNCTIONS = {
    "max_pool": lambda x: layers.max_pool(x, kernel_size=(2, 3), strides=1, padding="same"),
    "avg_pool": lambda x: layers.avg_pool(x, kernel_size=2, padding=[(1, 0), (0, 1)]),
    "lp_pool": lambda x: layers.lp_pool(x, kernel_size=2, norm=3),
    "blur_pool": layers.blur_pool,
    "adaptive_avg_pool": lambda x: layers.adaptive_avg_pool(x, output_size=(3, 4)),
    "adaptive_max_pool": lambda x: layers.adaptive_max_pool(x, output_size=(2, 4)),
    "adaptive_lp_pool": lambda x: layers.adaptive_lp_pool(x, output_size=(4, 3)),
    "global_avg_pool": layers.global_avg_pool,
    "global_max_pool": lambda x: layers.global_max_pool(x, keep_axes=True),
    "global_lp_pool": layers.global_lp_pool,
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_gradients_match_finite_differences(name):
    check_grads(FUNCTIONS[name], (X,), order=1, modes=["fwd", "rev"], atol=1e-2, rtol=1e-2)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_jit_and_vmap(name):
    assert_jit_and_vmap_agree(FUNCTIONS[name], X)


@settings(max_examples=40, deadline=None)
@given(data=st.data(), rank=st.integers(1, 3), kind=st.sampled_from(["max", "avg", "lp"]))
def test_pool_output_shape_matches_pytorch_formula(data, rank, kind):
    sizes = data.draw(st.lists(st.integers(1, 9), min_size=rank, max_size=rank))
    kernel = data.draw(st.lists(st.integers(1, 4), min_size=rank, max_size=rank))
    strides = data.draw(st.none() | st.lists(st.integers(1, 3), min_size=rank, max_size=rank))
    dilation = data.draw(st.lists(st.integers(1, 2), min_size=rank, max_size=rank))
    padding = data.draw(
        st.sampled_from(["valid", "same"])
        | st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2)), min_size=rank, max_size=rank)
    )
    effective = [(k - 1) * d + 1 for k, d in zip(kernel, dilation, strict=True)]
    pads = (
        {
            "valid": [(0, 0)] * rank,
            "same": [((e - 1) // 2, e - 1 - (e - 1) // 2) for e in effective],
        }.get(padding, padding)
        if isinstance(padding, str)
        else padding
    )
    steps = kernel if strides is None else strides
    # PyTorch's pooling size (ceil_mode=False): floor((in + pad - d(k-1) - 1) / s) + 1.
    expected = [
        (n + lo + hi - d * (k - 1) - 1) // s + 1
        for n, (lo, hi), d, k, s in zip(sizes, pads, dilation, kernel, steps, strict=True)
    ]
    if min(expected) < 1:
        return
    op = {"max": layers.max_pool, "avg": layers.avg_pool, "lp": layers.lp_pool}[kind]
    out = jax.eval_shape(
        lambda x: op(
            x, kernel_size=kernel, strides=strides, padding=padding, window_dilations=dilation
        ),
        jax.ShapeDtypeStruct((2, *sizes, 3), jnp.float32),
    )
    assert list(out.shape) == [2, *expected, 3]


@settings(max_examples=25, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 8), min_size=1, max_size=3),
    data=st.data(),
)
def test_adaptive_output_shape_is_the_requested_size(sizes, data):
    output = data.draw(st.lists(st.integers(1, 8), min_size=len(sizes), max_size=len(sizes)))
    out = jax.eval_shape(
        lambda x: layers.adaptive_max_pool(x, output_size=output, channels="first"),
        jax.ShapeDtypeStruct((2, 3, *sizes), jnp.float32),
    )
    assert list(out.shape) == [2, 3, *output]


@pytest.mark.parametrize(
    "call, fragments",
    [
        (
            lambda: layers.max_pool(jnp.ones((4, 4)), kernel_size=2),
            ["max_pool", "'x'", "rank >= 3", "rank 2"],
        ),
        (
            lambda: layers.avg_pool(X, kernel_size=0),
            ["avg_pool", "'kernel_size'", ">= 1", "received 0"],
        ),
        (lambda: layers.lp_pool(X, kernel_size=(2, -1)), ["lp_pool", "'kernel_size'", "(2, -1)"]),
        (
            lambda: layers.max_pool(X, kernel_size=2, padding="reflect"),
            ["max_pool", "'padding'", "'reflect'"],
        ),
        (
            lambda: layers.max_pool(X, kernel_size=2, channels="NHWC"),
            ["max_pool", "'channels'", "'NHWC'"],
        ),
        (lambda: layers.lp_pool(X, kernel_size=2, norm=0), ["lp_pool", "'norm'", "positive"]),
        (lambda: layers.blur_pool(jnp.ones((1, 4, 4))), ["blur_pool", "'x'", "rank 4", "rank 3"]),
        (
            lambda: layers.adaptive_avg_pool(X, output_size=(2,)),
            ["adaptive_avg_pool", "'output_size'", "2 such ints"],
        ),
        (lambda: layers.global_avg_pool(jnp.ones((3, 4))), ["global_avg_pool", "'x'", "rank >= 3"]),
    ],
)
def test_bad_input_names_function_argument_and_values(call, fragments):
    assert_error_names(call, ValueError, fragments)
