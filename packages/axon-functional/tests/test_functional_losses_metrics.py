"""Losses and metrics against closed-form numpy references."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from axon.functional import layers, losses, metrics

RNG = np.random.default_rng(0)
LOGITS = RNG.normal(size=(5, 4)).astype(np.float32)
PROBS = np.exp(LOGITS) / np.exp(LOGITS).sum(-1, keepdims=True)
LABELS = np.array([0, 3, 1, 1, 2])
ONE_HOT = np.eye(4, dtype=np.float32)[LABELS]


def test_categorical_cross_entropy_forms_agree():
    expected = -np.log(PROBS[np.arange(5), LABELS])
    np.testing.assert_allclose(
        losses.categorical_cross_entropy(ONE_HOT, PROBS), expected, rtol=1e-5
    )
    np.testing.assert_allclose(
        losses.categorical_cross_entropy(ONE_HOT, LOGITS, from_logits=True), expected, rtol=1e-5
    )
    np.testing.assert_allclose(
        losses.categorical_cross_entropy(LABELS, PROBS, sparse=True), expected, rtol=1e-5
    )
    np.testing.assert_allclose(
        losses.categorical_cross_entropy(ONE_HOT, PROBS, reduction="mean"),
        expected.mean(),
        rtol=1e-5,
    )
    weights = np.array([1.0, 2.0, 3.0, 4.0])
    np.testing.assert_allclose(
        losses.categorical_cross_entropy(ONE_HOT, PROBS, class_weights=weights),
        expected * weights[LABELS],
        rtol=1e-5,
    )


def test_binary_cross_entropy_matches_formula_and_logits():
    y = (RNG.random((6, 3)) > 0.5).astype(np.float32)
    z = RNG.normal(size=(6, 3)).astype(np.float32)
    p = 1 / (1 + np.exp(-z))
    expected = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p), axis=-1)
    np.testing.assert_allclose(losses.binary_cross_entropy(y, p), expected, rtol=1e-5)
    np.testing.assert_allclose(
        losses.binary_cross_entropy(y, z, from_logits=True), expected, rtol=1e-5
    )
    weighted = -np.mean(2 * y * np.log(p) + 0.5 * (1 - y) * np.log(1 - p), axis=-1)
    np.testing.assert_allclose(
        losses.binary_cross_entropy(y, p, positive_weight=2.0, negative_weight=0.5),
        weighted,
        rtol=1e-5,
    )


def test_regression_losses_and_reductions():
    a, b = RNG.normal(size=(4, 3)), RNG.normal(size=(4, 3))
    np.testing.assert_allclose(losses.mean_squared_error(a, b), ((a - b) ** 2).mean(-1), rtol=1e-5)
    np.testing.assert_allclose(
        losses.mean_absolute_error(a, b, reduction="sum"), np.abs(a - b).mean(-1).sum(), rtol=1e-5
    )
    with pytest.raises(ValueError, match="reduction"):
        losses.mean_squared_error(a, b, reduction="median")


def test_loss_gradients():
    check_grads(
        lambda z: losses.categorical_cross_entropy(ONE_HOT, z, from_logits=True, reduction="mean"),
        (jnp.asarray(LOGITS),), order=1, modes=["rev"], atol=1e-2,
    )  # fmt: skip


def test_cross_entropy_shape_mismatch_is_explained():
    with pytest.raises(ValueError, match="sparse=True"):
        losses.categorical_cross_entropy(LABELS, PROBS)


def test_accuracy_categorical_sparse_and_binary():
    expected = np.mean(PROBS.argmax(-1) == LABELS)
    assert float(metrics.accuracy(ONE_HOT, PROBS)) == pytest.approx(expected)
    assert float(metrics.accuracy(LABELS, PROBS, sparse=True)) == pytest.approx(expected)
    y, p = jnp.array([[1.0], [0.0], [1.0]]), jnp.array([[0.7], [0.6], [0.2]])
    assert float(metrics.accuracy(y, p)) == pytest.approx(1 / 3)
    assert float(metrics.accuracy(y, jnp.array([[2.0], [-1.0], [0.5]]), from_logits=True)) == 1.0


def test_running_combinators_inside_jit():
    values = [RNG.normal(size=(3,)).astype(np.float32) for _ in range(5)]
    zeros = np.zeros(3, np.float32)
    average = jax.jit(metrics.running_average(metrics.mean_absolute_error))
    total = jax.jit(metrics.running_sum(metrics.mean_absolute_error))
    acc_avg, acc_sum = jnp.float32(0), jnp.float32(0)
    for i, v in enumerate(values):
        acc_avg = average(acc_avg, (v, zeros), jnp.int32(i))
        acc_sum = total(acc_sum, (v, zeros), jnp.int32(i))
    maes = [np.abs(v).mean() for v in values]
    np.testing.assert_allclose(acc_avg, np.mean(maes), rtol=1e-5)
    np.testing.assert_allclose(acc_sum, np.sum(maes), rtol=1e-5)


def test_dense_layer_and_its_errors():
    x, w, b = RNG.normal(size=(2, 3)), RNG.normal(size=(3, 4)), RNG.normal(size=(4,))
    np.testing.assert_allclose(layers.dense(x, w, b), x @ w + b, rtol=1e-5)
    check_grads(layers.dense, (jnp.asarray(x), jnp.asarray(w), jnp.asarray(b)), order=1, atol=1e-2)
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4, 4\)"):
        layers.dense(x, np.ones((4, 4)))


@pytest.mark.parametrize(
    "fn, y_true, y_pred, shapes",
    [
        (losses.mean_squared_error, jnp.ones(4), jnp.ones((4, 1)), r"\(4,\) and \(4, 1\)"),
        (metrics.precision, np.ones(8), np.ones((8, 1)), r"\(8,\) and \(8, 1\)"),
    ],
    ids=["losses", "metrics"],
)
def test_mismatched_shapes_are_refused_not_broadcast(fn, y_true, y_pred, shapes):
    message = rf"{fn.__name__}: y_true and y_pred must have the same shape, got {shapes}"
    with pytest.raises(ValueError, match=message):
        fn(y_true, y_pred)
