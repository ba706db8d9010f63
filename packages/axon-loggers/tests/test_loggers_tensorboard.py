"""TensorBoardLogger, read back with TensorBoard's EventAccumulator."""

from __future__ import annotations

import importlib.metadata
import inspect
import io
import json
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from tensorboard.plugins.hparams import plugin_data_pb2
from tensorboard.util import tensor_util

from axon.loggers import LogPathError, TensorBoardLogger
from axon.loggers._backends.events import EventFile


def scalar_points(run, tag):
    return [(event.step, event.value) for event in run.Scalars(tag)]


def test_scalars_are_read_back_at_their_steps_with_their_tags(tmp_path, read_run):
    with TensorBoardLogger(tmp_path) as logger:
        for step in range(3):
            logger.log_scalars({"train/loss": 1.0 / (step + 1), "lr": np.float32(0.5)}, step)
    run = read_run(logger.run_dir)
    assert sorted(run.Tags()["scalars"]) == ["lr", "train/loss"]
    assert scalar_points(run, "train/loss") == [
        (0, pytest.approx(1.0)),
        (1, pytest.approx(0.5)),
        (2, pytest.approx(1 / 3)),
    ]
    assert scalar_points(run, "lr") == [(0, 0.5), (1, 0.5), (2, 0.5)]


def test_flush_puts_every_event_on_disk_before_returning(tmp_path, read_run):
    # tensorboardX's SummaryWriter.flush() can return while events still wait in its
    # queue; ours must not lose the tail.
    logger = TensorBoardLogger(tmp_path, flush_secs=3600)
    for step in range(500):
        logger.log_scalars({"x": float(step)}, step)
    logger.flush()
    assert len(read_run(logger.run_dir).Scalars("x")) == 500
    logger.close()


def test_histogram_text_and_image_are_read_back(tmp_path, read_run):
    values = np.arange(-50, 50, dtype=np.float32).reshape(10, 10)
    rgb = np.zeros((4, 5, 3), np.uint8)
    rgb[..., 0] = 255
    rgb[1, 2] = (10, 20, 30)
    gray = np.linspace(0.0, 1.0, 12).reshape(3, 4)
    with TensorBoardLogger(tmp_path) as logger:
        logger.log_histogram("dense/kernel", values, step=7)
        logger.log_text("notes", "warm-up done", step=7)
        logger.log_image("samples/rgb", rgb, step=7)
        logger.log_image("samples/gray", gray, step=8)
    run = read_run(logger.run_dir)

    (histogram,) = run.Histograms("dense/kernel")
    assert histogram.step == 7
    stats = histogram.histogram_value
    assert (stats.num, stats.min, stats.max, stats.sum) == (100, -50, 49, float(values.sum()))
    assert sum(stats.bucket) == 100

    (text,) = run.Tensors("notes")  # the caller's tag, without tensorboardX's suffix
    assert text.step == 7
    assert tensor_util.make_ndarray(text.tensor_proto).tolist() == [b"warm-up done"]

    (rgb_event,) = run.Images("samples/rgb")
    assert (rgb_event.step, rgb_event.height, rgb_event.width) == (7, 4, 5)
    decoded = np.asarray(Image.open(io.BytesIO(rgb_event.encoded_image_string)))
    np.testing.assert_array_equal(decoded, rgb)

    (gray_event,) = run.Images("samples/gray")
    png = Image.open(io.BytesIO(gray_event.encoded_image_string))
    assert (png.format, png.mode) == ("PNG", "L")  # grayscale stays one channel
    np.testing.assert_array_equal(np.asarray(png), np.rint(gray * 255).astype(np.uint8))


def test_rgba_images_keep_their_alpha_channel(tmp_path, read_run):
    rgba = np.random.default_rng(0).integers(0, 256, (6, 3, 4), dtype=np.uint8)
    with TensorBoardLogger(tmp_path) as logger:
        logger.log_image("samples/rgba", rgba, step=2)
    (event,) = read_run(logger.run_dir).Images("samples/rgba")
    png = Image.open(io.BytesIO(event.encoded_image_string))
    assert png.mode == "RGBA"
    np.testing.assert_array_equal(np.asarray(png), rgba)


