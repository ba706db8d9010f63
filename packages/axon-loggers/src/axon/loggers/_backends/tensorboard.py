"""TensorBoard event files, written with tensorboardX's protocol buffers."""

from __future__ import annotations

import io
import os
import time
import weakref

import numpy as np
from PIL import Image
from tensorboardX import summary as tbx_summary
from tensorboardX.event_file_writer import EventsWriter
from tensorboardX.proto.event_pb2 import Event, SessionLog
from tensorboardX.proto.summary_pb2 import Summary

from .._base import LoggerBase
from .._protocol import HParamValue
from .._values import as_purge_step
from .files import LogPathError, prepare_directory


def _tensorflow_buckets() -> list[float]:
    # The exponential bucket edges TensorFlow and tensorboardX use by default, so our
    # histograms look like everyone else's in TensorBoard.
    edge, positive = 1e-12, []
    while edge < 1e20:
        positive.append(edge)
        edge *= 1.1
    return [-e for e in reversed(positive)] + [0.0] + positive


_BUCKETS = _tensorflow_buckets()


class TensorBoardLogger(LoggerBase):
    """Writes scalars, histograms, text, images and hyperparameters for TensorBoard.

    Everything, hyperparameters included, goes into event files in ``logdir``
    itself: ``tensorboard --logdir <parent>`` shows one run. (tensorboardX's
    ``add_hparams`` would write them into a separate, timestamped sub-run.)

    Events are written synchronously to a buffered file; :meth:`flush` and
    :meth:`close` put them on disk before returning. (``SummaryWriter.flush``
    returns while events may still wait in its background queue.) Each logger
    writes a new event file whose name sorts after the existing ones, so reopening
    a logdir never overwrites earlier events.

    Args:
        logdir: the run directory; created with its parents if missing.
        purge_step: when resuming a run, the first step the resumed run will log.
            TensorBoard then hides the earlier files' events at steps
            ``>= purge_step``, which the interrupted run wrote after its last
            checkpoint, so every step appears once. With axon-loop, whose steps
            count completed iterations, a run resumed from the checkpoint of
            iteration ``T`` logs from ``T + 1`` on: pass ``T + 1``.
        flush_secs: buffered events are flushed when a record is logged this many
            seconds after the previous flush.

    Raises:
        LogPathError: ``logdir`` cannot be created or written.

    Example:
        >>> import tempfile
        >>> from axon.loggers import TensorBoardLogger
        >>> with TensorBoardLogger(tempfile.mkdtemp()) as logger:
        ...     logger.log_scalars({"train/loss": 0.25, "train/accuracy": 0.9}, step=100)
        ...     logger.log_hparams({"lr": 1e-3, "optimizer": "adam"}, {"train/accuracy": 0.9})
    """

    supported_kinds = frozenset({"scalars", "histogram", "text", "image", "hparams"})

    def __init__(
        self,
        logdir: str | os.PathLike[str],
        *,
        purge_step: int | None = None,
        flush_secs: float = 10.0,
    ) -> None:
        super().__init__()
        purge_step = as_purge_step(purge_step)
        if isinstance(flush_secs, bool) or not isinstance(flush_secs, (int, float)):
            raise TypeError(f"flush_secs must be a number of seconds, got {flush_secs!r}.")
        if not flush_secs >= 0:
            raise ValueError(f"flush_secs must be >= 0 (0 flushes every record), got {flush_secs}.")
        self.logdir = prepare_directory(logdir, "TensorBoard logdir")
        self.purge_step = purge_step
        self.flush_secs = float(flush_secs)
        prefix = str(self.logdir / "events")
        try:
            self._events = EventsWriter(prefix, filename_suffix=_sortable_suffix())
        except OSError as error:
            raise LogPathError(
                f"Cannot create an event file in the TensorBoard logdir {str(self.logdir)!r}: "
                f"{error.strerror or error} ({type(error).__name__}). Pick a writable logdir."
            ) from error
        # Flushes and closes the file at interpreter exit if close() is never called.
        self._finalizer = weakref.finalize(self, self._events.close)
        self._last_flush = time.monotonic()
        self._steps_by_tag: dict[str, int] = {}
        if purge_step is not None:
            # TensorBoard discards earlier events at steps >= purge_step when it reads
            # this marker, which is what SummaryWriter(purge_step=...) writes too.
            self._write(Event(step=purge_step, session_log=SessionLog(status=SessionLog.START)))

    def _write_scalars(self, scalars: dict[str, float], step: int) -> None:
        for tag, value in scalars.items():
            self._write_summary(tbx_summary.scalar(tag, value), step)
            self._steps_by_tag[tag] = step

    def _write_histogram(self, tag: str, values: np.ndarray, step: int) -> None:
        self._write_summary(tbx_summary.histogram(tag, values, _BUCKETS), step)

    def _write_text(self, tag: str, text: str, step: int) -> None:
        proto = tbx_summary.text(tag, text)
        proto.value[0].tag = tag  # keep the caller's tag (tensorboardX appends "/text_summary")
        self._write_summary(proto, step)

    def _write_image(self, tag: str, image: np.ndarray, step: int) -> None:
        height, width, channels = image.shape
        encoded = Summary.Image(
            height=height,
            width=width,
            colorspace=channels,
            encoded_image_string=_png(image),
        )
        self._write_summary(Summary(value=[Summary.Value(tag=tag, image=encoded)]), step)

    def _write_hparams(self, hparams: dict[str, HParamValue], metrics: dict[str, float]) -> None:
        experiment, session_start, session_end = tbx_summary.hparams(hparams, metrics)
        for proto in (experiment, session_start, session_end):
            self._write_summary(proto, 0)
        # The HParams dashboard reads each metric from the run's scalars: record the
        # final values at the last step, unless that exact point was already logged.
        step = self.last_step or 0
        for tag, value in metrics.items():
            if self._steps_by_tag.get(tag) != step:
                self._write_summary(tbx_summary.scalar(tag, value), step)
                self._steps_by_tag[tag] = step
        self._flush()

    def _flush(self) -> None:
        self._events.flush()
        self._last_flush = time.monotonic()

    def _close(self) -> None:
        self._finalizer()  # flushes, then closes the file

    def _write_summary(self, proto: Summary, step: int) -> None:
        self._write(Event(summary=proto, step=step))

    def _write(self, event: Event) -> None:
        event.wall_time = time.time()
        self._events.write_event(event)
        if time.monotonic() - self._last_flush >= self.flush_secs:
            self._flush()

    def __repr__(self) -> str:
        return f"TensorBoardLogger({str(self.logdir)!r}, purge_step={self.purge_step!r})"


def _png(image: np.ndarray) -> bytes:
    # Pillow, rather than tensorboardX's summary.image, which would turn a grayscale
    # image into RGB; a (height, width) array keeps one channel as PNG mode "L".
    pixels = image[:, :, 0] if image.shape[2] == 1 else image
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _sortable_suffix() -> str:
    # Event files are named events.out.tfevents.<seconds>.<host><suffix> and opened
    # with "wb": two writers started in the same second would share the name, and the
    # second would erase the first. A nanosecond suffix keeps names unique and in
    # creation order, which TensorBoard relies on to apply purge_step.
    return f".{time.time_ns():020d}.{os.getpid()}"
