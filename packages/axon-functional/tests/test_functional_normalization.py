"""Normalization against PyTorch CPU fixtures: outputs, gradients and running statistics in
both modes and channel layouts; finite-difference gradients, jit/vmap and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from layer_checks import assert_error_names, assert_jit_and_vmap_agree

from axon.functional import layers

FIXTURES = np.load(Path(__file__).parent / "fixtures" / "normalization.npz")


def load(case):
    spec = json.loads(str(FIXTURES[f"{case}/spec"]))
    return spec, {k.split("/")[1]: FIXTURES[k] for k in FIXTURES.files if k.startswith(case + "/")}


def layout(channels):
    """(to_layout, from_layout, channel_index) for a PyTorch channels-first array."""
    if channels == "first":
        return (lambda a: a), (lambda a: a), 1
    return (lambda a: jnp.moveaxis(a, 1, -1)), (lambda a: jnp.moveaxis(a, -1, 1)), -1


STATEFUL = ["batch_norm_rank3", "batch_norm_rank4", "instance_norm_rank3", "instance_norm_rank4"]


@pytest.mark.parametrize("channels", ["first", "last"])
@pytest.mark.parametrize("case", STATEFUL)
def test_train_mode_matches_pytorch_and_updates_running_stats(case, channels):
    spec, d = load(case)
    m = spec["momentum"]
    op = layers.batch_norm if case.startswith("batch") else layers.instance_norm
    to, back, channel_index = layout(channels)

    def fn(x, gamma, beta):
        y, state = op(
            to(x),
            gamma,
            beta,
            d["old_mean"],
            d["old_var"],
            momentum=m,
            channel_index=channel_index,
            mode="train",
        )
        return back(y), state

    (y, state), vjp = jax.vjp(fn, d["x"], d["gamma"], d["beta"])
    np.testing.assert_allclose(y, d["train_y"], rtol=1e-4, atol=1e-5)
    zero_state = jax.tree.map(jnp.zeros_like, state)
    dx, dgamma, dbeta = vjp((jnp.asarray(d["train_g"]), zero_state))
    np.testing.assert_allclose(dx, d["train_dx"], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(dgamma, d["train_dgamma"], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(dbeta, d["train_dbeta"], rtol=1e-4, atol=1e-4)

    # Momentum direction: ours with `momentum=m` is PyTorch's `momentum=1 - m`, exactly.
    np.testing.assert_allclose(state["mean"], d["torch_running_mean"], rtol=1e-5, atol=1e-6)
    # Variance: ours feeds the biased batch variance, PyTorch the unbiased one.
    np.testing.assert_allclose(
        state["var"], m * d["old_var"] + (1 - m) * d["batch_var_biased"], rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        state["var"],
        d["torch_running_var"] - (1 - m) * (d["batch_var_unbiased"] - d["batch_var_biased"]),
        rtol=1e-5,
        atol=1e-6,
    )
    assert not np.allclose(state["var"], d["torch_running_var"])  # the difference is real


@pytest.mark.parametrize("channels", ["first", "last"])
@pytest.mark.parametrize("case", STATEFUL)
def test_inference_mode_uses_running_stats_like_pytorch(case, channels):
    _, d = load(case)
    op = layers.batch_norm if case.startswith("batch") else layers.instance_norm
    to, back, channel_index = layout(channels)

    def fn(x, gamma, beta):
        return back(
            op(to(x), gamma, beta, d["old_mean"], d["old_var"], channel_index=channel_index)
        )

    y, vjp = jax.vjp(fn, d["x"], d["gamma"], d["beta"])
    np.testing.assert_allclose(y, d["inference_y"], rtol=1e-4, atol=1e-5)
    for got, key in zip(vjp(jnp.asarray(d["inference_g"])), ["dx", "dgamma", "dbeta"], strict=True):
        np.testing.assert_allclose(got, d[f"inference_{key}"], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("channels", ["first", "last"])
@pytest.mark.parametrize("case", ["layer_norm", "group_norm", "rms_norm"])
def test_stateless_norms_match_pytorch(case, channels):
    spec, d = load(case)
    if case == "group_norm":
        to, back, channel_index = layout(channels)
    else:  # PyTorch normalizes the last axis; "first" here means moving it to axis 1
        to, back, channel_index = (
            (lambda a: a, lambda a: a, -1)
            if channels == "last"
            else (lambda a: jnp.moveaxis(a, -1, 1), lambda a: jnp.moveaxis(a, 1, -1), 1)
        )

    if case == "rms_norm":
        params = (d["gamma"],)

        def fn(x, gamma):
            return back(layers.rms_norm(to(x), gamma, channel_index=channel_index))
    else:
        params = (d["gamma"], d["beta"])
        extra = {"num_groups": spec["num_groups"]} if case == "group_norm" else {}
        op = layers.group_norm if case == "group_norm" else layers.layer_norm

        def fn(x, gamma, beta):
            return back(op(to(x), gamma, beta, channel_index=channel_index, **extra))

    y, vjp = jax.vjp(fn, d["x"], *params)
    np.testing.assert_allclose(y, d["y"], rtol=1e-4, atol=1e-5)
    keys = ["dx", "dgamma", "dbeta"][: 1 + len(params)]
    for got, key in zip(vjp(jnp.asarray(d["g"])), keys, strict=True):
        np.testing.assert_allclose(got, d[key], rtol=1e-4, atol=1e-4)


def test_rms_norm_shift_and_upcast():
    x = jax.random.normal(jax.random.key(0), (3, 8)).astype(jnp.bfloat16)
    gamma = jnp.full(8, 0.5, jnp.bfloat16)
    reference = np.asarray(x, np.float32)
    reference = reference / np.sqrt((reference**2).mean(-1, keepdims=True) + 1e-6) * 1.5
    low = layers.rms_norm(x, gamma, shift=1.0)
    full = layers.rms_norm(x, gamma, shift=1.0, upcast="all")
    assert low.dtype == jnp.bfloat16 and full.dtype == jnp.float32
    np.testing.assert_allclose(full, reference, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(low, np.float32), reference, rtol=2e-2, atol=2e-2)


def test_group_norm_groups_are_contiguous_channels():
    x = jnp.array([[0.0, 2.0, 10.0, 30.0]])
    y = layers.group_norm(x, None, None, num_groups=2, epsilon=0.0)
    np.testing.assert_allclose(y, [[-1.0, 1.0, -1.0, 1.0]], atol=1e-6)


def test_normalize_is_the_shared_primitive():
    x = jnp.array([1.0, 3.0])
    np.testing.assert_allclose(layers.normalize(x, 2.0, 1.0, 2.0, 0.5, epsilon=0.0), [-1.5, 2.5])


KEY = jax.random.key(11)
X = jax.random.normal(KEY, (4, 3, 6)) * 2 + 1
C = jnp.linspace(0.5, 1.5, 6)
B = jnp.linspace(-0.2, 0.3, 6)
MEAN, VAR = jnp.zeros(6), jnp.ones(6)
FUNCTIONS = {
    "normalize": lambda x: layers.normalize(x, 0.5, 2.0, C, B),
    "batch_norm_train": lambda x: layers.batch_norm(x, C, B, MEAN, VAR, mode="train"),
    "batch_norm_inference": lambda x: layers.batch_norm(x, C, B, MEAN, VAR),
    "instance_norm_train": lambda x: layers.instance_norm(x, C, B, MEAN, VAR, mode="train"),
    "instance_norm_inference": lambda x: layers.instance_norm(x, C, B, MEAN, VAR),
    "layer_norm": lambda x: layers.layer_norm(x, C, B),
    "group_norm": lambda x: layers.group_norm(x, C, B, num_groups=3),
    "rms_norm": lambda x: layers.rms_norm(x, C, shift=0.5),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_gradients_match_finite_differences(name):
    check_grads(FUNCTIONS[name], (X,), order=1, modes=["fwd", "rev"], atol=1e-2, rtol=1e-2)


def test_parameter_gradients_match_finite_differences():
    def fn(gamma, beta):
        return layers.batch_norm(X, gamma, beta, MEAN, VAR, mode="train")[0]

    check_grads(fn, (C, B), order=1, modes=["rev"], atol=1e-2, rtol=1e-2)
    check_grads(lambda g: layers.rms_norm(X, g), (C,), order=1, modes=["rev"], atol=1e-2)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_jit_and_vmap(name):
    assert_jit_and_vmap_agree(FUNCTIONS[name], X, scale=3, atol=1e-5)


@pytest.mark.parametrize(
    "call, fragments",
    [
        (
            lambda: layers.batch_norm(X, C, B, MEAN, VAR, mode="training"),
            ["batch_norm", "'mode'", "'training'"],
        ),
        (
            lambda: layers.batch_norm(X, C, B, MEAN, VAR, momentum=1.5),
            ["batch_norm", "'momentum'", "[0, 1]", "1.5"],
        ),
        (
            lambda: layers.batch_norm(X, C[:3], B, MEAN, VAR),
            ["batch_norm", "'gamma'", "(6,)", "(3,)"],
        ),
        (
            lambda: layers.batch_norm(X, C, B, MEAN, VAR, channel_index=3),
            ["batch_norm", "'channel_index'", "received 3"],
        ),
        (
            lambda: layers.instance_norm(X[0], C, B, MEAN, VAR),
            ["instance_norm", "'x'", "rank >= 3"],
        ),
        (lambda: layers.layer_norm(X, C, B, epsilon=-1), ["layer_norm", "'epsilon'", ">= 0"]),
        (
            lambda: layers.group_norm(X, C, B, num_groups=4),
            ["group_norm", "'num_groups'", "6", "received 4"],
        ),
        (lambda: layers.rms_norm(X, C, upcast="none"), ["rms_norm", "'upcast'", "'none'"]),
    ],
)
def test_bad_input_names_function_argument_and_values(call, fragments):
    assert_error_names(call, ValueError, fragments)
