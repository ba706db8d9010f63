"""TensorBoard logs: one ``version_N`` run directory per run inside a logdir."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np

from .._base import LoggerBase
from .._protocol import HParamValue
from .._values import as_purge_step
from .files import prepare_directory
from .marks import FILE, RUN, as_mark, cut_event_files, does_not_fit
from .runs import as_run_id, check_continuation, new_run_id
from .versions import find_run_directory, new_run_directory

if TYPE_CHECKING:
    from .events import EventFile

#: What a mark of a TensorBoard run holds besides the run and the event file's name.
_MARK = {"size": int}


class TensorBoardLogger(LoggerBase):
    """Writes scalars, histograms, text, images and hyperparameters for TensorBoard.

    **One directory per run.** Each run writes into a ``version_N`` directory of
    its own inside ``logdir`` (``version_0`` first, then one more than the highest
    number present), which records the run's id in ``axon-run.json``. A logger
    given the ``run_id`` of a run already there continues that run's directory,
    so a resumed run adds to its own charts and a new run never mixes into
    another's. ``tensorboard --logdir <logdir>`` lists the runs side by side
    (``version_0``, ``version_1``, ...); :attr:`run_dir` is this run's directory.
    Event files that an older, unversioned run left in ``logdir`` itself stay
    where they are and show as a run of their own.

    Everything, hyperparameters included, goes into event files in
    :attr:`run_dir` itself. (tensorboardX's ``add_hparams`` would write them into
    a separate, timestamped sub-run.) Events are written synchronously to a
    buffered file; :meth:`flush` and :meth:`close` put them on disk before
    returning. Each logger writes a new event file whose name sorts after the
    existing ones, so continuing a run never overwrites its earlier events.

    Args:
        logdir: the directory holding the runs; created with its parents if missing.
        run_id: the id of the run (axon-loop passes ``State.run_id``); ``None``, a
            new run with a fresh id.
        purge_step: when continuing the run ``run_id``, the first step it will log
            again. TensorBoard then hides the run's earlier events at steps
            ``>= purge_step`` (written after the checkpoint the run resumes from),
            so every step appears once. With axon-loop, whose steps count
            completed iterations, a run resumed from the checkpoint of iteration
            ``T`` logs from ``T + 1`` on, and a run restarted from scratch from
            ``1``. Needs ``run_id``; for a new run there is nothing to hide.
        resume_mark: when continuing the run ``run_id``, what :meth:`mark`
            returned when the checkpoint to resume from was written: the run's
            events are cut back to that point (no events are hidden, they are
            gone), so it holds exactly what was logged before the checkpoint.
            Needs ``run_id``; not with ``purge_step``.
        flush_secs: buffered events are flushed when a record is logged this many
            seconds after the previous flush.

    Attributes:
        logdir: the directory holding the runs, as a :class:`pathlib.Path`.
        run_dir: this run's ``version_N`` directory, where the events go.
        run_id: the id recorded in ``run_dir`` (generated when none was given).

    Raises:
        LogPathError: ``logdir`` or the run directory cannot be created or written.
        LogMarkError: the run's events do not fit ``resume_mark`` (the run's
            directory, or the marked event file, is gone, or the file is shorter).

    Example:
        >>> import tempfile
        >>> from axon.loggers import TensorBoardLogger
        >>> logdir = tempfile.mkdtemp()
        >>> with TensorBoardLogger(logdir, run_id="first") as logger:
        ...     logger.log_scalars({"train/loss": 0.25, "train/accuracy": 0.9}, step=100)
        ...     logger.log_hparams({"lr": 1e-3, "optimizer": "adam"}, {"train/accuracy": 0.9})
        >>> logger.run_dir.name
        'version_0'
        >>> TensorBoardLogger(logdir).run_dir.name  # another run
        'version_1'
        >>> TensorBoardLogger(logdir, run_id="first", purge_step=101).run_dir.name  # resumed
        'version_0'
    """

    supported_kinds = frozenset({"scalars", "histogram", "text", "image", "hparams"})

    def __init__(
        self,
        logdir: str | os.PathLike[str],
        *,
        run_id: str | None = None,
        purge_step: int | None = None,
        resume_mark: dict[str, Any] | None = None,
        flush_secs: float = 10.0,
    ) -> None:
        super().__init__()
        named_run, purge_step = as_run_id(run_id), as_purge_step(purge_step)
        check_continuation(named_run, purge_step, resume_mark)
        if isinstance(flush_secs, bool) or not isinstance(flush_secs, (int, float)):
            raise TypeError(f"flush_secs must be a number of seconds, got {flush_secs!r}.")
        if not flush_secs >= 0:
            raise ValueError(f"flush_secs must be >= 0 (0 flushes every record), got {flush_secs}.")
        # tensorboardX, protobuf and Pillow load with the first logger, not with axon.loggers.
        from .events import EventFile

        self.logdir = prepare_directory(logdir, "TensorBoard logdir")
        self.run_id = named_run or new_run_id()
        what = "TensorBoard logdir"
        mark = as_mark(resume_mark, "TensorBoardLogger", self.run_id, self.logdir, what, _MARK)
        found = find_run_directory(self.logdir, self.run_id)
        if mark is not None:
            if found is None:
                raise does_not_fit(self.logdir, what, f"no directory holds run {self.run_id!r}")
            cut_event_files(found, mark)  # before this logger's file, which sorts last
        self.run_dir = found or new_run_directory(self.logdir, self.run_id)
        self.purge_step = purge_step
        self.flush_secs = float(flush_secs)
        self._events: EventFile = EventFile(self.run_dir, self.flush_secs)
        self._steps_by_tag: dict[str, int] = {}
        if found is not None and purge_step is not None:
            self._events.purge(purge_step)

    def mark(self) -> dict[str, Any]:
        """Flush, and return where this run's events end, to cut them back there with
        ``resume_mark=``.

        The mark is ``{"run_id": ..., "file": <this logger's event file in
        run_dir>, "size": <bytes>}``. axon-loop records it in every checkpoint; a
        run resumed from that checkpoint re-opens the logger with it, which cuts
        that event file back to its size (a flushed event file ends on a whole
        record) and removes the run's event files written after it. So the run
        holds exactly the events logged before the checkpoint, each step once,
        with no ``purge_step`` marker needed.

        Example:
            >>> import tempfile
            >>> from axon.loggers import TensorBoardLogger
            >>> logdir = tempfile.mkdtemp()
            >>> logger = TensorBoardLogger(logdir, run_id="run-1")
            >>> logger.log_scalars({"train/loss": 0.5}, step=1)
            >>> mark = logger.mark()  # a checkpoint is written here
            >>> sorted(mark), mark["file"].startswith("events.out.tfevents.")
            (['file', 'run_id', 'size'], True)
            >>> logger.log_scalars({"train/loss": 0.25}, step=2)
            >>> logger.close()  # the run dies, and resumes from that checkpoint:
            >>> with TensorBoardLogger(logdir, run_id="run-1", resume_mark=mark) as resumed:
            ...     resumed.log_scalars({"train/loss": 0.125}, step=2)
            >>> (resumed.run_dir / mark["file"]).stat().st_size == mark["size"]  # cut back
            True
        """
        self.flush()
        return {RUN: self.run_id, FILE: self._events.path.name, "size": self._events.size()}

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

    def _write_hparams(self, hparams: dict[str, HParamValue], metrics: dict[str, float]) -> None:
        self._events.hparams(hparams, metrics)
        # The HParams dashboard reads each metric from the run's scalars: record the
        # final values at the last step, unless that exact point was already logged.
        step = self.last_step or 0
        self._write_scalars(
            {tag: value for tag, value in metrics.items() if self._steps_by_tag.get(tag) != step},
            step,
        )
        self._flush()

    def _flush(self) -> None:
        self._events.flush()

    def _close(self) -> None:
        self._events.close()

    def __repr__(self) -> str:
        return (
            f"TensorBoardLogger({str(self.logdir)!r}, run_id={self.run_id!r}, "
            f"purge_step={self.purge_step!r})"
        )
