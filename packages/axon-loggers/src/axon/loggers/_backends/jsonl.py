"""JSON Lines files: one JSON object per step."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from .._protocol import HParamValue
from .files import replace_file
from .steps import STEP_KEY, StepFileLogger

#: How non-finite floats are written, since JSON has no NaN or Infinity.
#: ``float(text)`` reads each of these strings back as the original value.
NON_FINITE_STRINGS = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


class JSONLinesLogger(StepFileLogger):
    """Appends one JSON object per step to a file: ``{"step": 3, "loss": 0.25, ...}``.

    Scalars and text logged at the same step share one object; it is written
    when a later step is logged, and on :meth:`flush` and :meth:`close` (a step
    logged again after a flush gets a second object). :meth:`log_hparams` writes
    its own line, ``{"hparams": {...}, "metrics": {...}}``, with no ``"step"`` key.
    Histograms and images are ignored.

    The file is strict JSON: NaN and infinities are written as the strings
    ``"NaN"``, ``"Infinity"`` and ``"-Infinity"`` (:data:`NON_FINITE_STRINGS`),
    which ``float()`` converts back; a missing value is simply an absent key.

    An existing file is appended to, so a resumed run continues it.

    Args:
        path: the ``.jsonl`` file; its directory is created if missing.
        purge_step: when resuming a run, the first step the resumed run will log
            (``T + 1`` after the checkpoint of iteration ``T``): the lines of steps
            ``>= purge_step`` that the interrupted run wrote are dropped.

    Raises:
        LogPathError: the file cannot be created or written.

    Example:
        >>> import json, pathlib, tempfile
        >>> from axon.loggers import JSONLinesLogger
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "metrics.jsonl"
        >>> with JSONLinesLogger(path) as logger:
        ...     logger.log_scalars({"loss": 0.5}, step=1)
        ...     logger.log_scalars({"val/loss": 0.75}, step=1)
        ...     logger.log_scalars({"loss": 0.25}, step=2)
        >>> [json.loads(line) for line in path.read_text().splitlines()]
        [{'step': 1, 'loss': 0.5, 'val/loss': 0.75}, {'step': 2, 'loss': 0.25}]
    """

    supported_kinds = frozenset({"scalars", "text", "hparams"})
    _what = "JSON Lines log file"

    #: The log file, as a :class:`pathlib.Path`.
    path: Path

    def _resume(self, purge_step: int | None) -> None:
        if purge_step is not None:
            _drop_steps_from(self.path, purge_step, self._what)

    def _write_scalars(self, scalars: dict[str, float], step: int) -> None:
        self._add(step, {tag: _json_float(value) for tag, value in scalars.items()})

    def _write_text(self, tag: str, text: str, step: int) -> None:
        self._add(step, {tag: text})

    def _write_hparams(self, hparams: dict[str, HParamValue], metrics: dict[str, float]) -> None:
        self._write_pending()
        hparams = {k: _json_float(v) if isinstance(v, float) else v for k, v in hparams.items()}
        metrics_json = {tag: _json_float(value) for tag, value in metrics.items()}
        self._write_line({"hparams": hparams, "metrics": metrics_json})

    def _write_step(self, step: int, values: dict[str, Any]) -> None:
        self._write_line({STEP_KEY: step, **values})

    def _write_line(self, record: dict[str, Any]) -> None:
        # allow_nan=False guarantees strict JSON; non-finite floats were replaced above.
        self._file.write(json.dumps(record, allow_nan=False) + "\n")


def _json_float(value: float) -> float | str:
    return value if math.isfinite(value) else NON_FINITE_STRINGS[repr(value)]


def _drop_steps_from(path: Path, purge_step: int, what: str) -> None:
    with open(path, encoding="utf-8") as file:
        lines = file.readlines()
    kept = [line for line in lines if not _step_at_least(line, purge_step)]
    if len(kept) != len(lines):
        replace_file(path, "".join(kept), what)


def _step_at_least(line: str, purge_step: int) -> bool:
    try:
        record = json.loads(line)
    except ValueError:
        return False  # a line cut short by a crash is kept as it is
    step = record.get(STEP_KEY) if isinstance(record, dict) else None
    return isinstance(step, int) and step >= purge_step  # hparams lines have no step
