"""run(resume="auto"): the same command starts a run, continues it, and leaves it finished."""

import jax
import numpy as np
import optax
import pytest

import axon.loop
from axon.loop.checkpoint import OrbaxBackend


class Preempted(Exception):
    pass


def batches(epoch):
    x = np.random.default_rng(epoch).normal(size=(40, 3)).astype(np.float32)
    return [(x[i : i + 8], x[i : i + 8] @ np.ones((3, 1), np.float32)) for i in range(0, 40, 8)]


def trainer(linear):
    return axon.loop.trainer(linear, "mean_squared_error", optax.adam(1e-2), log=0).replace(
        output_transform=None
    )


def preempt_at(iteration):
    def handler(state):
        if state.iteration == iteration:
            raise Preempted

    return handler


def job(linear, path, preempt=None):
    """The command a scheduler runs: the same loop every time, maybe preempted. It saves on
    every epoch's last iteration (5 per epoch), so the last checkpoint is the run's end."""
    loop = trainer(linear).checkpoint(path, event="iteration_completed", filter={"every": 5})
    if preempt is not None:
        loop = loop.handle_event("iteration_completed", preempt_at(preempt))
    return loop.run(batches, epochs=3, resume="auto")


def assert_same(a, b):
    jax.tree_util.tree_map(np.testing.assert_array_equal, a.step_state, b.step_state)
    jax.tree_util.tree_map(np.testing.assert_array_equal, a.metric_state, b.metric_state)
    assert (a.epoch, a.iteration, a.history.keys()) == (b.epoch, b.iteration, b.history.keys())
    for epoch, metrics in b.history.items():
        for name, value in metrics.items():
            np.testing.assert_array_equal(a.history[epoch][name], value)


def test_a_preempted_job_continues_when_started_again(linear, tmp_path):
    straight = trainer(linear).run(batches, epochs=3)
    with pytest.raises(Preempted):
        job(linear, tmp_path / "ck", preempt=6)
    with pytest.raises(Preempted):  # preempted again, further on
        job(linear, tmp_path / "ck", preempt=13)
    finished = job(linear, tmp_path / "ck")
    assert finished.resumed_from == 10 and finished.status == "completed"
    assert_same(finished, straight)


def test_a_finished_job_started_again_runs_nothing_and_returns_its_state(linear, tmp_path, capsys):
    # checkpoints at epoch ends (the default): the last one is the finished run
    finished = trainer(linear).checkpoint(tmp_path / "ck").run(batches, epochs=3, resume="auto")
    assert finished.resumed_from is None  # nothing to resume the first time
    events = []
    again = (
        trainer(linear)
        .checkpoint(tmp_path / "ck")
        .handle_event("all", lambda state: events.append(state.iteration))
        .run(batches, epochs=3, resume="auto")
    )
    assert events == [] and again.status == "completed"
    assert "Nothing to run" in capsys.readouterr().err
    assert_same(again, finished)
    extended = trainer(linear).checkpoint(tmp_path / "ck").run(batches, epochs=4, resume="auto")
    assert extended.resumed_from == 15 and extended.iteration == 20


def test_a_job_that_died_before_its_first_checkpoint_starts_fresh_as_the_same_run(linear, tmp_path):
    with pytest.raises(Preempted):
        job(linear, tmp_path / "ck", preempt=3)
    died = OrbaxBackend(tmp_path / "ck").run_id
    assert died is not None and OrbaxBackend(tmp_path / "ck").steps() == []
    restarted = job(linear, tmp_path / "ck")
    assert restarted.run_id == died and restarted.resumed_from is None
    assert_same(restarted, trainer(linear).run(batches, epochs=3))
    assert job(linear, tmp_path / "new").run_id != died  # nothing there: a new run


def test_a_damaged_marker_does_not_stop_the_run_that_owns_the_directory(linear, tmp_path):
    with pytest.raises(Preempted):
        job(linear, tmp_path / "ck", preempt=6)
    (tmp_path / "ck" / "axon-checkpoints.json").write_bytes(b"\x00\xff garbage")
    finished = job(linear, tmp_path / "ck")
    assert finished.resumed_from == 5
    assert OrbaxBackend(tmp_path / "ck").run_id == finished.run_id  # the marker is rewritten


def test_resume_auto_needs_exactly_one_checkpoint_handler(linear, tmp_path):
    with pytest.raises(ValueError, match="has no checkpoint handler"):
        trainer(linear).run(batches, resume="auto")
    two = trainer(linear).checkpoint(tmp_path / "a").checkpoint(tmp_path / "b")
    with pytest.raises(ValueError, match="has 2 checkpoint handlers"):
        two.run(batches, resume="auto")
    one = trainer(linear).checkpoint(tmp_path / "a")
    with pytest.raises(ValueError, match="cannot be combined with resume_from="):
        one.run(batches, resume="auto", resume_from=tmp_path / "a")
    state = trainer(linear).run(batches)
    with pytest.raises(ValueError, match=r"cannot be combined with from_state\(\)"):
        one.from_state(state).run(batches, epochs=2, resume="auto")
    with pytest.raises(ValueError, match="resume must be 'auto'"):
        one.run(batches, resume=True)
