"""early_stop(restore_best=True): the run ends with the model state of its best epoch, bit for
bit, also when it was killed and resumed from a checkpoint."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import axon.loop

#: The slope of each epoch's training targets: the model follows it, so the validation loss
#: (slope 2) is best after epoch 1, then grows; patience 2 halts the run after epoch 3.
SLOPES = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
BEST_EPOCH, HALTED_EPOCH, BATCHES = 1, 3, 4


def pair():
    init = lambda key, x: {"w": jnp.zeros((x.shape[-1], 1))}  # noqa: E731
    apply = lambda params, x, *, mode, key: (x @ params["w"], None)  # noqa: E731
    return init, apply


def inputs(seed):
    return np.random.default_rng(seed).normal(size=(8 * BATCHES, 2)).astype(np.float32)


def train_data(epoch):
    x = inputs(epoch)
    y = x @ np.full((2, 1), SLOPES[epoch], np.float32)
    return [(x[i : i + 8], y[i : i + 8]) for i in range(0, len(x), 8)]


def validation_data():
    x = inputs(100)
    return [(x, x @ np.full((2, 1), 2.0, np.float32))]


def stopping(**options):
    return (
        axon.loop.trainer(pair(), "mean_squared_error", optax.adam(0.3), log=0)
        .validate(pair(), validation_data())
        .early_stop("validation_loss", patience=2, restore_best=True, **options)
    )


def remember_epochs(loop, kept):
    """``loop`` copying each epoch's model state to the host into ``kept[epoch]``."""

    def remember(state):
        kept[state.epoch] = jax.tree_util.tree_map(np.asarray, state.step_state["model_state"])

    return loop.handle_event("epoch_completed", remember)


def assert_bitwise_equal(a, b):
    jax.tree_util.tree_map(np.testing.assert_array_equal, a, b)


def test_the_run_returns_the_model_state_of_its_best_epoch():
    kept = {}
    state = remember_epochs(stopping().replace(output_transform=None), kept).run(
        train_data, epochs=len(SLOPES)
    )
    losses = [float(state.history[epoch]["validation_loss"]) for epoch in sorted(state.history)]
    assert (state.status, state.epoch) == ("halted", HALTED_EPOCH)
    assert int(np.argmin(losses)) == BEST_EPOCH
    assert_bitwise_equal(state.step_state["model_state"], kept[BEST_EPOCH])
    assert not np.array_equal(kept[BEST_EPOCH]["w"], kept[HALTED_EPOCH]["w"])  # not the last
    assert state.handler_metadata["early_stop:validation_loss"]["best"] == min(losses)

    model_state = stopping().run(train_data, epochs=len(SLOPES))  # what a trainer returns
    assert_bitwise_equal(model_state, kept[BEST_EPOCH])


def test_a_completed_run_also_ends_with_its_best_model_state():
    kept = {}
    model_state = remember_epochs(stopping(), kept).run(train_data, epochs=3)  # no halt
    assert_bitwise_equal(model_state, kept[BEST_EPOCH])


def test_relaunching_a_finished_run_with_resume_auto_returns_its_best_model_state(tmp_path):
    job = stopping().checkpoint(tmp_path / "ck")
    first = job.run(train_data, epochs=3, resume="auto")  # completes: best is epoch 1, not 2
    again = job.run(train_data, epochs=3, resume="auto")  # nothing to run
    assert_bitwise_equal(again, first)


class Killed(Exception):
    pass


EVERY_3 = {"event": "iteration_completed", "filter": {"every": 3}}


@pytest.mark.parametrize(
    ("checkpoints", "checkpoint_first", "killed_at", "resumed_from"),
    [
        (EVERY_3, False, 6, 6),
        (EVERY_3, False, 11, 9),
        (EVERY_3, True, 13, 12),
        ({}, False, 10, 8),  # the checkpoint of the best epoch's end
        ({}, True, 10, 8),  # the same checkpoint, attached before early_stop
        ({}, True, 13, 12),
    ],
)
def test_a_killed_and_resumed_run_returns_the_same_best_model_state(
    tmp_path, checkpoints, checkpoint_first, killed_at, resumed_from
):
    kept = {}
    straight = remember_epochs(stopping(), kept).run(train_data, epochs=len(SLOPES))

    def make():
        loop = axon.loop.trainer(pair(), "mean_squared_error", optax.adam(0.3), log=0)
        loop = loop.validate(pair(), validation_data())
        if checkpoint_first:  # early_stop's bookkeeping still comes before a checkpoint
            loop = loop.checkpoint(tmp_path / "ck", **checkpoints)
        loop = loop.early_stop("validation_loss", patience=2, restore_best=True)
        return loop if checkpoint_first else loop.checkpoint(tmp_path / "ck", **checkpoints)

    def kill(state):
        if state.iteration == killed_at:
            raise Killed

    with pytest.raises(Killed):
        make().handle_event("iteration_completed", kill).run(train_data, epochs=len(SLOPES))
    resumed = make().replace(output_transform=None)
    state = resumed.run(train_data, epochs=len(SLOPES), resume_from=tmp_path / "ck")
    assert state.resumed_from == resumed_from
    assert (state.status, state.epoch) == ("halted", HALTED_EPOCH)
    assert_bitwise_equal(state.step_state["model_state"], straight)
    assert_bitwise_equal(straight, kept[BEST_EPOCH])


def test_a_metric_that_never_improves_leaves_the_last_model_state():
    kept = {}
    never = (
        axon.loop.trainer(pair(), "mean_squared_error", optax.adam(0.3), log=0)
        .metric(lambda y_true, y_pred: jnp.float32(jnp.nan), "nan")
        .early_stop("nan", patience=10, restore_best=True)
    )
    model_state = remember_epochs(never, kept).run(train_data, epochs=2)
    assert_bitwise_equal(model_state, kept[1])


def test_the_best_copy_lives_in_the_step_state_and_run_seed_still_works():
    state = stopping().replace(output_transform=None).run(train_data, epochs=2, seed=3)
    assert sorted(state.step_state) == sorted(
        ["best_model_state", "key", "loss", "model_state", "optimizer_state", "step", "y_pred",
         "y_true"]
    )  # fmt: skip
    assert_bitwise_equal(state.step_state["best_model_state"], state.step_state["model_state"])


def test_restore_best_is_given_to_one_early_stop_only():
    with pytest.raises(ValueError, match="one early_stop"):
        stopping().early_stop("loss", restore_best=True)


def test_restore_best_needs_a_loop_that_builds_a_step_state_with_a_model_state():
    counter = axon.loop.loop(lambda batch, total: total + batch.sum())
    with pytest.raises(TypeError, match="init_fn"):
        counter.early_stop("loss", restore_best=True)
    counting = axon.loop.loop(lambda batch, total: total + batch.sum(), lambda batch, init: init)
    counting = counting.metric(lambda t: t, "total", transform=lambda s: (s,))
    with pytest.raises(KeyError, match="model_state"):
        counting.early_stop("total", restore_best=True).run([jnp.ones(2)], jnp.float32(0))
