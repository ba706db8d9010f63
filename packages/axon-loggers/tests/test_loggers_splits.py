"""TensorBoardLogger.split: data splits as sibling runs (``<run_dir>/train``,
``<run_dir>/validation``), read back with TensorBoard's EventAccumulator; their marks,
purges and hyperparameter groups."""

from __future__ import annotations

import numpy as np
import pytest
from tensorboard.plugins.hparams import plugin_data_pb2

from axon.loggers import LogMarkError, TensorBoardLogger

EVENT_FILES = "events.out.tfevents.*"


def points(run, tag):
    return [(event.step, event.value) for event in run.Scalars(tag)]


def log_epochs(logger, epochs, offset=0.0):
    """``epoch/loss`` per epoch in both splits, ``train/loss`` per iteration in ``train``."""
    train, validation = logger.split("train"), logger.split("validation")
    for epoch in epochs:
        for step in range(4 * epoch + 1, 4 * epoch + 5):
            train.log_scalars({"train/loss": offset + step}, step)
        train.log_scalars({"epoch/loss": offset + epoch}, 4 * epoch + 4)
        validation.log_scalars({"epoch/loss": offset + epoch + 0.5}, 4 * epoch + 4)


def test_the_same_tag_in_two_splits_is_one_chart_with_a_curve_each(tmp_path, read_run):
    with TensorBoardLogger(tmp_path) as logger:
        log_epochs(logger, range(2))
        logger.split("train").log_histogram("params/w", np.arange(6.0), step=8)
    assert logger.split("train") is logger.split("train")
    assert sorted(p.name for p in logger.run_dir.iterdir() if p.is_dir()) == ["train", "validation"]
    train = read_run(logger.run_dir / "train")
    validation = read_run(logger.run_dir / "validation")
    assert sorted(train.Tags()["scalars"]) == ["epoch/loss", "train/loss"]
    assert validation.Tags()["scalars"] == ["epoch/loss"]
    assert points(train, "epoch/loss") == [(4, 0.0), (8, 1.0)]
    assert points(validation, "epoch/loss") == [(4, 0.5), (8, 1.5)]
    assert train.Tags()["histograms"] == ["params/w"]
    assert read_run(logger.run_dir).Tags()["scalars"] == []  # the run's own file: no records


def test_closing_the_run_closes_its_splits(tmp_path):
    logger = TensorBoardLogger(tmp_path)
    train = logger.split("train")
    logger.close()
    assert train.closed
    with pytest.raises(RuntimeError, match="is closed"):
        train.log_scalars({"loss": 1.0}, step=1)
    with pytest.raises(RuntimeError, match="is closed"):
        logger.split("validation")


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", 3])
def test_a_split_is_named_like_a_directory(tmp_path, name):
    with TensorBoardLogger(tmp_path) as logger, pytest.raises(ValueError, match="named like"):
        logger.split(name)


def test_a_resumed_run_is_cut_back_to_its_mark_in_every_split(tmp_path, read_run):
    with TensorBoardLogger(tmp_path, run_id="run-a") as killed:
        log_epochs(killed, range(2))
        killed.split("train").log_scalars({"train/loss": 9.0}, 9)
        mark = killed.mark()  # a checkpoint after iteration 9
        assert set(mark["splits"]) == {"train", "validation"}
        log_epochs(killed, range(2, 3), offset=100.0)  # logged after it: cut off
        killed.split("test").log_scalars({"epoch/loss": 100.0}, 12)  # opened after it: gone
    with TensorBoardLogger(tmp_path, run_id="run-a", resume_mark=mark) as resumed:
        train = resumed.split("train")
        for step in range(10, 13):
            train.log_scalars({"train/loss": float(step)}, step)
        train.log_scalars({"epoch/loss": 2.0}, 12)
        resumed.split("validation").log_scalars({"epoch/loss": 2.5}, 12)

    train, validation = (
        read_run(resumed.run_dir / "train"),
        read_run(resumed.run_dir / "validation"),
    )
    assert points(train, "train/loss") == [(step, step) for step in range(1, 13)]  # each once
    assert points(train, "epoch/loss") == [(4, 0), (8, 1), (12, 2)]
    assert points(validation, "epoch/loss") == [(4, 0.5), (8, 1.5), (12, 2.5)]
    assert list((resumed.run_dir / "test").glob(EVENT_FILES)) == []


