"""trainer / evaluator / validate / log_to / checkpoint with a plain (init, apply) model.

The tests(loop) session installs no other axon package than axon-functional, so the
tests of names owned by axon-optim / axon-loggers run there (and are skipped where those
packages are installed: the integration tests cover the names then).
"""

import importlib.util

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import axon.loop
from axon.loop.checkpoint import OrbaxBackend


def test_trainer_matches_a_hand_written_optax_loop(linear, regression_batches):
    init, apply = linear
    optimizer = optax.adam(1e-2)
    trained = axon.loop.trainer(linear, "mean_squared_error", optimizer, log=0).run(
        regression_batches, epochs=3
    )
    # the same computation written by hand
    init_key, _ = jax.random.split(jax.random.key(0))
    params = init(init_key, regression_batches[0][0])
    opt_state = optimizer.init(params)
    for _ in range(3):
        for x, y in regression_batches:

            def objective(p, x=x, y=y):
                return jnp.mean((apply(p, x, mode="train", key=None)[0] - y) ** 2)

            grads = jax.grad(objective)(params)
            updates, opt_state = optimizer.update(grads, opt_state, params)
            params = optax.apply_updates(params, updates)
    jax.tree_util.tree_map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), trained, params
    )


def test_trainer_learns_and_tracks_loss(linear, regression_batches):
    loop = axon.loop.trainer(linear, "mean_squared_error", optax.adam(5e-2), log=0)
    state = loop.replace(output_transform=None).run(regression_batches, epochs=30)
    losses = [float(m["loss"]) for m in state.history.values()]
    assert losses[-1] < 0.01 * losses[0]


def test_trainer_accepts_loss_functions_and_weighted_lists(linear, regression_batches):
    def mse(y_true, y_pred):
        return (y_true - y_pred) ** 2

    axon.loop.trainer(linear, mse, optax.sgd(0.01), log=0).run(regression_batches)
    with pytest.raises(TypeError, match="loss is a name"):
        axon.loop.trainer(linear, 3, optax.sgd(0.01))


def test_unknown_names_are_explained(linear):
    with pytest.raises(LookupError, match="Did you mean 'mean_squared_error'"):
        axon.loop.trainer(linear, "mean_squared_eror", optax.sgd(0.1))
    with pytest.raises(TypeError, match=r"optax\.GradientTransformation"):
        axon.loop.trainer(linear, "mean_squared_error", 0.1)
    with pytest.raises(TypeError, match=r"pair \(init_fn, apply_fn\)"):
        axon.loop.trainer("mlp", "mean_squared_error", optax.sgd(0.1))


@pytest.mark.skipif(
    importlib.util.find_spec("axon.optim") is not None, reason="axon-optim is installed here"
)
def test_optimizer_names_need_axon_optim(linear):
    with pytest.raises(ImportError, match=r"pip install axon-optim.*optax\.GradientTransformation"):
        axon.loop.trainer(linear, "mean_squared_error", "adam")


@pytest.mark.skipif(
    importlib.util.find_spec("axon.loggers") is not None, reason="axon-loggers is installed here"
)
def test_logger_names_need_axon_loggers(linear):
    loop = axon.loop.trainer(linear, "mean_squared_error", optax.sgd(0.1))
    with pytest.raises(ImportError, match=r"pip install axon-loggers"):
        loop.log_to("tensorboard", logdir="unused")


def test_bad_batches_are_explained(linear):
    loop = axon.loop.trainer(linear, "mean_squared_error", optax.sgd(0.1), log=0)
    with pytest.raises(TypeError, match=r"\(inputs, targets\).*length 3"):
        loop.run([(jnp.ones((2, 3)), jnp.ones((2, 1)), jnp.ones(2))])


def test_evaluator_and_validate(linear, regression_batches):
    params = axon.loop.trainer(linear, "mean_squared_error", optax.adam(5e-2), log=0).run(
        regression_batches, epochs=20
    )
    result = (
        axon.loop.evaluator(linear).metric("mean_absolute_error").run(regression_batches, params)
    )
    assert list(result) == [0] and float(result[0]["mean_absolute_error"]) < 0.2

    seen = []
    state = (
        axon.loop.trainer(linear, "mean_squared_error", optax.adam(5e-2), log=0)
        .metric("mean_absolute_error")
        .handle_event("epoch_completed", lambda s: seen.append(sorted(s.metrics)))
        .validate(linear, regression_batches[:2])
        .replace(output_transform=None)
        .run(regression_batches, epochs=2)
    )
    expected = ["loss", "mean_absolute_error", "validation_loss", "validation_mean_absolute_error"]
    assert seen == [expected, expected]  # validation ran before the earlier-attached handler
    assert sorted(state.history[1]) == expected


