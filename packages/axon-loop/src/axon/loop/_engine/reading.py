"""The next block's batches: read, grouped into dispatches and stacked, possibly ahead.

A planned block of iterations becomes one or more dispatches: consecutive batches
of one structure, shapes and dtypes run fused, stacked into a block of the run's
capacity (so blocks of any size share one program); a batch unlike its neighbours
runs on its own. ``batches(...)`` stacks a fused block itself, one copy per array.

The engine reads the next block while the device runs the current one, before the
handlers of the current block's end fire (a log line waits for the device there):
``prepare`` reads and stacks it, and ``give_back`` returns its batches to the
source when the run goes another way (a halt, a handler that changed the state).

Stacked blocks are written into aligned host memory that the CPU backend reads in
place, reused once the block that read it has run (``staging``).
"""

from __future__ import annotations

import collections
import itertools
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jax
import numpy as np

from .blocks import flatten, signature, stack_block
from .compiled import fits_carry
from .staging import STAGING, Staging, ready

if TYPE_CHECKING:
    from .._loop import Loop
    from .._state import State


@dataclass
class Block:
    """A planned block of ``planned`` iterations, read from the source."""

    planned: int
    reads: list[tuple[Any, Any]]  # (batch, position) pairs as read ([] when gathered)
    gathered: int = 0  # batches that batches(...) stacked itself
    # (iterations, batch or stacked batches, position of the last) of each dispatch,
    # stacked already; None: grouped and stacked as the block runs (``dispatches``)
    ready: list[tuple[int, Any, Any]] | None = None
    step_state: Any = None  # the step state the dispatches were prepared for

    @property
    def size(self) -> int:
        return self.gathered or len(self.reads)


#: fused blocks dispatched and not finished, at most, when another is dispatched: the host
#: (dispatch is asynchronous) stays this far ahead of the device, and so does the memory
#: of the stacked blocks waiting to run
BLOCKS_IN_FLIGHT = 2


