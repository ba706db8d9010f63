"""All 16 Axon losses against PyTorch references (``fixtures/losses.npz``, ``fixtures/ctc.npz``).

The fixtures come from ``fixtures/make_sequence_fixtures.py`` (torch CPU, float64).
"""

from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from axon.functional import losses

FIXTURES = Path(__file__).parent / "fixtures"
REF = {k: np.asarray(v) for k, v in np.load(FIXTURES / "losses.npz").items()}
CTC = {k: np.asarray(v) for k, v in np.load(FIXTURES / "ctc.npz").items()}
TOL = dict(rtol=1e-5, atol=1e-6)

# name -> (loss function with its options, y_true, y_pred, expected per-example value)
CASES = {
    "binary_cross_entropy": (losses.binary_cross_entropy, "binary", "binary_probs", "bce"),
    "binary_cross_entropy_logits_weighted": (
        partial(losses.binary_cross_entropy, from_logits=True, positive_weight=2.5),
        "binary",
        "binary_logits",
        "bce_logits_pos_weight",
    ),
    "categorical_cross_entropy": (
        partial(losses.categorical_cross_entropy, from_logits=True),
        "one_hot",
        "logits",
        "cce",
    ),
    "categorical_cross_entropy_sparse_weighted": (
        partial(
            losses.categorical_cross_entropy,
            from_logits=True,
            sparse=True,
            class_weights=REF["class_weights"],
        ),
        "labels",
        "logits",
        "cce_weighted",
    ),
    "sparse_categorical_cross_entropy": (
        partial(losses.sparse_categorical_cross_entropy, from_logits=True),
        "labels",
        "logits",
        "cce",
    ),
    "categorical_hinge": (losses.categorical_hinge, "one_hot", "logits", "categorical_hinge"),
    "hinge": (losses.hinge, "signs", "binary_logits", "hinge"),
    "soft_margin": (losses.soft_margin, "signs", "binary_logits", "soft_margin"),
    "kl_divergence": (losses.kl_divergence, "p_true", "probs", "kl"),
    "log_cosh": (losses.log_cosh, "a", "b", "log_cosh"),
    "mean_squared_error": (losses.mean_squared_error, "a", "b", "mse"),
    "mean_absolute_error": (losses.mean_absolute_error, "a", "b", "mae"),
    "poisson": (losses.poisson, "counts", "rates", "poisson"),
    "cosine_similarity": (losses.cosine_similarity, "a", "b", "cosine"),
    "huber": (losses.huber, "a", "b", "huber"),
    "huber_delta": (partial(losses.huber, delta=0.5), "a", "b", "huber_delta_0_5"),
    "margin_ranking": (
        lambda y, pair, **o: losses.margin_ranking(y, pair, margin=0.3, **o),
        "rank_sign",
        ("x1", "x2"),
        "margin_ranking",
    ),
}


def case_arrays(name):
    fn, y_true, y_pred, expected = CASES[name]
    y_pred = tuple(REF[k] for k in y_pred) if isinstance(y_pred, tuple) else REF[y_pred]
    return fn, REF[y_true], y_pred, REF[expected]


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_torch_with_every_reduction(name):
    fn, y_true, y_pred, expected = case_arrays(name)
    jitted = jax.jit(fn, static_argnames="reduction")
    np.testing.assert_allclose(jitted(y_true, y_pred), expected, **TOL)
    np.testing.assert_allclose(jitted(y_true, y_pred, reduction="sum"), expected.sum(), **TOL)
    if name != "categorical_cross_entropy_sparse_weighted":  # weighted mean: next test
        np.testing.assert_allclose(jitted(y_true, y_pred, reduction="mean"), expected.mean(), **TOL)


def test_weighted_cross_entropy_mean_divides_by_the_weights_like_torch_and_axon():
    value = losses.categorical_cross_entropy(
        REF["labels"],
        REF["logits"],
        from_logits=True,
        sparse=True,
        class_weights=REF["class_weights"],
        reduction="mean",
    )
    np.testing.assert_allclose(value, REF["cce_weighted_mean"], **TOL)


def test_probability_inputs_agree_with_logits():
    np.testing.assert_allclose(
        losses.categorical_cross_entropy(REF["one_hot"], REF["probs"]), REF["cce"], rtol=1e-5
    )
    np.testing.assert_allclose(
        losses.binary_cross_entropy(REF["binary"], REF["binary_logits"], from_logits=True),
        REF["bce"],
        rtol=1e-5,
    )


