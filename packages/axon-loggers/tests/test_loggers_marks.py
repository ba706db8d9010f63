"""Marks: ``mark()`` records where a run's log ends, ``resume_mark=`` cuts it back there.

A run that checkpoints, logs on and dies is resumed from its checkpoint: its log
must hold exactly what was logged before the checkpoint, then what the resumed
run logs. Purging by step cannot do this when the checkpoint's step holds records
from both sides of it (an epoch's last iteration checkpointed, then the epoch's
metrics logged at the same step); cutting back to the mark can.
"""

from __future__ import annotations

import csv
import json

import pytest

from axon.loggers import CSVLogger, JSONLinesLogger, LogMarkError, PlotLogger, TensorBoardLogger


class Backend:
    """A logger class at a place in ``tmp_path``, and an independent reader of its records."""

    def __init__(self, name, tmp_path, read_run):
        self.name, self.tmp_path, self.read_run = name, tmp_path, read_run

    def make(self, **options):
        if self.name == "tensorboard":
            return TensorBoardLogger(self.tmp_path / "runs", **options)
        if self.name == "plot":  # its points' log is plot.png.jsonl, beside the image
            return PlotLogger(self.tmp_path / "plot.png", **options)
        factory = CSVLogger if self.name == "csv" else JSONLinesLogger
        return factory(self.tmp_path / f"metrics.{self.name}", **options)

    def records(self):
        """``[(step, tag, value), ...]`` of every scalar on disk, in the order logged."""
        if self.name == "tensorboard":
            (run_dir,) = (self.tmp_path / "runs").iterdir()
            run = self.read_run(run_dir)
            found = [
                (e.step, tag, e.value) for tag in run.Tags()["scalars"] for e in run.Scalars(tag)
            ]
            return sorted(found, key=lambda record: record[0])  # stable: per tag in order
        path = self.tmp_path / ("plot.png.jsonl" if self.name == "plot" else f"metrics.{self.name}")
        if self.name == "csv":
            with open(path, newline="") as file:
                rows = list(csv.DictReader(file))
            return [
                (int(row["step"]), tag, float(value))
                for row in rows
                for tag, value in row.items()
                if tag != "step" and value
            ]
        lines = [json.loads(line) for line in path.read_text().splitlines()[1:]]
        return [
            (r["step"], tag, v)
            for r in lines
            if "step" in r
            for tag, v in r.items()
            if tag != "step"
        ]

    def files(self):
        return {
            str(path.relative_to(self.tmp_path)): path.read_bytes()
            for path in sorted(self.tmp_path.rglob("*"))
            if path.is_file()
        }


@pytest.fixture(params=["jsonl", "csv", "tensorboard", "plot"])
def backend(request, tmp_path, read_run):
    return Backend(request.param, tmp_path, read_run)


def by_tag(records, tag):
    return [(step, value) for step, t, value in records if t == tag]


def train(logger, steps, value):
    for step in steps:
        logger.log_scalars({"train/loss": value(step)}, step)


def test_a_run_resumed_at_its_mark_holds_each_record_once_as_logged(backend):
    # The checkpoint is written after iteration 4, the last of epoch 0, and before the
    # epoch's metrics are logged at that same step 4; the run dies at iteration 6.
    with backend.make(run_id="run-a") as killed:
        train(killed, range(1, 5), lambda step: -step)
        mark = killed.mark()
        killed.log_scalars({"epoch/loss": -4.0}, 4)
        train(killed, range(5, 7), lambda step: -step)
    assert json.loads(json.dumps(mark)) == mark  # JSON values: it travels in a checkpoint

    with backend.make(run_id="run-a", resume_mark=mark) as resumed:  # redoes epoch_completed
        resumed.log_scalars({"epoch/loss": 4.0}, 4)
        train(resumed, range(5, 9), float)
        resumed.log_scalars({"epoch/loss": 8.0}, 8)

    records = backend.records()
    assert by_tag(records, "train/loss") == [(1, -1), (2, -2), (3, -3), (4, -4)] + [
        (step, step) for step in range(5, 9)
    ]
    assert by_tag(records, "epoch/loss") == [(4, 4.0), (8, 8.0)]


def test_resuming_from_an_older_mark_cuts_back_what_a_later_resume_logged(backend):
    # The newest checkpoint is damaged, so the run falls back to an older one, after a
    # resume from the newer one had already logged on.
    with backend.make(run_id="run-a") as first:
        train(first, range(1, 3), lambda step: -step)
        older = first.mark()
        train(first, range(3, 5), lambda step: -step)
        newer = first.mark()
        train(first, range(5, 7), lambda step: -step)
    with backend.make(run_id="run-a", resume_mark=newer) as second:
        train(second, range(5, 8), lambda step: 10.0 * step)
    with backend.make(run_id="run-a", resume_mark=older) as third:
        train(third, range(3, 9), float)
    assert by_tag(backend.records(), "train/loss") == [(1, -1), (2, -2)] + [
        (step, step) for step in range(3, 9)
    ]


def test_a_mark_taken_before_anything_was_logged_restarts_the_log(backend):
    with backend.make(run_id="run-a") as killed:
        mark = killed.mark()
        train(killed, range(1, 4), lambda step: -step)
    with backend.make(run_id="run-a", resume_mark=mark) as resumed:
        train(resumed, range(1, 3), float)
    assert by_tag(backend.records(), "train/loss") == [(1, 1.0), (2, 2.0)]


def test_a_resumed_run_that_has_not_logged_yet_leaves_the_log_at_its_mark(backend):
    with backend.make(run_id="run-a") as killed:
        train(killed, range(1, 3), float)
        mark = killed.mark()
        train(killed, range(3, 5), float)
    backend.make(run_id="run-a", resume_mark=mark).close()
    assert by_tag(backend.records(), "train/loss") == [(1, 1.0), (2, 2.0)]


