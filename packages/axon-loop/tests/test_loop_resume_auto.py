"""run(resume="auto"): the same command starts a run, continues it, and leaves it finished."""

import jax
import numpy as np
import pytest

from axon.loop.checkpoint import OrbaxBackend


@pytest.fixture
def job(adam_trainer, epoch_batches, crash_at):
    """``job(path, crash=None)``: the command a scheduler runs, the same loop every time, maybe
    crashing. It saves on each epoch's last iteration, so its last checkpoint is the run's end."""

    def run(path, crash=None):
        loop = adam_trainer.checkpoint(path, event="iteration_completed", filter={"every": 5})
        if crash is not None:
            loop = loop.handle_event("iteration_completed", crash_at(crash))
        return loop.run(epoch_batches, epochs=3, resume="auto")

    return run


def assert_same(a, b):
    jax.tree_util.tree_map(np.testing.assert_array_equal, a.step_state, b.step_state)
    jax.tree_util.tree_map(np.testing.assert_array_equal, a.metric_state, b.metric_state)
    assert (a.epoch, a.iteration, a.history.keys()) == (b.epoch, b.iteration, b.history.keys())
    for epoch, metrics in b.history.items():
        for name, value in metrics.items():
            np.testing.assert_array_equal(a.history[epoch][name], value)


def test_a_preempted_job_continues_when_started_again(adam_trainer, epoch_batches, job, tmp_path):
    straight = adam_trainer.run(epoch_batches, epochs=3)
    with pytest.raises(RuntimeError, match="crashed"):
        job(tmp_path / "ck", crash=6)
    with pytest.raises(RuntimeError, match="crashed"):  # again, further on
        job(tmp_path / "ck", crash=13)
    finished = job(tmp_path / "ck")
    assert finished.resumed_from == 10 and finished.status == "completed"
    assert_same(finished, straight)


def test_a_finished_job_started_again_runs_nothing_and_returns_its_state(
    adam_trainer, epoch_batches, tmp_path, capsys
):
    # checkpoints at epoch ends (the default): the last one is the finished run
    saving = adam_trainer.checkpoint(tmp_path / "ck")
    finished = saving.run(epoch_batches, epochs=3, resume="auto")
    assert finished.resumed_from is None  # nothing to resume the first time
    events = []
    watched = saving.handle_event("all", lambda state: events.append(state.iteration))
    again = watched.run(epoch_batches, epochs=3, resume="auto")
    assert events == [] and again.status == "completed"
    assert "Nothing to run" in capsys.readouterr().err
    assert_same(again, finished)
    extended = saving.run(epoch_batches, epochs=4, resume="auto")
    assert extended.resumed_from == 15 and extended.iteration == 20


def test_a_job_that_died_before_its_first_checkpoint_starts_fresh_as_the_same_run(
    adam_trainer, epoch_batches, job, tmp_path
):
    with pytest.raises(RuntimeError, match="crashed"):
        job(tmp_path / "ck", crash=3)
    died = OrbaxBackend(tmp_path / "ck").run_id
    assert died is not None and OrbaxBackend(tmp_path / "ck").steps() == []
    restarted = job(tmp_path / "ck")
    assert restarted.run_id == died and restarted.resumed_from is None
    assert_same(restarted, adam_trainer.run(epoch_batches, epochs=3))
    assert job(tmp_path / "new").run_id != died  # nothing there: a new run


def test_a_damaged_marker_does_not_stop_the_run_that_owns_the_directory(job, tmp_path):
    with pytest.raises(RuntimeError, match="crashed"):
        job(tmp_path / "ck", crash=6)
    (tmp_path / "ck" / "axon-checkpoints.json").write_bytes(b"\x00\xff garbage")
    finished = job(tmp_path / "ck")
    assert finished.resumed_from == 5
    assert OrbaxBackend(tmp_path / "ck").run_id == finished.run_id  # the marker is rewritten


def test_resume_auto_needs_exactly_one_checkpoint_handler(adam_trainer, epoch_batches, tmp_path):
    with pytest.raises(ValueError, match="has no checkpoint handler"):
        adam_trainer.run(epoch_batches, resume="auto")
    two = adam_trainer.checkpoint(tmp_path / "a").checkpoint(tmp_path / "b")
    with pytest.raises(ValueError, match="has 2 checkpoint handlers"):
        two.run(epoch_batches, resume="auto")
    one = adam_trainer.checkpoint(tmp_path / "a")
    with pytest.raises(ValueError, match="cannot be combined with resume_from="):
        one.run(epoch_batches, resume="auto", resume_from=tmp_path / "a")
    state = adam_trainer.run(epoch_batches)
    with pytest.raises(ValueError, match=r"cannot be combined with from_state\(\)"):
        one.from_state(state).run(epoch_batches, epochs=2, resume="auto")
    with pytest.raises(ValueError, match="resume must be 'auto'"):
        one.run(epoch_batches, resume=True)