def test_label_smoothing_matches_torch_cross_entropy():
    smoothed_cce = losses.label_smoothing(losses.categorical_cross_entropy, smoothing=0.1)
    np.testing.assert_allclose(
        smoothed_cce(REF["one_hot"], REF["logits"], from_logits=True), REF["cce_smoothed"], **TOL
    )
    targets = losses.apply_label_smoothing(REF["one_hot"], REF["logits"], smoothing=0.1)
    np.testing.assert_allclose(targets.sum(-1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(targets.max(-1), 0.9 + 0.1 / 4, rtol=1e-6)
    assert smoothed_cce.__name__ == "categorical_cross_entropy"


# --- CTC ---------------------------------------------------------------------------------------


def ctc_case(name):
    c = {k.split("/", 1)[1]: v for k, v in CTC.items() if k.startswith(f"{name}/")}
    return c, (jnp.asarray(c["target_lengths"]), jnp.asarray(c["targets"]))


@pytest.mark.parametrize("name", ["blank0", "blank_last"])
def test_ctc_matches_torch_with_input_lengths_and_gradients(name):
    c, y_true = ctc_case(name)
    options = dict(blank=int(c["blank"]), input_lengths=jnp.asarray(c["input_lengths"]))
    ctc = jax.jit(
        partial(losses.connectionist_temporal_classification, **options),
        static_argnames="reduction",
    )
    np.testing.assert_allclose(ctc(y_true, c["log_probs"]), c["loss"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ctc(y_true, c["log_probs"], reduction="mean"), c["mean"], rtol=1e-5)
    grad = jax.grad(lambda z: jnp.sum(ctc(y_true, jax.nn.log_softmax(z))))(c["logits"])
    np.testing.assert_allclose(grad, c["grad/logits"], rtol=1e-4, atol=1e-5)


def test_ctc_without_input_lengths_uses_every_step():
    c, y_true = ctc_case("blank0")
    full = np.asarray(c["input_lengths"]) == c["log_probs"].shape[1]
    loss = losses.connectionist_temporal_classification(y_true, c["log_probs"])
    np.testing.assert_allclose(np.asarray(loss)[full], c["loss"][full], rtol=1e-5)


def test_ctc_impossible_alignment_is_inf_or_zero():
    log_probs = jax.nn.log_softmax(jnp.asarray(np.random.default_rng(0).normal(size=(2, 3, 4))))
    # Target "1 1 1" needs 5 steps (blanks between repeats); only 3 exist for row 0.
    y_true = (jnp.array([3, 1]), jnp.array([[1, 1, 1], [2, 0, 0]]))
    ctc = losses.connectionist_temporal_classification
    loss = ctc(y_true, log_probs)
    assert np.isinf(loss[0]) and np.isfinite(loss[1])
    zeroed = ctc(y_true, log_probs, zero_infinity=True)
    assert zeroed[0] == 0.0 and zeroed[1] == loss[1]
    grad = jax.grad(lambda lp: jnp.sum(ctc(y_true, lp, zero_infinity=True)))(log_probs)
    assert np.all(np.isfinite(grad)) and np.all(grad[0] == 0)


def test_ctc_doctest_value_by_enumeration():
    # Two steps, target "a": paths (a, a), (a, -), (-, a) with -log(sum of their probs).
    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.ones(3), size=2)  # (T=2, classes {-, a, b})
    expected = -np.log(
        probs[0, 1] * probs[1, 1] + probs[0, 1] * probs[1, 0] + probs[0, 0] * probs[1, 1]
    )
    loss = losses.connectionist_temporal_classification(
        (jnp.array([1]), jnp.array([[1]])), jnp.log(jnp.asarray(probs, jnp.float32))[None]
    )
    np.testing.assert_allclose(loss[0], expected, rtol=1e-5)


# --- gradients, vmap, reductions, registry ----------------------------------------------------

SMOOTH = sorted(
    set(CASES)
    - {
        "hinge",
        "categorical_hinge",
        "margin_ranking",
        "huber",
        "huber_delta",
        "mean_absolute_error",
    }
)


@pytest.mark.parametrize("name", SMOOTH)
def test_gradients_match_finite_differences(name):
    fn, y_true, y_pred, _ = case_arrays(name)
    check_grads(
        lambda p: fn(y_true, p, reduction="sum"),
        (jnp.asarray(y_pred),),
        order=1,
        modes=["rev"],
        atol=1e-2,
        rtol=1e-2,
    )


@pytest.mark.parametrize(
    "name", ["hinge", "categorical_hinge", "margin_ranking", "huber", "mean_absolute_error"]
)
def test_piecewise_losses_have_the_analytic_gradient_away_from_kinks(name):
    # Finite differences break at kinks; these losses are checked against their formula.
    fn, y_true, y_pred, _ = case_arrays(name)
    if name == "margin_ranking":
        grad = jax.grad(lambda x1: fn(y_true, (x1, y_pred[1]), reduction="sum"))(y_pred[0])
        active = -y_true * (y_pred[0] - y_pred[1]) + 0.3 > 0
        np.testing.assert_allclose(grad, np.where(active, -y_true, 0.0), atol=1e-6)
        return
    grad = jax.grad(lambda p: fn(y_true, p, reduction="sum"))(jnp.asarray(y_pred))
    n = y_pred.shape[-1]
    if name == "hinge":
        expected = np.where(1 - y_true * y_pred > 0, -y_true, 0.0) / n
    elif name == "mean_absolute_error":
        expected = np.sign(y_pred - y_true) / n
    elif name == "huber":  # element-wise: no 1/n
        d = y_pred - y_true
        expected = np.where(np.abs(d) < 1.0, d, np.sign(d))
    else:
        wrong = np.argmax((1 - y_true) * y_pred, -1)
        active = (1 + ((1 - y_true) * y_pred).max(-1) - (y_true * y_pred).sum(-1)) > 0
        # The max may land on the target itself (all wrong scores < 0): then it adds nothing.
        expected = (np.eye(n)[wrong] * (1 - y_true) - y_true) * active[:, None]
    np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(CASES))
def test_vmap_over_examples_equals_the_batched_call(name):
    fn, y_true, y_pred, expected = case_arrays(name)
    if name == "cosine_similarity":  # axes=1 is the feature axis of the batched call only
        fn = partial(fn, axes=-1)
    per_example = jax.vmap(lambda t, p: fn(t[None], jax.tree.map(lambda x: x[None], p))[0])(
        y_true, y_pred
    )
    np.testing.assert_allclose(per_example, expected, **TOL)


def test_ctc_under_vmap_and_jit():
    c, (lengths, targets) = ctc_case("blank_last")
    stacked = jnp.stack([c["log_probs"], c["log_probs"][::-1]])
    batched = jax.jit(
        jax.vmap(
            lambda lp, lens, tg: losses.connectionist_temporal_classification(
                (lens, tg), lp, blank=4
            )
        )
    )(stacked, jnp.stack([lengths, lengths[::-1]]), jnp.stack([targets, targets[::-1]]))
    single = losses.connectionist_temporal_classification(
        (lengths, targets), c["log_probs"], blank=4
    )
    np.testing.assert_allclose(batched[0], single, rtol=1e-6)
    np.testing.assert_allclose(batched[1], single[::-1], rtol=1e-6)


def test_all_16_axon_losses_exist_and_the_14_losses_are_registered():
    axon_losses = {
        "binary_cross_entropy",
        "categorical_cross_entropy",
        "categorical_hinge",
        "hinge",
        "kl_divergence",
        "log_cosh",
        "soft_margin",
        "mean_absolute_error",
        "mean_squared_error",
        "poisson",
        "margin_ranking",
        "cosine_similarity",
        "huber",
        "connectionist_temporal_classification",
        "label_smoothing",
        "apply_label_smoothing",
    }
    assert all(callable(getattr(losses, name)) for name in axon_losses)
    combinators = {"label_smoothing", "apply_label_smoothing"}
    sparse_names = {"sparse_categorical_cross_entropy"}  # Axon's sparse=True, by name
    assert set(losses.BUILTINS) == axon_losses - combinators | sparse_names
    assert set(losses.BUILTINS) <= set(losses.names())
    assert losses.get("huber") is losses.huber


@pytest.mark.parametrize("name", sorted(set(losses.BUILTINS)))
def test_unknown_reduction_names_the_function(name):
    fn = losses.BUILTINS[name]
    with pytest.raises(
        ValueError,
        match=rf"{name}: reduction must be 'none', 'mean' or 'sum', "
        r"got 'median'",
    ):
        fn(None, None, reduction="median")


def test_huber_is_element_wise_like_axon():
    # Axon's doctest: huber([[1], [1.5], [2.0]], [[0.8], [1.8], [2.1]]) keeps the (3, 1) shape.
    y_true, y_pred = jnp.array([[1.0], [1.5], [2.0]]), jnp.array([[0.8], [1.8], [2.1]])
    np.testing.assert_allclose(
        losses.huber(y_true, y_pred), [[0.02], [0.045], [0.005]], rtol=1e-5, atol=1e-7
    )
    np.testing.assert_allclose(losses.huber(y_true, y_pred, reduction="mean"), 0.0233333, rtol=1e-5)
    a, b = REF["a"], REF["b"]  # (6, 5): "sum" adds all 30 elements, not 6 row means
    assert losses.huber(a, b).shape == a.shape
    np.testing.assert_allclose(losses.huber(a, b, reduction="sum"), REF["huber"].sum(), **TOL)


def test_sparse_cross_entropy_is_categorical_cross_entropy_of_class_ids():
    labels, logits = REF["labels"], REF["logits"]
    for ids in (labels, labels[:, None]):
        np.testing.assert_allclose(
            losses.sparse_categorical_cross_entropy(ids, logits, from_logits=True, reduction="sum"),
            losses.categorical_cross_entropy(
                ids, logits, from_logits=True, sparse=True, reduction="sum"
            ),
            **TOL,
        )
    assert losses.get("sparse_categorical_cross_entropy") is losses.sparse_categorical_cross_entropy
    with pytest.raises(ValueError, match=r"sparse_categorical_cross_entropy: with sparse=True"):
        losses.sparse_categorical_cross_entropy(REF["one_hot"][:, :3], logits)


@pytest.mark.parametrize("ids", [REF["labels"], REF["labels"][:, None]])
def test_class_ids_given_to_a_one_hot_loss_name_the_sparse_ways(ids):
    with pytest.raises(ValueError, match=r"^categorical_cross_entropy: y_true and y_pred") as error:
        losses.categorical_cross_entropy(ids, REF["logits"], from_logits=True)
    message = str(error.value)
    assert "sparse=True" in message and "'sparse_categorical_cross_entropy'" in message
    assert "one-hot" in message


# --- numerics at the edges, bad input ---------------------------------------------------------


def test_edges_stay_finite():
    big = jnp.array([[100.0, -100.0]])
    np.testing.assert_allclose(
        losses.log_cosh(jnp.zeros((1, 2)), big), [100.0 - np.log(2.0)], rtol=1e-6
    )
    zero = jnp.zeros((1, 3))
    grad = jax.grad(lambda p: losses.cosine_similarity(zero, p, reduction="sum"))(zero)
    assert losses.cosine_similarity(zero, zero)[0] == 0.0 and np.all(grad == 0)
    kl = losses.kl_divergence(jnp.array([[0.0, 1.0]]), jnp.array([[0.0, 1.0]]))
    assert np.all(np.isfinite(kl)) and abs(float(kl[0])) < 1e-5


def test_bad_input_is_explained():
    with pytest.raises(
        ValueError,
        match=r"class_weights must have one weight per class, shape "
        r"\(4,\), got \(3,\)",
    ):
        losses.categorical_cross_entropy(REF["one_hot"], REF["probs"], class_weights=[1, 2, 3])
    with pytest.raises(ValueError, match=r"sparse=True, y_true must hold one class id"):
        losses.categorical_cross_entropy(REF["one_hot"], REF["probs"], sparse=True)
    with pytest.raises(TypeError, match=r"margin_ranking: y_pred must be a pair"):
        losses.margin_ranking(REF["x1"], REF["x2"])
    with pytest.raises(ValueError, match="huber: delta must be positive, got 0"):
        losses.huber(REF["a"], REF["b"], delta=0)
    with pytest.raises(ValueError, match=r"cosine_similarity: axes \(2,\) are out of range"):
        losses.cosine_similarity(REF["a"], REF["b"], axes=2)
    with pytest.raises(ValueError, match=r"smoothing must be in \[0, 1\], got 1.5"):
        losses.label_smoothing(losses.categorical_cross_entropy, smoothing=1.5)
    with pytest.raises(TypeError, match="label_smoothing: loss_fn must be a loss function"):
        losses.label_smoothing("categorical_cross_entropy")
    ctc = losses.connectionist_temporal_classification
    lp = jnp.zeros((2, 5, 3))
    with pytest.raises(TypeError, match=r"y_true must be the pair \(target_lengths, targets\)"):
        ctc(jnp.ones((2, 2)), lp)
    with pytest.raises(
        ValueError,
        match=r"y_pred must be log-probabilities of shape \(batch, "
        r"time, classes\), got shape \(5, 3\)",
    ):
        ctc((jnp.ones(2), jnp.ones((2, 2))), lp[0])
    with pytest.raises(
        ValueError,
        match=r"targets must have shape \(batch, max_target_len\) "
        r"with batch = 2, got \(3, 2\)",
    ):
        ctc((jnp.ones(2), jnp.ones((3, 2))), lp)
    with pytest.raises(ValueError, match=r"blank must be a class in \[0, 3\), got 3"):
        ctc((jnp.ones(2), jnp.ones((2, 2))), lp, blank=3)
    with pytest.raises(ValueError, match=r"input_lengths must have shape \(2,\)"):
        ctc((jnp.ones(2), jnp.ones((2, 2))), lp, input_lengths=jnp.ones(3))
