"""The built-in loggers of axon-loggers, registered through its own entry point."""

from __future__ import annotations

from ._backends import ConsoleLogger, CSVLogger, JSONLinesLogger, PlotLogger, TensorBoardLogger
from .plugins import hookimpl


@hookimpl
def axon_loggers():
    return {
        "tensorboard": TensorBoardLogger,
        "jsonl": JSONLinesLogger,
        "csv": CSVLogger,
        "console": ConsoleLogger,
        "plot": PlotLogger,
    }
