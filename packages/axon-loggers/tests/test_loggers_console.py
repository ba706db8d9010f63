"""ConsoleLogger output, one line per call."""

from __future__ import annotations

import io

import numpy as np
import pytest

from axon.loggers import ConsoleLogger


@pytest.fixture
def stream():
    return io.StringIO()


def test_one_line_per_call(stream):
    with ConsoleLogger(stream, precision=2) as logger:
        logger.log_scalars({"loss": 0.123, "acc": 0.9}, 5)
        logger.log_histogram("w", np.array([1.0, 2.0, 6.0]), 5)
        logger.log_text("note", "hello", 6)
        logger.log_image("img", np.zeros((4, 3)), 6)
        logger.log_hparams({"lr": 0.1, "act": "relu"}, {"acc": 0.9})
    assert stream.getvalue().splitlines() == [
        "step 5 | loss=0.12 acc=0.90",
        "step 5 | w: histogram of 3 values, min=1.00 mean=3.00 max=6.00",
        "step 6 | note: hello",
        "step 6 | img: image 4x3x1 (not shown)",
        "hparams | lr=0.1 act='relu' | metrics | acc=0.90",
    ]


def test_tiny_and_non_finite_values_stay_readable(stream):
    logger = ConsoleLogger(stream, precision=3)
    with pytest.warns(RuntimeWarning):
        logger.log_scalars({"lr": 1e-5, "loss": float("nan"), "zero": 0.0}, 0)
    assert stream.getvalue() == "step 0 | lr=1.000e-05 loss=nan zero=0.000\n"


def test_close_does_not_close_the_stream(stream):
    ConsoleLogger(stream).close()
    assert not stream.closed


def test_defaults_to_stdout(capsys):
    ConsoleLogger().log_scalars({"loss": 1.0}, 1)
    assert capsys.readouterr().out == "step 1 | loss=1.0000\n"


def test_negative_precision_is_rejected():
    with pytest.raises(ValueError, match="precision"):
        ConsoleLogger(precision=-1)
