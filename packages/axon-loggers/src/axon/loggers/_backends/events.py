"""TensorBoard event files: records encoded with tensorboardX's protocol buffers.

Imported when the first :class:`~axon.loggers.TensorBoardLogger` is created, so
``import axon.loggers`` loads neither tensorboardX (and protobuf) nor Pillow. (The
``tensorboardX`` package itself tries ``import torch`` when it loads: where PyTorch
is installed, the first logger loads it too.)
"""

from __future__ import annotations

import io
import os
import time
import weakref
from pathlib import Path

import numpy as np
from PIL import Image
from tensorboardX import summary as tbx_summary
from tensorboardX.event_file_writer import EventsWriter
from tensorboardX.proto.api_pb2 import MetricInfo, MetricName
from tensorboardX.proto.event_pb2 import Event, SessionLog
from tensorboardX.proto.plugin_hparams_pb2 import HParamsPluginData
from tensorboardX.proto.summary_pb2 import Summary

from .._protocol import HParamValue
from .files import LogPathError
from .marks import EVENT_FILES


def _tensorflow_buckets() -> list[float]:
    # The exponential bucket edges TensorFlow and tensorboardX use by default, so our
    # histograms look like everyone else's in TensorBoard.
    edge, positive = 1e-12, []
    while edge < 1e20:
        positive.append(edge)
        edge *= 1.1
    return [-e for e in reversed(positive)] + [0.0] + positive


_BUCKETS = _tensorflow_buckets()


class EventFile:
    """A new event file in ``directory``, written synchronously to a buffered file.

    Buffered events are flushed when an event is written ``flush_secs`` seconds
    after the previous flush, and by :meth:`flush` and :meth:`close`, which put
    them on disk before returning. (tensorboardX's ``SummaryWriter.flush`` returns
    while events may still wait in its background queue.) The file's name sorts
    after every earlier one in ``directory``, so reopening a run directory never
    overwrites its events and TensorBoard applies a purge in the right order.
    """

    def __init__(self, directory: Path, flush_secs: float) -> None:
        suffix = _sortable_suffix()
        try:
            self._writer = EventsWriter(str(directory / "events"), filename_suffix=suffix)
        except OSError as error:
            raise LogPathError(
                f"Cannot create an event file in the TensorBoard run directory "
                f"{str(directory)!r}: {error.strerror or error} ({type(error).__name__}). "
                f"Pick a writable logdir."
            ) from error
        # tensorboardX chooses the rest of the name; the suffix is this file's alone
        self.path = next(directory.glob(f"{EVENT_FILES}{suffix}"))
        # Flushes and closes the file at interpreter exit if close() is never called.
        self._finalizer = weakref.finalize(self, self._writer.close)
        self._flush_secs = flush_secs
        self._last_flush = time.monotonic()

    def purge(self, step: int) -> None:
        """Hide the run's earlier events at steps ``>= step`` from TensorBoard.

        TensorBoard discards them when it reads this marker, which is what
        ``SummaryWriter(purge_step=...)`` writes too.
        """
        self._write(Event(step=step, session_log=SessionLog(status=SessionLog.START)))

    def scalar(self, tag: str, value: float, step: int) -> None:
        self._write_summary(tbx_summary.scalar(tag, value), step)

    def histogram(self, tag: str, values: np.ndarray, step: int) -> None:
        self._write_summary(tbx_summary.histogram(tag, values, _BUCKETS), step)

    def text(self, tag: str, text: str, step: int) -> None:
        proto = tbx_summary.text(tag, text)
        proto.value[0].tag = tag  # keep the caller's tag (tensorboardX appends "/text_summary")
        self._write_summary(proto, step)

    def image(self, tag: str, image: np.ndarray, step: int) -> None:
        height, width, channels = image.shape
        encoded = Summary.Image(
            height=height,
            width=width,
            colorspace=channels,
            encoded_image_string=_png(image),
        )
        self._write_summary(Summary(value=[Summary.Value(tag=tag, image=encoded)]), step)

    def hparams(self, hparams: dict[str, HParamValue], metrics: list[tuple[str, str]]) -> None:
        """The HParams plugin's experiment and session records, in this run's file.

        ``metrics`` are ``(group, tag)`` pairs: the group is the sibling run that holds
        the metric's scalars (``"validation"``), or ``""`` for this run's own.
        """
        experiment, *session = tbx_summary.hparams(hparams, {})
        # tensorboardX names a metric by its tag alone; a group says in which run it lies
        value = experiment.value[0]
        plugin_data = HParamsPluginData.FromString(value.metadata.plugin_data.content)
        plugin_data.experiment.metric_infos.extend(
            MetricInfo(name=MetricName(group=group, tag=tag)) for group, tag in metrics
        )
        value.metadata.plugin_data.content = plugin_data.SerializeToString()
        for proto in (experiment, *session):
            self._write_summary(proto, 0)

    def size(self) -> int:
        """The bytes written to the file so far (all of them, after :meth:`flush`)."""
        return self.path.stat().st_size

    def flush(self) -> None:
        self._writer.flush()
        self._last_flush = time.monotonic()

    def close(self) -> None:
        self._finalizer()  # flushes, then closes the file

    def _write_summary(self, proto: Summary, step: int) -> None:
        self._write(Event(summary=proto, step=step))

    def _write(self, event: Event) -> None:
        event.wall_time = time.time()
        self._writer.write_event(event)
        if time.monotonic() - self._last_flush >= self._flush_secs:
            self.flush()


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
