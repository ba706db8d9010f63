"""axon-loggers: TensorBoard, JSON Lines, CSV and console loggers behind one protocol.

A logger is anything with the methods of :class:`Logger`. The built-in ones are
looked up by name, and plugins add more (see :mod:`axon.loggers.plugins`):

>>> import pathlib, tempfile
>>> import axon.loggers
>>> axon.loggers.names()
['console', 'csv', 'jsonl', 'tensorboard']
>>> path = pathlib.Path(tempfile.mkdtemp()) / "metrics.jsonl"
>>> with axon.loggers.create("jsonl", path=path) as logger:
...     logger.log_scalars({"loss": 0.25}, step=1)
>>> path.read_text()
'{"step": 1, "loss": 0.25}\\n'
"""

from __future__ import annotations

import importlib.metadata
from typing import Any

from . import plugins
from ._base import LoggerBase
from ._console import ConsoleLogger
from ._csv import CSVLogger
from ._files import LogPathError
from ._jsonl import JSONLinesLogger
from ._protocol import Logger
from ._tensorboard import TensorBoardLogger

__version__ = importlib.metadata.version("axon-loggers")

__all__ = [
    "Logger",
    "LoggerBase",
    "TensorBoardLogger",
    "JSONLinesLogger",
    "CSVLogger",
    "ConsoleLogger",
    "LogPathError",
    "create",
    "get",
    "names",
    "plugins",
]


def get(name: str) -> Any:
    """The factory registered as ``name`` (``"tensorboard"``, ``"jsonl"``, ...).

    Raises:
        axon.loggers.plugins.UnknownNameError: no installed plugin registered
            ``name``; the message suggests close names.
    """
    return plugins.loggers.get(name)


def create(name: str, **options: Any) -> Logger:
    """A new logger: the factory registered as ``name`` called with ``options``.

    Raises:
        axon.loggers.plugins.UnknownNameError: unknown ``name``.
        TypeError: the factory returned something that is not a :class:`Logger`.
    """
    logger = get(name)(**options)
    if not isinstance(logger, Logger):
        raise TypeError(
            f"The logger factory {name!r} from {plugins.loggers.provider(name)} returned "
            f"{type(logger).__name__}, which lacks the methods of axon.loggers.Logger "
            f"(log_scalars, log_histogram, log_text, log_image, log_hparams, flush, close)."
        )
    return logger


def names() -> list[str]:
    """The names of every installed logger, sorted."""
    return plugins.loggers.names()
