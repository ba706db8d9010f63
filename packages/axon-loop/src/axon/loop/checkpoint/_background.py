"""One write at a time on a worker thread; its failure is raised on the caller's thread."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from ._errors import CheckpointError


class BackgroundWriter:
    """Runs one task at a time off the calling thread.

    :meth:`wait` (called before anything else touches the store) blocks until the
    task is done and raises its error, as a :class:`CheckpointError` saying what
    failed, so a failed write is never a silent skip.
    """

    def __init__(self) -> None:
        self._executor: ThreadPoolExecutor | None = None
        self._pending: tuple[Future[Any], str] | None = None

    def submit(self, task: Callable[[], Any], what: str) -> None:
        """Start ``task`` once the previous one is done; ``what`` names it in errors."""
        self.wait()
        if self._executor is None:  # a non-daemon thread: a write in flight finishes at exit
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="axon-checkpoint")
        self._pending = (self._executor.submit(task), what)

    def wait(self) -> None:
        """Block until the task in flight is done; raise its error."""
        if self._pending is None:
            return
        future, what = self._pending
        self._pending = None
        error = future.exception()
        if error is None:
            return
        if isinstance(error, CheckpointError):
            raise error
        raise CheckpointError(f"{what} failed: {type(error).__name__}: {error}") from error

    def close(self) -> None:
        """Wait for the task in flight (raising its error), then stop the thread."""
        try:
            self.wait()
        finally:
            if self._executor is not None:
                self._executor.shutdown()
                self._executor = None
