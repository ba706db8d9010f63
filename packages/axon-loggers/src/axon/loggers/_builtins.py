"""The built-in loggers of axon-loggers, registered through its own entry point."""

from __future__ import annotations

from ._console import ConsoleLogger
from ._csv import CSVLogger
from ._jsonl import JSONLinesLogger
from ._tensorboard import TensorBoardLogger
from .plugins import hookimpl


@hookimpl
def axon_loggers():
    return {
        "tensorboard": TensorBoardLogger,
        "jsonl": JSONLinesLogger,
        "csv": CSVLogger,
        "console": ConsoleLogger,
    }
