"""``prefetched``: the next batches read, converted and placed in a background thread.

While the step (or a fused block) runs, one thread reads the next batches from
the source, makes them arrays and starts their transfer to the device, into a
bounded buffer (DESIGN.md rule 4). The thread releases nothing it has read
early: when the epoch stops before the end (a halt, a limit, an exception), the
batches read ahead are handed back to the epoch's iterator, so a one-shot
iterator continued in the next epoch loses none. An error in the source is
raised in the thread that consumes the batches, with the source's traceback,
once the batches read before it are consumed.

The thread holds Python's GIL only while it runs Python code (the loader's own,
the conversion); a source that waits on files, the network or native code, and
a step that waits on the device, leave it free for the other side.
"""

from __future__ import annotations

import collections
import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

from .batches import EpochCursor
from .source import EpochBatches

Read = tuple[Any, Any]  # (batch, position), as EpochBatches.read gives them

#: batches read ahead with ``depth="auto"`` of data that is not in memory already
AUTO_DEPTH = 2


@contextlib.contextmanager
def prefetched(
    batches: EpochBatches,
    depth: int | str,
    prepare: Callable[[Any], Any],
    limit: int | None = None,
) -> Iterator[Iterator[Read]]:
    """The ``(prepare(batch), position)`` pairs of ``batches``, at most ``limit`` of them,
    read up to ``depth`` ahead in a background thread (``depth`` 0: read when asked, in the
    caller's thread; ``"auto"``: 0 for batches in memory already, where a thread would only
    add its handoffs, else ``AUTO_DEPTH``). Leaving the ``with`` block stops the thread and
    gives the batches read ahead back to ``batches``."""
    if depth == "auto":
        depth = 0 if batches.in_memory else AUTO_DEPTH
    if depth == 0:
        yield InCaller(batches, limit, prepare)
        return
    ahead = _Prefetcher(_reads(batches, limit), depth, prepare)
    try:
        yield ahead
    finally:
        batches.give_back(ahead.close())


class InCaller:
    """``(prepare(batch), position)`` pairs read in the caller's thread, at most ``limit``.

    ``cursor()`` offers the source itself when it can stack a fused block in one copy
    per array (``batches(...)``'s ``EpochCursor``), nothing having been read ahead;
    ``consumed(n)`` counts batches taken from it that way.
    """

    def __init__(self, batches: EpochBatches, limit: int | None, prepare: Callable[[Any], Any]):
        self._batches, self._left, self._prepare = batches, limit, prepare

    def __iter__(self) -> InCaller:
        return self

    def __next__(self) -> Read:
        if self._left is not None:
            if self._left <= 0:
                raise StopIteration
            self._left -= 1
        batch, position = self._batches.read()
        return self._prepare(batch), position

    def cursor(self) -> EpochCursor | None:
        return self._batches.cursor()

    def consumed(self, count: int) -> None:
        if self._left is not None:
            self._left -= count

    def give_back(self, reads: list[Read]) -> None:
        """Batches read (ahead) but not run, to be read again first."""
        self._batches.give_back(reads)
        self.consumed(-len(reads))

    def cursor_back(self, count: int) -> None:
        """The last ``count`` batches gathered from ``cursor()`` were not run."""
        self._batches.iterator.back(count)
        self.consumed(-count)

    def allowed(self, count: int) -> int:
        """``count``, or fewer where the limit comes first."""
        return count if self._left is None else min(count, self._left)


def _reads(batches: EpochBatches, limit: int | None) -> Iterator[Read]:
    count = 0
    while limit is None or count < limit:
        try:
            read = batches.read()
        except StopIteration:
            return
        yield read
        count += 1


class _Prefetcher:
    """A thread that fills a bounded buffer with ``(prepare(batch), position)`` pairs."""

    def __init__(self, reads: Iterator[Read], depth: int, prepare: Callable[[Any], Any]):
        self._reads = reads
        self._prepare = prepare
        self._depth = depth
        self._buffer: collections.deque[tuple[Read, Read]] = collections.deque()
        self._returned: list[Read] = []  # given back by the consumer: taken again first
        self._changed = threading.Condition()
        self._error: BaseException | None = None
        self._finished = False  # the thread has ended: the source ran out, failed or was stopped
        self._stopping = False
        self._thread = threading.Thread(target=self._fill, name="axon-prefetch", daemon=True)
        self._thread.start()

    def _fill(self) -> None:
        try:
            while True:
                with self._changed:  # wait for room first: at most `depth` batches read ahead
                    while len(self._buffer) >= self._depth and not self._stopping:
                        self._changed.wait()
                    if self._stopping:
                        return
                read = next(self._reads, None)
                if read is None:
                    return
                prepared = (self._prepare(read[0]), read[1])
                with self._changed:
                    self._buffer.append((read, prepared))  # even when stopping: given back
                    self._changed.notify_all()
        except BaseException as error:  # raised where the batches are consumed
            with self._changed:
                self._error = error
        finally:
            with self._changed:
                self._finished = True
                self._changed.notify_all()

    def __iter__(self) -> _Prefetcher:
        return self

    def __next__(self) -> Read:
        with self._changed:
            if self._returned:
                return self._returned.pop(0)
            while not self._buffer and not self._finished:
                self._changed.wait()
            if self._buffer:
                _, prepared = self._buffer.popleft()
                self._changed.notify_all()
                return prepared
            error, self._error = self._error, None
        if error is not None:
            raise error  # its traceback still shows where in the source it happened
        raise StopIteration

    def cursor(self) -> None:
        return None  # batches read ahead by the thread are stacked one by one

    def give_back(self, reads: list[Read]) -> None:
        """Batches taken but not run, to be taken again first (and handed back to the
        source first by ``close``). Only fused runs give back, where ``prepare`` keeps a
        batch as it was read."""
        with self._changed:
            self._returned[:0] = reads

    def close(self) -> list[Read]:
        """Stop the thread, once the read it is in has returned; the batches it read that
        were not consumed, as they came from the source."""
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        self._thread.join()
        left = self._returned + [read for read, _ in self._buffer]
        self._buffer.clear()
        self._returned = []
        return left
