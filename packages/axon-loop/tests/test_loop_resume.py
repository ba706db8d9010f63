"""Exact resume: a run interrupted anywhere and resumed equals an uninterrupted one, bitwise."""

import jax
import numpy as np
import optax
import pytest

import axon.loop
from axon.loop.checkpoint import OrbaxBackend


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


def test_a_checkpoint_of_another_model_is_refused_and_left_intact(linear, tmp_path):
    trainer(linear).checkpoint(path=tmp_path / "ck").run(shuffled_batches)
    files_before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    wider = [(np.concatenate([x, x], -1), y) for x, y in shuffled_batches(0)]
    with pytest.raises(ValueError, match="does not match this loop"):
        trainer(linear).run(lambda e: wider, epochs=2, resume_from=tmp_path / "ck")
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == files_before


def test_a_truncated_checkpoint_is_an_error(linear, tmp_path):
    trainer(linear).checkpoint(path=tmp_path / "ck").run(shuffled_batches)
    for data_file in (tmp_path / "ck").rglob("*"):
        if (
            data_file.is_file()
            and data_file.stat().st_size > 200
            and "metadata" not in str(data_file)
        ):
            data_file.write_bytes(data_file.read_bytes()[:50])
    with pytest.raises(Exception):  # noqa: B017 - orbax/tensorstore raise their own types
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
