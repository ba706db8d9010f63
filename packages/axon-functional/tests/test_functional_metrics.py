"""Axon's metrics against numpy counting, under jit and vmap, and as running accumulators."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from axon.functional import metrics

RNG = np.random.default_rng(0)
Y_TRUE = (RNG.random((8, 5)) > 0.5).astype(np.float32)
Y_PRED = RNG.random((8, 5)).astype(np.float32)
THRESHOLDS = [0.3, 0.5, 0.8]


COUNTS = ("true_positives", "false_positives", "true_negatives", "false_negatives")
RATES = ("precision", "recall", "sensitivity", "specificity")


def counts(y_true, y_pred, threshold):
    actual, predicted = y_true > 0.5, y_pred > threshold
    cells = (actual & predicted, ~actual & predicted, ~actual & ~predicted, actual & ~predicted)
    return {name: np.sum(cell) for name, cell in zip(COUNTS, cells, strict=True)}


@pytest.mark.parametrize("threshold", THRESHOLDS)
def test_confusion_counts_and_rates_match_numpy(threshold):
    c = counts(Y_TRUE, Y_PRED, threshold)
    for name, expected in c.items():
        assert (
            int(
                jax.jit(metrics.get(name), static_argnames="threshold")(
                    Y_TRUE, Y_PRED, threshold=threshold
                )
            )
            == expected
        )
    tp, fp, tn, fn = (c[k] for k in COUNTS)
    expected_rates = (tp / (tp + fp), tp / (tp + fn), tp / (tp + fn), tn / (tn + fp))
    rates = dict(zip(RATES, expected_rates, strict=True))
    for name, expected in rates.items():
        value = jax.jit(metrics.get(name), static_argnames="threshold")(
            Y_TRUE, Y_PRED, threshold=threshold
        )
        np.testing.assert_allclose(value, expected, rtol=1e-6)


def test_rates_are_zero_not_nan_when_nothing_is_counted():
    none = np.zeros((4, 1), np.float32)
    assert float(metrics.precision(np.ones((4, 1)), none)) == 0.0  # nothing predicted positive
    assert float(metrics.recall(none, np.ones((4, 1)))) == 0.0  # no positives
    assert float(metrics.specificity(np.ones((4, 1)), none)) == 0.0  # no negatives


def top_k_reference(ids, scores, k):
    order = np.argsort(-scores, axis=-1)[:, :k]
    return np.mean([i in row for i, row in zip(ids, order, strict=True)])


@pytest.mark.parametrize("k", [1, 2, 3, 5, 9])
def test_top_k_accuracy_matches_argsort(k):
    scores = RNG.normal(size=(20, 6)).astype(np.float32)  # continuous: no ties
    ids = RNG.integers(0, 6, size=20)
    expected = top_k_reference(ids, scores, k)
    fn = jax.jit(metrics.top_k_categorical_accuracy, static_argnames=("k", "sparse"))
    np.testing.assert_allclose(fn(ids, scores, k=k, sparse=True), expected)
    np.testing.assert_allclose(fn(ids[:, None], scores, k=k, sparse=True), expected)
    np.testing.assert_allclose(fn(np.eye(6)[ids], scores, k=k), expected)


def test_top_k_default_is_5_and_ties_favour_the_target():
    scores = np.array([[0.5, 0.5, 0.1, 0.1, 0.1, 0.1, 0.1]])
    assert float(metrics.top_k_categorical_accuracy(np.array([1]), scores, k=1, sparse=True)) == 1
    assert float(metrics.top_k_categorical_accuracy(np.array([6]), scores, sparse=True)) == 1.0
    ranked_last = np.array([[0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1]])
    assert float(metrics.top_k_categorical_accuracy(np.array([6]), ranked_last, sparse=True)) == 0


BINARY = ["accuracy", *RATES, *COUNTS, "mean_absolute_error"]


@pytest.mark.parametrize("name", [*BINARY, "top_k_categorical_accuracy"])
def test_vmap_over_groups_equals_calling_each_group(name):
    fn = metrics.get(name)
    if name == "top_k_categorical_accuracy":
        fn = lambda t, p: metrics.top_k_categorical_accuracy(t, p, k=2)  # noqa: E731
    y_true, y_pred = Y_TRUE.reshape(2, 4, 5), Y_PRED.reshape(2, 4, 5)
    if name == "accuracy":
        y_true, y_pred = y_true[..., :1], y_pred[..., :1]
    batched = jax.vmap(fn)(y_true, y_pred)
    expected = [fn(t, p) for t, p in zip(y_true, y_pred, strict=True)]
    np.testing.assert_allclose(batched, expected, rtol=1e-6)


def test_every_axon_metric_is_registered():
    sparse_names = {"sparse_categorical_accuracy", "sparse_top_k_categorical_accuracy"}
    expected = set(BINARY) | {"top_k_categorical_accuracy"} | sparse_names
    assert set(metrics.BUILTINS) == expected
    assert expected <= set(metrics.names())
    assert metrics.get("recall") is metrics.recall


def test_running_average_of_precision_inside_jit():
    step = jax.jit(metrics.running_average(metrics.precision))
    acc = jnp.float32(0)
    batches = [(Y_TRUE[i : i + 2], Y_PRED[i : i + 2]) for i in range(0, 8, 2)]
    for i, batch in enumerate(batches):
        acc = step(acc, batch, jnp.int32(i))
    expected = np.mean([float(metrics.precision(*b)) for b in batches])
    np.testing.assert_allclose(acc, expected, rtol=1e-6)


def test_bad_input_is_explained():
    with pytest.raises(ValueError, match="top_k_categorical_accuracy: k must be a positive int"):
        metrics.top_k_categorical_accuracy(Y_TRUE, Y_PRED, k=0)
    with pytest.raises(ValueError, match=r"pass sparse=True for integer class ids"):
        metrics.top_k_categorical_accuracy(np.array([1, 2]), np.ones((2, 5)))
    with pytest.raises(
        ValueError,
        match=r"sparse=True, y_true must hold one class id per "
        r"example, shape \(2,\) or \(2, 1\), got \(2, 5\)",
    ):
        metrics.top_k_categorical_accuracy(np.ones((2, 5)), np.ones((2, 5)), sparse=True)
    with pytest.raises(ValueError, match=r"mean_absolute_error: y_true and y_pred"):
        metrics.mean_absolute_error(np.ones(3), np.ones((3, 1)))


def test_sparse_metrics_equal_their_one_hot_forms():
    scores = RNG.normal(size=(20, 6)).astype(np.float32)
    ids = RNG.integers(0, 6, size=20)
    one_hot = np.eye(6, dtype=np.float32)[ids]
    expected = metrics.accuracy(one_hot, scores)
    for labels in (ids, ids[:, None]):
        assert metrics.sparse_categorical_accuracy(labels, scores) == expected
        assert metrics.accuracy(labels, scores, sparse=True) == expected
        assert metrics.sparse_top_k_categorical_accuracy(
            labels, scores, k=3
        ) == metrics.top_k_categorical_accuracy(one_hot, scores, k=3)
    assert metrics.get("sparse_categorical_accuracy") is metrics.sparse_categorical_accuracy


def test_integer_labels_with_a_categorical_metric_are_refused_not_broadcast():
    # Before: accuracy took the argmax of the labels themselves and broadcast it, reporting
    # 0.08-0.16 for a model at 0.5. Now: an error naming the sparse ways.
    scores = RNG.normal(size=(8, 10)).astype(np.float32)
    ids = RNG.integers(0, 10, size=8)
    for fn, sparse_name in [
        (metrics.accuracy, "sparse_categorical_accuracy"),
        (metrics.top_k_categorical_accuracy, "sparse_top_k_categorical_accuracy"),
    ]:
        for labels in (ids, ids[:, None]):
            with pytest.raises(ValueError, match=r"looks like integer class ids") as error:
                fn(labels, scores)
            assert "sparse=True" in str(error.value) and repr(sparse_name) in str(error.value)


def test_binary_targets_must_have_the_predictions_shape():
    # (8,) targets against (8, 1) probabilities broadcast to an (8, 8) comparison before.
    with pytest.raises(ValueError, match=r"accuracy: y_true and y_pred must have the same shape"):
        metrics.accuracy(np.ones(8), np.full((8, 1), 0.9))
    with pytest.raises(ValueError, match=r"with sparse=True, y_true must hold one class id"):
        metrics.sparse_categorical_accuracy(np.ones((8, 3)), np.ones((8, 5)))


def test_first_max_index_equals_argmax_including_ties():
    from axon.functional.metrics import _first_max_index

    rng = np.random.default_rng(3)
    x = rng.integers(0, 3, size=(200, 7)).astype(np.float32)  # many ties
    np.testing.assert_array_equal(_first_max_index(jnp.asarray(x)), np.argmax(x, axis=-1))
    with_nan = jnp.array([[0.1, jnp.nan, 0.3]])
    assert int(_first_max_index(with_nan)[0]) == 3  # no class: never counted as correct