def test_a_split_opened_after_the_mark_keeps_what_earlier_runs_wrote(tmp_path, read_run):
    with TensorBoardLogger(tmp_path, run_id="run-a") as first:
        first.split("validation").log_scalars({"epoch/loss": 1.0}, 4)
    with TensorBoardLogger(tmp_path, run_id="run-a", purge_step=5) as second:
        mark = second.mark()  # taken before this logger logged to validation
        second.split("validation").log_scalars({"epoch/loss": 2.0}, 8)
    with TensorBoardLogger(tmp_path, run_id="run-a", resume_mark=mark):
        pass
    assert points(read_run(first.run_dir / "validation"), "epoch/loss") == [(4, 1.0)]


def test_purge_step_hides_the_later_points_of_every_split(tmp_path, read_run):
    with TensorBoardLogger(tmp_path, run_id="run-a") as killed:
        log_epochs(killed, range(3))
    # resumed from the checkpoint of iteration 6: steps from 7 on are logged again
    with TensorBoardLogger(tmp_path, run_id="run-a", purge_step=7) as resumed:
        assert set(resumed.mark()["splits"]) == {"train", "validation"}  # both reopened
        train = resumed.split("train")
        for step in range(7, 9):
            train.log_scalars({"train/loss": 100.0 + step}, step)
    train, validation = (
        read_run(resumed.run_dir / "train"),
        read_run(resumed.run_dir / "validation"),
    )
    assert [step for step, _ in points(train, "train/loss")] == list(range(1, 9))
    assert points(train, "train/loss")[-1] == (8, 108.0)
    assert points(validation, "epoch/loss") == [(4, 0.5)]  # epochs 1 and 2 are not logged yet


def test_a_mark_whose_split_lost_its_events_is_refused_and_nothing_is_cut(tmp_path):
    with TensorBoardLogger(tmp_path, run_id="run-a") as killed:
        log_epochs(killed, range(1))
        mark = killed.mark()
        log_epochs(killed, range(1, 2))
    (killed.run_dir / "validation" / mark["splits"]["validation"]["file"]).unlink()
    before = {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()}
    with pytest.raises(LogMarkError, match="does not fit the mark to resume from"):
        TensorBoardLogger(tmp_path, run_id="run-a", resume_mark=mark)
    assert {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()} == before


@pytest.mark.parametrize(
    "splits",
    [
        "train",
        {"train": {"file": "x"}},
        {"../up": {"file": "x", "size": 0}},
        {"train": {"file": "a/b", "size": 0}},
    ],
)
def test_bad_split_marks_are_rejected_before_anything_is_changed(tmp_path, splits):
    with TensorBoardLogger(tmp_path, run_id="run-a") as first:
        mark = first.mark()
    before = sorted(tmp_path.rglob("*"))
    with pytest.raises(TypeError, match="'splits' must be"):
        TensorBoardLogger(tmp_path, run_id="run-a", resume_mark={**mark, "splits": splits})
    assert sorted(tmp_path.rglob("*")) == before


def test_a_mark_taken_before_splits_existed_still_resumes(tmp_path, read_run):
    with TensorBoardLogger(tmp_path, run_id="run-a") as first:
        first.log_scalars({"loss": 1.0}, 1)
        mark = first.mark()
        first.log_scalars({"loss": 2.0}, 2)
    del mark["splits"]  # as axon-loggers wrote marks before it had splits
    with TensorBoardLogger(tmp_path, run_id="run-a", resume_mark=mark) as resumed:
        resumed.log_scalars({"loss": 3.0}, 2)
    assert points(read_run(resumed.run_dir), "loss") == [(1, 1.0), (2, 3.0)]


def test_hparams_metrics_of_a_split_name_it_as_their_group(tmp_path, read_run):
    with TensorBoardLogger(tmp_path) as logger:
        log_epochs(logger, range(2))
        logger.log_hparams(
            {"lr": 0.01},
            {"validation/epoch/loss": 1.5, "train/epoch/loss": 1.0, "test/accuracy": 0.75},
        )
    run = read_run(logger.run_dir)
    experiment = plugin_data_pb2.HParamsPluginData.FromString(
        run.PluginTagToContent("hparams")["_hparams_/experiment"]
    ).experiment
    assert [(info.name.group, info.name.tag) for info in experiment.metric_infos] == [
        ("validation", "epoch/loss"),
        ("train", "epoch/loss"),
        ("", "test/accuracy"),  # no split "test": a tag of the run itself
    ]
    # the splits' final points were logged already; the run's own tag gets one at the last step
    assert len(read_run(logger.run_dir / "validation").Scalars("epoch/loss")) == 2
    assert len(read_run(logger.run_dir / "train").Scalars("epoch/loss")) == 2
    assert points(run, "test/accuracy") == [(8, 0.75)]
