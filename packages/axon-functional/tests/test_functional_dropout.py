"""Dropout family: inference identity, train-mode statistics and structure, PyTorch's alpha
formula, determinism by key, gradients, jit/vmap and bad input."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from layer_checks import assert_error_names

from axon.functional import layers

KEY = jax.random.key(0)
X = jax.random.normal(jax.random.key(1), (64, 10, 10, 8))
ALPHA_P = -1.6732632423543772 * 1.0507009873554805
ALL = {
    "dropout": layers.dropout,
    "spatial_dropout": layers.spatial_dropout,
    "alpha_dropout": layers.alpha_dropout,
    "feature_alpha_dropout": layers.feature_alpha_dropout,
}


@pytest.mark.parametrize("name", sorted(ALL))
def test_inference_is_identity_and_needs_no_key(name):
    assert ALL[name](X, None, rate=0.9) is X


@pytest.mark.parametrize("name", sorted(ALL))
def test_rate_zero_is_identity_in_train_mode(name):
    np.testing.assert_array_equal(ALL[name](X, KEY, rate=0.0, mode="train"), X)


@pytest.mark.parametrize("name", sorted(ALL))
def test_same_key_same_mask_and_new_key_new_mask(name):
    a = ALL[name](X, KEY, rate=0.5, mode="train")
    np.testing.assert_array_equal(a, ALL[name](X, KEY, rate=0.5, mode="train"))
    assert not np.array_equal(a, ALL[name](X, jax.random.key(2), rate=0.5, mode="train"))


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_dropout_is_inverted_and_drops_the_right_fraction(rate):
    y = layers.dropout(jnp.ones((200_000,)), KEY, rate=rate, mode="train")
    kept = y != 0
    np.testing.assert_allclose(y[kept], 1 / (1 - rate), rtol=1e-6)
    assert abs(float(1 - kept.mean()) - rate) < 0.01
    assert abs(float(y.mean()) - 1) < 0.02


def test_dropout_noise_shape_shares_the_mask_along_size_one_axes():
    y = layers.dropout(jnp.ones((8, 5, 6)), KEY, rate=0.5, noise_shape=(8, 1, 6), mode="train")
    np.testing.assert_array_equal(y, jnp.broadcast_to(y[:, :1], y.shape))


@pytest.mark.parametrize("channels", ["last", "first"])
def test_spatial_dropout_drops_whole_channels(channels):
    x = jnp.ones((16, 4, 4, 6)) if channels == "last" else jnp.ones((16, 6, 4, 4))
    y = layers.spatial_dropout(x, KEY, rate=0.5, channels=channels, mode="train")
    spatial = (1, 2) if channels == "last" else (2, 3)
    per_channel_min, per_channel_max = y.min(axis=spatial), y.max(axis=spatial)
    np.testing.assert_array_equal(per_channel_min, per_channel_max)  # all kept or all dropped
    assert set(np.unique(per_channel_min).tolist()) == {0.0, 2.0}


def alpha_affine(rate):
    a = ((1 - rate) * (1 + rate * ALPHA_P**2)) ** -0.5
    return a, -a * ALPHA_P * rate


@pytest.mark.parametrize("rate", [0.1, 0.3, 0.6])
def test_alpha_dropout_uses_pytorchs_formula_and_keeps_mean_and_variance(rate):
    x = jax.random.normal(jax.random.key(5), (400_000,))
    y = layers.alpha_dropout(x, KEY, rate=rate, mode="train")
    a, b = alpha_affine(rate)
    kept = jnp.isclose(y, a * x + b, atol=1e-5)
    dropped_value = a * ALPHA_P + b  # PyTorch: -alpha * a * (1 - rate), alpha = 1.7581
    np.testing.assert_allclose(dropped_value, -1.7580993408473766 * a * (1 - rate), rtol=1e-6)
    np.testing.assert_allclose(y[~kept], dropped_value, rtol=1e-5)
    assert abs(float(1 - kept.mean()) - rate) < 0.01
    assert abs(float(y.mean())) < 0.01 and abs(float(y.std()) - 1) < 0.01


@pytest.mark.parametrize("channels", ["last", "first"])
def test_feature_alpha_dropout_drops_whole_channels(channels):
    x = jnp.zeros((16, 4, 4, 6)) if channels == "last" else jnp.zeros((16, 6, 4, 4))
    y = layers.feature_alpha_dropout(x, KEY, rate=0.5, channels=channels, mode="train")
    a, b = alpha_affine(0.5)
    spatial = (1, 2) if channels == "last" else (2, 3)
    np.testing.assert_array_equal(y.min(axis=spatial), y.max(axis=spatial))
    np.testing.assert_allclose(
        sorted(set(np.round(np.unique(y), 5).tolist())),
        sorted([round(b, 5), round(a * ALPHA_P + b, 5)]),
        rtol=1e-4,
    )


@pytest.mark.parametrize("name", sorted(ALL))
def test_gradients_match_finite_differences(name):
    # With the key fixed the op is affine in x, so its gradient is checkable.
    fn = lambda x: ALL[name](x, KEY, rate=0.3, mode="train")  # noqa: E731
    check_grads(fn, (X[:2, :3, :3],), order=2, modes=["fwd", "rev"], atol=1e-2, rtol=1e-2)


@pytest.mark.parametrize("name", sorted(ALL))
def test_jit_and_vmap(name):
    fn = lambda x, key: ALL[name](x, key, rate=0.4, mode="train")  # noqa: E731
    # atol: XLA may fuse `a * x + b` into an FMA under jit.
    np.testing.assert_allclose(jax.jit(fn)(X, KEY), fn(X, KEY), rtol=1e-6, atol=1e-6)
    keys = jax.random.split(KEY, 2)
    batched = jax.vmap(fn)(jnp.stack([X, X]), keys)
    np.testing.assert_allclose(batched[1], fn(X, keys[1]), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", sorted(ALL))
@pytest.mark.parametrize("rate", [1.0, 1.5, -0.1])
def test_rate_outside_zero_one_is_rejected(name, rate):
    with pytest.raises(ValueError, match=rf"{name}: argument 'rate'.*0 <= rate < 1.*{rate}"):
        ALL[name](X, KEY, rate=rate, mode="train")


@pytest.mark.parametrize(
    "call, fragments",
    [
        (lambda: layers.dropout(X, None, mode="train"), ["dropout", "PRNG key", "key=None"]),
        (lambda: layers.dropout(X, KEY, mode="eval"), ["dropout", "'mode'", "'eval'"]),
        (
            lambda: layers.dropout(X, KEY, noise_shape=(64, 3), mode="train"),
            ["dropout", "'noise_shape'", "(64, 3)"],
        ),
        (
            lambda: layers.spatial_dropout(X, KEY, channels="depth"),
            ["spatial_dropout", "'channels'", "'depth'"],
        ),
        (
            lambda: layers.feature_alpha_dropout(jnp.ones((4, 3)), KEY, mode="train"),
            ["feature_alpha_dropout", "'x'", "rank >= 3"],
        ),
    ],
)
def test_bad_input_names_function_argument_and_values(call, fragments):
    assert_error_names(call, ValueError, fragments)
