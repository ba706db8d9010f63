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


def test_tags_keep_only_matching_prefixes(stream):
    with ConsoleLogger(stream, precision=1, tags=["epoch/", "note"]) as logger:
        logger.log_scalars({"train/loss": 0.5}, 10)  # nothing left: no line at all
        logger.log_scalars({"train/loss": 0.5, "epoch/loss": 0.25}, 20)
        logger.log_text("notes", "kept", 20)
        logger.log_histogram("params/w", np.ones(2), 20)
        logger.log_hparams({"lr": 0.1}, {"epoch/loss": 0.25})  # no tag: follows kinds
    assert stream.getvalue().splitlines() == [
        "step 20 | epoch/loss=0.2",
        "step 20 | notes: kept",
        "hparams | lr=0.1 | metrics | epoch/loss=0.2",
    ]


def test_a_single_tag_prefix_may_be_a_string(stream):
    ConsoleLogger(stream, tags="epoch/").log_scalars({"epochs": 1.0, "epoch/x": 2.0}, 1)
    assert stream.getvalue() == "step 1 | epoch/x=2.0000\n"


def test_kinds_choose_what_is_printed(stream):
    with ConsoleLogger(stream, kinds=["text", "hparams"]) as logger:
        logger.log_scalars({"loss": 1.0}, 1)
        logger.log_histogram("w", np.ones(3), 1)
        logger.log_image("img", np.zeros((2, 2)), 1)
        logger.log_text("note", "shown", 1)
        logger.log_hparams({"lr": 0.1}, {})
    assert stream.getvalue().splitlines() == [
        "step 1 | note: shown",
        "hparams | lr=0.1 | metrics | ",
    ]


def test_records_left_out_are_still_checked(stream):
    logger = ConsoleLogger(stream, kinds=["text"])
    with pytest.raises(ValueError, match="'loss'"):
        logger.log_scalars({"loss": np.ones(2)}, 1)


def test_an_unknown_kind_suggests_the_closest():
    with pytest.raises(ValueError, match=r"'scalar'.*Did you mean 'scalars'"):
        ConsoleLogger(kinds=["scalar"])
    with pytest.raises(TypeError, match="tags must be strings"):
        ConsoleLogger(tags=["epoch/", 3])


def test_console_options_pass_through_the_registry(stream):
    import axon.loggers

    with axon.loggers.create("console", stream=stream, tags=["epoch/"]) as logger:
        logger.log_scalars({"train/loss": 1.0, "epoch/loss": 0.5}, 8)
    assert stream.getvalue() == "step 8 | epoch/loss=0.5000\n"
