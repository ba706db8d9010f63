"""Fused blocks: which iterations one dispatch may run, and their batches stacked.

A block never spans an iteration at which a handler fires, so handlers see exactly
the state they would see without fusion. Whether a handler fires is asked of its
filter ahead of time: a ``CountFilter`` answers from its conditions, any other
filter is probed with a stand-in state that knows only the counters. A
``TimedFilter`` (``{"seconds": s}``) is left out: it fires only where a block ends
anyway.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np

from .._data import Allocate, aligned_empty, is_aligned
from .._events import CountFilter, Event, TimedFilter

if TYPE_CHECKING:
    from .._events import HandlerSpec
    from .._state import State


class BlockPlanner:
    """How many iterations the next dispatch may run before a handler needs the host."""

    def __init__(self, by_event: dict[Event, list[HandlerSpec]], steps_per_dispatch: int):
        self.by_event = by_event
        self.steps_per_dispatch = steps_per_dispatch

    def plan_block(self, state: State, remaining: int | None) -> int:
        """The size of the next block: at most ``remaining`` iterations (``None``: no
        limit), ending at the first iteration at which a handler fires."""
        if self.steps_per_dispatch == 1:
            return 1
        limit = (
            self.steps_per_dispatch
            if remaining is None
            else min(self.steps_per_dispatch, remaining)
        )
        # iteration_started of the block's first iteration fires for real; a later one
        # that fires must start a new block
        started = self.next_firing(state, Event.ITERATION_STARTED, 2, limit)
        if started is not None:
            limit = started - 1
        completed = self.next_firing(state, Event.ITERATION_COMPLETED, 1, limit)
        if completed is not None:
            limit = completed
        return limit

    def next_firing(self, state: State, event: Event, start: int, limit: int) -> int | None:
        """The smallest ``ahead`` in ``[start, limit]`` at which a handler of ``event``
        fires when the event occurs ``ahead`` more times in this epoch; ``None`` if none."""
        first = None
        for spec in self.by_event.get(event, ()):
            if isinstance(spec.filter, TimedFilter):
                continue  # asked where the host has control anyway: it never ends a block
            end = limit if first is None else first - 1
            if end < start:
                break
            if isinstance(spec.filter, CountFilter):
                ahead = spec.filter.next_match(state, event, start, end)
            else:
                probes = (a for a in range(start, end + 1) if _fires(spec, state, event, a))
                ahead = next(probes, None)
            if ahead is not None:
                first = ahead
        return first


def _fires(spec: HandlerSpec, state: State, event: Event, ahead: int) -> bool:
    try:
        return bool(spec.filter(_Probe(state, event, ahead), event))
    except _NeedsHost:
        return True  # a filter reading more than counters: assume it fires


class _NeedsHost(Exception):
    """A filter asked a probe for something only a real state has."""


class _Probe:
    """A stand-in state for asking filters about the future: counters only."""

    def __init__(self, state: State, event: Event, ahead: int):
        self._state, self._event, self._ahead = state, event, ahead

    def count(self, event: Event, scope: str = "total") -> int:
        return self._state.count(event, scope) + (self._ahead if event == self._event else 0)

    @property
    def iteration(self) -> int:
        done = self._ahead if self._event == Event.ITERATION_COMPLETED else self._ahead - 1
        return self._state.iteration + done

    @property
    def epoch(self) -> int:
        return self._state.epoch

    def __getattr__(self, name: str) -> Any:
        raise _NeedsHost(name)


_PAIR = jax.tree_util.tree_structure((0, 0))


def flatten(batch: Any) -> tuple[Any, Any]:
    """``(leaves, treedef)`` of a batch, without walking the common ``(x, y)`` pair."""
    if type(batch) is tuple and len(batch) == 2:  # (inputs, targets) of arrays: skip the walk
        inputs, targets = batch
        if type(inputs) is np.ndarray and type(targets) is np.ndarray:
            return batch, _PAIR
    return jax.tree_util.tree_flatten(batch)


def signature(leaves: Any, treedef: Any) -> tuple[Any, ...]:
    """What must agree for batches to be stacked: structure, and each leaf's shape and dtype."""
    if treedef is _PAIR:  # the common case, spelled out
        x, y = leaves
        return treedef, x.shape, x.dtype, y.shape, y.dtype
    parts = [treedef]
    for leaf in leaves:
        if isinstance(leaf, np.ndarray | jax.Array):
            parts += (leaf.shape, leaf.dtype)
        else:  # numbers
            parts += (np.shape(leaf), getattr(leaf, "dtype", type(leaf)))
    return tuple(parts)


def stack_block(
    flat: list[tuple[Any, Any]], capacity: int, allocate: Allocate = aligned_empty
) -> Any:
    """One batch whose leaves stack those of the flattened batches ``flat`` (all of one
    signature) along a new leading axis of ``capacity`` rows: the input of a block
    program that runs the first ``len(flat)`` of them (the other rows are never read).
    ``allocate(shape, dtype)`` gives the aligned host memory of a stacked leaf."""
    columns = zip(*(leaves for leaves, _ in flat), strict=True)
    stacked = [_stack(column, capacity, allocate) for column in columns]
    return jax.tree_util.tree_unflatten(flat[0][1], stacked)


def _stack(leaves: tuple[Any, ...], capacity: int, allocate: Allocate) -> Any:
    """Stack equally shaped leaves on the host, or on the device for device arrays."""
    first = leaves[0]
    if isinstance(first, jax.Array):  # no round trip through the host; rows past the
        return jnp.stack(leaves + (first,) * (capacity - len(leaves)))  # end: any batch
    if isinstance(first, np.ndarray) and first.ndim:
        if len(leaves) == capacity and first.nbytes >= VIEW_MIN_BYTES:
            view = contiguous_view(leaves)
            if view is not None and is_aligned(view):
                return view
        # One copy, in C (np.stack reshapes each leaf in Python), into memory aligned to
        # 64 bytes: the CPU backend then uses the block in place instead of copying it.
        # The rows past the last batch stay unwritten: the program never reads them.
        stacked = allocate((capacity, *first.shape), first.dtype)
        rows = len(leaves) * first.shape[0]
        np.concatenate(leaves, out=stacked.reshape(-1, *first.shape[1:])[:rows])
        return stacked
    return np.array(leaves + (first,) * (capacity - len(leaves)))  # numbers and 0-d arrays


#: a batch leaf of at least this many bytes is worth checking whether its block is
#: already one aligned array (checking costs ~1 us per batch; copying 64 KiB ~10 us)
VIEW_MIN_BYTES = 64 * 2**10


def contiguous_view(leaves: tuple[np.ndarray, ...]) -> np.ndarray | None:
    """The leaves as one ``(len(leaves), *shape)`` array without copying, when they lie
    one after another in one array (batches sliced in order from one array, as
    ``[x[i : i + n] for i in range(0, len(x), n)]`` gives them); else ``None``."""
    first = leaves[0]
    base, size = first.base, first.nbytes
    if base is None or not first.flags.c_contiguous:
        return None
    start = first.__array_interface__["data"][0]
    for i, leaf in enumerate(leaves):
        if leaf.base is not base or not leaf.flags.c_contiguous:
            return None
        if leaf.__array_interface__["data"][0] != start + i * size:
            return None
    strides = (size, *first.strides)
    return np.lib.stride_tricks.as_strided(first, (len(leaves), *first.shape), strides)
