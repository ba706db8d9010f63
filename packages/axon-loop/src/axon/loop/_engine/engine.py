"""``Engine``: runs a loop from a fresh or restored state, firing its events.

Epochs, then blocks of iterations, then steps. Handlers fire in Ignite/Axon order
(``started``, ``epoch_started``, ``iteration_started``, ``iteration_completed``,
``epoch_completed`` or ``epoch_halted``, ``completed`` or ``halted``) and steer the
run by what they return. A block is planned so that no handler fires inside it
(``blocks``) and runs as fused dispatches of the compiled step (``compiled``).
A background thread reads the next batches, makes them arrays and, without
fusion, starts their transfer to the device(s) (``prefetch``). A fused block is
read and stacked (into a block of the run's capacity, so blocks of any size share
one program) right after the previous block is dispatched, before the handlers of
its end fire (``reading``): dispatch is asynchronous, so the next block is loaded
while the device runs the current one, even when a handler waits for it. The
position of the last batch consumed (not of those read ahead) is kept in
``state.data_position`` for checkpoints.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import jax
import numpy as np

from .._data import DataSource, EmptyDataError, EpochBatches, prefetched
from .._events import Event, Halt
from .._state import State
from .blocks import BlockPlanner
from .compiled import compiled_block, compiled_step, zero_metrics
from .placement import Placement
from .reading import Block, BlockReader

if TYPE_CHECKING:
    from .._events import HandlerSpec
    from .._loop import Loop


class Engine:
    """Runs a loop from a (fresh or restored) state until it completes or halts."""

    def __init__(
        self,
        loop: Loop,
        state: State,
        *,
        jit: bool,
        steps_per_dispatch: int,
        placement: Placement,
        debug: bool = False,
        prefetch: int | str = "auto",
    ):
        self.loop = loop
        self.prefetch = prefetch  # batches read ahead in a background thread, or "auto"
        self.debug = debug
        self.state = state
        self.placement = placement
        self.step = compiled_step(loop, jit, checked=debug, placement=placement)
        self.block = (
            compiled_block(loop, jit, checked=debug, placement=placement)
            if steps_per_dispatch > 1
            else None
        )
        self.reader = BlockReader(loop, state, self.step, steps_per_dispatch)
        self.ahead: Block | None = None  # the next block, read while the device runs this one
        # unfused, every batch is a dispatch of its own: transfer it as soon as it is read
        self.placed_ahead = self.block is None
        self.by_event: dict[Event, list[HandlerSpec]] = {}
        for spec in sorted(loop.handlers, key=lambda spec: spec.order):  # stable sort
            self.by_event.setdefault(spec.event, []).append(spec)
        self.planner = BlockPlanner(self.by_event, steps_per_dispatch)

    # -- events -------------------------------------------------------------------------------

    def fire(self, event: Event) -> Halt:
        self.state.record(event)
        return self.handle(event)

    def handle(self, event: Event) -> Halt:
        """Run the handlers of ``event`` (already counted) whose filters match."""
        state = self.state
        outcome = Halt.CONTINUE
        for spec in self.by_event.get(event, ()):
            if not spec.filter(state, event):
                continue
            if self.debug:
                _debug(f"{event.value} (iteration {state.iteration}): handler {spec.name}")
            result = spec.handler(state)
            if result is not None and result != Halt.CONTINUE:
                try:
                    result = Halt(result)
                except ValueError:
                    raise ValueError(
                        f"Handler {spec.name!r} on {event.value!r} returned {result!r}; return "
                        f"None, 'continue', 'halt_epoch' or 'halt_loop'."
                    ) from None
                if outcome != Halt.LOOP:
                    outcome = result
        return outcome

    # -- the run ------------------------------------------------------------------------------

    def run(self, data: DataSource, start_epoch: int, batches: EpochBatches, mid_epoch: bool):
        """Run from ``start_epoch``, whose remaining ``batches`` are given (``mid_epoch``: it
        had already started, in the run that was resumed; it may have no batch left)."""
        try:
            self._run(data, start_epoch, batches, mid_epoch)
        except BaseException:
            # An exception (or Ctrl-C) ends the run: still finish what handlers opened,
            # e.g. a checkpoint being written asynchronously, then re-raise.
            self.state.status = "failed"
            for resource in self.state.resources.values():
                with contextlib.suppress(Exception):
                    resource.close()
            self.state.resources.clear()
            raise

    def _run(self, data: DataSource, start_epoch: int, first: EpochBatches, mid_epoch: bool):
        state = self.state
        halted = self.fire(Event.STARTED) == Halt.LOOP
        for epoch in range(start_epoch, state.max_epoch):
            if halted:
                break
            state.epoch = epoch
            batches = first if epoch == start_epoch else data.epoch(epoch)
            state.epoch_length = data.lengths.get(epoch)
            if state.max_iteration is not None and state.epoch_length is not None:
                state.epoch_length = min(state.epoch_length, state.max_iteration)
            if mid_epoch and epoch == start_epoch:
                outcome = Halt.CONTINUE  # resumed inside an epoch that already started
                state.metrics = {**state.metrics, **self.metric_view()}
            else:
                state.start_epoch()
                state.epoch_done = False
                state.data_position = None
                state.metric_state = self.placement.replicate(
                    zero_metrics(self.loop, state.step_state)
                )
                state.metrics = self.metric_view()
                outcome = self.fire(Event.EPOCH_STARTED)
            started = time.perf_counter()
            with prefetched(batches, self.prefetch, self.prepare, self.left(state)) as ahead:
                outcome, seen = self.run_epoch(ahead, outcome)
            if seen == 0 and outcome == Halt.CONTINUE and state.count_in_epoch() == 0:
                raise EmptyDataError(
                    f"The data produced no batches in epoch {epoch}. A generator or iterator "
                    f"can be consumed only once: pass a list, a re-iterable loader, or a "
                    f"function returning a fresh iterable for every epoch."
                )
            jax.block_until_ready(state.step_state)
            state.times[epoch] = state.times.get(epoch, 0.0) + time.perf_counter() - started
            if outcome == Halt.LOOP:
                halted = True
                break
            if outcome == Halt.EPOCH:
                halted = self.fire(Event.EPOCH_HALTED) == Halt.LOOP
                continue
            state.epoch_done = True
            halted = self.fire(Event.EPOCH_COMPLETED) == Halt.LOOP
            state.history[epoch] = dict(state.metrics)
        state.status = "halted" if halted else "completed"
        self.fire(Event.HALTED if halted else Event.COMPLETED)

    def prepare(self, batch: Any) -> Any:
        """What the prefetch thread does to a batch besides reading it."""
        return self.placement.batch(batch) if self.placed_ahead else batch

    @staticmethod
    def left(state: State) -> int | None:
        """The iterations left in this epoch under ``max_iteration`` (``None``: no limit)."""
        cap = state.max_iteration
        return None if cap is None else max(cap - state.count_in_epoch(), 0)

    def run_epoch(self, reads: Iterator[tuple[Any, Any]], outcome: Halt) -> tuple[Halt, int]:
        seen = 0
        self.reader.reads = reads
        try:
            while outcome == Halt.CONTINUE:
                block = self.next_block()
                if block is None:
                    break
                outcome = self.run_block(block)
                seen += block.size
        finally:
            if self.ahead is not None:  # the epoch ends otherwise: its batches are read again
                self.reader.give_back(self.ahead)
                self.ahead = None
        return outcome, seen

    def next_block(self) -> Block | None:
        """The next planned block of the epoch (``None``: the epoch is over): the one read
        ahead if the run went as planned, else read now."""
        state = self.state
        remaining = self.left(state)
        if remaining == 0:
            return None
        planned = self.planner.plan_block(state, remaining)
        ahead, self.ahead = self.ahead, None
        if ahead is not None:
            unchanged = ahead.ready is None or ahead.step_state is state.step_state
            if ahead.planned == planned and unchanged:
                return ahead if ahead.size else None
            self.reader.give_back(ahead)  # handlers changed the plan or the state
        block = self.reader.prepare(planned, ahead=False)
        return block if block.size else None

    def read_ahead(self) -> None:
        """Read (and stack) the next block while the device runs the one just dispatched,
        before the handlers of its end fire: they may wait for the device (a log line
        reads the metrics), and the next dispatch then starts at once."""
        remaining = self.left(self.state)
        if remaining != 0:
            planned = self.planner.plan_block(self.state, remaining)
            self.ahead = self.reader.prepare(planned, ahead=True)

    def run_block(self, block: Block) -> Halt:
        """Run a planned block: no handler fires inside it, but possibly at its two ends.

        Consecutive batches of the same structure, shapes and dtypes run fused; a batch
        unlike its neighbours (e.g. a short last batch) runs on its own.
        """
        done = 0
        for size, batch, position in self.reader.dispatches(block):
            done += size
            outcome = self.run_dispatch(size, batch, position, last=done == block.size)
            if outcome != Halt.CONTINUE:
                return outcome
        return Halt.CONTINUE

    def run_dispatch(self, size: int, batch: Any, position: Any, last: bool) -> Halt:
        """``size`` iterations in one dispatch: a step on ``batch``, or the block program on
        ``size`` stacked batches; ``position``: where the last of them was read; ``last``:
        the block's last dispatch."""
        outcome = self.fire(Event.ITERATION_STARTED)
        if outcome != Halt.CONTINUE:
            return outcome
        if size == 1:
            self.run_step(batch if self.placed_ahead else self.placement.batch(batch))
        else:
            self.state.record(Event.ITERATION_STARTED, size - 1)
            self.reader.make_room()
            self.state.step_state, self.state.metric_state, finished = self.block(
                self.state.step_state,
                self.state.metric_state,
                self.placement.batch(batch, stacked=True),
                np.int32(size),
            )
            self.reader.release(batch, finished)
        self.state.data_position = position  # of the dispatch's last batch
        return self.complete(size, read_ahead=last and self.block is not None)

    def run_step(self, batch: Any) -> None:
        """One step on a batch already placed on the device(s)."""
        state, started = self.state, time.perf_counter()
        state.step_state, state.metric_state = self.step(
            state.step_state, state.metric_state, batch
        )
        if self.debug:  # debug trades speed for real per-step timings
            jax.block_until_ready(state.step_state)
            elapsed = (time.perf_counter() - started) * 1e3
            _debug(f"iteration {state.iteration + 1}: step {elapsed:.2f} ms")

    def complete(self, iterations: int, read_ahead: bool = False) -> Halt:
        state = self.state
        state.record(Event.ITERATION_COMPLETED, iterations)
        state.iteration += iterations
        state.metrics = {**state.metrics, **self.metric_view()}
        if read_ahead:
            self.read_ahead()
        return self.handle(Event.ITERATION_COMPLETED)

    def metric_view(self) -> dict[str, Any]:
        # jit returns dicts with sorted keys; show metrics in the order they were attached
        values = self.state.metric_state["values"]
        return {m.name: values[m.name] for m in self.loop.metrics if m.visible}


def _debug(message: str) -> None:
    print(f"[axon.loop debug] {message}", file=sys.stderr, flush=True)