def test_pillow_is_a_declared_dependency():
    # Images are encoded with Pillow; it must come with axon-loggers, not by luck.
    requires = importlib.metadata.requires("axon-loggers")
    assert any(re.match(r"pillow\b", requirement, re.I) for requirement in requires)


def test_hparams_are_written_into_the_same_run_with_the_final_metric(tmp_path, read_run):
    with TensorBoardLogger(tmp_path) as logger:
        for step in range(5):
            logger.log_scalars({"val/accuracy": step / 10}, step)
        logger.log_hparams(
            {"lr": 1e-3, "batch_size": np.int64(32), "optimizer": "adam", "nesterov": True},
            {"val/accuracy": 0.4, "hparam/final_loss": 0.125},
        )
    assert [path for path in logger.run_dir.iterdir() if path.is_dir()] == []  # no extra sub-run

    run = read_run(logger.run_dir)
    content = run.PluginTagToContent("hparams")
    assert set(content) == {
        "_hparams_/experiment",
        "_hparams_/session_start_info",
        "_hparams_/session_end_info",
    }
    start = plugin_data_pb2.HParamsPluginData.FromString(
        content["_hparams_/session_start_info"]
    ).session_start_info
    assert start.hparams["lr"].number_value == pytest.approx(1e-3)
    assert start.hparams["batch_size"].number_value == 32
    assert start.hparams["optimizer"].string_value == "adam"
    assert start.hparams["nesterov"].bool_value is True
    experiment = plugin_data_pb2.HParamsPluginData.FromString(
        content["_hparams_/experiment"]
    ).experiment
    assert {info.name.tag for info in experiment.metric_infos} == {
        "val/accuracy",
        "hparam/final_loss",
    }
    # An already logged metric is not duplicated; a new one is recorded at the last step.
    assert scalar_points(run, "val/accuracy")[-1] == (4, pytest.approx(0.4))
    assert len(run.Scalars("val/accuracy")) == 5
    assert scalar_points(run, "hparam/final_loss") == [(4, 0.125)]


def test_purge_step_leaves_each_step_once_after_a_resume(tmp_path, read_run, log_then_resume):
    # Resume from a checkpoint taken at step 5, right away (same second: file names
    # must not collide).
    log_then_resume(
        lambda **options: TensorBoardLogger(tmp_path, **options), 10, purge_step=5, offset=100.0
    )
    assert [path.name for path in tmp_path.iterdir()] == ["version_0"]  # the run continued
    assert len(list((tmp_path / "version_0").glob("events.out.tfevents.*"))) == 2

    points = scalar_points(read_run(tmp_path / "version_0"), "loss")
    assert [step for step, _ in points] == list(range(10))
    assert [value for _, value in points] == [0, 1, 2, 3, 4, 105, 106, 107, 108, 109]


def test_reopening_a_run_without_purge_step_keeps_its_earlier_events(tmp_path, read_run):
    with TensorBoardLogger(tmp_path, run_id="run-a") as logger:
        logger.log_scalars({"loss": 1.0}, 0)
    with TensorBoardLogger(tmp_path, run_id="run-a") as logger:
        logger.log_scalars({"loss": 2.0}, 1)
    assert scalar_points(read_run(logger.run_dir), "loss") == [(0, 1.0), (1, 2.0)]


def log_steps(logger, steps, value):
    for step in steps:
        logger.log_scalars({"loss": value(step)}, step)


def test_two_new_runs_into_one_logdir_get_their_own_version_directories(tmp_path, read_run):
    with TensorBoardLogger(tmp_path) as first:
        log_steps(first, range(1, 6), lambda step: step)
    with TensorBoardLogger(tmp_path) as second:
        log_steps(second, range(1, 4), lambda step: -step)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["version_0", "version_1"]
    assert (first.run_dir, second.run_dir) == (tmp_path / "version_0", tmp_path / "version_1")
    assert first.run_id != second.run_id
    marker = json.loads((second.run_dir / "axon-run.json").read_text())
    assert marker == {"axon_run": second.run_id}
    assert scalar_points(read_run(first.run_dir), "loss") == [(s, s) for s in range(1, 6)]
    assert scalar_points(read_run(second.run_dir), "loss") == [(s, -s) for s in range(1, 4)]


