"""Entry for axon-loggers: the ``"textfile"`` logger, a human-readable metrics log.

Registered in the ``axon.loggers`` entry-point group, so
``axon.loggers.create("textfile", logdir=...)`` and
``loop.log_to("textfile", logdir=...)`` build one.
"""

from __future__ import annotations

import os
from pathlib import Path

from axon.loggers import LoggerBase
from axon.loggers.plugins import hookimpl


class TextFileLogger(LoggerBase):
    """Appends one line per ``log_scalars`` call to ``<logdir>/metrics.log``.

    A line reads ``step 20: train/loss=0.0412 train/accuracy=0.97``. Text and
    hyperparameters get a line each as well; histograms and images are ignored
    (:class:`~axon.loggers.LoggerBase` still checks them, so a bad value fails the
    same way for every backend). An existing file is appended to, so a resumed run
    continues it.

    Args:
        logdir: the directory of ``metrics.log``; created if missing.
    """

    supported_kinds = frozenset({"scalars", "text", "hparams"})

    #: The file name inside ``logdir``.
    filename = "metrics.log"

    def __init__(self, logdir: str | os.PathLike[str]) -> None:
        super().__init__()
        self.path = Path(logdir) / self.filename
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Kept open until close(): the loop logs every few iterations, and reopening
        # the file each time would cost more than the write.
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115

    # LoggerBase has already checked the inputs and turned the values into floats.

    def _write_scalars(self, scalars: dict[str, float], step: int) -> None:
        values = " ".join(f"{tag}={value:.6g}" for tag, value in scalars.items())
        self._write_line(f"step {step}: {values}")

    def _write_text(self, tag: str, text: str, step: int) -> None:
        # One line per record: newlines inside the text are shown escaped.
        self._write_line(f"step {step}: {tag}: {text!r}")

    def _write_hparams(self, hparams: dict, metrics: dict[str, float]) -> None:
        params = " ".join(f"{name}={value!r}" for name, value in hparams.items())
        results = " ".join(f"{tag}={value:.6g}" for tag, value in metrics.items())
        self._write_line(f"hparams: {params} | metrics: {results}")

    def _flush(self) -> None:
        self._file.flush()

    def _close(self) -> None:
        self._file.close()  # flushes first

    def _write_line(self, line: str) -> None:
        self._file.write(line + "\n")

    def __repr__(self) -> str:
        return f"TextFileLogger({str(self.path.parent)!r})"


@hookimpl
def axon_loggers():
    return {"textfile": TextFileLogger}
