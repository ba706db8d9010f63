"""A checkpoint directory belongs to one run: refused, continued or replaced, never mixed."""

import shutil

import numpy as np
import orbax.checkpoint as ocp
import pytest

import axon.loop
from axon.loop.checkpoint import CheckpointDirectoryError, CheckpointError, OrbaxBackend


def contents(path):
    """Every file and folder under ``path`` with its bytes: to prove nothing changed."""
    return {
        str(p.relative_to(path)): p.read_bytes() if p.is_file() else None
        for p in sorted(path.rglob("*"))
    }


def test_a_second_fresh_run_into_the_default_directory_is_refused_before_training(
    adam_trainer, epoch_batches, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    adam_trainer.checkpoint(keep=2).run(epoch_batches, epochs=3)  # into ./checkpoints
    before = contents(tmp_path / "checkpoints")
    iterations = []
    second = adam_trainer.checkpoint(keep=2).handle_event("iteration_completed", iterations.append)
    with pytest.raises(CheckpointDirectoryError, match="checkpoints of another run") as error:
        second.run(epoch_batches, epochs=3)
    assert iterations == []  # refused at `started`, before any training
    assert contents(tmp_path / "checkpoints") == before  # nothing written, nothing deleted
    message = str(error.value)
    assert str(tmp_path / "checkpoints") in message and "steps 10, 15" in message
    assert "resume_from=" in message and "resume='auto'" in message
    assert "overwrite=True" in message and "a new path" in message


def test_overwrite_replaces_another_runs_checkpoints_and_nothing_else(
    adam_trainer, epoch_batches, tmp_path
):
    first = adam_trainer.checkpoint(tmp_path / "ck").run(epoch_batches, epochs=2)
    second = adam_trainer.checkpoint(tmp_path / "ck", overwrite=True).run(epoch_batches, epochs=1)
    backend = OrbaxBackend(tmp_path / "ck")
    assert backend.steps() == [5] and backend.run_id == second.run_id != first.run_id
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == ["5", "axon-checkpoints.json"]


def test_a_directory_of_user_files_is_refused_and_left_byte_identical(
    adam_trainer, epoch_batches, tmp_path
):
    data = tmp_path / "data"
    for name in ("0", "1", "2"):
        (data / name).mkdir(parents=True)
        (data / name / "images.npy").write_bytes(np.arange(10).tobytes())
    (data / "labels.csv").write_text("id,label\n0,cat\n")
    before = contents(data)
    for overwrite in (False, True):
        with pytest.raises(CheckpointDirectoryError, match="not checkpoints") as error:
            adam_trainer.checkpoint(data, keep=1, overwrite=overwrite).run(epoch_batches)
        assert "'0/', '1/', '2/', 'labels.csv'" in str(error.value)
        assert contents(data) == before


def test_rotation_never_deletes_another_runs_steps(adam_trainer, epoch_batches, tmp_path):
    adam_trainer.checkpoint(tmp_path / "a").run(epoch_batches, epochs=2)  # run A: steps 5, 10
    with pytest.raises(CheckpointDirectoryError):  # run B with keep=2 may not even start there
        adam_trainer.checkpoint(tmp_path / "a", keep=2).run(epoch_batches, epochs=3)
    assert OrbaxBackend(tmp_path / "a").steps() == [5, 10]
    # and should a step of A end up among B's, B's rotation leaves it alone
    b = OrbaxBackend(tmp_path / "b", keep=1, run_id="run-b")
    shutil.copytree(tmp_path / "a" / "5", tmp_path / "b" / "5")
    for step in (10, 20, 30):
        b.save(step, {"w": np.full(2, step)}, {})
    assert b.steps() == [5, 30]
    b.close()


def test_a_resumed_run_continues_its_own_directory(adam_trainer, epoch_batches, tmp_path):
    saving = adam_trainer.checkpoint(tmp_path / "ck", keep=2)
    first = saving.run(epoch_batches, epochs=2)
    resumed = saving.run(epoch_batches, epochs=4, resume_from=tmp_path / "ck")
    assert resumed.run_id == first.run_id
    assert OrbaxBackend(tmp_path / "ck").steps() == [15, 20]


def test_a_run_that_died_before_its_first_checkpoint_leaves_a_directory_to_take_over(
    adam_trainer, epoch_batches, tmp_path
):
    path = tmp_path / "ck"
    OrbaxBackend(path, run_id="died-early")  # what a run's `started` leaves
    (path / "5.orbax-checkpoint-tmp-123").mkdir()  # and its interrupted first write
    state = adam_trainer.checkpoint(path).run(epoch_batches)
    assert OrbaxBackend(path).run_id == state.run_id
    assert sorted(p.name for p in path.iterdir()) == ["5", "axon-checkpoints.json"]


def test_checkpoints_written_before_run_ids_are_refused_but_resumable(
    adam_trainer, epoch_batches, tmp_path
):
    path = tmp_path / "legacy"
    state = adam_trainer.run(epoch_batches)
    tree, metadata = axon.loop.checkpoint._snapshot.snapshot(state)
    del metadata["run_id"]
    manager = ocp.CheckpointManager(path, item_names=("state", "metadata"))  # the old layout
    manager.save(5, args=ocp.args.Composite(
        state=ocp.args.StandardSave(tree), metadata=ocp.args.JsonSave(metadata)
    ))  # fmt: skip
    manager.close()
    with pytest.raises(CheckpointDirectoryError, match="recorded no run id"):
        adam_trainer.checkpoint(path).run(epoch_batches)
    with pytest.warns(UserWarning, match="without digests"):
        resumed = adam_trainer.run(epoch_batches, epochs=2, resume_from=path)
    assert resumed.resumed_from == 5 and resumed.iteration == 10


def test_a_write_that_fails_stops_the_run_with_its_path_and_step(
    adam_trainer, epoch_batches, tmp_path, monkeypatch
):
    def disk_full(self, directory, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ocp.Checkpointer, "save", disk_full)
    with pytest.raises(CheckpointError, match=r"Writing checkpoint step 5 to .* failed") as error:
        adam_trainer.checkpoint(tmp_path / "ck").run(epoch_batches, epochs=2)
    assert "No space left on device" in str(error.value)


def test_backend_arguments_are_checked(tmp_path):
    with pytest.raises(ValueError, match="keep"):
        OrbaxBackend(tmp_path, keep=0)
    assert OrbaxBackend(tmp_path / "missing").steps() == []  # a reader creates nothing
    assert not (tmp_path / "missing").exists()
    with pytest.raises(ValueError, match="non-negative int"):
        OrbaxBackend(tmp_path / "ck").save(-1, {"w": np.zeros(2)}, {})
    with pytest.raises(TypeError, match="JSON"):
        OrbaxBackend(tmp_path / "ck").save(1, {"w": np.zeros(2)}, {"array": np.zeros(2)})
    assert not (tmp_path / "ck").exists()  # refused before claiming anything