class BlockReader:
    """Reads planned blocks of one epoch's batches (``reads``) for the engine."""

    def __init__(
        self,
        loop: Loop,
        state: State,
        step: Any,
        steps_per_dispatch: int,
        staging: Staging = STAGING,
    ):
        self.loop, self.state, self.step, self.staging = loop, state, step, staging
        self.steps_per_dispatch = steps_per_dispatch
        self.fused = steps_per_dispatch > 1
        self.reads: Any = None  # this epoch's (batch, position) pairs (``prefetched``)
        # rows of a stacked block: its shape, so one program serves every block up to it
        self.capacity = 0
        self.carried: Any = None  # the signature of the batches the step state was made for
        # the host memory this reader took for stacked leaves, until it gives it back
        self.lent: weakref.WeakValueDictionary[int, np.ndarray] = weakref.WeakValueDictionary()
        self.in_flight: collections.deque[Any] = collections.deque()  # their `finished`

    def reserve(self, planned: int) -> None:
        """Make the stacked blocks hold ``planned`` batches. The first planned block sets
        the capacity (a log every 50 iterations: 50); a larger one later (rare: resumed
        mid-epoch, irregular handlers) raises it to a power of two, a new program each
        time, so at most a few per run."""
        if not self.fused or planned <= self.capacity:
            return
        if self.capacity:
            planned = min(self.steps_per_dispatch, 1 << (planned - 1).bit_length())
        self.capacity = planned

    def prepare(self, planned: int, ahead: bool) -> Block:
        """The next ``planned`` batches (fewer at the end of the data, none after it).
        ``ahead``: the block runs after the current one, whose state is not final yet:
        a block of one kind of batch is grouped and stacked now, a mixed one when it
        runs (each group's carry check needs the state before it)."""
        self.reserve(planned)
        gathered = self.gathered(planned)
        if gathered is not None:
            size, stacked = gathered
            ready = [(size, stacked, None)]  # batches(...) has no positions
            return Block(planned, [], size, ready, self.state.step_state)
        block = Block(planned, list(itertools.islice(self.reads, planned)))
        if ahead and self.fused and len(block.reads) > 1:
            flat, signatures = _signed(block.reads)
            if all(other == signatures[0] for other in signatures):
                block.ready = list(self._grouped(block.reads, flat, signatures))
                block.step_state = self.state.step_state
        return block

    def allocate(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        """Aligned host memory for a stacked leaf (``staging``)."""
        memory = self.staging.take(shape, dtype)
        self.lent[id(memory)] = memory
        return memory

    def make_room(self) -> None:
        """Wait, before a block is dispatched, until at most ``BLOCKS_IN_FLIGHT - 1`` others
        are unfinished (the device is busy with them meanwhile)."""
        in_flight = self.in_flight
        while in_flight and (len(in_flight) >= BLOCKS_IN_FLIGHT or ready(in_flight[0])):
            jax.block_until_ready(in_flight.popleft())

    def release(self, stacked: Any, finished: Any = None) -> None:
        """The memory ``allocate`` gave to ``stacked`` may be reused once ``finished`` (an
        output of the block that ran on it; ``None``: it never ran) is ready."""
        if finished is not None:
            self.in_flight.append(finished)
        for leaf in jax.tree_util.tree_leaves(stacked):
            if self.lent.get(id(leaf)) is leaf:
                del self.lent[id(leaf)]
                self.staging.keep(leaf, finished)

    def give_back(self, block: Block) -> None:
        """Return a block read ahead to the source, to be read again."""
        for _, stacked, _ in block.ready or ():
            self.release(stacked)
        if block.gathered:
            self.reads.cursor_back(block.gathered)
        elif block.reads:
            self.reads.give_back(block.reads)

    def dispatches(self, block: Block) -> Iterator[tuple[int, Any, Any]]:
        """``(iterations, batch or stacked batches, position of the last)`` for each dispatch
        of ``block``.

        Every fused part is stacked into a block of the run's capacity, so a block cut
        short (the data ran out, a batch of another shape) compiles no new program.
        """
        if block.ready is not None:
            yield from block.ready
            return
        if not self.fused:  # no fusion: nothing to compare or stack
            yield from ((1, batch, position) for batch, position in block.reads)
            return
        yield from self._grouped(block.reads, *_signed(block.reads))

    def _grouped(
        self, reads: list[tuple[Any, Any]], flat: list[Any], signatures: list[Any]
    ) -> Iterator[tuple[int, Any, Any]]:
        """The dispatches of ``reads``, flattened (``flat``) and signed (``signatures``)."""
        start = 0
        while start < len(reads):
            end = start + 1
            while end < len(reads) and signatures[end] == signatures[start]:
                end += 1
            if end - start > 1 and not self.carry_fits(signatures[start], reads[start][0]):
                # the state was made for other batches (e.g. y_pred of a short last batch,
                # or weakly typed initial values): one step on its own gives it this shape
                self.carried = signatures[start]
                yield 1, *reads[start]
                start += 1
                continue
            self.carried = signatures[start]
            if end - start == 1:
                yield 1, *reads[start]
            else:
                stacked = stack_block(flat[start:end], self.capacity, self.allocate)
                yield end - start, stacked, reads[end - 1][1]
            start = end

    def gathered(self, planned: int) -> tuple[int, Any] | None:
        """``(iterations, stacked batches)`` of a fused block that ``batches(...)`` stacks
        itself, one copy per array, with no batch read or stacked on its own; ``None``
        where the block is read batch by batch (other data, batches read ahead, a
        block of one, the short last batch, a state made for other batches)."""
        cursor = self.reads.cursor() if self.fused and planned > 1 else None
        if cursor is None:
            return None
        size = self.reads.allowed(min(planned, cursor.full_ahead()))
        if size < 2:
            return None
        sample = cursor.peek()
        leaves, treedef = flatten(sample)
        if not all(type(leaf) is np.ndarray for leaf in leaves):
            return None  # device arrays: stacked on the device, batch by batch
        batch_signature = signature(leaves, treedef)
        if not self.carry_fits(batch_signature, sample):
            return None
        self.carried = batch_signature
        self.reads.consumed(size)
        return size, cursor.gather(size, self.capacity, self.allocate)

    def carry_fits(self, batch_signature: Any, batch: Any) -> bool:
        """Whether the step state can be the scan carry over batches like ``batch``."""
        if batch_signature == self.carried:
            return True
        carry = (self.state.step_state, self.state.metric_state)
        return fits_carry(self.loop, self.step, carry, batch_signature, batch)


def _signed(reads: list[tuple[Any, Any]]) -> tuple[list[Any], list[Any]]:
    """Each batch of ``reads`` flattened, and its signature (structure, shapes, dtypes)."""
    flat = [flatten(batch) for batch, _ in reads]
    return flat, [signature(leaves, treedef) for leaves, treedef in flat]
