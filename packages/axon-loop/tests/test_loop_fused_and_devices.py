"""Fused mode (lax.scan over K iterations) and data parallelism over a device mesh."""

import contextlib
import io
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import axon.loop
from axon.loop._engine.compiled import AUTO_MAX_BLOCK_BYTES
from axon.loop._engine.engine import Engine
from axon.loop._events import Event, make_filter
from axon.loop._state import State


def batches(epoch):
    x = np.random.default_rng(epoch).normal(size=(96, 3)).astype(np.float32)
    y = x @ np.array([[1.0], [-2.0], [0.5]], np.float32) + 0.3
    return [(x[i : i + 8], y[i : i + 8]) for i in range(0, 96, 8)]  # 12 per epoch


def run(linear, *, log_every=None, **options):
    seen = []
    loop = (
        axon.loop.trainer(linear, "mean_squared_error", optax.adam(1e-2), log=0)
        .metric("mean_absolute_error")
        .replace(output_transform=None)
    )
    if log_every:
        loop = loop.handle_event(
            "iteration_completed",
            lambda s: seen.append((s.iteration, s.metric_values())),
            {"every": log_every},
        )
    return loop.run(batches, epochs=2, **options), seen


@pytest.mark.parametrize("k", [2, 5, 12, 100])
def test_fused_mode_equals_single_steps(linear, k):
    """Bitwise: the block program runs the same step, one iteration after another."""
    single, seen_single = run(linear, log_every=5)
    fused, seen_fused = run(linear, log_every=5, steps_per_dispatch=k)
    np.testing.assert_array_equal(
        fused.step_state["model_state"]["w"], single.step_state["model_state"]["w"]
    )
    assert [i for i, _ in seen_fused] == [i for i, _ in seen_single] == [5, 10, 15, 20]
    assert seen_fused == seen_single
    assert fused.event_counts == single.event_counts


def test_fused_blocks_stop_where_handlers_fire(linear):
    traces = []
    loop = axon.loop.trainer(linear, "mean_squared_error", optax.sgd(0.01), log=0)
    loop = loop.handle_event(
        "iteration_started", lambda s: traces.append(s.iteration), {"every": 7}
    )
    loop.run(batches, steps_per_dispatch=12)
    assert traces == [6]  # the 7th iteration started after exactly 6 completed


def test_an_opaque_filter_disables_fusion_around_it(linear):
    seen = []
    loop = axon.loop.trainer(linear, "mean_squared_error", optax.sgd(0.01), log=0).handle_event(
        "iteration_completed",
        lambda s: seen.append(s.iteration),
        lambda state, event: state.metrics is not None and state.iteration % 4 == 0,
    )
    loop.run(batches, steps_per_dispatch=6)
    assert seen == [4, 8, 12]


def test_auto_is_the_default_and_equals_single_steps(linear):
    single, _ = run(linear, log_every=5, steps_per_dispatch=1)
    auto, seen_auto = run(linear, log_every=5)  # steps_per_dispatch="auto"
    np.testing.assert_allclose(
        auto.step_state["model_state"]["w"], single.step_state["model_state"]["w"], rtol=1e-6
    )
    assert [i for i, _ in seen_auto] == [5, 10, 15, 20]
    assert auto.event_counts == single.event_counts
    for name, value in single.history[1].items():
        assert float(auto.history[1][name]) == pytest.approx(float(value), rel=1e-6)


def block_sizes(loop, data, **options):
    """The iterations of every dispatch of a run (records what the engine dispatches)."""
    sizes = []
    original = Engine.run_dispatch

    def recording(self, size, *batch_and_position, **last):
        sizes.append(size)
        return original(self, size, *batch_and_position, **last)

    Engine.run_dispatch = recording
    try:
        loop.run(data, **options)
    finally:
        Engine.run_dispatch = original
    return sizes


def test_auto_blocks_end_where_handlers_fire(linear):
    seen = []
    data = [(np.ones((2, 3), np.float32), np.ones((2, 1), np.float32))] * 120
    loop = axon.loop.trainer(linear, "mean_squared_error", optax.sgd(0.01), log=0).handle_event(
        "iteration_completed", lambda s: seen.append(s.iteration), {"every": 50}
    )
    # 120 batches: two stretches of 50, then 20 left when the data ends (one program)
    assert block_sizes(loop, data) == [50, 50, 20]
    # a short last batch runs on its own, the full ones before it fused
    short = [*data[:10], (np.ones((1, 3), np.float32), np.ones((1, 1), np.float32))]
    assert block_sizes(loop, short) == [10, 1]
    assert block_sizes(loop, short, steps_per_dispatch=50) == [10, 1]
    assert seen == [50, 100]
    assert block_sizes(loop, data, steps_per_dispatch=50) == [50, 50, 20]  # exact when asked


