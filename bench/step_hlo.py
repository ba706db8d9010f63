"""The compiled fused step against the raw lax.scan body: XLA ops per iteration and
device time per step, from the raw body up to the trainer `peers.py` measures.

Each program runs K iterations per dispatch over pre-stacked, aligned batches, so
only the device's work differs (no reading, stacking or per-run setup). The rows
add one thing at a time; `fusions` and `copies` count the ops of the `while` body
in XLA's optimized HLO, `us/step` is the median over interleaved rounds.

    python bench/step_hlo.py                  # tiny (MLP 32-64-10, batch 32)
    python bench/step_hlo.py --workload mnist # MLP 784-128-10, batch 128
    python bench/step_hlo.py --dump DIR       # also write each program's HLO text
"""

from __future__ import annotations

import argparse
import collections
import gc
import re
import statistics
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from peers import LEARNING_RATE, WORKLOADS, axon_model, init_mlp, make_data, raw_step

import axon.loop
from axon.loop._data import aligned_empty
from axon.loop._engine.compiled import compiled_block, zero_metrics


def raw_programs(w, chunk):
    """The raw body in lax.scan (as peers.py runs it) and in a fori_loop over n."""
    optimizer = optax.adam(LEARNING_RATE)
    step = raw_step(optimizer)

    def scan(carry, stacked):
        return jax.lax.scan(lambda c, b: (step(*c, *b), None), carry, stacked)[0]

    def fori(carry, stacked, n):
        return jax.lax.fori_loop(0, n, lambda i, c: step(*c, stacked[0][i], stacked[1][i]), carry)

    params = init_mlp(w)
    carry = (params, optimizer.init(params))
    k = np.int32(len(chunk[0]))
    return [
        ("raw body, lax.scan (peers.py raw-scan)", jax.jit(scan, donate_argnums=0), carry, ()),
        ("raw body, fori_loop over n", jax.jit(fori, donate_argnums=0), carry, (k,)),
    ]


def axon_programs(w, chunk):
    """The trainer's block program, from its bare step to the trainer of peers.py."""
    optimizer = optax.adam(LEARNING_RATE)
    bare = axon.loop.trainer(axon_model(w), "categorical_cross_entropy", optimizer, log=0)
    unchecked = axon.loop.trainer(
        axon_model(w), "categorical_cross_entropy", optimizer, log=0, halt_on_nonfinite=False
    )
    trainers = [
        ("axon step alone (no metric)", axon.loop.Loop(bare.step_fn, bare.init_fn)),
        ("+ loss running mean", unchecked),
        ("+ nonfinite check (trainer default)", bare),
        ("+ accuracy (peers.py axon-fused)", bare.metric("accuracy")),
    ]
    batch = jax.tree_util.tree_map(lambda leaf: leaf[0], chunk)
    k = np.int32(len(chunk[0]))
    programs = []
    for label, loop in trainers:
        step_state = loop.init_fn(batch, None)
        carry = (step_state, zero_metrics(loop, step_state))
        block = compiled_block(loop, jit=True)
        programs.append((label, _two_outputs(block), carry, (k,)))
    return programs


def _two_outputs(block):
    def run(carry, stacked, n):
        step_state, metric_state, _ = block(*carry, stacked, n)
        return step_state, metric_state

    run.lower = lambda carry, stacked, n: block.lower(*carry, stacked, n)
    return run


def while_body_ops(hlo: str) -> collections.Counter:
    """Opcode counts of the body of the (only) while loop in an optimized HLO module."""
    body = re.search(r"while\(.*?body=%?([\w.\-]+)", hlo).group(1)
    start = hlo.index(f"\n%{body} ") if f"\n%{body} " in hlo else hlo.index(f"\n{body} ")
    text = hlo[start : hlo.index("\n}\n", start)]
    return collections.Counter(re.findall(r"= \S+ ([a-z][\w-]*)\(", text))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workload", default="tiny", choices=sorted(WORKLOADS))
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("-k", type=int, default=100)
    parser.add_argument("--dump", type=Path, help="write each program's optimized HLO here")
    args = parser.parse_args()
    w = WORKLOADS[args.workload]
    data = make_data(w, args.k)
    chunks = []
    for xs, ys in data.chunks:  # aligned: the CPU backend reads them in place
        stacked = (aligned_empty(xs.shape, xs.dtype), aligned_empty(ys.shape, ys.dtype))
        np.copyto(stacked[0], xs), np.copyto(stacked[1], ys)
        chunks.append(stacked)
    programs = raw_programs(w, chunks[0]) + axon_programs(w, chunks[0])

    rows, carries = [], {}
    for index, (label, fn, carry, extra) in enumerate(programs):
        hlo = fn.lower(carry, chunks[0], *extra).compile().as_text()
        if args.dump:
            args.dump.mkdir(parents=True, exist_ok=True)
            (args.dump / f"{index}.hlo.txt").write_text(hlo)
        ops = while_body_ops(hlo)
        rows.append((label, ops["fusion"], ops["copy"], sum(ops.values())))
        carries[label] = jax.tree_util.tree_map(jnp.copy, carry)

    def run_epoch(label, fn, extra):
        carry = carries[label]
        for chunk in chunks:
            carry = fn(carry, chunk, *extra)
        carries[label] = jax.block_until_ready(carry)

    for label, fn, _, extra in programs:  # compile and warm up
        run_epoch(label, fn, extra)
    times = {label: [] for label, *_ in programs}
    for round_ in range(args.rounds):
        order = programs[round_ % len(programs) :] + programs[: round_ % len(programs)]
        for label, fn, _, extra in order:
            gc.collect()
            started = time.perf_counter()
            run_epoch(label, fn, extra)
            times[label].append(time.perf_counter() - started)
    steps = len(chunks) * args.k
    base = times[programs[0][0]]
    print(
        f"{w.describe()}; K={args.k}, {args.rounds} rounds, "
        f"jax {jax.__version__}, load average {Path('/proc/loadavg').read_text().split()[0]}"
    )
    print(f"{'program':<40} {'fusions':>7} {'copies':>6} {'ops':>5} {'us/step':>8} {'x raw':>6}")
    for label, fusions, copies, total in rows:
        ratio = statistics.median(b / t for b, t in zip(base, times[label], strict=True))
        per_step = statistics.median(times[label]) / steps * 1e6
        print(f"{label:<40} {fusions:7d} {copies:6d} {total:5d} {per_step:8.2f} {ratio:6.2f}")


if __name__ == "__main__":
    main()
