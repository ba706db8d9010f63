"""axon-loggers: TensorBoard, JSON Lines, CSV, console and plot loggers behind one protocol.

A logger is anything with the methods of :class:`Logger`. The built-in ones are
looked up by name, and plugins add more (see :mod:`axon.loggers.plugins`):

>>> import pathlib, tempfile
>>> import axon.loggers
>>> axon.loggers.names()
['console', 'csv', 'jsonl', 'plot', 'tensorboard']
>>> path = pathlib.Path(tempfile.mkdtemp()) / "metrics.jsonl"
>>> with axon.loggers.create("jsonl", path=path, run_id="run-1") as logger:
...     logger.log_scalars({"loss": 0.25}, step=1)
>>> print(path.read_text(), end="")
{"axon_run": "run-1"}
{"step": 1, "loss": 0.25}

Each log belongs to one run, named by ``run_id=``: a TensorBoard logdir gets a
``version_N`` directory per run, and a CSV or JSON Lines file (a plot's points
too) is continued only by its own run (another run's log, or a file that is no log, raises
:class:`LogExistsError`). A file logger's ``mark()`` says where its log ends;
given back as ``resume_mark=``, it cuts the log back there, so a run resumed
from a checkpoint continues exactly the log it had when the checkpoint was
written (axon-loop records the marks in its checkpoints).
"""

from __future__ import annotations

import importlib.metadata
import inspect
from typing import Any

from . import plugins
from ._backends import (
    ConsoleLogger,
    CSVLogger,
    JSONLinesLogger,
    LogExistsError,
    LogMarkError,
    LogPathError,
    PlotLogger,
    TensorBoardLogger,
)
from ._base import LoggerBase
from ._protocol import Logger
from ._trees import flatten_tree, log_histograms

__version__ = importlib.metadata.version("axon-loggers")

__all__ = [
    "Logger",
    "LoggerBase",
    "TensorBoardLogger",
    "JSONLinesLogger",
    "CSVLogger",
    "ConsoleLogger",
    "PlotLogger",
    "LogPathError",
    "LogExistsError",
    "LogMarkError",
    "flatten_tree",
    "log_histograms",
    "accepts_option",
    "create",
    "get",
    "names",
    "plugins",
]


def get(name: str) -> Any:
    """The factory registered as ``name`` (``"tensorboard"``, ``"jsonl"``, ...).

    Args:
        name: a logger name, as listed by :func:`names`.

    Returns:
        The factory, a class or function called with keyword options.

    Raises:
        axon.loggers.plugins.UnknownNameError: no installed plugin registered
            ``name``; the message suggests close names.

    Example:
        >>> import axon.loggers
        >>> axon.loggers.get("csv")
        <class 'axon.loggers._backends.csv.CSVLogger'>
        >>> try:
        ...     axon.loggers.get("tensorbord")
        ... except axon.loggers.plugins.UnknownNameError as error:
        ...     print(str(error).split(" Known")[0])
        Unknown logger 'tensorbord'. Did you mean 'tensorboard'?
    """
    return plugins.loggers.get(name)


def create(name: str, **options: Any) -> Logger:
    """A new logger: the factory registered as ``name`` called with ``options``.

    This is what ``loop.log_to(name, **options)`` of axon-loop calls when a run starts.

    Args:
        name: a logger name, as listed by :func:`names`.
        **options: keyword arguments of that logger (``logdir=`` for
            ``"tensorboard"``, ``path=`` for ``"csv"`` and ``"jsonl"``).

    Returns:
        The new logger; use it as a context manager or call ``close()``.

    Raises:
        axon.loggers.plugins.UnknownNameError: unknown ``name``.
        TypeError: the factory returned something that is not a :class:`Logger`.

    Example:
        >>> import io
        >>> import axon.loggers
        >>> stream = io.StringIO()
        >>> with axon.loggers.create("console", stream=stream, precision=2) as logger:
        ...     logger.log_scalars({"train/loss": 0.25}, step=50)
        >>> stream.getvalue()
        'step 50 | train/loss=0.25\\n'
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
    """The names of every installed logger, sorted, plugins included.

    Example:
        >>> import axon.loggers
        >>> axon.loggers.names()
        ['console', 'csv', 'jsonl', 'plot', 'tensorboard']
    """
    return plugins.loggers.names()


def accepts_option(name: str, option: str) -> bool:
    """Whether the factory registered as ``name`` takes the keyword option ``option``.

    A caller that adds an option of its own checks this first; axon-loop, for
    one, passes ``purge_step`` to a logger it re-opens for a resumed run only
    when the logger accepts it (the file backends do, the console has nothing to
    purge). A factory that takes ``**options`` accepts every option.

    Args:
        name: a logger name, as listed by :func:`names`.
        option: a keyword argument name, e.g. ``"purge_step"``.

    Raises:
        axon.loggers.plugins.UnknownNameError: unknown ``name``.

    Example:
        >>> import axon.loggers
        >>> axon.loggers.accepts_option("tensorboard", "purge_step")
        True
        >>> axon.loggers.accepts_option("console", "purge_step")
        False
    """
    factory = get(name)
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):  # a builtin or C callable without a signature
        return False
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return any(
        (parameter.name == option and parameter.kind in named)
        or parameter.kind is inspect.Parameter.VAR_KEYWORD
        for parameter in parameters
    )
