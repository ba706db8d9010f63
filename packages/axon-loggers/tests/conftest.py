"""Shared helpers: an in-memory logger and an independent reader of TensorBoard runs."""

from __future__ import annotations

import pytest
from tensorboard.backend.event_processing import event_accumulator

from axon.loggers import LoggerBase


class RecordingLogger(LoggerBase):
    """Keeps every checked record, to test what LoggerBase hands to backends."""

    supported_kinds = frozenset({"scalars", "histogram", "text", "image", "hparams"})

    def __init__(self) -> None:
        super().__init__()
        self.records: list[tuple] = []

    def _write_scalars(self, scalars, step):
        self.records.append(("scalars", scalars, step))

    def _write_histogram(self, tag, values, step):
        self.records.append(("histogram", tag, values, step))

    def _write_text(self, tag, text, step):
        self.records.append(("text", tag, text, step))

    def _write_image(self, tag, image, step):
        self.records.append(("image", tag, image, step))

    def _write_hparams(self, hparams, metrics):
        self.records.append(("hparams", hparams, metrics))


@pytest.fixture
def recording() -> RecordingLogger:
    return RecordingLogger()


def _log_then_resume(make, steps, purge_step, offset):
    with make(run_id="resumed-run") as logger:
        for step in range(steps):
            logger.log_scalars({"loss": float(step)}, step)
    with make(run_id="resumed-run", purge_step=purge_step) as logger:
        for step in range(purge_step, steps):
            logger.log_scalars({"loss": offset + step}, step)


@pytest.fixture
def log_then_resume():
    """``log_then_resume(make, steps, purge_step, offset)``: ``make(run_id=...)`` logs
    ``loss = step`` for each step below ``steps``; then, as a run resumed from a checkpoint
    does, ``make(run_id=<the same>, purge_step=purge_step)`` logs ``loss = offset + step``
    from ``purge_step`` on."""
    return _log_then_resume


def _read_run(logdir) -> event_accumulator.EventAccumulator:
    keep_everything = {kind: 0 for kind in event_accumulator.DEFAULT_SIZE_GUIDANCE}
    accumulator = event_accumulator.EventAccumulator(str(logdir), size_guidance=keep_everything)
    accumulator.Reload()
    return accumulator


@pytest.fixture
def read_run():
    """Loads every event of a run directory with TensorBoard's own reader, nothing sampled."""
    return _read_run
