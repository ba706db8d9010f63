"""``DataSource``: each epoch's batches from what was passed to ``run``, and where a
resumed run starts in them."""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .arrays import as_arrays
from .batches import Batches, EpochCursor
from .positions import Position, moved_to, position_reader


class EmptyDataError(ValueError):
    """The data given to ``run`` produced no batch.

    Raised when the data is empty, or when an epoch after the first gets no batch
    because a generator was already consumed.

    >>> import jax.numpy as jnp
    >>> from axon.loop import EmptyDataError, Loop
    >>> counter = Loop(lambda batch, total: total + batch.sum())
    >>> try:
    ...     counter.run([], jnp.float32(0))
    ... except EmptyDataError as error:
    ...     print(str(error).split(". ")[0])
    The data given to run() produced no batches
    >>> batches = (jnp.ones(2) for _ in range(3))  # a generator gives one epoch only
    >>> try:
    ...     counter.run(batches, jnp.float32(0), epochs=2)
    ... except ValueError as error:  # EmptyDataError is a ValueError
    ...     print(type(error).__name__, str(error).split(". ")[0])
    EmptyDataError The data produced no batches in epoch 1
    """


class DataSource:
    """Each epoch's iterator of batches from what the user passed to ``run``.

    ``data`` is a re-iterable (list, loader), a one-shot iterator (one epoch), or
    a function ``fn()`` or ``fn(epoch)`` returning a fresh iterable. For an exact
    resume the batches of an epoch must not depend on anything but the epoch.
    """

    def __init__(self, data: Any, who: str = "run()"):
        self.lengths: dict[int, int | None] = {}
        self._reading: EpochBatches | None = None  # the latest epoch's, continued by iterators
        self._batches = data if isinstance(data, Batches) else None
        if self._batches is not None:
            self._iterable = self._batches.epoch
        elif callable(data) and not hasattr(data, "__iter__"):
            takes_epoch = _accepts_one_argument(data)
            self._iterable = (lambda e: data(e)) if takes_epoch else (lambda e: data())
        elif _is_array(data):
            raise TypeError(
                f"{who} got one {type(data).__name__} of shape {tuple(data.shape)} as its data; "
                f"the loop takes batches. Wrap arrays with axon.loop.batches: "
                f"axon.loop.batches(x, y, batch_size=32) (or batches(x, batch_size=...) "
                f"without targets)."
            )
        elif _is_pair_of_arrays(data):
            shapes = ", ".join(str(tuple(a.shape)) for a in data)
            raise TypeError(
                f"{who} got a {type(data).__name__} of {len(data)} arrays of shapes {shapes} "
                f"as its data, the Keras habit (x, y); the loop takes batches. Wrap the "
                f"arrays: axon.loop.batches(x, y, batch_size=32)."
            )
        elif hasattr(data, "__iter__"):
            self._iterable = lambda e: data
        else:
            raise TypeError(
                f"{who} needs an iterable of batches or a function returning one, got "
                f"{type(data).__name__}. Arrays go through axon.loop.batches(x, y, "
                f"batch_size=...)."
            )

    def epoch(self, epoch: int) -> EpochBatches:
        """A fresh iterator over ``epoch``'s batches; remembers their number if known.

        A one-shot iterator gives one ``EpochBatches`` for all epochs: each continues
        where the previous one stopped, including batches read ahead and given back.
        """
        iterable = self._iterable(epoch)
        self.lengths[epoch] = _length(self._batches if self._batches is not None else iterable)
        iterator = iter(iterable)
        if self._reading is not None and self._reading.iterator is iterator:
            return self._reading
        self._reading = EpochBatches(
            iterator, position_reader(iterable, iterator), in_memory=self._in_memory(iterable)
        )
        return self._reading

    def starting_at(
        self, epoch: int, skip: int, position: Position | None = None
    ) -> tuple[Any, EpochBatches]:
        """The iterator of ``epoch`` with its first ``skip`` batches consumed (resume), and
        the last of those (``None`` if ``skip`` is 0): the batch a checkpoint's step ran last.

        ``batches(...)`` starts there directly; a source that saved its ``position``
        there (see ``positions``) is moved to it and reads that last batch again; other
        data is read and dropped up to it.
        """
        if self._batches is not None and skip <= len(self._batches):
            self.lengths[epoch] = len(self._batches)
            last = None if skip == 0 else next(self._batches.epoch(epoch, start=skip - 1))
            return (
                None if last is None else as_arrays(last),
                EpochBatches(self._batches.epoch(epoch, start=skip), in_memory=True),
            )
        if position is not None and skip > 0:
            resumed = self._moved_to(epoch, position)
            if resumed is not None:
                return self._last_skipped(resumed, epoch, skip, 1), resumed
        batches = self.epoch(epoch)
        return self._last_skipped(batches, epoch, skip, skip), batches

    def _moved_to(self, epoch: int, position: Position) -> EpochBatches | None:
        iterable = self._iterable(epoch)
        iterator = moved_to(iterable, position)
        if iterator is None:
            return None
        self.lengths[epoch] = _length(iterable)
        self._reading = EpochBatches(iterator, position_reader(iterable, iterator))
        return self._reading

    def _in_memory(self, iterable: Any) -> bool:
        """Whether the batches are in memory already (``batches(...)``, a list or tuple):
        read in microseconds, they gain nothing from a prefetch thread."""
        return self._batches is not None or isinstance(iterable, list | tuple)

    @staticmethod
    def _last_skipped(batches: EpochBatches, epoch: int, skip: int, to_read: int) -> Any:
        """Read ``to_read`` batches, the last being the one the checkpoint's step ran last
        (batch ``skip - 1``): all ``skip`` of them on replay, one after a move."""
        if skip == 0:
            return None
        last, read = None, 0
        for batch in itertools.islice(batches, to_read):  # keeps one batch, not all of them
            last, read = batch, read + 1
        if read < to_read:
            raise ValueError(
                f"Cannot resume at batch {skip} of epoch {epoch}: the data has only "
                f"{skip - to_read + read} batches in that epoch. Resume with the same data as "
                f"the interrupted run."
            )
        return last


