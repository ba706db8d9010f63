"""Exact resume: a run interrupted anywhere and resumed equals an uninterrupted one, bitwise."""

import jax
import numpy as np
import optax
import pytest

import axon.loop
from axon.loop.checkpoint import CheckpointCorruptedError, CheckpointDirectoryError, OrbaxBackend


class Interrupted(Exception):
    pass


def shuffled_batches(epoch):
    """Batches whose order depends only on the epoch, as exact resume requires."""
    rng = np.random.default_rng(1000 + epoch)
    x = np.random.default_rng(0).normal(size=(80, 3)).astype(np.float32)
    y = x @ np.array([[1.0], [-2.0], [0.5]], np.float32)
    order = rng.permutation(80)
    return [(x[order[i : i + 16]], y[order[i : i + 16]]) for i in range(0, 80, 16)]


def trainer(linear):
    # dropout-like randomness: the loss depends on the PRNG key carried in the step state
    def noisy_mse(y_true, y_pred):
        return ((y_true - y_pred) ** 2).mean()

    return (
        axon.loop.trainer(linear, noisy_mse, optax.adam(1e-2), log=0)
        .metric("mean_absolute_error")
        .replace(output_transform=None)
    )


def interrupt_at(iteration):
    def handler(state):
        if state.iteration == iteration:
            raise Interrupted

    return handler


def assert_same_run(resumed, straight):
    jax.tree_util.tree_map(np.testing.assert_array_equal, resumed.step_state, straight.step_state)
    assert resumed.iteration == straight.iteration and resumed.epoch == straight.epoch
    assert sorted(resumed.history) == sorted(straight.history)
    for epoch in straight.history:
        for name, value in straight.history[epoch].items():
            np.testing.assert_array_equal(resumed.history[epoch][name], value)


