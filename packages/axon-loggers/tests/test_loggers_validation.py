"""Input checks that LoggerBase applies for every backend, and the Logger protocol."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from axon.loggers import (
    ConsoleLogger,
    CSVLogger,
    JSONLinesLogger,
    Logger,
    LoggerBase,
    TensorBoardLogger,
)


@pytest.mark.parametrize(
    "value", [3, 0.5, True, np.float32(0.5), np.int64(3), np.array(2.5), np.array([1.5])[0]]
)
def test_python_numpy_and_zero_d_scalars_become_floats(recording, value):
    recording.log_scalars({"x": value}, step=1)
    ((kind, scalars, step),) = recording.records
    assert (kind, step) == ("scalars", 1)
    assert type(scalars["x"]) is float and scalars["x"] == float(value)


def test_an_array_scalar_raises_naming_the_tag_and_shape(recording):
    with pytest.raises(ValueError, match=r"'val/loss'.*shape \(3,\)"):
        recording.log_scalars({"loss": 1.0, "val/loss": np.ones(3)}, step=0)
    assert recording.records == []  # nothing of a rejected call is written


@pytest.mark.parametrize("value", ["0.5", None, 1 + 2j])
def test_a_non_number_scalar_raises_type_error(recording, value):
    with pytest.raises(TypeError, match="'x'"):
        recording.log_scalars({"x": value}, step=0)


def test_scalars_must_be_a_mapping(recording):
    with pytest.raises(TypeError, match="mapping"):
        recording.log_scalars([("loss", 1.0)], step=0)


@pytest.mark.parametrize("step", [-1, 1.0, True, "3"])
def test_invalid_steps_are_rejected(recording, step):
    with pytest.raises((TypeError, ValueError), match="non-negative integer"):
        recording.log_scalars({"x": 1.0}, step=step)


def test_numpy_integer_step_is_accepted(recording):
    recording.log_text("note", "hi", step=np.int64(4))
    assert recording.records == [("text", "note", "hi", 4)]
    assert type(recording.records[0][3]) is int


def test_nan_and_inf_are_logged_and_warn_once_per_tag(recording):
    with pytest.warns(RuntimeWarning) as caught:
        recording.log_scalars({"loss": float("nan")}, step=0)
        recording.log_scalars({"loss": float("inf")}, step=1)
        recording.log_scalars({"acc": -math.inf, "loss": 1.0}, step=2)
    messages = [str(w.message) for w in caught]
    assert len(messages) == 2
    assert "'loss'" in messages[0] and "'acc'" in messages[1]
    logged = [scalars for _, scalars, _ in recording.records]
    assert math.isnan(logged[0]["loss"]) and logged[1]["loss"] == math.inf
    assert logged[2]["acc"] == -math.inf


def test_finite_values_do_not_warn(recording):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        recording.log_scalars({"loss": 1e300}, step=0)


def test_histogram_is_flattened_and_drops_non_finite_values_with_a_warning(recording):
    with pytest.warns(RuntimeWarning, match=r"'w'.*1 NaN or infinite"):
        recording.log_histogram("w", np.array([[1.0, np.nan], [2.0, 3.0]]), step=0)
    ((_, _, values, _),) = recording.records
    np.testing.assert_array_equal(values, [1.0, 2.0, 3.0])


def test_empty_histogram_raises(recording):
    with pytest.raises(ValueError, match=r"'w'.*at least one value"):
        recording.log_histogram("w", np.zeros((0, 3)), step=0)


def test_images_become_uint8_hwc(recording):
    recording.log_image("gray", np.array([[0.0, 1.0]]), step=0)
    recording.log_image("rgb", np.full((2, 2, 3), 7, np.uint8), step=0)
    gray, rgb = (record[2] for record in recording.records)
    assert gray.dtype == np.uint8 and gray.shape == (1, 2, 1)
    assert gray.ravel().tolist() == [0, 255]
    assert rgb.shape == (2, 2, 3) and rgb.max() == 7


@pytest.mark.parametrize(
    ("image", "error", "match"),
    [
        (np.zeros((3, 8, 8)), ValueError, r"shape \(3, 8, 8\).*moveaxis"),
        (np.zeros((2, 2, 2)), ValueError, "1, 3 or 4 channels"),
        (np.full((2, 2), 2.0), ValueError, r"\[0, 1\].*from 2.0 to 2.0"),
        (np.full((2, 2), np.nan), ValueError, "finite"),
        (np.zeros((2, 2), np.int32), TypeError, "uint8 or float"),
    ],
)
def test_bad_images_are_rejected_with_a_hint(recording, image, error, match):
    with pytest.raises(error, match=match):
        recording.log_image("img", image, step=0)


def test_hparams_become_plain_python_values(recording):
    recording.log_hparams(
        {"lr": np.float32(0.5), "layers": np.int64(3), "flag": np.bool_(True), "act": "relu"},
        {"acc": np.float64(0.9)},
    )
    ((_, hparams, metrics),) = recording.records
    assert hparams == {"lr": 0.5, "layers": 3, "flag": True, "act": "relu"}
    assert [type(v) for v in hparams.values()] == [float, int, bool, str]
    assert metrics == {"acc": 0.9}


def test_unsupported_hparam_type_raises(recording):
    with pytest.raises(TypeError, match=r"'sizes'.*str\(value\)"):
        recording.log_hparams({"sizes": [64, 32]}, {})


def test_text_must_be_a_string(recording):
    with pytest.raises(TypeError, match="'note'"):
        recording.log_text("note", b"bytes", step=0)


def test_closed_logger_refuses_records_and_closes_once(recording):
    with recording:
        pass
    assert recording.closed
    recording.close()
    with pytest.raises(RuntimeError, match="closed"):
        recording.log_text("note", "late", step=0)


def test_last_step_is_the_highest_step_logged(recording):
    assert recording.last_step is None
    recording.log_scalars({"x": 1.0}, step=5)
    recording.log_scalars({"x": 1.0}, step=3)
    assert recording.last_step == 5


def test_base_class_ignores_every_kind_by_default():
    logger = LoggerBase()
    logger.log_scalars({"x": 1.0}, 0)
    logger.log_histogram("h", [1.0], 0)
    logger.log_text("t", "text", 0)
    logger.log_image("i", np.zeros((1, 1)), 0)
    logger.log_hparams({"lr": 0.1}, {"x": 1.0})
    logger.close()


def test_builtin_loggers_satisfy_the_protocol(tmp_path):
    loggers = [
        TensorBoardLogger(tmp_path / "tb"),
        JSONLinesLogger(tmp_path / "log.jsonl"),
        CSVLogger(tmp_path / "log.csv"),
        ConsoleLogger(),
    ]
    for logger in loggers:
        assert isinstance(logger, Logger)
        logger.close()


def test_an_object_without_the_methods_is_not_a_logger():
    class PrintOnly:
        def log_scalars(self, scalars, step):
            print(scalars)

    assert not isinstance(PrintOnly(), Logger)


def test_a_subclass_that_skips_super_init_still_works():
    class Minimal(LoggerBase):
        def __init__(self):
            self.seen = []

        def _write_text(self, tag, text, step):
            self.seen.append(text)

    logger = Minimal()
    with pytest.warns(RuntimeWarning):
        logger.log_scalars({"x": float("nan")}, 0)
    logger.log_text("t", "ok", 1)
    logger.close()
    assert logger.seen == ["ok"] and logger.closed and logger.last_step == 1


@pytest.mark.parametrize(
    ("make", "what"),
    [
        (lambda p, s: TensorBoardLogger(p / "tb", purge_step=s), "TensorBoard"),
        (lambda p, s: CSVLogger(p / "log.csv", purge_step=s), "CSV"),
        (lambda p, s: JSONLinesLogger(p / "log.jsonl", purge_step=s), "JSONL"),
    ],
)
@pytest.mark.parametrize(
    ("purge_step", "error"), [(-1, ValueError), (2.0, TypeError), ("3", TypeError)]
)
def test_an_invalid_purge_step_is_rejected_before_anything_is_created(
    tmp_path, make, what, purge_step, error
):
    with pytest.raises(error, match="purge_step must be a non-negative integer"):
        make(tmp_path, purge_step)
    assert list(tmp_path.iterdir()) == [], what


def test_accepts_option_reads_the_factory_signature():
    import axon.loggers

    assert all(
        axon.loggers.accepts_option(n, "purge_step") for n in ("tensorboard", "csv", "jsonl")
    )
    assert not axon.loggers.accepts_option("console", "purge_step")
    assert axon.loggers.accepts_option("console", "tags")
    assert not axon.loggers.accepts_option("tensorboard", "self")
