"""Readable lines on a text stream (the terminal by default)."""

from __future__ import annotations

import difflib
import sys
from collections.abc import Iterable
from typing import TextIO

import numpy as np

from .._base import LoggerBase
from .._protocol import RECORD_KINDS, HParamValue
from .._values import as_strings, describe_array


class ConsoleLogger(LoggerBase):
    """Prints one line per call: ``step 10 | loss=0.2500 accuracy=0.9000``.

    Histograms are summarised (count, min, mean, max) and images described by
    their shape. The stream is not closed by :meth:`close`, since the logger
    does not own it.

    How often lines appear is the caller's choice (``loop.log_to("console",
    every=100)``, or ``every=0`` for one line per epoch); ``tags`` and ``kinds``
    choose *what* is printed. Records left out are still checked, so a bad value
    fails the same way as with any other logger.

    Args:
        stream: where to print; ``sys.stdout`` as it is when the logger is created.
        precision: digits after the decimal point.
        tags: print only tags starting with one of these prefixes (e.g.
            ``["epoch/"]`` for the per-epoch metrics of axon-loop); ``None``
            prints every tag. Hyperparameters have no tag and follow ``kinds``.
        kinds: print only these kinds of record, among ``"scalars"``,
            ``"histogram"``, ``"text"``, ``"image"`` and ``"hparams"``; ``None``
            prints all of them.

    Raises:
        ValueError: a negative ``precision``, or an unknown kind (the message
            suggests the closest one).
        TypeError: ``tags`` or ``kinds`` is not a collection of strings.

    Example:
        >>> from axon.loggers import ConsoleLogger
        >>> logger = ConsoleLogger(precision=3)
        >>> logger.log_scalars({"loss": 0.123456, "lr": 1e-5}, step=10)
        step 10 | loss=0.123 lr=1.000e-05
        >>> logger.log_text("note", "warm-up done", step=10)
        step 10 | note: warm-up done
        >>> quiet = ConsoleLogger(precision=2, tags=["epoch/"], kinds=["scalars"])
        >>> quiet.log_scalars({"train/loss": 0.5}, step=10)
        >>> quiet.log_scalars({"epoch/loss": 0.25, "train/loss": 0.5}, step=20)
        step 20 | epoch/loss=0.25
    """

    supported_kinds = frozenset(RECORD_KINDS)

    def __init__(
        self,
        stream: TextIO | None = None,
        precision: int = 4,
        *,
        tags: Iterable[str] | None = None,
        kinds: Iterable[str] | None = None,
    ) -> None:
        super().__init__()
        if isinstance(precision, bool) or not isinstance(precision, int) or precision < 0:
            raise ValueError(f"precision must be a non-negative int, got {precision!r}.")
        self.stream = sys.stdout if stream is None else stream
        self.precision = precision
        self.tags = None if tags is None else as_strings("tags", tags)
        self.kinds = frozenset(RECORD_KINDS) if kinds is None else _kinds(kinds)

    def _write_scalars(self, scalars: dict[str, float], step: int) -> None:
        shown = {tag: value for tag, value in scalars.items() if self._shows("scalars", tag)}
        if shown:
            self._print(step, " ".join(f"{tag}={self._number(v)}" for tag, v in shown.items()))

    def _write_histogram(self, tag: str, values: np.ndarray, step: int) -> None:
        if not self._shows("histogram", tag):
            return
        stats = describe_array(values)
        self._print(
            step,
            f"{tag}: histogram of {stats['count']} values, min={self._number(stats['min'])} "
            f"mean={self._number(stats['mean'])} max={self._number(stats['max'])}",
        )

    def _write_text(self, tag: str, text: str, step: int) -> None:
        if self._shows("text", tag):
            self._print(step, f"{tag}: {text}")

    def _write_image(self, tag: str, image: np.ndarray, step: int) -> None:
        if self._shows("image", tag):
            height, width, channels = image.shape
            self._print(step, f"{tag}: image {height}x{width}x{channels} (not shown)")

    def _write_hparams(self, hparams: dict[str, HParamValue], metrics: dict[str, float]) -> None:
        if "hparams" not in self.kinds:
            return
        settings = " ".join(f"{name}={value!r}" for name, value in hparams.items())
        results = " ".join(f"{tag}={self._number(value)}" for tag, value in metrics.items())
        self.stream.write(f"hparams | {settings} | metrics | {results}\n")

    def _flush(self) -> None:
        self.stream.flush()

    def _shows(self, kind: str, tag: str) -> bool:
        if kind not in self.kinds:
            return False
        return self.tags is None or tag.startswith(self.tags)

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


def _kinds(kinds: Iterable[str]) -> frozenset[str]:
    chosen = as_strings("kinds", kinds)
    for kind in chosen:
        if kind not in RECORD_KINDS:
            close = difflib.get_close_matches(kind, RECORD_KINDS, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(
                f"Unknown record kind {kind!r} for ConsoleLogger(kinds=...).{hint} "
                f"The kinds are {', '.join(map(repr, RECORD_KINDS))}."
            )
    return frozenset(chosen)