def test_a_log_that_lost_what_its_mark_holds_is_refused_and_left_as_it_was(backend):
    with backend.make(run_id="run-a") as first:
        train(first, range(1, 3), float)
        mark = first.mark()
    later = {**mark, **{key: mark[key] + 1000 for key in ("size", "rows") if key in mark}}
    before = backend.files()
    with pytest.raises(LogMarkError, match="does not fit the mark") as raised:
        backend.make(run_id="run-a", resume_mark=later)
    assert "fewer than the" in str(raised.value)
    assert backend.files() == before


def test_a_mark_of_another_run_is_refused(backend):
    with backend.make(run_id="run-a") as first:
        mark = first.mark()
    before = backend.files()
    with pytest.raises(LogMarkError, match="the mark is of run 'run-a', not 'run-b'"):
        backend.make(run_id="run-b", resume_mark=mark)
    assert backend.files() == before


@pytest.mark.parametrize("name", ["jsonl", "csv"])
def test_a_file_log_replaced_by_another_runs_log_is_refused(tmp_path, read_run, name):
    backend = Backend(name, tmp_path, read_run)
    with backend.make(run_id="run-a") as first:
        train(first, range(1, 3), float)
        mark = first.mark()
    with backend.make(run_id="run-b", overwrite=True) as other:
        train(other, range(1, 9), float)
    before = backend.files()
    with pytest.raises(LogMarkError, match="it holds the log of run 'run-b'"):
        backend.make(run_id="run-a", resume_mark=mark)
    assert backend.files() == before


def test_a_csv_log_is_cut_back_to_the_columns_of_its_mark(tmp_path):
    path = tmp_path / "metrics.csv"
    with CSVLogger(path, run_id="run-a") as killed:
        killed.log_scalars({"train/loss": 0.5}, 1)
        mark = killed.mark()
        killed.log_scalars({"train/loss": 0.25, "epoch/loss": 0.375}, 2)  # a new column
    assert path.read_text().splitlines()[0] == "step,train/loss,epoch/loss"
    with CSVLogger(path, run_id="run-a", resume_mark=mark) as resumed:
        resumed.log_scalars({"train/loss": 0.125}, 2)
    assert path.read_text() == "step,train/loss\n1,0.5\n2,0.125\n"


def test_a_tensorboard_run_is_cut_back_across_its_event_files(tmp_path, read_run):
    with TensorBoardLogger(tmp_path, run_id="run-a") as first:
        train(first, range(1, 3), lambda step: -step)
        mark = first.mark()
        train(first, range(3, 5), lambda step: -step)
    with TensorBoardLogger(tmp_path, run_id="run-a", purge_step=3) as second:
        train(second, range(3, 6), lambda step: 10.0 * step)
    run_dir = first.run_dir
    assert len(list(run_dir.glob("events.out.tfevents.*"))) == 2
    with TensorBoardLogger(tmp_path, run_id="run-a", resume_mark=mark) as third:
        train(third, range(3, 5), float)
    files = sorted(path.name for path in run_dir.glob("events.out.tfevents.*"))
    assert files == sorted([mark["file"], third.mark()["file"]])  # the second one's is gone
    assert (run_dir / mark["file"]).stat().st_size == mark["size"]
    points = [(e.step, e.value) for e in read_run(run_dir).Scalars("train/loss")]
    assert points == [(1, -1), (2, -2), (3, 3), (4, 4)]


@pytest.mark.parametrize("lost", ["event file", "run directory"])
def test_a_tensorboard_run_that_lost_its_marked_events_is_refused(tmp_path, lost):
    with TensorBoardLogger(tmp_path, run_id="run-a") as first:
        mark = first.mark()
    if lost == "event file":
        (first.run_dir / mark["file"]).unlink()
        match = f"{mark['file']}' does not fit the mark to resume from: it does not exist"
    else:
        (first.run_dir / "axon-run.json").unlink()
        match = "no directory holds run 'run-a'"
    before = sorted(tmp_path.rglob("*"))
    with pytest.raises(LogMarkError, match=match):
        TensorBoardLogger(tmp_path, run_id="run-a", resume_mark=mark)
    assert sorted(tmp_path.rglob("*")) == before


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"resume_mark": {"run_id": "run-a"}}, ValueError, "needs run_id="),
        (
            {"run_id": "run-a", "resume_mark": {"run_id": "run-a"}},
            TypeError,
            r"\.mark\(\) returned",
        ),
        ({"run_id": "run-a", "resume_mark": "size=12"}, TypeError, r"\.mark\(\) returned"),
        (
            {"run_id": "run-a", "resume_mark": {"run_id": "run-a", "file": "../x", "size": 1}},
            ValueError,
            "names a file, not a path",
        ),
        (
            {"run_id": "run-a", "purge_step": 3, "resume_mark": {"run_id": "run-a"}},
            ValueError,
            "not both",
        ),
    ],
)
def test_bad_marks_are_rejected_before_anything_is_changed(backend, options, error, match):
    if backend.name == "csv" and "file" in options.get("resume_mark", {}):
        options["resume_mark"] = {**options["resume_mark"], "rows": 1, "columns": ["step"]}
    with pytest.raises(error, match=match):
        backend.make(**options)
    assert backend.files() == {}


@pytest.mark.parametrize("name", ["jsonl", "csv"])
def test_a_mark_of_another_file_is_refused(tmp_path, read_run, name):
    backend = Backend(name, tmp_path, read_run)
    with backend.make(run_id="run-a") as first:
        mark = first.mark()
    with pytest.raises(LogMarkError, match="the mark is of the file 'other"):
        backend.make(run_id="run-a", resume_mark={**mark, "file": f"other.{name}"})
