"""The host memory of fused blocks: a block of batches that already lie one after another
in one aligned array is a view of it (no copy); other blocks are copied into aligned
memory, reused once the block that ran on it has finished."""

import jax
import numpy as np
import optax
import pytest

import axon.loop
from axon.loop._data import aligned_empty, is_aligned
from axon.loop._engine.blocks import VIEW_MIN_BYTES, contiguous_view, flatten, stack_block
from axon.loop._engine.reading import BlockReader
from axon.loop._engine.staging import MAX_BUFFERS, MAX_BYTES, Staging

ROWS, FEATURES = 64, 512  # 128 KiB per float32 batch: blocks worth viewing


def sliced(x, rows=ROWS):
    return [x[i : i + rows] for i in range(0, len(x), rows)]


def test_batches_sliced_in_order_from_one_aligned_array_are_viewed_not_copied():
    x = aligned_empty((8 * ROWS, FEATURES), np.float32)
    x[:] = np.arange(x.size, dtype=np.float32).reshape(x.shape)
    assert x[:ROWS].nbytes >= VIEW_MIN_BYTES
    batches = sliced(x)
    view = contiguous_view(tuple(batches))
    assert view is not None and np.shares_memory(view, x)
    np.testing.assert_array_equal(view, np.stack(batches))
    stacked = stack_block([flatten((b, b[:, :1])) for b in batches], capacity=8)
    assert np.shares_memory(stacked[0], x)


@pytest.mark.parametrize(
    "case", ["shuffled", "another array", "a gap", "unaligned", "short block", "small batches"]
)
def test_other_blocks_are_copied_into_aligned_memory(case):
    x = aligned_empty((9 * ROWS, FEATURES), np.float32)
    x[:] = np.random.default_rng(0).normal(size=x.shape)
    batches, capacity = sliced(x)[:8], 8
    if case == "shuffled":
        batches = batches[::-1]
    elif case == "another array":
        batches[3] = batches[3].copy()
    elif case == "a gap":
        batches = sliced(x)[:4] + sliced(x)[5:9]
    elif case == "unaligned":  # 4 bytes further
        batches = sliced(x.reshape(-1)[1 : 1 + 8 * ROWS * FEATURES].reshape(-1, FEATURES))
    elif case == "short block":
        batches = batches[:7]
    else:
        batches, capacity = sliced(x, rows=4)[:8], 8
    stacked = stack_block([flatten((b, b[:, :1])) for b in batches], capacity)
    assert not np.shares_memory(stacked[0], x) and is_aligned(stacked[0])
    np.testing.assert_array_equal(stacked[0][: len(batches)], np.stack(batches))


class Finished:
    """A stand-in for a block's ``finished`` output."""

    def __init__(self, ready):
        self.ready = ready

    def is_ready(self):
        return self.ready


def test_memory_is_reused_only_once_the_block_that_ran_on_it_has_finished():
    staging = Staging()
    reader = BlockReader(loop=None, state=None, step=None, steps_per_dispatch=4, staging=staging)
    first = reader.allocate((4, 3), np.float32)
    running = Finished(False)
    reader.release({"x": first}, running)
    second = reader.allocate((4, 3), np.float32)
    assert second is not first and is_aligned(second)  # the first block still runs
    running.ready = True
    assert reader.allocate((4, 3), np.float64) is not first  # another shape or dtype
    assert reader.allocate((4, 3), np.float32) is first
    reader.release([second])  # never ran (a block read ahead and given back): free now
    assert reader.allocate((4, 3), np.float32) is second
    reader.release([np.zeros((4, 3), np.float32)])  # not lent by this reader: not kept
    assert len(staging) == 0
    other_run = BlockReader(None, None, None, 4, staging=staging)  # kept across runs
    reader.release([second], Finished(True))
    assert other_run.allocate((4, 3), np.float32) is second


def test_kept_memory_is_bounded():
    staging = Staging()
    for _ in range(3 * MAX_BUFFERS):
        staging.keep(aligned_empty((4, 3), np.float32))
    assert len(staging) == MAX_BUFFERS
    big = MAX_BYTES // 3 + 1
    for _ in range(3):
        staging.keep(aligned_empty((big,), np.uint8))
    assert len(staging) < MAX_BUFFERS
    staging.keep(aligned_empty((MAX_BYTES + 1,), np.uint8))  # the latest one stays
    assert len(staging) == 1


def test_the_block_program_says_when_it_has_finished():
    """The ``finished`` output is not ready while the block runs, so its memory is not
    reused too early (the CPU backend reads an aligned block in place)."""

    def step(batch, total):
        return jax.lax.fori_loop(0, 40, lambda _, t: jax.numpy.tanh(t @ batch), total)

    loop = axon.loop.loop(step)
    block = axon.loop._engine.compiled.compiled_block(loop, jit=True)
    batches = np.full((16, 256, 256), 1e-3, np.float32)
    total = np.eye(256, dtype=np.float32)
    metrics = {"count": np.int32(0), "values": {}}
    jax.block_until_ready(block(total, metrics, batches, np.int32(1)))
    _, _, finished = block(total.copy(), metrics, batches, np.int32(16))
    assert not finished.is_ready()
    jax.block_until_ready(finished)
    assert finished.is_ready()


@pytest.mark.parametrize("aligned", [True, False])
def test_runs_over_viewed_or_copied_blocks_equal_single_steps(linear, aligned):
    wide = aligned_empty((12 * ROWS * 2048 + 1,), np.float32)  # 512 KiB batches
    wide = wide[int(not aligned) :][: 12 * ROWS * 2048].reshape(12 * ROWS, 2048)
    wide[:] = np.random.default_rng(1).normal(size=wide.shape)
    assert wide[:ROWS].nbytes >= VIEW_MIN_BYTES and is_aligned(wide) == aligned
    data = [(xb, xb[:, :3] @ np.ones((3, 1), np.float32)) for xb in sliced(wide)]

    def init(key, x):
        return {"w": np.zeros((x.shape[-1], 1), np.float32)}

    def apply(params, x, *, mode, key):
        return x[:, :3] @ params["w"][:3], None

    trainer = axon.loop.trainer((init, apply), "mean_squared_error", optax.sgd(0.1), log=0)
    trainer = trainer.replace(output_transform=None)
    single = trainer.run(data, epochs=3, steps_per_dispatch=1)
    fused = trainer.run(data, epochs=3, steps_per_dispatch=4)
    np.testing.assert_allclose(
        fused.step_state["model_state"]["w"], single.step_state["model_state"]["w"], rtol=1e-6
    )


def test_the_host_stays_at_most_two_blocks_ahead_of_the_device(linear, monkeypatch):
    """Dispatch is asynchronous: without a bound, a run with no handler to wait for would
    stack every block of an epoch (and hold their memory) before the device ran them."""
    from axon.loop._engine import reading

    ahead = []
    original = reading.BlockReader.release

    def release(self, stacked, finished=None):
        original(self, stacked, finished)
        ahead.append(len(self.in_flight))

    monkeypatch.setattr(reading.BlockReader, "release", release)
    x = np.random.default_rng(2).normal(size=(4096, 3)).astype(np.float32)
    data = axon.loop.batches(x, x[:, :1], batch_size=8)  # 512 batches: 128 blocks of 4
    trainer = axon.loop.trainer(linear, "mean_squared_error", optax.sgd(0.01), log=0)
    trainer.run(data, steps_per_dispatch=4)
    assert len(ahead) >= 100 and max(ahead) <= reading.BLOCKS_IN_FLIGHT