class EpochBatches:
    """One epoch's batches as arrays, and where each was read from.

    Iterating gives the batches; ``read()`` gives ``(batch, position)``, the position
    being where the source stood before that batch (``positions``), or ``None`` for a
    source that cannot say. ``peek()`` reads the next one without consuming it, and
    ``give_back`` returns batches read ahead (a prefetch stopped early), to be read
    again first. ``in_memory``: the batches are in memory already (no prefetch needed).
    """

    def __init__(
        self,
        iterator: Iterator[Any],
        where: Callable[[], Position] | None = None,
        *,
        in_memory: bool = False,
    ):
        self.iterator = iterator
        self.in_memory = in_memory
        self._where = where
        self._pending: list[tuple[Any, Position | None]] = []

    def __iter__(self) -> EpochBatches:
        return self

    def __next__(self) -> Any:
        return self.read()[0]

    def read(self) -> tuple[Any, Position | None]:
        """The next ``(batch, position)``; ``StopIteration`` at the end of the epoch."""
        if self._pending:
            return self._pending.pop(0)
        position = None if self._where is None else self._where()
        return as_arrays(next(self.iterator)), position

    def peek(self) -> tuple[Any, Position | None]:
        """The next ``(batch, position)``, left to be read; ``StopIteration`` if none."""
        if not self._pending:
            self._pending.append(self.read())
        return self._pending[0]

    def give_back(self, read: Iterable[tuple[Any, Position | None]]) -> None:
        self._pending[:0] = read

    def cursor(self) -> EpochCursor | None:
        """The ``batches(...)`` epoch being read, when nothing was read ahead of it: the
        next batches may then be gathered from it directly (``EpochCursor.gather``)."""
        iterator = self.iterator
        return iterator if isinstance(iterator, EpochCursor) and not self._pending else None


def _length(iterable: Any) -> int | None:
    """The number of batches of an epoch, if its iterable knows it."""
    return len(iterable) if hasattr(iterable, "__len__") else None


def _is_array(data: Any) -> bool:
    return hasattr(data, "shape") and hasattr(data, "dtype") and len(data.shape) > 0


def _is_pair_of_arrays(data: Any) -> bool:
    """``(x, y)`` or ``(x, y, w)`` arrays with one number of examples: Keras's ``fit(x, y)``.

    A tuple of batches has batches (tuples, dicts) as elements, or arrays whose
    first axes may differ; this is the shape people pass when they mean ``batches``.
    """
    if not isinstance(data, tuple) or not 2 <= len(data) <= 3 or not all(map(_is_array, data)):
        return False
    return len({a.shape[0] for a in data}) == 1 and len({a.shape for a in data}) > 1


def _accepts_one_argument(fn: Callable[..., Any]) -> bool:
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [
        p for p in parameters
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    ]  # fmt: skip
    return len(positional) == 1