@pytest.mark.parametrize(
    "log, expected",
    [(0, [64, 56]), (50, [50, 50, 20])],  # per epoch of 120 batches
)
def test_the_trainers_nonfinite_check_cuts_no_fused_block(linear, log, expected):
    """It looks where the log already reads the device (and at epoch ends): the blocks
    are those of a trainer without it."""
    data = [(np.ones((2, 3), np.float32), np.ones((2, 1), np.float32))] * 120

    def sizes(**options):
        loop = axon.loop.trainer(linear, "mean_squared_error", optax.sgd(0.01), log=log, **options)
        with contextlib.redirect_stdout(io.StringIO()):
            return block_sizes(loop, data, epochs=2)

    assert sizes() == sizes(halt_on_nonfinite=False) == expected * 2


def test_a_timed_filter_never_ends_a_fused_block(linear):
    """``{"seconds": s}`` is asked only where a block ends anyway: a display refreshing
    by time leaves a run's blocks as they are without it."""
    data = [(np.ones((2, 3), np.float32), np.ones((2, 1), np.float32))] * 120
    seen = []
    trainer = axon.loop.trainer(linear, "mean_squared_error", optax.sgd(0.01), log=0)
    timed = trainer.handle_event(
        "iteration_completed", lambda s: seen.append(s.iteration), {"seconds": 0}
    ).handle_event("iteration_started", lambda s: None, {"seconds": 0})
    sizes = block_sizes(timed, data, epochs=2)
    assert sizes == block_sizes(trainer, data, epochs=2) == [64, 56] * 2
    assert seen == list(itertools.accumulate(sizes))  # seconds=0: at the end of each block


class _Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("log", [50, 7])
def test_the_trainers_live_display_cuts_no_fused_block(linear, log):
    """On a terminal the trainer's display refreshes by time: its blocks are those of the
    same trainer printing lines (which look every ``log`` iterations, like the check
    for a non-finite loss)."""
    data = [(np.ones((2, 3), np.float32), np.ones((2, 1), np.float32))] * 120

    def sizes(out):
        loop = axon.loop.trainer(linear, "mean_squared_error", optax.sgd(0.01), log=log)
        with contextlib.redirect_stdout(out):
            return block_sizes(loop, data, epochs=2)

    terminal = _Terminal()
    assert sizes(terminal) == sizes(io.StringIO())
    assert "Epoch 2/2" in terminal.getvalue() and "Epoch: " not in terminal.getvalue()


