"""One file, one run: CSV and JSON Lines logs continue only their own run and refuse the rest."""

from __future__ import annotations

import csv
import json

import pytest

from axon.loggers import CSVLogger, JSONLinesLogger, LogExistsError

FILE_LOGGERS = [
    pytest.param(CSVLogger, "log.csv", id="csv"),
    pytest.param(JSONLinesLogger, "log.jsonl", id="jsonl"),
]

#: What a user may keep at such a path: a data set, or a log of an older axon-loggers
#: (which recorded no run), by file name.
FOREIGN_FILES = {
    "log.csv": ["x,label\n0.5,1\n", "step,loss\n1,0.5\n"],
    "log.jsonl": ['{"text": "hello", "label": 1}\n', '{"step": 1, "loss": 0.5}\n', "\n"],
}


def logged(path):
    """``(run id, [(step, loss), ...])`` of a CSV or JSON Lines log, read back independently."""
    if path.suffix == ".csv":
        marker = json.loads(path.with_name(path.name + ".axon-run.json").read_text())
        with open(path, newline="", encoding="utf-8") as file:
            rows = [(int(row["step"]), float(row["loss"])) for row in csv.DictReader(file)]
        return marker["axon_run"], rows
    header, *records = [json.loads(line) for line in path.read_text().splitlines()]
    return header["axon_run"], [(r["step"], r["loss"]) for r in records if "step" in r]


def log_steps(logger, steps, value):
    for step in steps:
        logger.log_scalars({"loss": value(step)}, step)


def files_in(directory):
    return {path.name: path.read_bytes() for path in directory.iterdir()}


@pytest.mark.parametrize(("make", "name"), FILE_LOGGERS)
def test_a_new_run_gets_a_fresh_id_recorded_with_its_log(tmp_path, make, name):
    with make(tmp_path / name) as first:
        log_steps(first, range(1, 3), float)
    assert len(first.run_id) == 32
    assert logged(tmp_path / name) == (first.run_id, [(1, 1.0), (2, 2.0)])


@pytest.mark.parametrize(("make", "name"), FILE_LOGGERS)
def test_a_resumed_run_continues_its_own_log_with_each_step_once(tmp_path, make, name):
    path = tmp_path / name
    with make(path, run_id="run-a") as interrupted:  # its last checkpoint was at step 3
        log_steps(interrupted, range(1, 6), lambda step: -step)
    with make(path, run_id="run-a", purge_step=4) as resumed:
        log_steps(resumed, range(4, 9), float)
    assert logged(path) == (
        "run-a",
        [(1, -1), (2, -2), (3, -3), (4, 4), (5, 5), (6, 6), (7, 7), (8, 8)],
    )


@pytest.mark.parametrize(("make", "name"), FILE_LOGGERS)
def test_a_restart_from_scratch_under_the_same_run_id_logs_each_step_once(tmp_path, make, name):
    path = tmp_path / name
    with make(path, run_id="run-a") as crashed:  # died before its first checkpoint
        log_steps(crashed, range(1, 6), lambda step: -step)
    with make(path, run_id="run-a", purge_step=1) as restarted:
        log_steps(restarted, range(1, 8), float)
    assert logged(path) == ("run-a", [(step, step) for step in range(1, 8)])


@pytest.mark.parametrize(("make", "name"), FILE_LOGGERS)
@pytest.mark.parametrize(
    "options", [{}, {"run_id": "run-b"}, {"run_id": "run-b", "purge_step": 1}], ids=str
)
def test_another_runs_log_is_refused_and_left_as_it_was(tmp_path, make, name, options):
    path = tmp_path / name
    with make(path, run_id="run-a") as first:
        log_steps(first, range(1, 4), float)
    before = files_in(tmp_path)
    with pytest.raises(LogExistsError) as refusal:
        make(path, **options)
    message = str(refusal.value)
    assert str(path) in message and "holds the log of run 'run-a'" in message
    assert "new path" in message and "run_id='run-a'" in message and "overwrite=True" in message
    assert files_in(tmp_path) == before


@pytest.mark.parametrize(("make", "name"), FILE_LOGGERS)
def test_overwrite_replaces_another_runs_log(tmp_path, make, name):
    path = tmp_path / name
    with make(path, run_id="run-a") as first:
        log_steps(first, range(1, 6), lambda step: -step)
    with make(path, run_id="run-b", overwrite=True) as second:
        log_steps(second, range(1, 3), float)
    assert logged(path) == ("run-b", [(1, 1.0), (2, 2.0)])


@pytest.mark.parametrize(("make", "name"), FILE_LOGGERS)
def test_overwrite_continues_the_runs_own_log(tmp_path, make, name):
    # overwrite= is about other runs: a resumed run that passes it keeps its history.
    path = tmp_path / name
    with make(path, run_id="run-a") as first:
        log_steps(first, range(1, 4), float)
    with make(path, run_id="run-a", purge_step=3, overwrite=True) as resumed:
        log_steps(resumed, range(3, 5), float)
    assert logged(path) == ("run-a", [(1, 1.0), (2, 2.0), (3, 3.0), (4, 4.0)])


@pytest.mark.parametrize(("make", "name"), FILE_LOGGERS)
@pytest.mark.parametrize("options", [{}, {"run_id": "run-a"}, {"overwrite": True}], ids=str)
def test_a_file_that_is_no_log_is_never_written(tmp_path, make, name, options):
    for number, content in enumerate(FOREIGN_FILES[name]):
        path = tmp_path / str(number) / name
        path.parent.mkdir()
        path.write_text(content)
        with pytest.raises(LogExistsError, match="is not a log of axon-loggers") as refusal:
            make(path, **options)
        assert str(path) in str(refusal.value) and "new path" in str(refusal.value)
        assert files_in(path.parent) == {name: content.encode()}


@pytest.mark.parametrize(("make", "name"), FILE_LOGGERS)
def test_an_empty_file_is_started(tmp_path, make, name):
    path = tmp_path / name
    path.touch()
    with make(path, run_id="run-a") as logger:
        log_steps(logger, [1], float)
    assert logged(path) == ("run-a", [(1, 1.0)])


@pytest.mark.parametrize(("make", "name"), FILE_LOGGERS)
@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"purge_step": 3}, ValueError, "needs run_id="),
        ({"run_id": 7}, TypeError, "run_id must be a string"),
        ({"run_id": ""}, ValueError, "run_id must not be empty"),
        ({"overwrite": "yes"}, TypeError, "overwrite must be True or False"),
    ],
)
def test_bad_run_options_are_rejected_before_anything_is_created(
    tmp_path, make, name, options, error, match
):
    with pytest.raises(error, match=match):
        make(tmp_path / "logs" / name, **options)
    assert list(tmp_path.iterdir()) == []
