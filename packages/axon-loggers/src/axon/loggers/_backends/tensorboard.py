"""TensorBoard logs: one ``version_N`` run directory per run inside a logdir."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .._protocol import HParamValue
from .._values import as_purge_step
from .files import is_entry_name, prepare_directory
from .marks import (
    EVENT_FILES,
    FILE,
    RUN,
    SPLITS,
    as_mark,
    cut_event_files,
    does_not_fit,
    split_marks,
)
from .runs import as_run_id, check_continuation, new_run_id
from .splits import EventRecords, TensorBoardSplit
from .versions import find_run_directory, new_run_directory

#: What a mark of a TensorBoard run holds besides the run and the event file's name.
_MARK = {"size": int}


class TensorBoardLogger(EventRecords):
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

    **Splits.** :meth:`split` gives a logger for one data split of the run, a
    sibling run ``run_dir/<name>`` as Keras's TensorBoard callback writes them:
    ``split("train")`` and ``split("validation")`` logging the same tag make one
    chart with a training and a validation curve. axon-loop's ``log_to`` logs
    that way. Records logged on this logger itself, hyperparameters included, go
    into event files in :attr:`run_dir`. (tensorboardX's ``add_hparams`` would
    write them into a separate, timestamped sub-run.)

    Events are written synchronously to buffered files; :meth:`flush` and
    :meth:`close` put them on disk before returning, the splits' too. Each logger
    writes new event files whose names sort after the existing ones, so continuing
    a run never overwrites its earlier events.

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

    supported_kinds = EventRecords.supported_kinds | {"hparams"}

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
            mark[SPLITS] = split_marks(mark)
            if found is None:
                raise does_not_fit(self.logdir, what, f"no directory holds run {self.run_id!r}")
            cut_event_files(found, mark)  # before this logger's files, which sort last
        self.run_dir = found or new_run_directory(self.logdir, self.run_id)
        self.purge_step = purge_step
        self.flush_secs = float(flush_secs)
        self._events = EventFile(self.run_dir, self.flush_secs)
        self._splits: dict[str, TensorBoardSplit] = {}
        self._purges = found is not None and purge_step is not None
        if self._purges:
            self._events.purge(purge_step)
            for name in _split_names(self.run_dir):  # each split is a run TensorBoard purges
                self.split(name)

    def split(self, name: str) -> TensorBoardSplit:
        """The logger of the data split ``name``: a sibling run, ``run_dir/<name>``.

        The same tag logged in two splits is one chart in TensorBoard with a curve
        per split, as for Keras's ``train`` and ``validation`` runs. A split's event
        file is created by the first call for that name; later calls return the same
        logger. This logger flushes, marks and closes its splits with itself.

        Args:
            name: a directory name: no path separator, not ``.`` or ``..``.

        Raises:
            ValueError: ``name`` is not a plain directory name.
            RuntimeError: this logger is closed.

        Example:
            >>> import tempfile
            >>> from axon.loggers import TensorBoardLogger
            >>> with TensorBoardLogger(tempfile.mkdtemp()) as logger:
            ...     logger.split("train").log_scalars({"epoch/loss": 0.5}, step=10)
            ...     logger.split("validation").log_scalars({"epoch/loss": 0.75}, step=10)
            >>> sorted(path.name for path in logger.run_dir.iterdir() if path.is_dir())
            ['train', 'validation']
            >>> logger.split("train").closed
            True
        """
        if name in self._splits:
            return self._splits[name]
        self._check_open()
        if not is_entry_name(name):
            raise ValueError(
                f"A split is named like a directory ('train', 'validation'), got {name!r}."
            )
        from .events import EventFile  # loaded by __init__ already

        directory = prepare_directory(self.run_dir / name, "TensorBoard split directory")
        events = EventFile(directory, self.flush_secs)
        if self._purges:
            events.purge(self.purge_step)
        self._splits[name] = TensorBoardSplit(name, events, self)
        return self._splits[name]

    def mark(self) -> dict[str, Any]:
        """Flush, and return where this run's events end, to cut them back there with
        ``resume_mark=``.

        The mark is ``{"run_id": ..., "file": <this logger's event file in
        run_dir>, "size": <bytes>, "splits": {<name>: {"file": ..., "size": ...}}}``,
        with an entry for each :meth:`split` opened so far. axon-loop records it in
        every checkpoint; a run resumed from that checkpoint re-opens the logger
        with it, which cuts each marked event file back to its size (a flushed
        event file ends on a whole record) and removes the run's event files
        written after it, in its splits too. So the run holds exactly the events
        logged before the checkpoint, each step once, with no ``purge_step``
        marker needed.

        Example:
            >>> import tempfile
            >>> from axon.loggers import TensorBoardLogger
            >>> logdir = tempfile.mkdtemp()
            >>> logger = TensorBoardLogger(logdir, run_id="run-1")
            >>> logger.log_scalars({"train/loss": 0.5}, step=1)
            >>> mark = logger.mark()  # a checkpoint is written here
            >>> sorted(mark), mark["file"].startswith("events.out.tfevents.")
            (['file', 'run_id', 'size', 'splits'], True)
            >>> logger.log_scalars({"train/loss": 0.25}, step=2)
            >>> logger.close()  # the run dies, and resumes from that checkpoint:
            >>> with TensorBoardLogger(logdir, run_id="run-1", resume_mark=mark) as resumed:
            ...     resumed.log_scalars({"train/loss": 0.125}, step=2)
            >>> (resumed.run_dir / mark["file"]).stat().st_size == mark["size"]  # cut back
            True
        """
        self.flush()
        splits = {
            name: {FILE: split._events.path.name, "size": split._events.size()}
            for name, split in self._splits.items()
        }
        return {RUN: self.run_id, FILE: self._events.path.name, "size": self._events.size(),
                SPLITS: splits}  # fmt: skip

    def _write_hparams(self, hparams: dict[str, HParamValue], metrics: dict[str, float]) -> None:
        # The HParams dashboard reads each metric from the run's scalars (a split's, for
        # "<split>/<tag>"): record the final values at the run's last step, unless that
        # exact point was already logged.
        writers = [self, *self._splits.values()]
        step = max((w.last_step for w in writers if w.last_step is not None), default=0)
        named = []
        for key, value in metrics.items():
            writer, tag = self._metric_run(key)
            named.append((getattr(writer, "name", ""), tag))
            if writer._steps_by_tag.get(tag) != step:
                writer._write_scalars({tag: value}, step)
        self._events.hparams(hparams, named)
        self._flush()

    def _metric_run(self, key: str) -> tuple[EventRecords, str]:
        """Where the scalars of the hparams metric ``key`` are: a tag of this run, else
        ``<split>/<tag>`` of a split that logged that tag."""
        name, _, tag = key.partition("/")
        split = self._splits.get(name)
        if key not in self._steps_by_tag and split is not None and tag in split._steps_by_tag:
            return split, tag
        return self, key

    def _flush(self) -> None:
        for split in self._splits.values():
            split.flush()
        self._events.flush()

    def _close(self) -> None:
        for split in self._splits.values():
            split.close()
        self._events.close()

    def __repr__(self) -> str:
        return (
            f"TensorBoardLogger({str(self.logdir)!r}, run_id={self.run_id!r}, "
            f"purge_step={self.purge_step!r})"
        )


def _split_names(run_dir: Path) -> list[str]:
    """The splits a run directory holds: its subdirectories with event files."""
    return sorted(
        path.name for path in run_dir.iterdir() if path.is_dir() and any(path.glob(EVENT_FILES))
    )
