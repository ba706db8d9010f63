"""Prefetch: a slow loader and a step of about the same time overlap (DESIGN.md rule 4).

A loader that sleeps ``--load-ms`` per batch (a disk or network read: the GIL is
free meanwhile) feeds a step of about ``--step-ms`` (a chain of matmuls, sized
here to that time). Without prefetch an epoch takes their sum when the host
waits for each step; with ``run(..., prefetch=2)`` the next batch is read while
the step runs, so it takes about the larger of the two. Printed as epoch times
and as the ratio prefetch / no prefetch, all in one process, interleaved.

Four settings, each with ``prefetch=0`` and ``prefetch=2``:

- ``synced``: a handler waits for the step after every step (as a per-step log or
  progress line that reads the loss does), so the host waits for each step;
- ``async``: nothing reads the device during the epoch; JAX's asynchronous
  dispatch already lets the loader run while the step computes;
- ``fused``: the same in fused mode (``steps_per_dispatch="auto"``, blocks of up
  to 64 steps in one ``lax.scan``);
- ``in-memory``: the synced loop over batches already in memory (a list), and
  ``small step``: a one-layer step over them, unsynced: the cost of the thread when
  there is nothing to hide (``prefetch="auto"`` does not start one there).

    python bench/prefetch.py                 # 200 batches, 5 rounds
    python bench/prefetch.py --quick         # a smoke run
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

import axon.loop

WIDTH = 256


class SleepyLoader:
    """A re-iterable loader whose every batch takes ``seconds`` to arrive (GIL released)."""

    def __init__(self, batch: np.ndarray, count: int, seconds: float):
        self.batch, self.count, self.seconds = batch, count, seconds

    def __len__(self) -> int:
        return self.count

    def __iter__(self):
        for _ in range(self.count):
            time.sleep(self.seconds)
            yield self.batch


def step_of(layers: int):
    def step(batch, carry):
        weights, total = carry
        hidden = batch
        for _ in range(layers):
            hidden = jnp.tanh(hidden @ weights)
        return weights, total + hidden.mean()

    return step


def initial_carry():
    return jnp.eye(WIDTH, dtype=jnp.float32) * 0.5, jnp.float32(0)


def epoch_seconds(loop, data, prefetch: int, fused: bool = False) -> float:
    started = time.perf_counter()
    steps_per_dispatch = "auto" if fused else 1
    state = loop.run(
        data, initial_carry(), steps_per_dispatch=steps_per_dispatch, prefetch=prefetch
    )
    jax.block_until_ready(state.step_state)
    return time.perf_counter() - started


def calibrated_layers(batch: np.ndarray, step_ms: float) -> tuple[int, float]:
    """The number of layers whose step takes about ``step_ms`` on this machine."""
    data = [batch] * 50
    layers, per_step = 4, 0.0
    for _ in range(6):
        loop = axon.loop.loop(step_of(layers)).handle_event("iteration_completed", _sync)
        epoch_seconds(loop, data, 0)  # compiles
        per_step = min(epoch_seconds(loop, data, 0) for _ in range(3)) / len(data) * 1e3
        if abs(per_step - step_ms) < 0.1 * step_ms:
            break
        layers = max(1, round(layers * step_ms / per_step))
    return layers, per_step


def _sync(state) -> None:
    jax.block_until_ready(state.step_state)  # a per-step log or progress line does this


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--load-ms", type=float, default=1.0)
    parser.add_argument("--step-ms", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="30 batches, 2 rounds")
    args = parser.parse_args()
    if args.quick:
        args.batches, args.repeats = 30, 2

    batch = np.random.default_rng(0).normal(size=(64, WIDTH)).astype(np.float32)
    layers, step_ms = calibrated_layers(batch, args.step_ms)
    loader = SleepyLoader(batch, args.batches, args.load_ms / 1e3)
    started = time.perf_counter()
    list(loader)
    load_ms = (time.perf_counter() - started) / args.batches * 1e3
    plain = axon.loop.loop(step_of(layers))
    synced = plain.handle_event("iteration_completed", _sync)
    settings = {  # name: (loop, data, fused)
        "synced": (synced, loader, False),
        "async": (plain, loader, False),
        "fused": (plain, loader, True),
        "in-memory": (synced, [batch] * args.batches, False),
        "small step": (axon.loop.loop(step_of(1)), [batch] * args.batches, False),
    }
    times: dict[tuple[str, int], list[float]] = {}
    for loop, _, fused in settings.values():
        epoch_seconds(loop, [batch] * args.batches, 0, fused)  # compiles every program
    for round_ in range(args.repeats):
        for name, (loop, data, fused) in settings.items():
            for prefetch in (0, 2) if round_ % 2 else (2, 0):  # alternate which goes first
                seconds = epoch_seconds(loop, data, prefetch, fused)
                times.setdefault((name, prefetch), []).append(seconds)

    print(
        f"jax {jax.__version__}, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.2f}; {args.batches} batches per epoch, {args.repeats} rounds, "
        f"median per batch"
    )
    print(f"loader alone {load_ms:.2f} ms/batch; step alone {step_ms:.2f} ms ({layers} layers)")
    print(f"  sum {load_ms + step_ms:.2f} ms, larger {max(load_ms, step_ms):.2f} ms\n")
    print(f"{'setting':12s} {'prefetch=0':>11s} {'prefetch=2':>11s} {'ratio':>7s}")
    for name in settings:
        off, on = (statistics.median(times[name, p]) / args.batches * 1e3 for p in (0, 2))
        print(f"{name:12s} {off:8.2f} ms {on:8.2f} ms {on / off:7.2f}")


if __name__ == "__main__":
    main()
