"""Layer regularizers through axon.loop's trainer: the objective, the metric, freezing, fusion."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import axon.loop
import axon.model
from axon.functional.penalties import L1, L2

FACTOR = 0.03
RATE = 0.05


def batches(n=6):
    key = jax.random.key(7)
    out = []
    for i in range(n):
        kx, ky = jax.random.split(jax.random.fold_in(key, i))
        x = 4.0 * jax.random.normal(kx, (8, 3)) - 1.5
        out.append((x, jax.random.normal(ky, (8, 2)) * 3.0))
    return out


def mlp(**regularizers):
    x = axon.model.input("x", shape=(None, 3))
    h = x.dense(5, activation="tanh", name="hidden", **regularizers)
    return h.dense(2, name="head", **regularizers)


def states_after_each_step(loop, data, start):
    seen = []
    loop = loop.handle_event(
        "iteration_completed",
        lambda state: seen.append(jax.device_get(state.step_state["model_state"].params)),
    )
    loop.run(data, start, epochs=1, steps_per_dispatch=1)
    return seen


def test_l2_on_plain_sgd_is_decoupled_weight_decay_step_by_step():
    # d/dw [factor * sum(w**2)] = 2 * factor * w: SGD on loss + l2(factor) is
    # w <- w - lr * (g + 2 * factor * w), i.e. add_decayed_weights(2 * factor) then sgd.
    model = mlp(kernel_regularizer=L2(FACTOR))
    start = model.init(0, jnp.ones((1, 3)))
    data = batches()
    penalized = axon.loop.trainer(model, "mean_squared_error", optax.sgd(RATE), log=0)
    kernels_only = {layer: {"kernel": True, "bias": False} for layer in start.params}
    decayed = optax.chain(optax.add_decayed_weights(2 * FACTOR, mask=kernels_only), optax.sgd(RATE))
    plain = axon.loop.trainer(mlp(), "mean_squared_error", decayed, log=0)
    ours, theirs = (
        states_after_each_step(penalized, data, start),
        states_after_each_step(plain, data, start),
    )
    assert len(ours) == len(data)
    for a, b in zip(ours, theirs, strict=True):
        jax.tree_util.tree_map(lambda u, v: np.testing.assert_allclose(u, v, rtol=2e-6), a, b)
    # and the weights did shrink relative to training without the penalty
    free = states_after_each_step(
        axon.loop.trainer(mlp(), "mean_squared_error", optax.sgd(RATE), log=0), data, start
    )
    assert np.linalg.norm(ours[-1]["hidden"]["kernel"]) < np.linalg.norm(
        free[-1]["hidden"]["kernel"]
    )


def run_and_history(loop, data, start, **options):
    state = loop.replace(output_transform=None).run(data, start, **options)
    return state, state.history


def test_penalty_metric_is_the_mean_penalty_and_loss_stays_the_data_loss():
    model = mlp(kernel_regularizer=L2(FACTOR), activity_regularizer=L1(0.02))
    start = model.init(0, jnp.ones((1, 3)))
    data = batches(4)
    loop = axon.loop.trainer(model, "mean_squared_error", optax.sgd(0.0), log=0)  # lr 0: fixed
    _, history = run_and_history(loop, data, start)
    assert sorted(history[0]) == ["loss", "penalty"]
    penalties = [float(axon.model.penalty(model, start, x)) for x, _ in data]
    losses = [float(jnp.mean((axon.model.predict(model, start, x) - y) ** 2)) for x, y in data]
    np.testing.assert_allclose(float(history[0]["penalty"]), np.mean(penalties), rtol=1e-5)
    np.testing.assert_allclose(float(history[0]["loss"]), np.mean(losses), rtol=1e-5)


def test_gradient_is_that_of_loss_plus_penalty():
    model = mlp(kernel_regularizer=L2(FACTOR), bias_regularizer=L1(0.2), activity_regularizer="l2")
    start = model.init(0, jnp.ones((1, 3)))
    (x, y), *_ = batches(1)
    loop = axon.loop.trainer(model, "mean_squared_error", optax.sgd(1.0), log=0)
    trained = loop.run([(x, y)], start)

    def objective(params):
        current = start.replace(params=params)
        prediction, _, penalty = model.apply_with_penalty(current, x, mode="train")
        return jnp.mean((prediction - y) ** 2) + penalty

    grads = jax.grad(objective)(start.params)
    expected = jax.tree_util.tree_map(lambda p, g: p - g, start.params, grads)
    jax.tree_util.tree_map(
        lambda u, v: np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-6),
        trained.params,
        expected,
    )


def test_frozen_parameters_add_no_penalty_and_do_not_decay():
    model = mlp(kernel_regularizer=L2(FACTOR))
    start = model.init(0, jnp.ones((1, 3))).freeze("hidden/*")
    data = batches(3)
    loop = axon.loop.trainer(model, "mean_squared_error", optax.sgd(RATE), log=0)
    state, _ = run_and_history(loop, data, start)
    trained = state.step_state["model_state"]
    np.testing.assert_array_equal(
        trained.params["hidden"]["kernel"], start.params["hidden"]["kernel"]
    )
    # with the parameters held fixed, the penalty metric is the head's kernel alone
    still = axon.loop.trainer(model, "mean_squared_error", optax.sgd(0.0), log=0)
    _, history = run_and_history(still, data, start)
    head_only = FACTOR * np.sum(np.asarray(start.params["head"]["kernel"]) ** 2)
    assert float(history[0]["penalty"]) == pytest.approx(head_only, rel=1e-6)
    assert float(axon.model.penalty(model, start.unfreeze())) > head_only * 1.01


def test_fused_training_equals_single_steps_and_validation_reports_the_data_loss():
    model = mlp(kernel_regularizer=L2(FACTOR), activity_regularizer=L1(0.01))
    start = model.init(0, jnp.ones((1, 3)))
    data, held_out = batches(6), batches(2)
    loop = axon.loop.trainer(model, "mean_squared_error", optax.sgd(RATE), log=0).validate(
        model, held_out
    )
    single, single_history = run_and_history(loop, data, start, epochs=2, steps_per_dispatch=1)
    fused, fused_history = run_and_history(loop, data, start, epochs=2, steps_per_dispatch=3)
    jax.tree_util.tree_map(
        lambda u, v: np.testing.assert_allclose(u, v, rtol=1e-6),
        single.step_state["model_state"].params,
        fused.step_state["model_state"].params,
    )
    assert sorted(fused_history[1]) == ["loss", "penalty", "validation_loss"]
    for name in ("loss", "penalty", "validation_loss"):
        np.testing.assert_allclose(
            float(fused_history[1][name]), float(single_history[1][name]), rtol=1e-5
        )
    # validation measures the data loss of the model after the epoch, without the penalty
    after = single.step_state["model_state"]
    held = np.mean([
        float(jnp.mean((axon.model.predict(model, after, x) - y) ** 2)) for x, y in held_out
    ])  # fmt: skip
    np.testing.assert_allclose(float(single_history[1]["validation_loss"]), held, rtol=1e-5)
