"""Every entry of axon-example-plugin, used by name through the public axon APIs.

These tests never import ``axon_example_plugin`` to get at an entry: they look it
up by name, which only works if the installed distribution's entry points are
found. ``nox -s plugins`` runs them against wheels, not a source checkout.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import axon.functional
import axon.loggers
import axon.loop
import axon.model
import axon.optim

PLUGIN = "axon-example-plugin"


@pytest.mark.parametrize(
    ("registry", "name"),
    [
        (axon.functional.plugins.activations, "squareplus"),
        (axon.functional.plugins.metrics, "root_mean_squared_error"),
        (axon.model.plugins.layers, "scale"),
        (axon.optim.plugins.optimizers, "sign_sgd"),
        (axon.loggers.plugins.loggers, "textfile"),
        (axon.loop.plugins.checkpoint_backends, "npz"),
    ],
)
def test_each_entry_is_provided_by_the_plugin_distribution(registry, name):
    assert name in registry.names()
    assert registry.provider(name).startswith(f"{PLUGIN} 0.1.0 (axon_example_plugin.")


# -- axon-functional ------------------------------------------------------------------------


def test_squareplus_by_name():
    squareplus = axon.functional.activations.get("squareplus")
    x = jnp.array([-3.0, 0.0, 1.5])
    expected = (np.array([-3.0, 0.0, 1.5]) + np.sqrt(np.array([9.0, 0.0, 2.25]) + 4.0)) / 2
    np.testing.assert_allclose(squareplus(x), expected, rtol=1e-6)
    assert float(squareplus(jnp.float32(0.0))) == pytest.approx(1.0)  # sqrt(b) / 2
    assert float(squareplus(jnp.float32(0.0), b=16.0)) == pytest.approx(2.0)
    assert float(squareplus(jnp.float32(-2.0), b=0.0)) == 0.0  # b = 0 is ReLU


def test_root_mean_squared_error_by_name():
    rmse = axon.functional.metrics.get("root_mean_squared_error")
    y_true = jnp.array([[1.0, 2.0], [3.0, 4.0]])
    y_pred = jnp.array([[1.0, 0.0], [3.0, 8.0]])
    assert float(rmse(y_true, y_pred)) == pytest.approx(np.sqrt((4.0 + 16.0) / 4))
    assert rmse(y_true, y_pred).shape == ()


# -- axon-model -----------------------------------------------------------------------------


def test_scale_layer_as_a_chained_method():
    model = axon.model.input("x", shape=(None, 3)).scale()
    init_fn, predict_fn = axon.model.build(model)
    state = init_fn(0, jnp.zeros((1, 3)))
    (layer_name,) = state.params
    assert state.params[layer_name]["scale"].shape == ()
    x = jnp.array([[1.0, -2.0, 3.0]])
    np.testing.assert_allclose(predict_fn(state, x), x)  # initialized to ones
    doubled = state.replace(params={layer_name: {"scale": jnp.float32(2.0)}})
    np.testing.assert_allclose(predict_fn(doubled, x), 2 * x)


def test_scale_layer_from_the_registry_with_options():
    scale = axon.model.layers.get("scale")
    model = scale(axon.model.input("x", shape=(None, 2)), name="gain", initializer="zeros")
    state = model.init(0, jnp.zeros((1, 2)))
    assert float(state.params["gain"]["scale"]) == 0.0
    np.testing.assert_allclose(axon.model.predict(model, state, jnp.ones((4, 2))), 0.0)


def test_dense_with_the_plugin_activation_by_name():
    model = axon.model.input("x", shape=(None, 3)).dense(4, activation="squareplus")
    state = model.init(0, jnp.zeros((1, 3)))
    x = jnp.array([[0.5, -1.0, 2.0], [0.0, 0.0, 0.0]])
    (dense,) = (p for p in state.params.values() if "kernel" in p)
    pre_activation = x @ dense["kernel"] + dense["bias"]
    expected = (pre_activation + jnp.sqrt(pre_activation**2 + 4.0)) / 2
    np.testing.assert_allclose(axon.model.predict(model, state, x), expected, rtol=1e-6)


# -- axon-optim -----------------------------------------------------------------------------


def test_sign_sgd_by_name_steps_by_the_gradient_sign():
    optimizer = axon.optim.get("sign_sgd", learning_rate=0.1)
    params = {"w": jnp.array([1.0, -2.0, 0.5]), "b": jnp.float32(3.0)}
    grads = {"w": jnp.array([0.003, -50.0, 0.0]), "b": jnp.float32(-1e-4)}
    state = optimizer.init(params)
    assert float(state.hyperparams["learning_rate"]) == pytest.approx(0.1)
    updates, state = optimizer.update(grads, state, params)
    new = optax.apply_updates(params, updates)
    # Hand-computed: params - 0.1 * sign(grads), whatever the gradients' size.
    np.testing.assert_allclose(new["w"], [0.9, -1.9, 0.5], rtol=1e-6)
    assert float(new["b"]) == pytest.approx(3.1)


def test_sign_sgd_rejects_unknown_options_and_bad_learning_rates():
    with pytest.raises(TypeError, match="sign_sgd"):
        axon.optim.get("sign_sgd", momentum=0.9)
    with pytest.raises(ValueError, match="learning_rate"):
        axon.optim.get("sign_sgd", learning_rate=-1.0)


# -- axon-loggers ---------------------------------------------------------------------------


def test_textfile_logger_by_name_appends_one_line_per_call(tmp_path):
    with axon.loggers.create("textfile", logdir=tmp_path / "run") as logger:
        assert isinstance(logger, axon.loggers.Logger)
        logger.log_scalars({"loss": np.float32(0.5), "accuracy": jnp.float32(0.25)}, step=1)
        logger.log_scalars({"loss": 0.125}, step=2)
        logger.log_histogram("weights", np.arange(4.0), step=2)  # accepted, not shown
        logger.log_text("note", "two\nlines", step=2)
    lines = (tmp_path / "run" / "metrics.log").read_text().splitlines()
    assert lines == [
        "step 1: loss=0.5 accuracy=0.25",
        "step 2: loss=0.125",
        "step 2: note: 'two\\nlines'",
    ]
    with pytest.raises(RuntimeError, match="closed"):
        logger.log_scalars({"loss": 1.0}, step=3)


def test_textfile_logger_appends_to_an_existing_log(tmp_path):
    for step in (1, 2):
        with axon.loggers.create("textfile", logdir=tmp_path) as logger:
            logger.log_scalars({"loss": float(step)}, step=step)
    assert (tmp_path / "metrics.log").read_text() == "step 1: loss=1\nstep 2: loss=2\n"


# -- axon-loop ------------------------------------------------------------------------------


def _nested_tree(value: float) -> dict:
    return {
        "params": {"dense": {"kernel": jnp.full((2, 3), value), "bias": jnp.zeros(3)}},
        "count": jnp.int32(int(value)),
        "half": jnp.full((2,), value, jnp.bfloat16),
        "pair": (jnp.arange(3, dtype=jnp.uint32), jnp.array([True, False])),
    }


def test_npz_backend_round_trips_a_nested_pytree(tmp_path):
    backend = axon.loop.checkpoint.get("npz")(tmp_path / "ckpt")
    tree = _nested_tree(1.5)
    backend.save(7, tree, {"epoch": 2, "metrics": {"loss": 0.25}})
    restored, metadata = backend.restore(like=jax.tree_util.tree_map(jnp.zeros_like, tree))
    assert metadata == {"epoch": 2, "metrics": {"loss": 0.25}}
    assert jax.tree_util.tree_structure(restored) == jax.tree_util.tree_structure(tree)
    for got, want in zip(
        jax.tree_util.tree_leaves(restored), jax.tree_util.tree_leaves(tree), strict=True
    ):
        assert isinstance(got, jax.Array)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == ["step_7.json", "step_7.npz"]
    backend.close()


def test_npz_backend_keeps_the_newest_steps_and_restores_any_of_them(tmp_path):
    backend = axon.loop.checkpoint.get("npz")(tmp_path, keep=2)
    for step in (10, 20, 30):
        backend.save(step, _nested_tree(step), {"step": step})
    assert backend.steps() == [20, 30]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "step_20.json",
        "step_20.npz",
        "step_30.json",
        "step_30.npz",
    ]
    like = _nested_tree(0)
    latest, metadata = backend.restore(like=like)
    assert metadata == {"step": 30}
    assert float(latest["params"]["dense"]["kernel"][0, 0]) == 30.0
    older, _ = backend.restore(20, like=like)
    assert int(older["count"]) == 20
    with pytest.raises(FileNotFoundError, match="saved steps: \\[20, 30\\]"):
        backend.restore(10, like=like)


def test_npz_backend_refuses_a_tree_of_another_structure(tmp_path):
    backend = axon.loop.checkpoint.get("npz")(tmp_path)
    with pytest.raises(FileNotFoundError, match="No checkpoint"):
        backend.restore(like={"w": jnp.zeros(2)})
    backend.save(1, {"w": jnp.zeros(2)}, {})
    with pytest.raises(ValueError, match="holds the leaves"):
        backend.restore(like={"v": jnp.zeros(2)})
    with pytest.raises(ValueError, match="shape"):
        backend.restore(like={"w": jnp.zeros(3)})


def test_npz_backend_rejects_bad_keep_and_metadata(tmp_path):
    factory = axon.loop.checkpoint.get("npz")
    with pytest.raises(ValueError, match="keep"):
        factory(tmp_path, keep=0)
    backend = factory(tmp_path)
    with pytest.raises(TypeError, match="JSON"):
        backend.save(1, {"w": jnp.zeros(2)}, {"loss": float("nan")})
    assert backend.steps() == []
    assert list(tmp_path.iterdir()) == []  # nothing half-written is left behind


def test_npz_backend_directory_belongs_to_one_run(tmp_path):
    factory = axon.loop.checkpoint.get("npz")
    first = factory(tmp_path, keep=1, run_id="first")
    first.save(1, {"w": jnp.zeros(2)}, {})
    with pytest.raises(axon.loop.checkpoint.CheckpointDirectoryError, match="another run"):
        factory(tmp_path, run_id="second")
    assert factory(tmp_path, run_id="first").steps() == [1]  # the same run continues
    second = factory(tmp_path, keep=1, run_id="second", overwrite=True)
    assert second.steps() == []
    second.save(2, {"w": jnp.ones(2)}, {})
    (tmp_path / "step_2.json").write_text(
        (tmp_path / "step_2.json").read_text().replace('"second"', '"third"')
    )
    second.save(3, {"w": jnp.ones(2)}, {})
    assert second.steps() == [2, 3]  # keep=1 deleted nothing: step 2 is not this run's


# -- all six together -----------------------------------------------------------------------


def test_training_with_every_plugin_entry_by_name(tmp_path):
    # A simple regression y = x @ w_true, learned by dense(1) followed by the scale layer.
    w_true = jnp.array([[1.5], [-2.0], [0.5]])
    key = jax.random.key(0)
    batches = []
    for _ in range(20):
        key, sub = jax.random.split(key)
        x = jax.random.normal(sub, (16, 3))
        batches.append((x, x @ w_true))
    model = axon.model.input("x", shape=(None, 3)).dense(1).scale()

    loop = (
        axon.loop.trainer(model, "mean_squared_error", "sign_sgd", log=0)
        .metric("root_mean_squared_error")
        .log_to("textfile", logdir=tmp_path / "logs", every=1)
        .checkpoint(path=tmp_path / "ckpt", backend="npz", keep=2)
    )
    # Without the output transform, run() returns the whole loop State.
    state = loop.replace(output_transform=None).run(batches, epochs=3)

    losses = [float(state.history[epoch]["loss"]) for epoch in range(3)]
    assert losses[2] < losses[1] < losses[0]
    rmse = [float(state.history[epoch]["root_mean_squared_error"]) for epoch in range(3)]
    assert rmse[2] < rmse[0]

    lines = (tmp_path / "logs" / "metrics.log").read_text().splitlines()
    assert len(lines) == 3 * (20 + 1)  # every iteration, plus one line per epoch
    assert lines[0].startswith("step 1: train/loss=")
    assert "train/root_mean_squared_error=" in lines[0]
    assert lines[-1].startswith("step 60: epoch/loss=")

    backend = axon.loop.checkpoint.get("npz")(tmp_path / "ckpt")
    assert backend.steps() == [40, 60]  # saved after each epoch, the oldest one dropped
    like = {"step_state": state.step_state, "metric_state": state.metric_state}
    restored, metadata = backend.restore(like=like)
    assert metadata == backend.metadata(60)
    assert metadata["epoch"] == 2 and metadata["iteration"] == 60
    assert metadata["metrics"]["loss"] == pytest.approx(losses[2])
    leaves_equal = jax.tree_util.tree_map(
        lambda a, b: bool(jnp.array_equal(a, b)), restored["step_state"], state.step_state
    )
    assert all(jax.tree_util.tree_leaves(leaves_equal))

    # the loop resumes from the plugin's backend exactly as from orbax
    resumed = loop.replace(output_transform=None).run(batches, epochs=4, resume_from=backend)
    assert resumed.resumed_from == 60 and resumed.iteration == 80
