"""The first run: compilation included, axon's trainer against fresh raw JAX loops.

What a short experiment, a notebook cell, a test or one point of a hyperparameter sweep
waits for: a *fresh* configuration (never compiled in this process) trained for
``--steps`` steps. Every round builds every contender anew with a learning rate of its
own, so nothing is reused from an earlier round (JAX's caches key on the function, axon's
on the configuration); the rounds are interleaved, each starting with another contender.

Contenders (tiny workload of ``peers.py``: MLP 32-64-10, batch 32, adam):

- ``raw jax.jit``: a new ``jax.jit`` step, the Python loop over the batches;
- ``raw lax.scan``: a new ``jax.jit`` of ``lax.scan`` over K stacked batches;
- ``axon trainer``: ``trainer(model, "categorical_cross_entropy", optax.adam(lr))
  .metric("accuracy")`` with its console log every 50 (to a null stream), ``run(batches)``;
- ``axon, same config``: a second ``trainer(...)`` built like the round's first one
  (the same model graph, a new optimizer object with equal settings): it should compile
  nothing.

Printed per contender: the median over rounds of the time to the first result on the host
(raw jit: step 1; raw scan: the first block; axon: the first log point, iteration 50), the
whole first run, the programs XLA compiled during it (JAX's ``backend_compile`` events,
a count), and the ratio of the run's speed to the raw loops' in the same round. Then the
persistent compilation cache: two fresh processes in a row train the same configuration
with ``axon.loop.compilation_cache(dir)`` on an empty directory; the second reads its programs
from the disk.

    python bench/first_run.py                  # 5 rounds + the two processes (~1 minute)
    python bench/first_run.py --rounds 9 --steps 3072 -k 64
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import jax
import optax
from peers import WORKLOADS, Workload, axon_model, init_mlp, make_data, raw_step

from axon.loop._engine.program_cache import compilations

TINY = WORKLOADS["tiny"]


@dataclass
class Measured:
    first: float  # seconds to the first result on the host
    total: float  # seconds for the whole run
    programs: int  # programs XLA compiled during the run


@dataclass
class Rows:
    label: str
    runs: list[Measured] = field(default_factory=list)


def raw_jit(w: Workload, batches: list, lr: float, k: int) -> float:
    optimizer = optax.adam(lr)
    step = jax.jit(raw_step(optimizer), donate_argnums=(0, 1))
    return _time_to_first(step, w, optimizer, batches)


def raw_scan(w: Workload, chunks: list, lr: float, k: int) -> float:
    optimizer = optax.adam(lr)
    step = raw_step(optimizer)

    def steps(params, opt_state, xs, ys):
        return jax.lax.scan(lambda c, b: (step(*c, *b), None), (params, opt_state), (xs, ys))[0]

    return _time_to_first(jax.jit(steps, donate_argnums=(0, 1)), w, optimizer, chunks)


def _time_to_first(step, w: Workload, optimizer, items: list) -> float:
    """Run ``step`` over ``items`` from fresh parameters; the seconds to the first result."""
    params = init_mlp(w)
    state = (params, optimizer.init(params))
    started = time.perf_counter()
    first = None
    for x, y in items:
        state = step(*state, x, y)
        if first is None:
            jax.block_until_ready(state)
            first = time.perf_counter() - started
    jax.block_until_ready(state)
    return first


def axon_run(w: Workload, batches: list, lr: float, k: int, model: object = None) -> float:
    import axon.loop

    started = time.perf_counter()
    first: list[float] = []

    def mark(state) -> None:  # fires with the log: cuts no block of its own
        if not first:
            jax.block_until_ready(state.step_state["loss"])
            first.append(time.perf_counter() - started)

    model = model or axon_model(w)
    loop = axon.loop.trainer(model, "categorical_cross_entropy", optax.adam(lr))
    loop = loop.metric("accuracy").handle_event("iteration_completed", mark, {"every": 50})
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        jax.block_until_ready(loop.run(batches))
    return first[0]


def measure(run: Callable[[], float]) -> Measured:
    gc.collect()
    with compilations() as counted:
        started = time.perf_counter()
        first = run()
        total = time.perf_counter() - started
    return Measured(first, total, counted.compiled)


def in_process(w: Workload, k: int, rounds: int) -> dict[str, Rows]:
    data = make_data(w, k)
    rows = {
        "raw-jit": Rows("raw jax.jit loop (fresh)"),
        "raw-scan": Rows(f"raw lax.scan, K={k} (fresh)"),
        "axon": Rows("axon trainer (fresh config)"),
        "axon-again": Rows("axon, 2nd trainer of same config"),
    }
    models = {}  # the round's model graph, for the second trainer of the same configuration
    contenders = {
        "raw-jit": lambda lr: raw_jit(w, data.batches, lr, k),
        "raw-scan": lambda lr: raw_scan(w, data.chunks, lr, k),
        "axon": lambda lr: axon_run(w, data.batches, lr, k, models.setdefault(lr, axon_model(w))),
    }
    for run in contenders.values():  # warm up JAX itself (backends, first trace), untimed
        measure(lambda run=run: run(0.5))
    for round_ in range(rounds):
        lr = 1e-3 * (1 + round_ / 100)  # a configuration of this round only
        keys = list(contenders)
        for key in keys[round_ % len(keys) :] + keys[: round_ % len(keys)]:
            rows[key].runs.append(measure(lambda key=key, lr=lr: contenders[key](lr)))
        rows["axon-again"].runs.append(measure(lambda lr=lr: contenders["axon"](lr)))
    return rows


def paired(rows: dict[str, Rows], key: str, base: str) -> float:
    """Median over rounds of the contender's speed over the baseline's, same round."""
    return statistics.median(
        b.total / a.total for a, b in zip(rows[key].runs, rows[base].runs, strict=True)
    )


def report(rows: dict[str, Rows], w: Workload) -> list[str]:
    header = (
        f"{'first run of ' + str(w.steps) + ' steps':<36} {'first ms':>9} {'total ms':>9} "
        f"{'min':>7} {'max':>7} {'programs':>8} {'x raw jit':>10} {'x raw scan':>11}"
    )
    lines = [header, "-" * len(header)]
    for key, row in rows.items():
        totals = [m.total * 1e3 for m in row.runs]
        programs = sorted({m.programs for m in row.runs})
        lines.append(
            f"{row.label:<36} {statistics.median(m.first * 1e3 for m in row.runs):9.0f} "
            f"{statistics.median(totals):9.0f} {min(totals):7.0f} {max(totals):7.0f} "
            f"{'/'.join(map(str, programs)):>8} {paired(rows, key, 'raw-jit'):10.2f} "
            f"{paired(rows, key, 'raw-scan'):11.2f}"
        )
    ratio = paired(rows, "axon", "raw-jit")
    verdict = "MET " if ratio >= 0.8 else "MISS"
    lines.append(f"  [{verdict}] axon first run >= 0.8x raw jax.jit loop's speed: {ratio:.2f}x")
    again = max(m.programs for m in rows["axon-again"].runs)
    verdict = "MET " if again == 0 else "MISS"
    lines.append(f"  [{verdict}] a 2nd trainer(...) of the same config compiles nothing: {again}")
    return lines


# -- the persistent compilation cache: two fresh processes ---------------------------------


def child(steps: int, cache: str) -> None:
    """One fresh process: train a fixed configuration once, print what it took."""
    import axon.loop

    axon.loop.compilation_cache(cache)  # the one setting
    w = Workload(**{**TINY.__dict__, "batches": steps, "epochs": 1})
    batches = make_data(w, 1).batches
    with compilations() as counted:
        started = time.perf_counter()
        axon_run(w, batches, 1e-3, 1)
        total = time.perf_counter() - started
    print(json.dumps({"total": total, "compiled": counted.compiled, "read": counted.from_disk}))


def two_processes(steps: int) -> list[str]:
    with tempfile.TemporaryDirectory() as cache:
        command = [sys.executable, __file__, "--child", cache, "--steps", str(steps)]
        runs = []
        for _ in range(2):
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            runs.append(json.loads(done.stdout.splitlines()[-1]))
    lines = ["persistent compilation cache (axon.loop.compilation_cache(dir)): 2 fresh processes"]
    names = ("1st process (empty cache)", "2nd process (reads it)")
    for name, run in zip(names, runs, strict=True):
        lines.append(
            f"  {name:<28} first run {run['total'] * 1e3:6.0f} ms, "
            f"programs compiled {run['compiled']}, read from disk {run['read']}"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3072, help="steps of a run (tiny MLP)")
    parser.add_argument("-k", type=int, default=64, help="K of the raw lax.scan loop")
    parser.add_argument("--child", metavar="CACHE_DIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.steps, args.child)
    if args.steps % args.k:
        parser.error(f"K={args.k} must divide --steps {args.steps}")
    w = Workload(**{**TINY.__dict__, "batches": args.steps, "epochs": 1})
    print(
        f"jax {jax.__version__}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; "
        f"{args.rounds} rounds, interleaved; medians (min/max of the total)"
    )
    print(f"{w.describe()}\n")
    print("\n".join(report(in_process(w, args.k, args.rounds), w)))
    print()
    print("\n".join(two_processes(args.steps)))
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
