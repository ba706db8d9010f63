"""The :class:`Logger` protocol: the only methods axon-loop calls on a logger."""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any, Protocol, runtime_checkable

#: A value accepted as a hyperparameter.
HParamValue = bool | int | float | str

#: The kinds of record a logger receives, one per ``log_*`` method.
RECORD_KINDS = ("scalars", "histogram", "text", "image", "hparams")


@runtime_checkable
class Logger(Protocol):
    """What a logging backend must offer; any object with these methods qualifies.

    Subclassing :class:`axon.loggers.LoggerBase` is the easy way to implement it:
    it validates the inputs and leaves only the writing to you. Steps are
    non-negative integers, usually the loop's iteration counter. A backend that
    cannot show a kind of record (a CSV file and images) accepts it and ignores it,
    so the loop can send everything to every logger.

    ``isinstance(obj, Logger)`` checks only that the methods exist. axon-loop
    itself needs only ``log_scalars``, ``flush`` and ``close`` from an object
    passed to ``loop.log_to(obj)``; the other methods are for histograms, text,
    images and hyperparameters that a handler chooses to send.

    Example:
        >>> import io
        >>> from axon.loggers import ConsoleLogger, Logger
        >>> isinstance(ConsoleLogger(io.StringIO()), Logger)
        True
        >>> class ScalarsOnly:
        ...     def log_scalars(self, scalars, step):
        ...         print(step, scalars)
        >>> isinstance(ScalarsOnly(), Logger)
        False
    """

    def log_scalars(self, scalars: Mapping[str, float], step: int) -> None:
        """Record ``{tag: value}`` at ``step``; values are Python, numpy or 0-d array scalars."""

    def log_histogram(self, tag: str, values: Any, step: int) -> None:
        """Record the distribution of an array of any shape at ``step``."""

    def log_text(self, tag: str, text: str, step: int) -> None:
        """Record a string at ``step``."""

    def log_image(self, tag: str, image: Any, step: int) -> None:
        """Record an ``HWC`` or ``HW`` image, float in ``[0, 1]`` or ``uint8``, at ``step``."""

    def log_hparams(self, hparams: Mapping[str, HParamValue], metrics: Mapping[str, float]) -> None:
        """Record the run's hyperparameters and the final value of some metrics."""

    def flush(self) -> None:
        """Write everything logged so far to its destination."""

    def close(self) -> None:
        """Flush and release the destination; closing twice is allowed."""

    def __enter__(self) -> Logger: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...
