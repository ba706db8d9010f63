"""Lookup by name through the plugin registry, and third-party loggers."""

from __future__ import annotations

import pytest

import axon.loggers
from axon.loggers import LoggerBase
from axon.loggers.plugins import (
    DuplicateNameError,
    PluginError,
    UnknownNameError,
    hookimpl,
    loggers,
    system,
)


class MemoryLogger(LoggerBase):
    supported_kinds = frozenset({"scalars"})

    def __init__(self, *, capacity: int = 10):
        super().__init__()
        self.capacity = capacity
        self.points: list[tuple[int, dict]] = []

    def _write_scalars(self, scalars, step):
        self.points = [*self.points, (step, scalars)][-self.capacity :]


class MemoryPlugin:
    @hookimpl
    def axon_loggers(self):
        return {"memory": MemoryLogger}


def test_builtin_names_come_from_the_entry_point():
    assert axon.loggers.names() == ["console", "csv", "jsonl", "plot", "tensorboard"]
    assert axon.loggers.get("csv") is axon.loggers.CSVLogger
    assert loggers.provider("tensorboard").startswith(f"axon-loggers {axon.loggers.__version__}")


def test_create_calls_the_factory_with_the_options(tmp_path):
    with axon.loggers.create("tensorboard", logdir=tmp_path, run_id="a", purge_step=3) as logger:
        assert isinstance(logger, axon.loggers.TensorBoardLogger)
        assert (logger.run_id, logger.purge_step) == ("a", 3)


def test_a_misspelt_name_suggests_the_right_one():
    with pytest.raises(UnknownNameError, match="Did you mean 'tensorboard'") as caught:
        axon.loggers.create("tensorbord", logdir="unused")
    assert isinstance(caught.value, LookupError)


def test_a_third_party_logger_is_usable_by_name():
    with system.temporary(MemoryPlugin(), name="memory-plugin"):
        assert "memory" in axon.loggers.names()
        logger = axon.loggers.create("memory", capacity=2)
        for step in range(3):
            logger.log_scalars({"loss": float(step)}, step)
        assert logger.points == [(1, {"loss": 1.0}), (2, {"loss": 2.0})]
    assert "memory" not in axon.loggers.names()


def test_a_duplicate_name_names_both_providers():
    class Impostor:
        @hookimpl
        def axon_loggers(self):
            return {"csv": MemoryLogger}

    with system.temporary(Impostor(), name="impostor"), pytest.raises(DuplicateNameError) as caught:
        axon.loggers.get("csv")
    message = str(caught.value)
    assert "'csv'" in message and "axon-loggers" in message and "'impostor'" in message


@pytest.mark.parametrize(
    ("entry", "use", "message"),
    [
        (lambda **options: object(), axon.loggers.create, r"'bad'.*lacks the methods"),
        (42, axon.loggers.get, r"'bad'.*factory"),
    ],
    ids=["factory-returns-no-logger", "not-callable"],
)
def test_a_bad_entry_is_reported_by_name(entry, use, message):
    class Bad:
        @hookimpl
        def axon_loggers(self):
            return {"bad": entry}

    with system.temporary(Bad(), name="bad-plugin"), pytest.raises(TypeError, match=message):
        use("bad")


def test_a_failed_registration_leaves_the_plugins_as_they_were():
    class Misspelled:
        @hookimpl
        def axon_logger(self):  # the hook is axon_loggers
            return {"memory": MemoryLogger}

    with pytest.raises(PluginError, match="'misspelled' could not be registered") as caught:
        system.register(Misspelled(), name="misspelled")
    assert "unknown hook 'axon_logger'" in str(caught.value)
    assert not system.manager.has_plugin("misspelled")
    with system.temporary(MemoryPlugin(), name="memory-plugin"):
        assert "memory" in axon.loggers.names()
