"""Readable lines on a text stream (the terminal by default)."""

from __future__ import annotations

import sys
from typing import TextIO

import numpy as np

from ._base import LoggerBase
from ._protocol import HParamValue
from ._values import describe_array


class ConsoleLogger(LoggerBase):
    """Prints one line per call: ``step 10 | loss=0.2500 accuracy=0.9000``.

    Histograms are summarised (count, min, mean, max) and images described by
    their shape; nothing is ever dropped silently. The stream is not closed by
    :meth:`close`, since the logger does not own it.

    Args:
        stream: where to print; ``sys.stdout`` as it is when the logger is created.
        precision: digits after the decimal point.

    Example:
        >>> from axon.loggers import ConsoleLogger
        >>> logger = ConsoleLogger(precision=3)
        >>> logger.log_scalars({"loss": 0.123456, "lr": 1e-5}, step=10)
        step 10 | loss=0.123 lr=1.000e-05
        >>> logger.log_text("note", "warm-up done", step=10)
        step 10 | note: warm-up done
    """

    supported_kinds = frozenset({"scalars", "histogram", "text", "image", "hparams"})

    def __init__(self, stream: TextIO | None = None, precision: int = 4) -> None:
        super().__init__()
        if isinstance(precision, bool) or not isinstance(precision, int) or precision < 0:
            raise ValueError(f"precision must be a non-negative int, got {precision!r}.")
        self.stream = sys.stdout if stream is None else stream
        self.precision = precision

    def _write_scalars(self, scalars: dict[str, float], step: int) -> None:
        self._print(step, " ".join(f"{tag}={self._number(v)}" for tag, v in scalars.items()))

    def _write_histogram(self, tag: str, values: np.ndarray, step: int) -> None:
        stats = describe_array(values)
        self._print(
            step,
            f"{tag}: histogram of {stats['count']} values, min={self._number(stats['min'])} "
            f"mean={self._number(stats['mean'])} max={self._number(stats['max'])}",
        )

    def _write_text(self, tag: str, text: str, step: int) -> None:
        self._print(step, f"{tag}: {text}")

    def _write_image(self, tag: str, image: np.ndarray, step: int) -> None:
        height, width, channels = image.shape
        self._print(step, f"{tag}: image {height}x{width}x{channels} (not shown)")

    def _write_hparams(self, hparams: dict[str, HParamValue], metrics: dict[str, float]) -> None:
        settings = " ".join(f"{name}={value!r}" for name, value in hparams.items())
        results = " ".join(f"{tag}={self._number(value)}" for tag, value in metrics.items())
        self.stream.write(f"hparams | {settings} | metrics | {results}\n")

    def _flush(self) -> None:
        self.stream.flush()

    def _number(self, value: float) -> str:
        # Fixed-point reads best for losses and accuracies; tiny or huge values
        # (learning rates, counts) switch to exponent notation instead of printing 0.0000.
        magnitude = abs(value)
        if magnitude != 0 and not (1e-3 <= magnitude < 1e6) and np.isfinite(value):
            return f"{value:.{self.precision}e}"
        return f"{value:.{self.precision}f}"

    def _print(self, step: int, message: str) -> None:
        self.stream.write(f"step {step} | {message}\n")

    def __repr__(self) -> str:
        return f"ConsoleLogger(precision={self.precision})"