def test_log_to_sends_train_and_epoch_scalars(linear, regression_batches, recording_logger):
    axon.loop.trainer(linear, "mean_squared_error", optax.sgd(0.01), log=0).log_to(
        recording_logger, every=2
    ).run(regression_batches, epochs=2)
    steps = [step for step, _ in recording_logger.scalars]
    assert steps == [2, 4, 4, 6, 8, 8]
    assert set(recording_logger.scalars[0][1]) == {"train/loss"}
    assert set(recording_logger.scalars[2][1]) == {"epoch/loss"}
    # the caller's logger object is flushed every epoch and at the end, never closed
    assert recording_logger.flushes == 3 and not recording_logger.closed


def test_log_to_rejects_objects_that_are_not_loggers():
    loop = axon.loop.loop(lambda b, s: s)
    with pytest.raises(TypeError, match="lacks"):
        loop.log_to(object())


def test_checkpoints_keep_n_and_hold_the_whole_loop_state(linear, regression_batches, tmp_path):
    state = (
        axon.loop.trainer(linear, "mean_squared_error", optax.adam(1e-2), log=0)
        .checkpoint(path=tmp_path / "ckpt", keep=2)
        .replace(output_transform=None)
        .run(regression_batches, epochs=3)
    )
    backend = OrbaxBackend(tmp_path / "ckpt")
    assert backend.steps() == [8, 12]
    like = {"step_state": state.step_state, "metric_state": state.metric_state}
    restored, metadata = backend.restore(like=like)
    assert (metadata["epoch"], metadata["iteration"], metadata["epoch_done"]) == (2, 12, True)
    assert metadata["metrics"]["loss"] == pytest.approx(float(state.history[2]["loss"]))
    assert backend.metadata() == metadata
    jax.tree_util.tree_map(np.testing.assert_array_equal, restored["step_state"], state.step_state)
    backend.close()


def test_unknown_checkpoint_backend(linear):
    with pytest.raises(LookupError, match=r"Unknown checkpoint backend .s3.\. Known .*orbax"):
        axon.loop.trainer(linear, "mean_squared_error", optax.sgd(0.1)).checkpoint(backend="s3")


class FakeTensor:
    """What a torch.utils.data.DataLoader yields: an array-like with __array__."""

    def __init__(self, array):
        self._array = np.asarray(array)

    def __array__(self, dtype=None, copy=None):
        return self._array if dtype is None else self._array.astype(dtype)


def test_batches_of_foreign_tensors_and_dicts(linear, regression_batches):
    as_tensors = [(FakeTensor(x), FakeTensor(y)) for x, y in regression_batches]
    as_dicts = [{"inputs": x, "targets": y} for x, y in regression_batches]
    trainer = axon.loop.trainer(linear, "mean_squared_error", optax.sgd(0.05), log=0)
    reference = trainer.run(regression_batches, epochs=2)
    for data in (as_tensors, as_dicts):
        jax.tree_util.tree_map(
            np.testing.assert_array_equal, trainer.run(data, epochs=2), reference
        )
    with pytest.raises(TypeError, match="cannot become an array"):
        trainer.run([(object(), object())])


def test_targets_that_do_not_fit_the_output_are_explained(linear, regression_batches):
    flat = [(x, y[:, 0]) for x, y in regression_batches]  # (16,) targets, (16, 1) predictions
    loop = axon.loop.trainer(linear, "mean_squared_error", optax.sgd(0.1), log=0)
    with pytest.raises(
        ValueError,
        match=r"targets have shape\(s\) \[\(16,\)\] but the model predicts \[\(16, 1\)\]",
    ):
        loop.run(flat)


# --- how targets reach losses and metrics ---------------------------------------------------


def squared_error(y_true, y_pred):  # a custom loss with no shape check of its own
    return (y_true - y_pred) ** 2


