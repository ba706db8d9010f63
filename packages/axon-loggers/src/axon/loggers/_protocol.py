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

    **Optional: marks.** A logger that keeps its log in files may also offer
    ``mark() -> dict``: flush, then return where its files end, in JSON values
    (a file's name and size, say), and accept that dict back as the option
    ``resume_mark=`` to cut its log back there. axon-loop's checkpoint handler
    records the mark of every open logger that has one in each checkpoint, and a
    run resumed from that checkpoint re-opens its loggers (those given by name)
    with their marks, so each log holds exactly what was logged before the
    checkpoint, and the resumed run's records follow it. A logger without marks
    is given ``purge_step`` instead, if it takes it. ``mark`` is not part of the
    ``isinstance`` check. The JSON Lines, CSV, TensorBoard and plot loggers have it;
    the console has nothing to cut.

    **Optional: splits.** A logger that can show a data split as a run of its
    own may offer ``split(name) -> Logger``: axon-loop's ``log_to`` then logs the
    training records to ``split("train")`` and the validation metrics to
    ``split("validation")`` under the same tags (``epoch/loss`` in both), so
    they are drawn on one chart. The :class:`TensorBoardLogger` has it (sibling
    runs ``run_dir/train`` and ``run_dir/validation``, as Keras writes them). A
    logger without it gets one stream of records, the validation metrics under
    their own names (``epoch/validation_loss``).

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

        Which loggers have marks:

        >>> import pathlib, tempfile
        >>> from axon.loggers import JSONLinesLogger
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "metrics.jsonl"
        >>> with JSONLinesLogger(path, run_id="run-1") as logger:
        ...     logger.mark()
        {'run_id': 'run-1', 'file': 'metrics.jsonl', 'size': 22}
        >>> hasattr(ConsoleLogger(io.StringIO()), "mark")
        False
    """

    def log_scalars(self, scalars: Mapping[str, float], step: int) -> None:
        """Record ``{tag: value}`` at ``step``; values are Python, numpy or 0-d array scalars.

        Example:
            >>> import numpy as np
            >>> from axon.loggers import ConsoleLogger, Logger
            >>> logger: Logger = ConsoleLogger(precision=2)
            >>> logger.log_scalars({"train/loss": np.float32(0.75), "train/lr": 0.01}, step=10)
            step 10 | train/loss=0.75 train/lr=0.01
        """

    def log_histogram(self, tag: str, values: Any, step: int) -> None:
        """Record the distribution of an array of any shape at ``step``.

        Example:
            >>> import numpy as np
            >>> from axon.loggers import ConsoleLogger, Logger
            >>> logger: Logger = ConsoleLogger(precision=1)
            >>> logger.log_histogram("dense/kernel", np.arange(6.0).reshape(2, 3), step=10)
            step 10 | dense/kernel: histogram of 6 values, min=0.0 mean=2.5 max=5.0
        """

    def log_text(self, tag: str, text: str, step: int) -> None:
        """Record a string at ``step``.

        Example:
            >>> from axon.loggers import ConsoleLogger, Logger
            >>> logger: Logger = ConsoleLogger()
            >>> logger.log_text("config", "batch_size=32", step=0)
            step 0 | config: batch_size=32
        """

    def log_image(self, tag: str, image: Any, step: int) -> None:
        """Record an ``HWC`` or ``HW`` image, float in ``[0, 1]`` or ``uint8``, at ``step``.

        Example:
            >>> import numpy as np
            >>> from axon.loggers import ConsoleLogger, Logger
            >>> logger: Logger = ConsoleLogger()
            >>> logger.log_image("samples/0", np.full((32, 32, 3), 255, np.uint8), step=10)
            step 10 | samples/0: image 32x32x3 (not shown)
        """

    def log_hparams(self, hparams: Mapping[str, HParamValue], metrics: Mapping[str, float]) -> None:
        """Record the run's hyperparameters and the final value of some metrics.

        Example:
            >>> from axon.loggers import ConsoleLogger, Logger
            >>> logger: Logger = ConsoleLogger(precision=3)
            >>> logger.log_hparams({"lr": 0.01, "epochs": 5}, {"epoch/loss": 0.125})
            hparams | lr=0.01 epochs=5 | metrics | epoch/loss=0.125
        """

    def flush(self) -> None:
        """Write everything logged so far to its destination.

        Example:
            >>> import pathlib, tempfile
            >>> import axon.loggers
            >>> tmp = tempfile.TemporaryDirectory()
            >>> path = pathlib.Path(tmp.name) / "metrics.csv"
            >>> logger = axon.loggers.create("csv", path=path)
            >>> logger.log_scalars({"loss": 0.5}, step=1)
            >>> logger.flush()
            >>> path.read_text().splitlines()
            ['step,loss', '1,0.5']
            >>> logger.close()
            >>> tmp.cleanup()
        """

    def close(self) -> None:
        """Flush and release the destination; closing twice is allowed.

        Example:
            >>> import io
            >>> from axon.loggers import ConsoleLogger, Logger
            >>> logger: Logger = ConsoleLogger(io.StringIO())
            >>> logger.close()
            >>> logger.close()  # closing twice is allowed
        """

    def __enter__(self) -> Logger: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...