@pytest.mark.parametrize("kill_at", [7, 10, 13])  # mid-epoch, at an epoch end, just after one
def test_killed_mid_epoch_and_resumed_equals_uninterrupted(linear, tmp_path, kill_at):
    straight = trainer(linear).run(shuffled_batches, epochs=3)
    checkpointing = trainer(linear).checkpoint(
        path=tmp_path / "ck", event="iteration_completed", filter={"every": 3}
    )
    with pytest.raises(Interrupted):
        checkpointing.handle_event("iteration_completed", interrupt_at(kill_at)).run(
            shuffled_batches, epochs=3
        )
    resumed = checkpointing.run(shuffled_batches, epochs=3, resume_from=tmp_path / "ck")
    assert resumed.resumed_from == 3 * (kill_at // 3)
    assert_same_run(resumed, straight)


def test_resume_after_an_epoch_checkpoint_and_train_further(linear, tmp_path):
    straight = trainer(linear).run(shuffled_batches, epochs=4)
    first = trainer(linear).checkpoint(path=tmp_path / "ck").run(shuffled_batches, epochs=2)
    assert first.epoch == 1
    resumed = trainer(linear).run(shuffled_batches, epochs=4, resume_from=tmp_path / "ck")
    assert_same_run(resumed, straight)
    with pytest.raises(ValueError, match="already finished epoch 3"):
        trainer(linear).checkpoint(path=tmp_path / "ck").run(
            shuffled_batches, epochs=4, resume_from=resumed
        )


def test_event_counts_and_handler_metadata_survive_a_resume(linear, tmp_path):
    def count_epochs(state):
        state.handler_metadata["epochs_seen"] = state.handler_metadata.get("epochs_seen", 0) + 1

    loop = (
        trainer(linear)
        .handle_event("epoch_completed", count_epochs)
        .checkpoint(path=tmp_path / "ck")
    )
    loop.run(shuffled_batches, epochs=2)
    resumed = loop.run(shuffled_batches, epochs=3, resume_from=tmp_path / "ck")
    assert resumed.handler_metadata["epochs_seen"] == 3
    assert resumed.event_counts["epoch_completed"] == 3
    assert resumed.event_counts["iteration_completed"]["total"] == 15


def test_serialize_deserialize_and_from_state(linear):
    straight = trainer(linear).run(shuffled_batches, epochs=2)
    first = trainer(linear).run(shuffled_batches, epochs=1)
    data = axon.loop.serialize_state(first)
    assert isinstance(data, bytes) and b"pickle" not in data[:100]
    restored = axon.loop.deserialize_state(data, like=first)
    resumed = trainer(linear).from_state(restored).run(shuffled_batches, epochs=2)
    assert_same_run(resumed, straight)
    np.asarray(restored.step_state["model_state"]["w"])  # still readable: not donated by the run


def test_a_checkpoint_of_another_model_is_refused_and_left_intact(linear, tmp_path):
    trainer(linear).checkpoint(path=tmp_path / "ck").run(shuffled_batches)
    files_before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    wider = [(np.concatenate([x, x], -1), y) for x, y in shuffled_batches(0)]
    with pytest.raises(ValueError, match="does not match this loop"):
        trainer(linear).run(lambda e: wider, epochs=2, resume_from=tmp_path / "ck")
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == files_before


def test_a_checkpoint_of_a_loop_with_other_options_names_the_entries(linear, tmp_path):
    trainer(linear).checkpoint(path=tmp_path / "ck").run(shuffled_batches)
    keeping_best = trainer(linear).early_stop("loss", restore_best=True)
    with pytest.raises(ValueError, match=r"only here: \['step_state'\]\['best_model_state'\]"):
        keeping_best.run(shuffled_batches, epochs=2, resume_from=tmp_path / "ck")


def test_a_truncated_checkpoint_is_an_error(linear, tmp_path):
    trainer(linear).checkpoint(path=tmp_path / "ck").run(shuffled_batches)
    for data_file in (tmp_path / "ck").rglob("*"):
        if (
            data_file.is_file()
            and data_file.stat().st_size > 200
            and "metadata" not in str(data_file)
        ):
            data_file.write_bytes(data_file.read_bytes()[:50])
    with pytest.raises(CheckpointCorruptedError, match=r"step 5 in .* is damaged"):
        trainer(linear).run(shuffled_batches, epochs=2, resume_from=tmp_path / "ck")


def test_resume_needs_the_same_data(linear, tmp_path):
    checkpointing = trainer(linear).checkpoint(
        path=tmp_path / "ck", event="iteration_completed", filter={"every": 4}
    )
    with pytest.raises(Interrupted):
        checkpointing.handle_event("iteration_completed", interrupt_at(4)).run(shuffled_batches)
    with pytest.raises(ValueError, match="has only 2 batches"):
        trainer(linear).run(lambda e: shuffled_batches(e)[:2], resume_from=tmp_path / "ck")


def test_nothing_to_resume_from(linear, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        trainer(linear).run(shuffled_batches, resume_from=OrbaxBackend(tmp_path / "empty"))


def test_checkpoint_metadata_describes_its_own_step(linear, tmp_path):
    trainer(linear).checkpoint(
        path=tmp_path / "ck", event="iteration_completed", filter={"every": 2}
    ).run(shuffled_batches, epochs=2)
    backend = OrbaxBackend(tmp_path / "ck")
    for step in backend.steps():
        metadata = backend.metadata(step)
        assert metadata["iteration"] == step
        assert metadata["event_counts"]["iteration_completed"]["total"] == step
        assert metadata["epoch_iterations"] == (step - 1) % 5 + 1
    backend.close()


# -- resume from any point -------------------------------------------------------------------


def short_last_batch(epoch):
    """Four batches per epoch, the last one of 8 examples instead of 16."""
    batches = shuffled_batches(epoch)
    x, y = batches[3]
    return [*batches[:3], (x[:8], y[:8])]


def test_resume_after_a_checkpoint_on_an_epochs_last_iteration(linear, tmp_path):
    # the ten lines: the newest checkpoint ends epoch 0, so no batch is left in it
    every_epoch_end = trainer(linear).checkpoint(
        path=tmp_path / "ck", event="iteration_completed", filter={"every": 5}
    )
    every_epoch_end.run(shuffled_batches, epochs=1)
    resumed = every_epoch_end.run(shuffled_batches, epochs=3, resume_from=tmp_path / "ck")
    assert resumed.resumed_from == 5 and sorted(resumed.history) == [0, 1, 2]
    assert_same_run(resumed, trainer(linear).run(shuffled_batches, epochs=3))


@pytest.mark.parametrize("event", ["epoch_completed", "iteration_completed"])
def test_a_short_last_batch_before_the_checkpoint_resumes_exactly(linear, tmp_path, event):
    # the checkpoint's y_pred has the short batch's shape; the next batch is a full one
    saving = trainer(linear).checkpoint(path=tmp_path / event, event=event)
    saving.run(short_last_batch, epochs=2)
    resumed = saving.run(short_last_batch, epochs=3, resume_from=tmp_path / event)
    assert resumed.resumed_from == 8
    assert_same_run(resumed, trainer(linear).run(short_last_batch, epochs=3))


def test_resuming_with_another_batch_size_names_the_data(linear, tmp_path):
    saving = trainer(linear).checkpoint(
        path=tmp_path / "ck", event="iteration_completed", filter={"every": 2}
    )
    with pytest.raises(Interrupted):
        saving.handle_event("iteration_completed", interrupt_at(3)).run(shuffled_batches)

    def batches_of_8(epoch):
        return [(x[i : i + 8], y[i : i + 8]) for x, y in shuffled_batches(epoch) for i in (0, 8)]

    with pytest.raises(ValueError, match="batched differently") as error:
        trainer(linear).run(batches_of_8, resume_from=tmp_path / "ck")
    assert "batch 1 of epoch 0" in str(error.value) and "[16, 1]" in str(error.value)
    assert "another model" not in str(error.value)


def test_resume_from_a_model_file_says_how_to_start_from_parameters(linear, tmp_path):
    model_file = tmp_path / "model.safetensors"
    model_file.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ")
    with pytest.raises(CheckpointDirectoryError, match="is a file") as error:
        trainer(linear).run(shuffled_batches, resume_from=model_file)
    assert "axon.model.load" in str(error.value) and "init_state" in str(error.value)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        trainer(linear).run(shuffled_batches, resume_from=tmp_path / "missing")
