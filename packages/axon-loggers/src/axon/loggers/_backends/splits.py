"""Loggers writing into one TensorBoard event file: a run's own, and each of its splits.

A split is a sibling run inside a run's directory, ``<run_dir>/train`` or
``<run_dir>/validation``, as Keras's TensorBoard callback writes them: the same tag
in two splits is one chart in TensorBoard, with a curve per split.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .._base import LoggerBase

if TYPE_CHECKING:
    from .events import EventFile


class EventRecords(LoggerBase):
    """Writes every kind of record but hyperparameters into the event file ``_events``,
    remembering the last step of each scalar tag."""

    _events: EventFile

    def __init__(self) -> None:
        super().__init__()
        self._steps_by_tag: dict[str, int] = {}

    def _write_scalars(self, scalars: dict[str, float], step: int) -> None:
        for tag, value in scalars.items():
            self._events.scalar(tag, value, step)
            self._steps_by_tag[tag] = step

    def _write_histogram(self, tag: str, values: np.ndarray, step: int) -> None:
        self._events.histogram(tag, values, step)

    def _write_text(self, tag: str, text: str, step: int) -> None:
        self._events.text(tag, text, step)

    def _write_image(self, tag: str, image: np.ndarray, step: int) -> None:
        self._events.image(tag, image, step)

    def _flush(self) -> None:
        self._events.flush()

    def _close(self) -> None:
        self._events.close()


class TensorBoardSplit(EventRecords):
    """The records of one data split of a TensorBoard run, in the sibling run
    ``<run_dir>/<name>``; made by :meth:`TensorBoardLogger.split`.

    It logs scalars, histograms, text and images like any logger. Hyperparameters
    belong to the whole run: log them with the run's logger (a split ignores them).
    The run's logger flushes its splits with itself, records their event files in
    its :meth:`~TensorBoardLogger.mark`, and closes them when it closes.

    Attributes:
        name: the split's name, ``"train"`` or ``"validation"`` say.
        run_dir: the split's directory, ``<run_dir of the run>/<name>``.
    """

    supported_kinds = frozenset({"scalars", "histogram", "text", "image"})

    def __init__(self, name: str, events: EventFile, run: LoggerBase) -> None:
        super().__init__()
        self.name = name
        self.run_dir = events.path.parent
        self._events = events
        self._run = run

    def __repr__(self) -> str:
        return f"{self._run!r}.split({self.name!r})"
