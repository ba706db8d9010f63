"""JSON Lines files: one JSON object per step."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, ClassVar

from .._protocol import HParamValue
from .files import read_first_line, replace_file
from .marks import cut_to_size
from .runs import RUN_KEY, not_a_log, parse_run_record, run_record
from .steps import STEP_KEY, StepFileLogger

#: How non-finite floats are written, since JSON has no NaN or Infinity.
#: ``float(text)`` reads each of these strings back as the original value.
NON_FINITE_STRINGS = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}

#: The first line of every log, naming its run, as a reader sees it in messages.
RUN_HEADER = f'{{"{RUN_KEY}": ...}}'


class JSONLinesLogger(StepFileLogger):
    """Appends one JSON object per step to the log of one run: ``{"step": 3, "loss": 0.25, ...}``.

    The first line names the run: ``{"axon_run": "<run id>"}``. Readers skip it as
    they skip the hyperparameter lines: keep the objects that have a ``"step"``.
    Scalars and text logged at the same step share one object; it is written
    when a later step is logged, and on :meth:`flush` and :meth:`close` (a step
    logged again after a flush gets a second object). :meth:`log_hparams` writes
    its own line, ``{"hparams": {...}, "metrics": {...}}``, with no ``"step"`` key.
    Histograms and images are ignored.

    The file is strict JSON: NaN and infinities are written as the strings
    ``"NaN"``, ``"Infinity"`` and ``"-Infinity"`` (:data:`NON_FINITE_STRINGS`),
    which ``float()`` converts back; a missing value is simply an absent key.

    **One file, one run.** A missing or empty file is started with the run's
    header. An existing log of the same ``run_id`` is continued: appended to,
    after cutting it back to ``resume_mark`` or dropping its lines of steps
    ``>= purge_step``. Anything else is refused with :class:`LogExistsError`, and
    the file is left as it was: another run's log (unless ``overwrite=True``,
    which replaces it), or a file that does not start with a run header, such as
    a data set (never replaced).

    Args:
        path: the ``.jsonl`` file; its directory is created if missing.
        run_id: the id of the run this log belongs to (axon-loop passes
            ``State.run_id``); ``None``, a new run with a fresh id.
        purge_step: when continuing this run's log, the first step the run will
            log again (``T + 1`` after the checkpoint of iteration ``T``; ``1``
            for a restart from scratch): the lines of steps ``>= purge_step`` are
            dropped. Needs ``run_id``.
        resume_mark: when continuing this run's log, what :meth:`mark` returned
            when the checkpoint to resume from was written: the file is cut back
            to that size, so it holds exactly what was logged before the
            checkpoint. Needs ``run_id``; not with ``purge_step``.
        overwrite: replace the log of another run found at ``path``.

    Attributes:
        path: the log file, as a :class:`pathlib.Path`.
        run_id: the id recorded in the header (generated when none was given).

    Raises:
        LogPathError: the file cannot be created or written.
        LogExistsError: ``path`` holds another run's log, or is no log at all.
        LogMarkError: the file does not fit ``resume_mark`` (it is shorter, or
            another run's log).

    Example:
        >>> import json, pathlib, tempfile
        >>> from axon.loggers import JSONLinesLogger
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "metrics.jsonl"
        >>> with JSONLinesLogger(path, run_id="run-1") as logger:
        ...     logger.log_scalars({"loss": 0.5}, step=1)
        ...     logger.log_scalars({"val/loss": 0.75}, step=1)
        ...     logger.log_scalars({"loss": 0.25}, step=2)
        >>> print(path.read_text(), end="")
        {"axon_run": "run-1"}
        {"step": 1, "loss": 0.5, "val/loss": 0.75}
        {"step": 2, "loss": 0.25}
        >>> with JSONLinesLogger(path, run_id="run-1", purge_step=2) as logger:  # resumed
        ...     logger.log_scalars({"loss": 0.125}, step=2)
        >>> records = [json.loads(line) for line in path.read_text().splitlines()]
        >>> [record["loss"] for record in records if "step" in record]
        [0.5, 0.125]
    """

    supported_kinds = frozenset({"scalars", "text", "hparams"})
    _what = "JSON Lines log file"
    _mark_fields: ClassVar[dict[str, type]] = {"size": int}

    path: Path
    run_id: str

    def _owner(self) -> str:
        owner = parse_run_record(read_first_line(self.path, self._what))
        if owner is None:
            raise not_a_log(self.path, self._what, f"its first line is not a {RUN_HEADER} record")
        return owner

    def _start(self) -> None:
        replace_file(self.path, run_record(self.run_id) + "\n", self._what)

    def _resume(self, purge_step: int | None) -> None:
        if purge_step is not None:
            _drop_steps_from(self.path, purge_step, self._what)

    def _cut(self, mark: dict[str, Any]) -> None:
        cut_to_size(self.path, mark["size"], self._what)

    def _end(self) -> dict[str, Any]:
        return {"size": self.path.stat().st_size}

    def mark(self) -> dict[str, Any]:
        """Flush, and return where this run's log ends, to cut it back there with ``resume_mark=``.

        The mark is ``{"run_id": ..., "file": <the file's name>, "size": <bytes>}``.
        axon-loop records it in every checkpoint; a run resumed from that
        checkpoint re-opens the log with it, which cuts off what was logged after
        the checkpoint, so the resumed run's lines follow exactly the lines logged
        before it.

        Unlike ``purge_step``, a mark tells records of the same step apart: here a
        checkpoint is written after iteration 4, the last of an epoch, and before
        the epoch's loss is logged at that same step.

        Example:
            >>> import pathlib, tempfile
            >>> from axon.loggers import JSONLinesLogger
            >>> path = pathlib.Path(tempfile.mkdtemp()) / "metrics.jsonl"
            >>> logger = JSONLinesLogger(path, run_id="run-1")
            >>> logger.log_scalars({"train/loss": 0.5}, step=4)
            >>> mark = logger.mark()  # the checkpoint
            >>> mark
            {'run_id': 'run-1', 'file': 'metrics.jsonl', 'size': 53}
            >>> logger.log_scalars({"epoch/loss": 0.5}, step=4)
            >>> logger.close()  # the run dies; resumed from the checkpoint, it ends the epoch:
            >>> with JSONLinesLogger(path, run_id="run-1", resume_mark=mark) as resumed:
            ...     resumed.log_scalars({"epoch/loss": 0.5}, step=4)
            >>> print(path.read_text(), end="")
            {"axon_run": "run-1"}
            {"step": 4, "train/loss": 0.5}
            {"step": 4, "epoch/loss": 0.5}
        """
        return self._mark()

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