def test_a_loss_function_gets_targets_aligned_to_the_predictions(linear, regression_batches):
    """Keras's rule: (n,) targets against (n, 1) predictions are reshaped, not broadcast
    (before, the function computed an (n, n) loss and trained on it)."""
    flat = [(x, y[:, 0]) for x, y in regression_batches]  # (16,) targets, (16, 1) predictions
    trainer = axon.loop.trainer(linear, squared_error, optax.sgd(0.05), log=0)
    reference = trainer.replace(output_transform=None).run(regression_batches, epochs=2)
    aligned = trainer.replace(output_transform=None).run(flat, epochs=2)
    jax.tree_util.tree_map(
        np.testing.assert_array_equal,
        aligned.step_state["model_state"],
        reference.step_state["model_state"],
    )
    assert float(aligned.history[1]["loss"]) == float(reference.history[1]["loss"])


def test_a_loss_function_that_would_broadcast_is_refused_before_training(
    linear, regression_batches
):
    rows = [(x, y.T) for x, y in regression_batches]  # (1, 16) targets vs (16, 1): (16, 16)
    trainer = axon.loop.trainer(linear, squared_error, optax.sgd(0.05), log=0)
    with pytest.raises(
        ValueError,
        match=r"The loss function 'squared_error' does not fit the data: .* It would broadcast "
        r"targets of shape "
        r"\(1, 16\) against predictions of shape \(16, 1\) into \(16, 16\)",
    ):
        trainer.run(rows)
    # a trailing size-1 axis too many is aligned, whichever side has it
    deep = [(x, y[:, :, None]) for x, y in regression_batches]  # (16, 1, 1) vs (16, 1)
    trainer.run(deep)


def test_structured_targets_and_outputs_reach_a_loss_function_as_they_are():
    from axon.loop._targets import align_targets

    class Outputs(dict):  # like axon.model's structured outputs: a .shape of shapes
        @property
        def shape(self):
            return {key: value.shape for key, value in self.items()}

    targets, outputs = jnp.ones((4, 3)), Outputs(mean=jnp.ones((4, 1)), image=jnp.ones((4, 3)))
    assert align_targets("The loss", targets, outputs) is targets
    pair = (jnp.ones(4), jnp.ones((4, 1)))
    assert align_targets("The loss", pair, jnp.ones((4, 1))) is pair


def classifier():
    def init(key, x):
        return {"w": jax.random.normal(key, (x.shape[-1], 4)) * 0.1}

    def apply(params, x, *, mode, key):
        return jax.nn.softmax(x @ params["w"]), None

    return init, apply


def class_batches():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(64, 5)).astype(np.float32)
    labels = np.argmax(x[:, :4], axis=-1)  # learnable: the largest of the first 4 features
    return [(x[i : i + 16], labels[i : i + 16]) for i in range(0, 64, 16)]


def test_class_ids_train_with_the_sparse_names_like_one_hot_targets():
    one_hot = [(x, np.eye(4, dtype=np.float32)[ids]) for x, ids in class_batches()]
    dense = (
        axon.loop.trainer(classifier(), "categorical_cross_entropy", optax.adam(0.1), log=0)
        .metric("accuracy")
        .replace(output_transform=None)
        .run(one_hot, epochs=3)
    )
    sparse = (
        axon.loop.trainer(classifier(), "sparse_categorical_cross_entropy", optax.adam(0.1), log=0)
        .metric("sparse_categorical_accuracy", "accuracy")
        .replace(output_transform=None)
        .run(class_batches(), epochs=3)
    )
    for name in ("loss", "accuracy"):
        assert float(sparse.history[2][name]) == pytest.approx(float(dense.history[2][name]))
    assert float(sparse.history[2]["accuracy"]) > 0.5


def test_class_ids_with_a_one_hot_loss_or_metric_name_the_sparse_names():
    """Before, .metric("accuracy") broadcast the labels' argmax and reported ~0.1 for a
    model at 0.5; now both the loss and the metric refuse before training."""
    trainer = axon.loop.trainer(classifier(), "categorical_cross_entropy", optax.adam(0.1), log=0)
    with pytest.raises(
        ValueError, match=r"targets have shape\(s\) \[\(16,\)\] but the model predicts"
    ) as error:
        trainer.run(class_batches())
    assert "'sparse_categorical_cross_entropy'" in str(error.value)
    sparse_loss = axon.loop.trainer(
        classifier(), "sparse_categorical_cross_entropy", optax.adam(0.1), log=0
    )
    with pytest.raises(ValueError, match=r"accuracy: .*'sparse_categorical_accuracy'"):
        sparse_loss.metric("accuracy").run(class_batches())