def test_a_restart_from_scratch_under_the_same_run_id_logs_each_step_once(tmp_path, read_run):
    # A run that died before its first checkpoint is started again from iteration 0
    # with the same id (axon-loop's resume="auto"): it logs from step 1 again.
    with TensorBoardLogger(tmp_path, run_id="run-a") as crashed:
        log_steps(crashed, range(1, 6), lambda step: -step)
    with TensorBoardLogger(tmp_path, run_id="run-a", purge_step=1) as restarted:
        log_steps(restarted, range(1, 9), lambda step: step)
    assert [path.name for path in tmp_path.iterdir()] == ["version_0"]
    assert scalar_points(read_run(tmp_path / "version_0"), "loss") == [(s, s) for s in range(1, 9)]


def test_a_run_id_found_nowhere_starts_a_new_version_with_nothing_to_purge(tmp_path, read_run):
    with TensorBoardLogger(tmp_path, run_id="run-a") as first:
        log_steps(first, range(1, 6), lambda step: step)
    with TensorBoardLogger(tmp_path, run_id="run-b", purge_step=3) as second:
        log_steps(second, range(3, 6), lambda step: -step)
    assert second.run_dir == tmp_path / "version_1"
    assert scalar_points(read_run(first.run_dir), "loss") == [(s, s) for s in range(1, 6)]
    assert scalar_points(read_run(second.run_dir), "loss") == [(s, -s) for s in range(3, 6)]


def test_versions_follow_the_highest_number_present(tmp_path):
    (tmp_path / "version_3").mkdir()  # from another tool, without a run marker
    (tmp_path / "version_x").mkdir()
    (tmp_path / "version_7").write_text("a file, not a run directory")
    with TensorBoardLogger(tmp_path) as logger:
        pass
    assert logger.run_dir == tmp_path / "version_4"
    assert list((tmp_path / "version_3").iterdir()) == []  # never written into


def test_an_unversioned_run_in_the_logdir_stays_where_it_is(tmp_path, read_run):
    # An older axon-loggers wrote its events into the logdir itself.
    old = EventFile(tmp_path, flush_secs=0)
    old.scalar("loss", 1.0, 1)
    old.close()
    old_files = sorted(tmp_path.glob("events.out.tfevents.*"))
    with TensorBoardLogger(tmp_path) as logger:
        logger.log_scalars({"loss": 2.0}, 1)
    assert sorted(tmp_path.glob("events.out.tfevents.*")) == old_files
    assert scalar_points(read_run(tmp_path), "loss") == [(1, 1.0)]
    assert scalar_points(read_run(logger.run_dir), "loss") == [(1, 2.0)]


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"purge_step": 3}, ValueError, "needs run_id="),
        ({"run_id": 7}, TypeError, "run_id must be a string"),
        ({"run_id": " "}, ValueError, "run_id must not be empty"),
    ],
)
def test_bad_run_options_are_rejected_before_anything_is_created(tmp_path, options, error, match):
    with pytest.raises(error, match=match):
        TensorBoardLogger(tmp_path / "runs", **options)
    assert list(tmp_path.iterdir()) == []


def test_nan_scalar_is_recorded_and_warns(tmp_path, read_run):
    with TensorBoardLogger(tmp_path) as logger, pytest.warns(RuntimeWarning, match="'loss'"):
        logger.log_scalars({"loss": float("nan")}, 0)
    ((step, value),) = scalar_points(read_run(logger.run_dir), "loss")
    assert step == 0 and np.isnan(value)


