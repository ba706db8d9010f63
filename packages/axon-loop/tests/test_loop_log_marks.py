"""A checkpoint records where each open logger's files ended (its ``mark()``), taken after
the loggers of its event have logged, so that a resumed run can cut its logs back to exactly
that point. (The named loggers of axon-loggers are tested with the loop in
``tests/integration/test_loggers_and_loop.py``.)"""

import json

import optax
import pytest

import axon.loop
from axon.loop.checkpoint import OrbaxBackend
from axon.loop.checkpoint._snapshot import MARKS, snapshot


class MarkingLogger:
    """A logger object whose mark is the number of records it has logged."""

    def __init__(self):
        self.scalars = []

    def log_scalars(self, scalars, step):
        self.scalars.append((step, sorted(scalars)))

    def mark(self):
        return {"records": len(self.scalars)}

    def flush(self):
        pass

    def close(self):
        pass


def trainer(linear):
    return axon.loop.trainer(linear, "mean_squared_error", optax.sgd(0.01), log=0).replace(
        output_transform=None
    )


def test_a_checkpoint_holds_the_marks_of_the_loggers_after_they_logged_its_step(
    linear, regression_batches, tmp_path
):
    logger = MarkingLogger()
    state = (
        trainer(linear)
        .checkpoint(tmp_path, event="iteration_completed", filter={"every": 2})
        .log_to(logger, every=1)  # attached after the checkpoint, still logs before it saves
        .run(regression_batches, epochs=1)
    )
    backend = OrbaxBackend(tmp_path)
    marks = {step: backend.metadata(step)["handler_metadata"][MARKS] for step in backend.steps()}
    backend.close()
    # train/ records at steps 1, 2 (then the save at 2), 3, 4 (the save at 4), then epoch/ at 4
    assert marks == {
        2: {"log_to:MarkingLogger": {"records": 2}},
        4: {"log_to:MarkingLogger": {"records": 4}},
    }
    assert logger.scalars[-1] == (4, ["epoch/loss"])
    assert MARKS not in state.handler_metadata  # marks travel only in checkpoints


def test_logging_handlers_run_after_the_first_ones_and_before_the_others(
    linear, regression_batches
):
    order = []
    logger = MarkingLogger()
    logger.log_scalars = lambda scalars, step: order.append(f"log {sorted(scalars)[0]}")
    (
        trainer(linear)
        .handle_event("epoch_completed", lambda s: order.append("attached before"))
        .log_to(logger, every=4)
        .handle_event("epoch_completed", lambda s: order.append("first"), first=True)
        .run(regression_batches, epochs=1)
    )
    assert order == ["log train/loss", "first", "log epoch/loss", "attached before"]


def test_a_logger_attached_twice_gets_a_key_of_its_own(linear, regression_batches, tmp_path):
    first, second = MarkingLogger(), MarkingLogger()
    (
        trainer(linear)
        .log_to(first, every=1)
        .log_to(second, every=2)
        .checkpoint(tmp_path)
        .run(regression_batches, epochs=1)
    )
    backend = OrbaxBackend(tmp_path)
    assert backend.metadata()["handler_metadata"][MARKS] == {
        "log_to:MarkingLogger": {"records": 5},
        "log_to:MarkingLogger#2": {"records": 3},
    }
    backend.close()


def test_a_mark_that_is_not_json_fails_the_checkpoint_with_a_clear_error(
    linear, regression_batches, tmp_path
):
    logger = MarkingLogger()
    logger.mark = lambda: {"file": tmp_path}  # a Path is no JSON value
    loop = trainer(linear).log_to(logger).checkpoint(tmp_path / "ck")
    with pytest.raises(TypeError, match=r"MarkingLogger.mark\(\) returned .* JSON values"):
        loop.run(regression_batches, epochs=1)


def test_a_snapshot_holds_only_the_marks_given_to_it(linear, regression_batches):
    state = trainer(linear).run(regression_batches, epochs=1)
    state.handler_metadata[MARKS] = {"log_to:x": {"size": 10}}  # restored with a checkpoint
    state.handler_metadata["best"] = 0.5
    _, metadata = snapshot(state)
    assert metadata["handler_metadata"] == {"best": 0.5}  # a resume from it must not cut
    _, metadata = snapshot(state, marks={"log_to:x": {"size": 20}})
    assert metadata["handler_metadata"] == {"best": 0.5, MARKS: {"log_to:x": {"size": 20}}}
    json.dumps(metadata)


def test_a_state_resumed_from_memory_passes_no_mark_on(linear, regression_batches, tmp_path):
    # A run resumed from a checkpoint carries that checkpoint's marks; its final state, given
    # to from_state(), is past them: its loggers must not be cut back to them.
    loop = trainer(linear).log_to(MarkingLogger()).checkpoint(tmp_path)
    loop.run(regression_batches, epochs=1)
    resumed = loop.run(regression_batches, epochs=2, resume_from=tmp_path)
    assert MARKS in resumed.handler_metadata
    seen = []
    spy = MarkingLogger()
    again = (
        trainer(linear)
        .log_to(spy)
        .handle_event("started", lambda s: seen.append(dict(s.handler_metadata)))
        .from_state(resumed)
        .run(regression_batches, epochs=3)
    )
    assert again.resumed_from == 8 and MARKS not in seen[0]