def test_a_sparse_loss_function_gets_class_ids_as_they_are():
    def sparse_cross_entropy(labels, probabilities):
        return -jnp.log(jnp.take_along_axis(probabilities, labels[:, None], axis=-1))

    state = (
        axon.loop.trainer(classifier(), sparse_cross_entropy, optax.adam(0.1), log=0)
        .metric("sparse_categorical_accuracy")
        .replace(output_transform=None)
        .run(class_batches(), epochs=3)
    )
    assert float(state.history[2]["sparse_categorical_accuracy"]) > 0.5


def test_a_metric_function_gets_targets_aligned_like_the_loss(linear, regression_batches):
    def mean_error(y_true, y_pred):
        return jnp.mean(jnp.abs(y_true - y_pred))

    flat = [(x, y[:, 0]) for x, y in regression_batches]
    trainer = (
        axon.loop.trainer(linear, squared_error, optax.sgd(0.05), log=0)
        .metric(mean_error)
        .metric("mean_absolute_error", transform=lambda s: (s["y_true"], s["y_pred"][:, 0]))
        .replace(output_transform=None)
    )
    state = trainer.run(flat)
    assert float(state.metrics["mean_error"]) == pytest.approx(
        float(state.metrics["mean_absolute_error"]), rel=1e-6
    )
    rows = [(x, y.T) for x, y in regression_batches]  # (1, 16) vs (16, 1)
    params = state.step_state["model_state"]
    with pytest.raises(ValueError, match=r"The metric 'mean_error' would broadcast"):
        axon.loop.evaluator(linear).metric(mean_error).run(rows, params)


def test_run_seed_overrides_the_trainer_seed(linear, regression_batches):
    trainer = axon.loop.trainer(linear, "mean_squared_error", optax.sgd(0.0), log=0)
    default = trainer.run(regression_batches)
    assert np.array_equal(trainer.run(regression_batches, seed=0)["w"], default["w"])
    assert not np.array_equal(trainer.run(regression_batches, seed=7)["w"], default["w"])
    with pytest.raises(TypeError, match="init_fn takes a seed"):
        axon.loop.loop(lambda b, s: s, lambda b, i: i).run([1], 0, seed=3)


def two_heads():
    def init(key, x):
        return {"a": jnp.zeros((x.shape[-1], 1)), "b": jnp.zeros((x.shape[-1], 1))}

    def apply(params, x, *, mode, key):
        return {"up": x @ params["a"], "down": x @ params["b"]}, None

    return init, apply


def test_a_dict_of_losses_that_does_not_fit_is_reported_before_training(regression_batches):
    flat_down = [(x, {"up": y, "down": y[:, 0]}) for x, y in regression_batches]
    loop = axon.loop.trainer(
        two_heads(), {"up": "mean_squared_error", "down": "mean_absolute_error"},
        optax.sgd(0.1), log=0,
    )  # fmt: skip
    with pytest.raises(
        ValueError,
        match=r"The dict of losses does not fit the data: the targets have shape\(s\) .* "
        r"mean_absolute_error: y_true and y_pred must have the same shape, got \(16,\)",
    ):
        loop.run(flat_down)


def test_dict_outputs_take_a_dict_of_losses(regression_batches):
    data = [(x, {"up": y, "down": -y}) for x, y in regression_batches]
    losses = {"up": "mean_squared_error", "down": ("mean_absolute_error", 0.5)}
    loop = axon.loop.trainer(two_heads(), losses, optax.adam(5e-2), log=0)
    state = loop.replace(output_transform=None).run(data, epochs=20)
    assert float(state.history[19]["loss"]) < 0.2 * float(state.history[0]["loss"])
    with pytest.raises(ValueError, match="Pass a dict"):
        axon.loop.trainer(two_heads(), [("mean_squared_error", 1.0)] * 2, optax.sgd(0.1)).run(data)
    with pytest.raises(ValueError, match=r"outputs are \['down', 'up'\]"):
        axon.loop.trainer(two_heads(), {"up": "mean_squared_error"}, optax.sgd(0.1)).run(data)