def test_logdir_under_a_regular_file_raises_a_clear_error(tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    with pytest.raises(LogPathError, match="not-a-directory") as caught:
        TensorBoardLogger(blocker / "run")
    assert "TensorBoard logdir" in str(caught.value)
    assert "writable" in str(caught.value)


def test_logging_after_close_raises_but_closing_again_is_fine(tmp_path):
    logger = TensorBoardLogger(tmp_path)
    logger.close()
    logger.close()
    logger.flush()
    with pytest.raises(RuntimeError, match="closed"):
        logger.log_scalars({"loss": 1.0}, 0)


def test_a_rejected_call_loses_nothing_already_logged(tmp_path, read_run):
    with TensorBoardLogger(tmp_path) as logger:
        logger.log_scalars({"loss": 1.0}, 0)
        with pytest.raises(ValueError, match=r"'accuracy'.*shape \(2,\)"):
            logger.log_scalars({"loss": 0.5, "accuracy": np.ones(2)}, 1)
        logger.log_scalars({"loss": 0.25}, 2)  # the logger keeps working
    assert scalar_points(read_run(logger.run_dir), "loss") == [(0, 1.0), (2, 0.25)]


@pytest.mark.parametrize(("flush_secs", "error"), [(-1, ValueError), ("10", TypeError)])
def test_invalid_flush_secs_is_rejected(tmp_path, flush_secs, error):
    with pytest.raises(error, match="flush_secs"):
        TensorBoardLogger(tmp_path, flush_secs=flush_secs)


def test_hparams_without_metrics_are_still_one_run(tmp_path, read_run):
    with TensorBoardLogger(tmp_path) as logger:
        logger.log_hparams({"lr": 0.1}, {})
    assert [path for path in logger.run_dir.iterdir() if path.is_dir()] == []
    assert "_hparams_/session_start_info" in read_run(logger.run_dir).PluginTagToContent("hparams")


def _train(logger, steps, every, per_epoch, value):
    """What axon-loop's log_to sends: train/ every N steps, epoch/ at each epoch end."""
    for step in steps:
        if step % every == 0:
            logger.log_scalars({"train/loss": value(step)}, step)
        if step % per_epoch == 0:
            logger.log_scalars({"epoch/loss": value(step), "epoch/validation_loss": 0.5}, step)
            logger.flush()


_KILLED_RUN = f"""
import os, sys
from axon.loggers import TensorBoardLogger
{inspect.getsource(_train)}
logger = TensorBoardLogger(sys.argv[1], run_id="killed-run")
_train(logger, range(1, 15), every=2, per_epoch=4, value=lambda step: -step)
logger.flush()
os._exit(9)  # killed: no close(), no finalizers
"""


def test_a_killed_and_resumed_run_has_each_step_once_and_one_hparams(tmp_path, read_run):
    # Run 1 logs steps 1..14 in another process that is killed. Its last checkpoint
    # was at iteration 8, so the resumed run logs from step 9 on: purge_step=9.
    killed = subprocess.run([sys.executable, "-c", _KILLED_RUN, str(tmp_path)], check=False)
    assert killed.returncode == 9
    run_dir = tmp_path / "version_0"
    assert scalar_points(read_run(run_dir), "train/loss")[-1] == (14, -14)

    with TensorBoardLogger(tmp_path, run_id="killed-run", purge_step=9) as resumed:
        _train(resumed, range(9, 17), every=2, per_epoch=4, value=lambda step: step)
        resumed.log_hparams({"lr": 1e-3}, {"epoch/loss": 16.0, "epoch/validation_loss": 0.5})

    assert resumed.run_dir == run_dir
    run = read_run(run_dir)
    assert [path for path in tmp_path.iterdir() if path.is_dir()] == [run_dir]
    assert [path for path in run_dir.iterdir() if path.is_dir()] == []
    assert scalar_points(run, "train/loss") == [
        (2, -2),
        (4, -4),
        (6, -6),
        (8, -8),
        (10, 10),
        (12, 12),
        (14, 14),
        (16, 16),
    ]
    assert scalar_points(run, "epoch/loss") == [(4, -4), (8, -8), (12, 12), (16, 16)]
    assert [s for s, _ in scalar_points(run, "epoch/validation_loss")] == [4, 8, 12, 16]
    assert len(run.PluginTagToContent("hparams")) == 3
