"""CSVLogger, read back with the csv module."""

from __future__ import annotations

import csv
import math

import pytest

from axon.loggers import CSVLogger, LogExistsError, LogPathError


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.reader(file))


def test_one_row_per_step_with_a_fixed_header(tmp_path):
    path = tmp_path / "log.csv"
    with CSVLogger(path) as logger:
        logger.log_scalars({"loss": 0.5, "acc": 0.25}, 1)
        logger.log_scalars({"acc": 0.5}, 2)
        logger.log_scalars({"loss": 0.125}, 2)
        logger.log_text("ignored", "text", 2)
        logger.log_hparams({"lr": 0.1}, {"loss": 0.125})
    assert read_rows(path) == [["step", "loss", "acc"], ["1", "0.5", "0.25"], ["2", "0.125", "0.5"]]


def test_a_new_tag_widens_the_header_and_keeps_earlier_rows(tmp_path):
    path = tmp_path / "log.csv"
    with CSVLogger(path) as logger:
        logger.log_scalars({"loss": 1.0}, 0)
        logger.log_scalars({"loss": 0.5}, 1)
        logger.log_scalars({"loss": 0.25, "val/loss": 0.75}, 2)
        logger.log_scalars({"loss": 0.125}, 3)
    assert read_rows(path) == [
        ["step", "loss", "val/loss"],
        ["0", "1.0", ""],
        ["1", "0.5", ""],
        ["2", "0.25", "0.75"],
        ["3", "0.125", ""],
    ]


def test_the_same_run_appends_under_the_existing_header(tmp_path):
    path = tmp_path / "log.csv"
    with CSVLogger(path, run_id="run-a") as logger:
        logger.log_scalars({"loss": 1.0, "acc": 0.5}, 0)
    with CSVLogger(path, run_id="run-a") as logger:
        logger.log_scalars({"acc": 0.75, "loss": 0.5}, 1)  # other order: same columns
        logger.log_scalars({"lr": 0.01}, 2)
    assert read_rows(path) == [
        ["step", "loss", "acc", "lr"],
        ["0", "1.0", "0.5", ""],
        ["1", "0.5", "0.75", ""],
        ["2", "", "", "0.01"],
    ]


def test_purge_step_drops_rows_written_after_the_checkpoint(tmp_path, log_then_resume):
    path = tmp_path / "log.csv"
    log_then_resume(lambda **options: CSVLogger(path, **options), 5, purge_step=2, offset=10.0)
    assert [row[0] for row in read_rows(path)] == ["step", "0", "1", "2", "3", "4"]
    assert [row[1] for row in read_rows(path)[1:]] == ["0.0", "1.0", "12.0", "13.0", "14.0"]


def test_non_finite_values_read_back_with_float(tmp_path):
    path = tmp_path / "log.csv"
    with CSVLogger(path) as logger, pytest.warns(RuntimeWarning) as caught:
        logger.log_scalars({"loss": float("nan"), "gap": -math.inf}, 0)
    assert len(caught) == 2
    header, row = read_rows(path)
    values = dict(zip(header, row, strict=True))
    assert math.isnan(float(values["loss"])) and float(values["gap"]) == -math.inf


def test_full_precision_is_kept(tmp_path):
    path = tmp_path / "log.csv"
    with CSVLogger(path) as logger:
        logger.log_scalars({"x": 0.1 + 0.2}, 0)
    assert float(read_rows(path)[1][1]) == 0.1 + 0.2


def test_a_file_that_is_not_a_csv_log_is_refused(tmp_path):
    path = tmp_path / "notes.csv"
    path.write_text("name,value\nfoo,1\n")
    with pytest.raises(LogExistsError, match=r"not a log of axon-loggers.*'name'"):
        CSVLogger(path, overwrite=True)
    assert path.read_text() == "name,value\nfoo,1\n"
    assert list(tmp_path.iterdir()) == [path]  # no run record written beside it


def test_path_under_a_regular_file_raises_log_path_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(LogPathError, match="CSV log file"):
        CSVLogger(blocker / "sub" / "log.csv")