@pytest.mark.parametrize("k", ["auto", 4])
def test_a_short_last_batch_does_not_break_the_next_epochs_fused_blocks(linear, k):
    """The trainer's state holds y_pred, shaped like the last batch: after a short batch,
    the next fused block first runs one step on its own to give the state its shape."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 3)).astype(np.float32)
    data = [(x[i : i + 8], x[i : i + 8, :1]) for i in range(0, 30, 8)]  # 8, 8, 8, 6 rows
    loop = axon.loop.trainer(linear, "mean_squared_error", optax.sgd(0.1), log=0)
    single = loop.replace(output_transform=None).run(data, epochs=3, steps_per_dispatch=1)
    fused = loop.replace(output_transform=None)
    sizes = block_sizes(fused, data, epochs=3, steps_per_dispatch=k)
    assert sizes == [3, 1, 1, 2, 1, 1, 2, 1]  # later epochs: 1 alone, then fused
    state = fused.run(data, epochs=3, steps_per_dispatch=k)
    np.testing.assert_allclose(
        state.step_state["model_state"]["w"], single.step_state["model_state"]["w"], rtol=1e-6
    )


@pytest.mark.filterwarnings("ignore:Some donated buffers were not usable")  # the growing state
def test_auto_does_not_fuse_when_it_cannot(linear):
    small = [(np.ones((2, 3), np.float32), np.ones((2, 1), np.float32))] * 4
    trainer = axon.loop.trainer(linear, "mean_squared_error", optax.sgd(0.01), log=0)
    assert block_sizes(trainer, small) == [4]
    assert block_sizes(trainer, small, jit=False) == [1] * 4
    with contextlib.redirect_stderr(io.StringIO()):
        assert block_sizes(trainer, small, debug=True) == [1] * 4
    # a handler every iteration needs the host after every step
    every = trainer.handle_event("iteration_completed", lambda s: None)
    assert block_sizes(every, small) == [1] * 4
    # batches so large that a block would pass AUTO_MAX_BLOCK_BYTES
    rows = AUTO_MAX_BLOCK_BYTES // (2 * 4 * 4) + 1
    large = [(np.ones((rows, 3), np.float32), np.ones((rows, 1), np.float32))] * 2
    assert block_sizes(trainer, large) == [1, 1]
    # a state whose type changes at the first step only (an int total that becomes a
    # float) is fused after one step on its own
    floats = [np.float32(0.5)] * 4
    total = axon.loop.loop(lambda batch, total: total + batch, lambda b, init: init)
    assert block_sizes(total, floats, init_state=np.int32(0)) == [1, 3]
    assert float(total.run(floats, np.int32(0)).step_state) == 2.0
    # a state that changes shape at every step cannot be a scan carry: step by step
    growing = axon.loop.loop(
        lambda batch, seen: jnp.concatenate([seen, batch[None]]), lambda b, init: init
    )
    assert block_sizes(growing, floats, init_state=np.zeros(0, np.float32)) == [1] * 4
    assert growing.run(floats, np.zeros(0, np.float32)).step_state.tolist() == [0.5] * 4


FILTER_SPECS = [
    "always",
    "first",
    {"every": 3},
    {"every": ("epoch", 4), "after": 5},
    {"every": 2, "before": 9},
    {"once": 7},
    {"once": ("epoch", 2)},
    {"after": ("epoch", 3), "before": 20},
    {"every": 6, "once": 12},
]


@pytest.mark.parametrize("spec", FILTER_SPECS, ids=str)
@pytest.mark.parametrize("total, epoch", [(0, 0), (5, 2), (11, 11), (40, 3)])
def test_a_count_filter_predicts_its_next_firing_like_probing_does(spec, total, epoch):
    event = Event.ITERATION_COMPLETED
    check = make_filter(spec)
    counts = {event.value: {"total": total, "epoch": epoch}}
    state = State(step_state=None, event_counts=counts)
    for start, limit in [(1, 1), (1, 30), (2, 30), (5, 8)]:
        expected = None
        for ahead in range(start, limit + 1):
            probe = State(
                step_state=None,
                event_counts={event.value: {"total": total + ahead, "epoch": epoch + ahead}},
            )
            if check(probe, event):
                expected = ahead
                break
        assert check.next_match(state, event, start, limit) == expected, (start, limit)


needs_four_devices = pytest.mark.skipif(
    len(jax.devices()) < 4, reason="needs XLA_FLAGS=--xla_force_host_platform_device_count=4"
)


@needs_four_devices
@pytest.mark.parametrize("k", [1, 3])
def test_data_parallel_on_four_devices_equals_one_device(linear, k):
    mesh = jax.make_mesh((4,), ("data",))
    single, _ = run(linear, steps_per_dispatch=k)
    parallel, _ = run(linear, steps_per_dispatch=k, mesh=mesh)
    weights = parallel.step_state["model_state"]["w"]
    assert len(weights.sharding.device_set) == 4
    np.testing.assert_allclose(weights, single.step_state["model_state"]["w"], rtol=1e-5)
    np.testing.assert_allclose(
        parallel.history[1]["mean_absolute_error"],
        single.history[1]["mean_absolute_error"],
        rtol=1e-5,
    )


@needs_four_devices
def test_a_batch_that_does_not_split_over_the_mesh_is_explained(linear):
    mesh = jax.make_mesh((4,), ("data",))
    odd = [(np.ones((6, 3), np.float32), np.ones((6, 1), np.float32))]
    loop = axon.loop.trainer(linear, "mean_squared_error", optax.sgd(0.1), log=0)
    with pytest.raises(ValueError, match="multiple of 4"):
        loop.run(odd, mesh=mesh)
    with pytest.raises(ValueError, match="batch_axis='batch'"):
        loop.run(odd, mesh=mesh, batch_axis="batch")


def gathered_sizes(loop, data, **options):
    """The run's final state, and the sizes of the blocks ``batches(...)`` stacked itself."""
    sizes = []
    original = axon.loop._data.EpochCursor.gather

    def recording(self, count, *capacity_and_allocate):
        sizes.append(count)
        return original(self, count, *capacity_and_allocate)

    axon.loop._data.EpochCursor.gather = recording
    try:
        return loop.run(data, **options), sizes
    finally:
        axon.loop._data.EpochCursor.gather = original


