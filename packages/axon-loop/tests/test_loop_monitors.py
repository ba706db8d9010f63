"""monitor, early_stop, reduce_lr_on_plateau, halt_on_nonfinite, best-only checkpoints,
gradient accumulation and the gradient-norm metric."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import axon.loop
from axon.loop.checkpoint import OrbaxBackend

# Epoch means of the watched value: improves, then stalls, then improves again.
CURVE = [5.0, 4.0, 4.5, 4.6, 4.7, 3.0, 3.1]


def curve_loop():
    """A loop whose metric "value" is the mean of its batches: CURVE[epoch] each epoch."""
    return axon.loop.loop(
        lambda batch, s: {"y_true": batch, "y_pred": batch},
        lambda batch, init: {"y_true": jnp.zeros(()), "y_pred": jnp.zeros(())},
    ).metric(lambda p: p, "value", transform=lambda s: (s["y_pred"],))


def curve_data(epoch):
    return [jnp.float32(CURVE[epoch])] * 2


def test_monitor_fires_after_patience_events_without_improvement():
    fired = []
    state = (
        curve_loop()
        .monitor("value", lambda s: fired.append(s.epoch), patience=3)
        .run(curve_data, epochs=7)
    )
    assert fired == [4]  # epochs 2, 3, 4 did not beat 4.0
    assert state.handler_metadata["monitor:value"] == {"best": 3.0, "since_best": 1}


def test_monitor_in_max_mode_and_with_min_delta():
    fired = []
    curve_loop().monitor("value", lambda s: fired.append(s.epoch), patience=3, mode="max").run(
        curve_data, epochs=7
    )
    assert fired == [3, 6]  # nothing beats the first 5.0
    fired.clear()
    curve_loop().monitor("value", lambda s: fired.append(s.epoch), patience=2, min_delta=1.5).run(
        curve_data, epochs=7
    )
    assert fired == [2, 4]  # 4.0 was not 1.5 better than 5.0; 3.0 was, so no third firing


def test_early_stop_halts_the_loop():
    state = curve_loop().early_stop("value", patience=2).run(curve_data, epochs=7)
    assert state.status == "halted" and state.epoch == 3  # epochs 2 and 3 did not beat 4.0
    assert sorted(state.history) == [0, 1, 2, 3]  # the halting epoch did complete


def test_monitoring_an_absent_metric_is_explained():
    with pytest.raises(KeyError, match=r"validation_value.*\.validate"):
        curve_loop().early_stop("validation_value").run(curve_data)


def linear_pair():
    def init(key, x):
        return {"w": jnp.zeros((x.shape[-1], 1))}

    def apply(params, x, *, mode, key):
        return x @ params["w"], None

    return init, apply


def regression(epoch=0):
    x = np.random.default_rng(0).normal(size=(32, 2)).astype(np.float32)
    return [(x[i : i + 8], x[i : i + 8, :1] * 2.0) for i in range(0, 32, 8)]


def test_reduce_lr_on_plateau_scales_an_injected_learning_rate():
    optimizer = optax.inject_hyperparams(optax.sgd)(learning_rate=0.1)
    stalled = (
        axon.loop.trainer(linear_pair(), "mean_squared_error", optimizer, log=0)
        .metric(lambda t, p: jnp.float32(1.0), "flat")
        .reduce_lr_on_plateau("flat", patience=2, factor=0.5)
        .replace(output_transform=None)
    )
    state = stalled.run(regression, epochs=5)
    rate = state.step_state["optimizer_state"].hyperparams["learning_rate"]
    assert float(rate) == pytest.approx(0.1 * 0.5 * 0.5)  # reduced after epochs 2 and 4
    reductions = state.handler_metadata["learning_rate_reductions"]
    assert [r["iteration"] for r in reductions] == [12, 20]
    assert reductions[-1]["learning_rate"] == [pytest.approx(0.025)]


def test_reduce_lr_prefers_a_learning_rate_scale_that_schedules_leave_alone():
    from axon.loop.handlers._learning_rates import learning_rates, scale_learning_rate

    state = optax.InjectHyperparamsState(
        count=jnp.int32(3),
        hyperparams={"learning_rate": jnp.float32(0.2), "learning_rate_scale": jnp.float32(1.0)},
        inner_state=(),
    )
    reduced = scale_learning_rate({"inner": state}, 0.1, 0.0)
    assert float(reduced["inner"].hyperparams["learning_rate"]) == pytest.approx(0.2)
    assert float(reduced["inner"].hyperparams["learning_rate_scale"]) == pytest.approx(0.1)
    assert learning_rates(reduced) == [pytest.approx(0.02)]
    floored = scale_learning_rate(reduced, 0.1, 0.01)
    assert learning_rates(floored) == [pytest.approx(0.01)]


def test_reduce_lr_without_an_injected_learning_rate_is_explained():
    loop = (
        axon.loop.trainer(linear_pair(), "mean_squared_error", optax.sgd(0.1), log=0)
        .metric(lambda t, p: jnp.float32(1.0), "flat")
        .reduce_lr_on_plateau("flat", patience=1)
    )
    with pytest.raises(ValueError, match="inject_hyperparams"):
        loop.run(regression, epochs=3)


def test_halt_on_nonfinite_names_the_first_bad_batch(capsys):
    def data(epoch):
        batches = regression()
        if epoch == 1:
            x, y = batches[2]
            batches[2] = (x, y * np.nan)
        return batches

    state = (
        axon.loop.trainer(linear_pair(), "mean_squared_error", optax.sgd(0.01), log=0)
        .halt_on_nonfinite(every=50)
        .replace(output_transform=None)
        .run(data, epochs=3)
    )
    assert state.status == "halted"
    assert state.handler_metadata["nonfinite"] == {
        "metric": "loss", "epoch": 1, "batch": 3, "iteration": 7,
    }  # fmt: skip
    assert "epoch 1, batch 3 (iteration 7)" in capsys.readouterr().err
    assert "first_nonfinite_loss" not in state.metrics


def nan_at(iteration, batches=20):
    """``batches`` regression batches whose ``iteration``-th (1-based) targets are NaN."""
    x = np.random.default_rng(0).normal(size=(8 * batches, 2)).astype(np.float32)
    data = [(x[i : i + 8], x[i : i + 8, :1] * 2.0) for i in range(0, 8 * batches, 8)]
    bad_x, bad_y = data[iteration - 1]
    data[iteration - 1] = (bad_x, bad_y * np.nan)
    return data


@pytest.mark.parametrize("log, halted_at", [(5, 5), (0, 20)])
def test_a_trainer_halts_on_a_nonfinite_loss_by_default(capsys, log, halted_at):
    """Before, a NaN in the data trained on to all-NaN parameters with status "completed".
    The host looks where it already waits: the log points, else the end of the epoch."""
    state = (
        axon.loop.trainer(linear_pair(), "mean_squared_error", optax.sgd(0.01), log=log)
        .replace(output_transform=None)
        .run(nan_at(3), epochs=2)
    )
    assert state.status == "halted" and state.iteration == halted_at
    assert state.handler_metadata["nonfinite"] == {
        "metric": "loss", "epoch": 0, "batch": 3, "iteration": 3,
    }  # fmt: skip
    assert capsys.readouterr().err.count("The loss became non-finite at epoch 0, batch 3") == 1
    assert not any(name.startswith("first_nonfinite") for name in state.metrics)


def test_the_default_nonfinite_check_can_be_turned_off():
    state = (
        axon.loop.trainer(
            linear_pair(), "mean_squared_error", optax.sgd(0.01), log=0, halt_on_nonfinite=False
        )
        .replace(output_transform=None)
        .run(nan_at(3), epochs=2)
    )
    assert state.status == "completed" and state.iteration == 40
    assert np.isnan(state.step_state["model_state"]["w"]).all()
    assert "first_nonfinite_loss" not in state.metric_state["values"]


def test_halt_on_nonfinite_attached_again_replaces_the_trainers(capsys):
    loop = axon.loop.trainer(linear_pair(), "mean_squared_error", optax.sgd(0.01), log=0)
    watched = loop.halt_on_nonfinite(every=1).replace(output_transform=None)
    assert len(watched.metrics) == len(loop.metrics)
    assert len(watched.handlers) == len(loop.handlers) + 1  # + the every=1 look
    state = watched.run(nan_at(3), epochs=2)
    assert state.status == "halted" and state.iteration == 3  # looked every iteration
    assert capsys.readouterr().err.count("non-finite") == 1


def test_halt_on_nonfinite_of_an_unknown_entry_names_the_known_ones():
    # Before: a bare KeyError('los') from inside the traced step.
    loop = axon.loop.trainer(linear_pair(), "mean_squared_error", optax.sgd(0.01), log=0)
    with pytest.raises(
        KeyError,
        match=r"halt_on_nonfinite\(metric='los'\) watches step_state\['los'\], but the step "
        r"state holds \[.*'loss'.*\]\. Did you mean 'loss'\?",
    ):
        loop.halt_on_nonfinite(metric="los").run(regression())
    with pytest.raises(KeyError, match=r"step state is an array, not a dict"):
        axon.loop.loop(lambda b, s: s + 1.0).halt_on_nonfinite().run([1, 2], 0.0)


def test_halt_on_nonfinite_watches_other_step_state_entries(capsys):
    loop = axon.loop.trainer(
        linear_pair(), "mean_squared_error", optax.sgd(0.01), log=0, gradient_norm=True
    )
    state = (
        loop.halt_on_nonfinite(metric="gradient_norm", every=None)
        .replace(output_transform=None)
        .run(nan_at(3), epochs=2)
    )
    assert state.status == "halted" and state.iteration == 20
    assert state.handler_metadata["nonfinite"]["metric"] in ("loss", "gradient_norm")
    assert "batch 3 (iteration 3)" in capsys.readouterr().err


def test_the_nonfinite_check_stays_out_of_validation():
    state = (
        axon.loop.trainer(linear_pair(), "mean_squared_error", optax.sgd(0.01), log=0)
        .validate(linear_pair(), regression())
        .replace(output_transform=None)
        .run(regression(), epochs=2)
    )
    assert state.status == "completed"
    assert sorted(state.history[1]) == ["loss", "validation_loss"]


def test_checkpoint_with_criteria_saves_only_improvements(tmp_path):
    curve_loop().checkpoint(path=tmp_path / "best", criteria="value").run(curve_data, epochs=7)
    backend = OrbaxBackend(tmp_path / "best")
    assert backend.steps() == [2, 4, 12]  # epochs 0 (5.0), 1 (4.0) and 5 (3.0)
    assert backend.metadata()["metrics"]["value"] == 3.0
    backend.close()


def test_checkpoint_patience_also_saves_on_a_plateau(tmp_path):
    state = (
        curve_loop()
        .checkpoint(path=tmp_path / "best", criteria="value", patience=2)
        .run(curve_data, epochs=7)
    )
    backend = OrbaxBackend(tmp_path / "best")
    # improvements at epochs 0, 1, 5; epochs 2-3 make a plateau of 2: saved at epoch 3
    assert backend.steps() == [2, 4, 8, 12]
    backend.close()
    key = f"checkpoint:{tmp_path / 'best'}"
    assert state.handler_metadata[f"{key}:waited"] == 1  # epoch 6 did not beat 3.0
    with pytest.raises(ValueError, match="needs criteria="):
        curve_loop().checkpoint(path=tmp_path / "x", patience=2)
    with pytest.raises(ValueError, match="positive int"):
        curve_loop().checkpoint(path=tmp_path / "x", criteria="value", patience=0)


def test_gradient_accumulation_updates_once_per_k_batches():
    weights = []
    loop = axon.loop.trainer(
        linear_pair(), "mean_squared_error", optax.sgd(0.1), log=0, accumulate_gradients=2
    ).handle_event(
        "iteration_completed",
        lambda s: weights.append(np.asarray(s.step_state["model_state"]["w"]).copy()),
    )
    loop.run(regression)
    assert np.array_equal(weights[0], np.zeros((2, 1)))  # first micro-step: no update yet
    assert not np.array_equal(weights[1], weights[0])
    assert np.array_equal(weights[2], weights[1])
    # the update equals one step on the mean of the two micro-batches' gradients
    (x1, y1), (x2, y2) = regression()[:2]

    def mse(w, x, y):
        return jnp.mean((x @ w - y) ** 2)

    grad = (jax.grad(mse)(jnp.zeros((2, 1)), x1, y1) + jax.grad(mse)(jnp.zeros((2, 1)), x2, y2)) / 2
    np.testing.assert_allclose(weights[1], -0.1 * grad, rtol=1e-5)


def test_gradient_norm_metric():
    state = (
        axon.loop.trainer(
            linear_pair(), "mean_squared_error", optax.sgd(0.0), log=0, gradient_norm=True
        )
        .replace(output_transform=None)
        .run(regression)
    )
    norms = [
        float(
            optax.global_norm(
                jax.grad(lambda w, x=x, y=y: jnp.mean((x @ w - y) ** 2))(jnp.zeros((2, 1)))
            )
        )
        for x, y in regression()
    ]
    assert float(state.metrics["gradient_norm"]) == pytest.approx(np.mean(norms), rel=1e-5)


def test_gradient_norm_is_a_training_metric_only():
    # validation computes no gradients: it measures the other metrics and leaves this one out
    trainer = axon.loop.trainer(linear_pair(), "mean_squared_error", optax.sgd(0.1), log=0,
                                gradient_norm=True)  # fmt: skip
    state = trainer.validate(linear_pair(), regression).replace(output_transform=None)
    history = state.run(regression, epochs=2).history
    assert sorted(history[1]) == ["gradient_norm", "loss", "validation_loss"]


def static_scale(factor):
    """A loss scale triple (init, scale, unscale) written against the loop's contract."""

    def init():
        return {"scale": jnp.float32(factor)}

    def scale(loss, state):
        return loss * state["scale"]

    def unscale(grads, state):
        return jax.tree_util.tree_map(lambda g: g / state["scale"], grads), state

    return init, scale, unscale


def test_loss_scaling_gives_the_same_training_and_skips_overflowed_steps():
    plain = axon.loop.trainer(linear_pair(), "mean_squared_error", optax.sgd(0.1), log=0).run(
        regression
    )
    scaled = axon.loop.trainer(
        linear_pair(), "mean_squared_error", optax.sgd(0.1), log=0, loss_scale=static_scale(8.0)
    ).run(regression)
    np.testing.assert_allclose(scaled["w"], plain["w"], rtol=1e-6)
    overflowing = axon.loop.trainer(
        linear_pair(),
        "mean_squared_error",
        optax.sgd(0.1),
        log=0,
        loss_scale=static_scale(float("inf")),
    ).run(regression)
    np.testing.assert_array_equal(overflowing["w"], np.zeros((2, 1)))  # every step skipped
    with pytest.raises(TypeError, match="loss_scale"):
        axon.loop.trainer(linear_pair(), "mean_squared_error", optax.sgd(0.1), loss_scale=2.0)
