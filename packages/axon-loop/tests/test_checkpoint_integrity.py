"""Damaged checkpoints are detected, named, and skipped for the newest intact one.

When orbax fails to read a damaged file, TensorStore's callbacks may still reach the
closed event loop of that read; Python reports those as "unraisable" (no harm done).
"""

import io
import warnings

import jax
import numpy as np
import pytest

import axon.loop
from axon.loop.checkpoint import CheckpointCorruptedError, OrbaxBackend

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


@pytest.fixture
def interrupted(adam_trainer, epoch_batches, crash_at, tmp_path):
    """``(loop, path)``: checkpoints at iterations 3, 6 and 9 in ``path``, then a crash at 11."""
    path = tmp_path / "ck"
    saving = adam_trainer.checkpoint(path, event="iteration_completed", filter={"every": 3})
    with pytest.raises(RuntimeError, match="crashed"):
        saving.handle_event("iteration_completed", crash_at(11)).run(epoch_batches, epochs=3)
    return saving, path


def flip_16_bytes(path):
    data = bytearray(path.read_bytes())
    middle = max(len(data) // 2 - 8, 0)
    data[middle : middle + 16] = bytes(b ^ 0xFF for b in data[middle : middle + 16])
    path.write_bytes(bytes(data))


def assert_same_step_state(a, b):
    jax.tree_util.tree_map(np.testing.assert_array_equal, a.step_state, b.step_state)


def test_flipping_16_bytes_in_any_array_file_is_detected_and_resume_falls_back(
    adam_trainer, epoch_batches, interrupted
):
    saving, path = interrupted
    straight = adam_trainer.run(epoch_batches, epochs=3)
    like = {"step_state": straight.step_state, "metric_state": straight.metric_state}
    intact, _ = OrbaxBackend(path).restore(9, like=like)
    # every file of the arrays' item, found generically (orbax's file names are its own)
    data_files = [p for p in sorted((path / "9" / "state").rglob("*")) if p.is_file()]
    detected = []
    for data_file in data_files:
        original = data_file.read_bytes()
        flip_16_bytes(data_file)
        try:
            restored, _ = OrbaxBackend(path).restore(9, like=like)
        except CheckpointCorruptedError as error:
            assert "step 9 in" in str(error) and str(path) in str(error)
            detected.append(data_file)
        else:  # a file the reader does not use (orbax keeps per-process copies): no harm done
            jax.tree_util.tree_map(np.testing.assert_array_equal, restored, intact)
        data_file.write_bytes(original)
    assert detected, "no file of the arrays was detected as damaged"

    flip_16_bytes(max(detected, key=lambda p: p.stat().st_size))
    fallback = r"(?s)Resuming from checkpoint step 6 .*step 9 in"
    with pytest.warns(UserWarning, match=fallback), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Deleting checkpoints")  # step 9, rewritten
        resumed = saving.run(epoch_batches, epochs=3, resume_from=path)
    assert resumed.resumed_from == 6
    assert_same_step_state(resumed, straight)
    assert resumed.history.keys() == straight.history.keys()
    for epoch, metrics in straight.history.items():
        for name, value in metrics.items():
            np.testing.assert_array_equal(resumed.history[epoch][name], value)


@pytest.mark.parametrize(
    "garbage", [b"{not json", b"\xff\xfe\x00garbage", b'{"epoch": 1}'], ids=["json", "utf8", "edit"]
)
def test_damaged_metadata_is_named_and_skipped(adam_trainer, epoch_batches, interrupted, garbage):
    _, path = interrupted
    (path / "9" / "metadata" / "metadata").write_bytes(garbage)
    with pytest.raises(CheckpointCorruptedError, match=r"step 9 in .* is damaged"):
        OrbaxBackend(path).metadata(9)
    with pytest.warns(UserWarning, match="step 9"):
        resumed = adam_trainer.run(epoch_batches, epochs=3, resume_from=path)
    assert resumed.resumed_from == 6


def test_a_missing_data_file_is_named(adam_trainer, epoch_batches, interrupted):
    _, path = interrupted
    (path / "9" / "state" / "manifest.ocdbt").unlink()
    state = adam_trainer.run(epoch_batches)
    like = {"step_state": state.step_state, "metric_state": state.metric_state}
    with pytest.raises(CheckpointCorruptedError, match=r"step 9 in .* is damaged: reading state"):
        OrbaxBackend(path).restore(9, like=like)


def test_when_every_checkpoint_is_damaged_one_error_lists_them_all(
    adam_trainer, epoch_batches, interrupted
):
    _, path = interrupted
    for step in (3, 6, 9):
        (path / str(step) / "integrity" / "metadata").write_text("[]")
    with pytest.raises(CheckpointCorruptedError, match="every one is damaged") as error:
        adam_trainer.run(epoch_batches, epochs=3, resume_from=path)
    for step in (3, 6, 9):
        assert f"step {step} in" in str(error.value)


def test_deserialize_state_names_bytes_that_are_not_a_state(adam_trainer, epoch_batches):
    state = adam_trainer.run(epoch_batches)
    data = axon.loop.serialize_state(state)
    object_archive = io.BytesIO()
    np.savez(object_archive, metadata=np.array([{"a": 1}], dtype=object))
    for garbage in (np.random.default_rng(0).bytes(300), object_archive.getvalue(), data[:100]):
        with pytest.raises(ValueError, match="not a state written by") as error:
            axon.loop.deserialize_state(garbage, like=state)
        assert "pickle" not in str(error.value)
    # a flipped byte inside an array or the metadata (past the archive's headers) is detected
    for inside in (np.asarray(state.step_state["key"]).tobytes(), b'"iteration"'):
        damaged = bytearray(data)
        damaged[data.index(inside) + 1] ^= 0xFF
        with pytest.raises(CheckpointCorruptedError, match="serialized state is damaged"):
            axon.loop.deserialize_state(bytes(damaged), like=state)
