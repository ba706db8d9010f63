"""``DataSource``: each epoch's batches from what was passed to ``run``."""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Callable, Iterator
from typing import Any

from .arrays import as_arrays
from .batches import Batches


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

    def epoch(self, epoch: int) -> Iterator[Any]:
        """A fresh iterator over ``epoch``'s batches; remembers their number if known."""
        iterable = self._iterable(epoch)
        self.lengths[epoch] = len(iterable) if hasattr(iterable, "__len__") else None
        return map(as_arrays, iterable)

    def starting_at(self, epoch: int, skip: int) -> tuple[Any, Iterator[Any]]:
        """The iterator of ``epoch`` with its first ``skip`` batches consumed (resume), and
        the last of those (``None`` if ``skip`` is 0): the batch a checkpoint's step ran last.

        ``batches(...)`` starts there directly; other data is read and dropped up to it.
        """
        if self._batches is not None and skip <= len(self._batches):
            self.lengths[epoch] = len(self._batches)
            last = None if skip == 0 else next(self._batches.epoch(epoch, start=skip - 1))
            return (
                None if last is None else as_arrays(last),
                map(as_arrays, self._batches.epoch(epoch, start=skip)),
            )
        batches = self.epoch(epoch)
        last, skipped = None, 0
        for batch in itertools.islice(batches, skip):  # keeps one batch, not all of them
            last, skipped = batch, skipped + 1
        if skipped < skip:
            raise ValueError(
                f"Cannot resume at batch {skip} of epoch {epoch}: the data has only {skipped} "
                f"batches in that epoch. Resume with the same data as the interrupted run."
            )
        return last, batches


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
