"""The :class:`LoggerBase` class: input checks and lifecycle shared by every backend."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from types import TracebackType
from typing import Any, ClassVar

import numpy as np

from . import _values
from ._protocol import HParamValue


class LoggerBase:
    """A :class:`~axon.loggers.Logger` that checks inputs and leaves writing to subclasses.

    Every public ``log_*`` method validates its arguments the same way for all
    backends, then calls the matching ``_write_*`` hook:

    * scalars must be Python, numpy or 0-d array numbers; an array raises a
      ``ValueError`` naming the tag and its shape. NaN and infinity are logged as
      they are, with one ``RuntimeWarning`` per tag and logger;
    * histograms drop NaN and infinity (they cannot be binned), with one warning
      per tag; an empty array raises ``ValueError``;
    * images become ``uint8`` ``(height, width, channels)`` arrays;
    * hyperparameters become plain ``bool``, ``int``, ``float`` or ``str``.

    A subclass overrides the hooks for the kinds it can show and lists them in
    :attr:`supported_kinds`; the other kinds are accepted, checked and ignored, so
    the training loop can send every record to every logger. ``_flush`` and
    ``_close`` release the destination. After :meth:`close`, logging raises
    ``RuntimeError``; closing again does nothing.

    Example:
        >>> from axon.loggers import LoggerBase
        >>> class ListLogger(LoggerBase):
        ...     supported_kinds = frozenset({"scalars"})
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.records = []
        ...     def _write_scalars(self, scalars, step):
        ...         self.records.append((step, scalars))
        >>> import numpy as np
        >>> with ListLogger() as logger:
        ...     logger.log_scalars({"loss": np.float32(0.5)}, step=3)
        ...     logger.log_image("ignored", np.zeros((2, 2)), step=3)
        >>> logger.records
        [(3, {'loss': 0.5})]
    """

    #: The kinds this backend shows, among "scalars", "histogram", "text", "image" and
    #: "hparams"; the others are validated and then ignored.
    supported_kinds: ClassVar[frozenset[str]] = frozenset()

    # Class-level defaults, so a subclass that never calls super().__init__() still works.
    _closed: bool = False
    _last_step: int | None = None
    _warned_tags: frozenset[str] = frozenset()

    # -- the Logger protocol ------------------------------------------------------------

    def log_scalars(self, scalars: Mapping[str, Any], step: int) -> None:
        """Record ``{tag: value}`` at ``step``.

        Args:
            scalars: tags to Python, numpy or 0-d array numbers (JAX arrays work).
            step: a non-negative integer.

        Raises:
            ValueError: a value is an array with more than one element (the message
                names the tag and shape), or the step is negative.
            TypeError: a value is not a real number, or the step is not an integer.

        Example:
            >>> import numpy as np
            >>> from axon.loggers import ConsoleLogger
            >>> logger = ConsoleLogger(precision=2)
            >>> logger.log_scalars({"loss": np.float32(0.25), "accuracy": np.array(0.5)}, step=3)
            step 3 | loss=0.25 accuracy=0.50
            >>> try:
            ...     logger.log_scalars({"loss": np.array([0.25, 0.5])}, step=4)
            ... except ValueError as error:
            ...     print(str(error).split(". ")[0])
            Scalar 'loss' must be a single number (shape ()), got an array of shape (2,)
        """
        self._check_open()
        step = _values.as_step(step)
        values = _values.as_scalars(scalars)
        for tag, value in values.items():
            if not math.isfinite(value):
                self._warn_once(
                    tag, f"Scalar {tag!r} is {value} at step {step}; it is logged as it is."
                )
        self._write_scalars(values, step)
        self._seen_step(step)

    def log_histogram(self, tag: str, values: Any, step: int) -> None:
        """Record the distribution of ``values`` (any shape) at ``step``.

        NaN and infinite entries are left out, with one warning per tag.

        Raises:
            ValueError: ``values`` is empty.
            TypeError: ``values`` does not hold real numbers.

        Example:
            >>> import numpy as np
            >>> from axon.loggers import ConsoleLogger
            >>> logger = ConsoleLogger(precision=2)
            >>> logger.log_histogram("weights", np.array([[0.0, 1.0], [2.0, 3.0]]), step=5)
            step 5 | weights: histogram of 4 values, min=0.00 mean=1.50 max=3.00
            >>> try:
            ...     logger.log_histogram("weights", np.array([]), step=6)
            ... except ValueError as error:
            ...     print(error)
            Histogram 'weights' needs at least one value, got shape (0,).
        """
        self._check_open()
        step, tag = _values.as_step(step), _values.as_tag(tag)
        array = _values.as_histogram_values(tag, values)
        finite = np.isfinite(array)
        if not finite.all():
            self._warn_once(
                tag,
                f"Histogram {tag!r} has {int((~finite).sum())} NaN or infinite values at "
                f"step {step}; they are left out of the histogram.",
            )
            array = array[finite]
            if array.size == 0:
                return
        self._write_histogram(tag, array, step)
        self._seen_step(step)

    def log_text(self, tag: str, text: str, step: int) -> None:
        """Record ``text`` at ``step``.

        Raises:
            TypeError: ``text`` is not a ``str``.

        Example:
            >>> from axon.loggers import ConsoleLogger
            >>> logger = ConsoleLogger()
            >>> logger.log_text("notes", "learning rate halved", step=100)
            step 100 | notes: learning rate halved
            >>> try:
            ...     logger.log_text("notes", 0.5, step=100)
            ... except TypeError as error:
            ...     print(error)
            Text 'notes' must be a str, got float.
        """
        self._check_open()
        step, tag = _values.as_step(step), _values.as_tag(tag)
        if not isinstance(text, str):
            raise TypeError(f"Text {tag!r} must be a str, got {type(text).__name__}.")
        self._write_text(tag, text, step)
        self._seen_step(step)

    def log_image(self, tag: str, image: Any, step: int) -> None:
        """Record an ``HW``/``HWC`` image (``uint8``, or float in ``[0, 1]``) at ``step``.

        ``HWC`` images have 1 (gray), 3 (RGB) or 4 (RGBA) channels.

        Raises:
            ValueError: another shape (a ``CHW`` image gets a hint), or floats
                outside ``[0, 1]``.
            TypeError: a dtype other than ``uint8`` or floating point.

        Example:
            >>> import numpy as np
            >>> from axon.loggers import ConsoleLogger
            >>> logger = ConsoleLogger()
            >>> logger.log_image("sample", np.zeros((28, 28)), step=1)
            step 1 | sample: image 28x28x1 (not shown)
            >>> try:
            ...     logger.log_image("sample", np.zeros((3, 28, 28)), step=1)
            ... except ValueError as error:
            ...     print(str(error).split(". ")[-1])
            A CHW image needs np.moveaxis(image, 0, -1).
        """
        self._check_open()
        step, tag = _values.as_step(step), _values.as_tag(tag)
        self._write_image(tag, _values.as_image(tag, image), step)
        self._seen_step(step)

    def log_hparams(self, hparams: Mapping[str, Any], metrics: Mapping[str, Any]) -> None:
        """Record the run's hyperparameters and final ``metrics``.

        Args:
            hparams: names to ``bool``, ``int``, ``float`` or ``str`` values
                (numpy scalars are converted).
            metrics: tags to final values; use the tags of the logged scalars
                (``"epoch/validation_accuracy"``) so TensorBoard links them. For
                a tag of a TensorBoard split, prefix the split's name:
                ``"validation/epoch/accuracy"``.

        Raises:
            TypeError: a hyperparameter of another type (pass ``str(value)``).

        Example:
            >>> from axon.loggers import ConsoleLogger
            >>> logger = ConsoleLogger(precision=2)
            >>> logger.log_hparams({"lr": 0.001, "optimizer": "adam"}, {"epoch/accuracy": 0.9})
            hparams | lr=0.001 optimizer='adam' | metrics | epoch/accuracy=0.90
            >>> try:
            ...     logger.log_hparams({"layers": [64, 32]}, {})
            ... except TypeError as error:
            ...     print(str(error).split(". ")[-1])
            Pass str(value) to record it as text.
        """
        self._check_open()
        checked_hparams = _values.as_hparams(hparams)
        checked_metrics = _values.as_scalars(metrics)
        for tag, value in checked_metrics.items():
            if not math.isfinite(value):
                self._warn_once(tag, f"Metric {tag!r} is {value}; it is logged as it is.")
        self._write_hparams(checked_hparams, checked_metrics)

    def flush(self) -> None:
        """Write everything logged so far to its destination.

        File loggers buffer the values of the current step until the step changes;
        ``flush`` writes them now. It does nothing once the logger is closed.

        Example:
            >>> import pathlib, tempfile
            >>> from axon.loggers import CSVLogger
            >>> path = pathlib.Path(tempfile.mkdtemp()) / "metrics.csv"
            >>> logger = CSVLogger(path)
            >>> logger.log_scalars({"loss": 0.5}, step=1)
            >>> path.read_text()  # step 1 may still get values: not written yet
            ''
            >>> logger.flush()
            >>> path.read_text()
            'step,loss\\n1,0.5\\n'
            >>> logger.close()
        """
        if not self._closed:
            self._flush()

    def close(self) -> None:
        """Flush and release the destination; closing twice is allowed.

        Logging to a closed logger raises ``RuntimeError``. ``with logger:`` closes
        it at the end of the block.

        Example:
            >>> import pathlib, tempfile
            >>> from axon.loggers import CSVLogger
            >>> tmp = tempfile.TemporaryDirectory()
            >>> path = pathlib.Path(tmp.name) / "metrics.csv"
            >>> logger = CSVLogger(path)
            >>> logger.log_scalars({"loss": 0.5}, step=1)
            >>> logger.close()
            >>> logger.close()
            >>> path.read_text().splitlines()
            ['step,loss', '1,0.5']
            >>> try:
            ...     logger.log_scalars({"loss": 0.25}, step=2)
            ... except RuntimeError as error:
            ...     print(str(error).split(". ")[0])
            CSVLogger(...) is closed and cannot log any more
            >>> tmp.cleanup()
        """
        if not self._closed:
            try:
                self._close()
            finally:
                self._closed = True

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called.

        Example:
            >>> from axon.loggers import ConsoleLogger
            >>> with ConsoleLogger() as logger:
            ...     logger.closed
            False
            >>> logger.closed
            True
        """
        return self._closed

    @property
    def last_step(self) -> int | None:
        """The highest step logged so far, or ``None``.

        Every ``log_*`` call with a step counts, also for kinds the backend ignores.

        Example:
            >>> from axon.loggers import CSVLogger
            >>> import pathlib, tempfile
            >>> tmp = tempfile.TemporaryDirectory()
            >>> logger = CSVLogger(pathlib.Path(tmp.name) / "metrics.csv")
            >>> print(logger.last_step)
            None
            >>> logger.log_scalars({"loss": 0.5}, step=20)
            >>> logger.log_text("note", "CSV files ignore text", step=30)
            >>> logger.log_scalars({"loss": 0.4}, step=10)
            >>> logger.last_step
            30
            >>> logger.close()
            >>> tmp.cleanup()
        """
        return self._last_step

    def __enter__(self) -> LoggerBase:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- hooks for subclasses; the defaults ignore the record -----------------------------

    def _write_scalars(self, scalars: dict[str, float], step: int) -> None:
        """Write checked scalars. Default: ignored (the backend does not show scalars)."""

    def _write_histogram(self, tag: str, values: np.ndarray, step: int) -> None:
        """Write a 1-D float64 array of finite values. Default: ignored."""

    def _write_text(self, tag: str, text: str, step: int) -> None:
        """Write a string. Default: ignored."""

    def _write_image(self, tag: str, image: np.ndarray, step: int) -> None:
        """Write a ``uint8`` ``(height, width, 1|3|4)`` image. Default: ignored."""

    def _write_hparams(self, hparams: dict[str, HParamValue], metrics: dict[str, float]) -> None:
        """Write checked hyperparameters and metrics. Default: ignored."""

    def _flush(self) -> None:
        """Push buffered records to the destination. Default: nothing to do."""

    def _close(self) -> None:
        """Flush and release the destination. Default: :meth:`_flush`."""
        self._flush()

    # -- helpers ------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(
                f"{self!r} is closed and cannot log any more. Create a new logger on the "
                f"same destination to continue (pass run_id= and resume_mark= or purge_step= "
                f"to resume a run exactly)."
            )

    def _seen_step(self, step: int) -> None:
        if self._last_step is None or step > self._last_step:
            self._last_step = step

    def _warn_once(self, tag: str, message: str) -> None:
        if tag in self._warned_tags:
            return
        self._warned_tags = self._warned_tags | {tag}
        warnings.warn(
            f"{type(self).__name__}: {message} This warning is shown once per tag.",
            RuntimeWarning,
            stacklevel=3,  # the caller of log_*
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