@pytest.mark.parametrize("shuffle", [False, True])
def test_blocks_gathered_from_batches_equal_blocks_stacked_batch_by_batch(linear, shuffle):
    """batches(...) stacks a fused block itself, one copy per array: the same blocks, the
    same results (bitwise) as its batches given as a list, with shuffling, a subset of
    the rows (split) and a short last batch; handlers see the right batch."""
    rng = np.random.default_rng(3)
    x = rng.normal(loc=5.0, scale=3.0, size=(150, 3)).astype(np.float32)
    y = x @ np.array([[1.0], [-2.0], [0.5]], np.float32)
    data, _ = axon.loop.batches(x, y, batch_size=8, shuffle=shuffle, seed=4).split(0.1)
    assert (data.examples, len(data)) == (135, 17)  # 16 full batches and one of 7

    def loop(seen):
        def record(state):
            seen.append((state.epoch, state.iteration, np.asarray(state.step_state["y_true"])))

        trainer = axon.loop.trainer(linear, "mean_squared_error", optax.adam(1e-2), log=0)
        return trainer.replace(output_transform=None).handle_event(
            "iteration_completed", record, {"every": 5}
        )

    seen_gathered, seen_listed = [], []
    gathered, sizes = gathered_sizes(loop(seen_gathered), data, epochs=3, steps_per_dispatch=6)
    listed = loop(seen_listed).run(
        lambda epoch: list(data.epoch(epoch)), epochs=3, steps_per_dispatch=6
    )
    assert sizes and sum(sizes) > 2 * 16  # most of every epoch was gathered
    np.testing.assert_array_equal(
        gathered.step_state["model_state"]["w"], listed.step_state["model_state"]["w"]
    )
    assert gathered.metric_values() == listed.metric_values()
    assert len(seen_gathered) == len(seen_listed) == 10  # iterations 5, 10, ..., 50 of 51
    for (epoch, iteration, y_true), (_, _, expected) in zip(
        seen_gathered, seen_listed, strict=True
    ):
        np.testing.assert_array_equal(y_true, expected)
        batch = list(data.epoch(epoch))[iteration - 17 * epoch - 1]
        np.testing.assert_array_equal(y_true, batch[1])


def test_blocks_gathered_from_batches_stop_at_the_iteration_limit(linear):
    x = np.arange(120, dtype=np.float32).reshape(40, 3) / 40
    data = axon.loop.batches(x, x[:, :1], batch_size=4)
    trainer = axon.loop.trainer(linear, "mean_squared_error", optax.sgd(0.1), log=0)
    trainer = trainer.replace(output_transform=None)
    state, sizes = gathered_sizes(trainer, data, iterations=7, steps_per_dispatch=4)
    listed = trainer.run(list(data), iterations=7, steps_per_dispatch=4)
    assert state.iteration == 7 and sum(sizes) <= 7
    np.testing.assert_array_equal(
        state.step_state["model_state"]["w"], listed.step_state["model_state"]["w"]
    )


@pytest.mark.parametrize("source", ["list", "batches"])
def test_a_block_read_ahead_is_read_again_when_a_handler_replaces_the_state(linear, source):
    """The engine reads and stacks the next block before the handlers of a block's end
    fire; a handler that replaces the step state (as restoring weights does) sends that
    block back to the source, to be read again for the new state: nothing is skipped."""
    x = np.random.default_rng(5).normal(size=(96, 3)).astype(np.float32)
    data = axon.loop.batches(x, x[:, :1] * 2.0, batch_size=8)
    data = list(data) if source == "list" else data
    gave_back = []
    original = axon.loop._engine.reading.BlockReader.give_back

    def recording(self, block):
        gave_back.append(block.size)
        return original(self, block)

    def replace_state(state):
        state.step_state = jax.tree_util.tree_map(jnp.copy, state.step_state)

    trainer = axon.loop.trainer(linear, "mean_squared_error", optax.adam(1e-2), log=0)
    trainer = trainer.replace(output_transform=None)
    single = trainer.run(data, epochs=2, steps_per_dispatch=1)
    axon.loop._engine.reading.BlockReader.give_back = recording
    try:
        fused = trainer.handle_event("iteration_completed", replace_state, {"every": 4}).run(
            data, epochs=2, steps_per_dispatch=4
        )
    finally:
        axon.loop._engine.reading.BlockReader.give_back = original
    assert gave_back and set(gave_back) == {4}
    assert fused.iteration == single.iteration == 24
    np.testing.assert_allclose(
        fused.step_state["model_state"]["w"], single.step_state["model_state"]["w"], rtol=1e-6
    )
