"""JSONLinesLogger, read back with the json module."""

from __future__ import annotations

import json
import math

import pytest

from axon.loggers import JSONLinesLogger, LogPathError
from axon.loggers._backends.jsonl import NON_FINITE_STRINGS


def read_lines(path, run_id=None):
    """The records after the run header, which must name ``run_id`` when given."""
    header, *records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert set(header) == {"axon_run"}, header
    assert run_id is None or header["axon_run"] == run_id
    return records


def test_calls_at_the_same_step_share_one_object(tmp_path):
    path = tmp_path / "log.jsonl"
    with JSONLinesLogger(path) as logger:
        logger.log_scalars({"loss": 0.5}, 1)
        logger.log_scalars({"val/loss": 0.75}, 1)
        logger.log_text("note", "epoch 1 done", 1)
        logger.log_scalars({"loss": 0.25}, 2)
        logger.log_image("ignored", [[0.0]], 2)
    assert read_lines(path) == [
        {"step": 1, "loss": 0.5, "val/loss": 0.75, "note": "epoch 1 done"},
        {"step": 2, "loss": 0.25},
    ]


def test_flush_writes_the_pending_step(tmp_path):
    path = tmp_path / "log.jsonl"
    logger = JSONLinesLogger(path)
    logger.log_scalars({"loss": 0.5}, 1)
    assert read_lines(path, logger.run_id) == []
    logger.flush()
    assert read_lines(path) == [{"step": 1, "loss": 0.5}]
    logger.close()


def test_non_finite_values_are_strict_json_strings(tmp_path):
    path = tmp_path / "log.jsonl"
    with JSONLinesLogger(path) as logger, pytest.warns(RuntimeWarning):
        logger.log_scalars({"a": float("nan"), "b": float("inf"), "c": -math.inf}, 0)
    header, text = path.read_text().splitlines()
    assert json.loads(header) == {"axon_run": logger.run_id}
    # Python's json would accept bare NaN; a strict parser must accept the file too.
    record = json.loads(text, parse_constant=lambda name: pytest.fail(f"bare {name}"))
    assert record == {"step": 0, "a": "NaN", "b": "Infinity", "c": "-Infinity"}
    assert math.isnan(float(record["a"])) and float(record["c"]) == -math.inf
    assert set(NON_FINITE_STRINGS.values()) == {"NaN", "Infinity", "-Infinity"}


def test_hparams_get_their_own_line(tmp_path):
    path = tmp_path / "log.jsonl"
    with JSONLinesLogger(path) as logger:
        logger.log_scalars({"loss": 0.5}, 3)
        logger.log_hparams({"lr": 0.001, "optimizer": "adam"}, {"loss": 0.5})
    assert read_lines(path) == [
        {"step": 3, "loss": 0.5},
        {"hparams": {"lr": 0.001, "optimizer": "adam"}, "metrics": {"loss": 0.5}},
    ]


def test_the_same_run_appends_to_its_existing_file(tmp_path):
    path = tmp_path / "log.jsonl"
    with JSONLinesLogger(path, run_id="run-a") as logger:
        logger.log_scalars({"loss": 1.0}, 0)
    with JSONLinesLogger(path, run_id="run-a") as logger:
        logger.log_scalars({"loss": 2.0}, 1)
    assert read_lines(path, "run-a") == [{"step": 0, "loss": 1.0}, {"step": 1, "loss": 2.0}]


def test_purge_step_drops_the_steps_written_after_the_checkpoint(tmp_path):
    path = tmp_path / "log.jsonl"
    with JSONLinesLogger(path, run_id="run-a") as logger:
        logger.log_hparams({"lr": 0.1}, {})
        for step in range(6):
            logger.log_scalars({"loss": float(step)}, step)
    with JSONLinesLogger(path, run_id="run-a", purge_step=3) as logger:
        for step in range(3, 6):
            logger.log_scalars({"loss": 10.0 + step}, step)
    records = read_lines(path, "run-a")
    assert records[0] == {"hparams": {"lr": 0.1}, "metrics": {}}
    assert [(r["step"], r["loss"]) for r in records[1:]] == [
        (0, 0.0),
        (1, 1.0),
        (2, 2.0),
        (3, 13.0),
        (4, 14.0),
        (5, 15.0),
    ]


def test_a_last_line_cut_short_by_a_crash_stays_separate(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text('{"axon_run": "run-a"}\n{"step": 0, "loss": 1.0}\n{"step": 1, "lo')
    with JSONLinesLogger(path, run_id="run-a") as logger:
        logger.log_scalars({"loss": 3.0}, 2)
    lines = path.read_text().splitlines()
    assert lines[2] == '{"step": 1, "lo'
    assert json.loads(lines[3]) == {"step": 2, "loss": 3.0}


def test_step_is_a_reserved_tag(tmp_path):
    with (
        JSONLinesLogger(tmp_path / "log.jsonl") as logger,
        pytest.raises(ValueError, match="reserved"),
    ):
        logger.log_scalars({"step": 1.0}, 0)


def test_unwritable_paths_raise_log_path_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(LogPathError, match="file"):
        JSONLinesLogger(blocker / "log.jsonl")
    with pytest.raises(LogPathError, match="is a directory"):
        JSONLinesLogger(tmp_path)
