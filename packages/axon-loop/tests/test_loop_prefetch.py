"""Prefetch: the next batches are read in a background thread while the step runs.

Whatever the depth, a run consumes the same batches in the same order and ends in
the same state; the thread reads at most ``prefetch`` batches ahead, raises the
loader's errors where the batches are consumed (with the loader's traceback), and is
gone when the run ends, however it ends (halt, exception, Ctrl-C).
"""

import os
import signal
import threading
import time
import traceback

import jax.numpy as jnp
import numpy as np
import pytest

import axon.loop

BATCHES = [jnp.int32(i) for i in range(12)]


class Loader:
    """A re-iterable loader (not in memory: ``"auto"`` prefetches it) that counts its reads."""

    def __init__(self, batches=BATCHES, *, fail_at=None, seconds=0.0):
        self.batches, self.fail_at, self.seconds = batches, fail_at, seconds
        self.reads = 0

    def __iter__(self):
        for index, batch in enumerate(self.batches):
            if index == self.fail_at:
                raise ValueError(f"record {index} is damaged")
            time.sleep(self.seconds)
            self.reads += 1
            yield batch


def order_hash(batch, total):
    """A step whose result depends on which batches came, and in which order."""
    return (total * 31 + batch + 1) % 1_000_003


def prefetch_threads():
    return [t for t in threading.enumerate() if t.name == "axon-prefetch"]


@pytest.mark.parametrize("steps_per_dispatch", [1, "auto"])
def test_every_depth_runs_the_same_batches_in_the_same_order(steps_per_dispatch):
    ends = {
        prefetch: axon.loop.loop(order_hash).run(
            Loader(),
            jnp.int32(0),
            epochs=2,
            prefetch=prefetch,
            steps_per_dispatch=steps_per_dispatch,
        )
        for prefetch in (0, 1, 2, 7, "auto")
    }
    assert len({int(state.step_state) for state in ends.values()}) == 1
    assert {state.iteration for state in ends.values()} == {24}


@pytest.mark.parametrize("prefetch", [0, 1, 3])
def test_the_thread_reads_at_most_prefetch_batches_ahead(prefetch):
    loader, ahead = Loader(seconds=0.001), []

    def slow_handler(state):  # the loader gets time to read ahead
        time.sleep(0.003)
        ahead.append(loader.reads)

    slow_step = axon.loop.loop(order_hash).handle_event("iteration_completed", slow_handler)
    state = slow_step.run(loader, jnp.int32(0), prefetch=prefetch, steps_per_dispatch=1)
    reads_ahead = [reads - (i + 1) for i, reads in enumerate(ahead)]
    assert state.iteration == len(BATCHES) and max(reads_ahead) <= prefetch
    if prefetch == 0:
        assert set(reads_ahead) == {0}


def test_auto_prefetches_loaders_and_not_batches_in_memory():
    seen = {}

    def watch(name):
        def handler(state):
            seen.setdefault(name, bool(prefetch_threads()))

        return handler

    loop = axon.loop.loop(order_hash)
    loop.handle_event("iteration_completed", watch("list")).run(BATCHES, jnp.int32(0))
    loop.handle_event("iteration_completed", watch("loader")).run(Loader(), jnp.int32(0))
    loop.handle_event("iteration_completed", watch("generator")).run(
        lambda: (batch for batch in BATCHES), jnp.int32(0)
    )
    x = np.arange(12, dtype=np.int32)
    loop.handle_event("iteration_completed", watch("batches")).run(
        axon.loop.batches(x, batch_size=1), jnp.int32(0)
    )
    assert seen == {"list": False, "loader": True, "generator": True, "batches": False}


@pytest.mark.parametrize("prefetch", [0, 2])
def test_an_error_in_the_loader_is_raised_with_its_traceback(prefetch):
    ran = []
    loop = axon.loop.loop(order_hash).handle_event(
        "iteration_completed", lambda state: ran.append(state.iteration)
    )
    with pytest.raises(ValueError, match="record 7 is damaged") as error:
        loop.run(Loader(fail_at=7), jnp.int32(0), prefetch=prefetch, steps_per_dispatch=1)
    where = "".join(traceback.format_exception(error.value))
    assert 'raise ValueError(f"record {index} is damaged")' in where  # the loader's own line
    assert ran == list(range(1, 8))  # the batches read before the error ran
    assert not prefetch_threads()


class Interrupted(Exception):
    pass


def stop_at_iteration_5(outcome):
    def handler(state):
        if state.iteration == 5:
            if isinstance(outcome, str):
                return outcome
            raise outcome

    return handler


@pytest.mark.parametrize(
    "outcome", ["halt_loop", "halt_epoch", Interrupted("stop"), KeyboardInterrupt()]
)
def test_no_thread_is_left_however_the_run_ends(outcome):
    loop = axon.loop.loop(order_hash).handle_event(
        "iteration_completed", stop_at_iteration_5(outcome)
    )
    loader = Loader(list(BATCHES) * 20)
    if isinstance(outcome, str):
        state = loop.run(loader, jnp.int32(0), epochs=2, prefetch=3)
        assert state.iteration == (5 if outcome == "halt_loop" else 5 + 240)
    else:
        with pytest.raises(type(outcome)):
            loop.run(loader, jnp.int32(0), epochs=2, prefetch=3)
    assert not prefetch_threads()
    assert loader.reads <= (5 if outcome != "halt_epoch" else 245) + 3


def test_ctrl_c_while_waiting_for_a_slow_loader():
    loader = Loader(list(BATCHES) * 10, seconds=0.2)
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    started = time.perf_counter()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            axon.loop.loop(order_hash).run(loader, jnp.int32(0), prefetch=2)
    finally:
        timer.cancel()
    assert time.perf_counter() - started < 5  # the loader's current read, then gone
    assert not prefetch_threads()


@pytest.mark.parametrize("steps_per_dispatch", [1, "auto"])
@pytest.mark.parametrize("handler", ["halt_epoch", None])
def test_a_one_shot_iterator_continued_over_epochs_loses_no_batch(handler, steps_per_dispatch):
    """Each epoch takes 3 batches (``iterations=3``, or a halt) from one generator; batches
    read ahead when the epoch stops (by the thread, or by the engine reading the next
    fused block before the handlers fire) are given back to the next epoch."""
    in_order = axon.loop.loop(order_hash).run(BATCHES, jnp.int32(0), steps_per_dispatch=1)
    loop = axon.loop.loop(order_hash)
    if handler is not None:
        loop = loop.handle_event("iteration_completed", lambda s: handler, {"every": 3})
    ends = [
        loop.run(
            (batch for batch in BATCHES),
            jnp.int32(0),
            epochs=4,
            prefetch=prefetch,
            iterations=None if handler else 3,
            steps_per_dispatch=steps_per_dispatch,
        )
        for prefetch in (0, 2)
    ]
    assert int(ends[0].step_state) == int(ends[1].step_state) == int(in_order.step_state)
    assert ends[0].iteration == ends[1].iteration == 12


@pytest.mark.parametrize("bad", [-1, 1.5, True, "always"])
def test_prefetch_is_checked(bad):
    with pytest.raises(ValueError, match="prefetch must be 'auto' or the number of batches"):
        axon.loop.loop(order_hash).run(BATCHES, jnp.int32(0), prefetch=bad)
