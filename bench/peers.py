"""Training-loop speed of axon against raw JAX and its peers, on the same work in one process.

Two workloads (DESIGN.md §5, issue 6), both with adam(1e-3) and softmax cross entropy on
synthetic data generated once with numpy and handed to every contender as host arrays:

- ``tiny``:  MLP 32-64-10, batch 32 (host overhead per step dominates);
- ``mnist``: MLP 784-128-10, batch 128.

Contenders: the loop a JAX user writes by hand (``jax.jit`` step with donated buffers), the
same step fused K times per dispatch with ``lax.scan``, ``axon.loop.trainer`` with
``.metric("accuracy")`` and its default console log every 50 iterations (sent to a null
stream), Keras 3 ``fit`` on the JAX backend (also with ``steps_per_execution=K``), Flax Linen,
Flax NNX and Equinox. A contender whose library is missing is reported, never fatal.

Each contender is built and run once untimed (compilation, warm-up), then timed ``--repeats``
times, interleaved round-robin with the others so machine noise hits all of them alike. The
table shows the median steps/s and the median of the per-round ratios to the raw loops.

    python bench/peers.py                   # both workloads, 5 repeats (a few minutes)
    python bench/peers.py --quick           # smoke run (tiny workload, few steps, 2 repeats)
    python bench/peers.py --workload mnist --only raw-jit,axon
    nox -s bench -- --quick
"""

from __future__ import annotations

import os

os.environ["KERAS_BACKEND"] = "jax"  # before anything imports keras

import argparse
import contextlib
import gc
import importlib.metadata
import inspect
import io
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

LEARNING_RATE = 1e-3
EPSILON = 1e-7  # probabilities are clipped to [EPSILON, 1] before the log, as Keras and axon do


# -- workloads and data ---------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    name: str
    features: int
    hidden: int
    classes: int
    batch: int
    batches: int  # distinct batches in the data set = steps per epoch
    epochs: int

    @property
    def steps(self) -> int:
        return self.batches * self.epochs

    def describe(self) -> str:
        return (
            f"{self.name}: MLP {self.features}-{self.hidden}-{self.classes}, batch {self.batch}, "
            f"adam {LEARNING_RATE:g}; {self.steps} steps per run "
            f"({self.epochs} epochs x {self.batches} batches)"
        )


WORKLOADS = {
    "tiny": Workload("tiny", 32, 64, 10, batch=32, batches=1000, epochs=5),
    "mnist": Workload("mnist", 784, 128, 10, batch=128, batches=200, epochs=10),
}
QUICK = {  # a smoke run: every contender compiles and runs, the numbers mean little
    "tiny": Workload("tiny", 32, 64, 10, batch=32, batches=100, epochs=1),
    "mnist": Workload("mnist", 784, 128, 10, batch=128, batches=40, epochs=1),
}
QUICK_K = 20


@dataclass(frozen=True)
class Data:
    """One epoch of data, as every contender's API wants it (all views of the same arrays)."""

    x: np.ndarray  # (batches * batch, features) float32
    y: np.ndarray  # (batches * batch, classes) one-hot float32
    batches: list[tuple[np.ndarray, np.ndarray]]  # per-step (x, y)
    chunks: list[tuple[np.ndarray, np.ndarray]]  # K steps stacked: (K, batch, ...) for lax.scan


def make_data(w: Workload, k: int) -> Data:
    rng = np.random.default_rng(0)
    n = w.batches * w.batch
    x = rng.normal(size=(n, w.features)).astype(np.float32)
    y = np.eye(w.classes, dtype=np.float32)[rng.integers(0, w.classes, size=n)]
    batches = [(x[i : i + w.batch], y[i : i + w.batch]) for i in range(0, n, w.batch)]
    xs = x.reshape(w.batches // k, k, w.batch, w.features)
    ys = y.reshape(w.batches // k, k, w.batch, w.classes)
    return Data(x, y, batches, list(zip(xs, ys, strict=True)))


# -- shared pieces of the hand-written contenders -------------------------------------------


def cross_entropy(y: jax.Array, probabilities: jax.Array) -> jax.Array:
    return -jnp.mean(jnp.sum(y * jnp.log(jnp.clip(probabilities, EPSILON, 1.0)), axis=-1))


def init_mlp(w: Workload) -> dict[str, jax.Array]:
    """Glorot-uniform weights, zero biases: a pure-JAX parameter dict."""
    rng = np.random.default_rng(1)

    def glorot(fan_in: int, fan_out: int) -> jax.Array:
        limit = np.sqrt(6 / (fan_in + fan_out))
        return jnp.asarray(rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32))

    return {
        "w1": glorot(w.features, w.hidden),
        "b1": jnp.zeros(w.hidden),
        "w2": glorot(w.hidden, w.classes),
        "b2": jnp.zeros(w.classes),
    }


def mlp(params: dict[str, jax.Array], x: jax.Array) -> jax.Array:
    hidden = jax.nn.relu(x @ params["w1"] + params["b1"])
    return jax.nn.softmax(hidden @ params["w2"] + params["b2"])


def raw_step(optimizer: optax.GradientTransformation) -> Callable:
    def step(params, opt_state, x, y):
        grads = jax.grad(lambda p: cross_entropy(y, mlp(p, x)))(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    return step


class Unavailable(Exception):
    """The contender cannot run here (its library is missing or lacks a feature)."""


def require(*modules: str) -> None:
    for module in modules:
        try:
            __import__(module)
        except ImportError as error:
            raise Unavailable(f"not installed ({module}: {error})") from None


# -- contenders: setup(workload, data, k) -> run(), where run() trains for workload.steps ---
# Everything a contender builds (model, optimizer state, compiled step) is made in setup;
# run() does the whole training work and returns once the results are computed.

Run = Callable[[], None]


def carried_loop(
    step: Callable[..., Any], carry: tuple[Any, ...], batches: Any, epochs: int
) -> Run:
    """run(): ``epochs`` passes of ``carry = step(*carry, *batch)``, the loop every peer writes."""
    held = list(carry)

    def run() -> None:
        state = tuple(held)
        for _ in range(epochs):
            for batch in batches:
                state = step(*state, *batch)
        held[:] = jax.block_until_ready(state)

    return run


def raw_jit(w: Workload, data: Data, k: int) -> Run:
    """The loop a JAX user writes: one jax.jit step, donated params and optimizer state."""
    optimizer = optax.adam(LEARNING_RATE)
    step = jax.jit(raw_step(optimizer), donate_argnums=(0, 1))
    params = init_mlp(w)
    return carried_loop(step, (params, optimizer.init(params)), data.batches, w.epochs)


def raw_scan(w: Workload, data: Data, k: int) -> Run:
    """The same step, K of them per dispatch with lax.scan over K stacked batches."""
    optimizer = optax.adam(LEARNING_RATE)
    step = raw_step(optimizer)

    def steps(params, opt_state, xs, ys):
        def body(carry, batch):
            return step(*carry, *batch), None

        return jax.lax.scan(body, (params, opt_state), (xs, ys))[0]

    fused = jax.jit(steps, donate_argnums=(0, 1))
    params = init_mlp(w)
    return carried_loop(fused, (params, optimizer.init(params)), data.chunks, w.epochs)


def axon_model(w: Workload):
    import axon.model

    return (
        axon.model.input("x", shape=(None, w.features))
        .dense(w.hidden, activation="relu")
        .dense(w.classes, activation="softmax")
    )


def axon_trainer(w: Workload, data: Data, k: int, out: Any = None) -> Run:
    """axon.loop.trainer + accuracy metric + the default console log every 50 iterations."""
    require("axon.loop", "axon.model")
    import axon.loop

    loop = axon.loop.trainer(
        axon_model(w), "categorical_cross_entropy", optax.adam(LEARNING_RATE)
    ).metric("accuracy")
    sink = out or open(os.devnull, "w")  # noqa: SIM115 (lives as long as the contender)

    def run() -> None:
        # the log prints to sys.stdout; it still reads the metrics from the device every 50
        with contextlib.redirect_stdout(sink):
            jax.block_until_ready(loop.run(data.batches, epochs=w.epochs))

    return run


class NullTerminal(io.TextIOBase):
    """A terminal that keeps nothing: the progress display draws on it as on a real one."""

    def isatty(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        return len(text)


def axon_live(w: Workload, data: Data, k: int) -> Run:
    """The axon trainer on a terminal: its live progress display instead of log lines."""
    return axon_trainer(w, data, k, out=NullTerminal())


# ===== AXON FUSED MODE (issue 6) ===========================================================
# `Loop.run(..., steps_per_dispatch=K)` runs K iterations per dispatch with lax.scan. This
# contender switches itself on as soon as Loop.run accepts the argument. Target: >= 0.9x the
# raw lax.scan loop (and so >= 2x Keras with steps_per_execution=K).
def axon_fused(w: Workload, data: Data, k: int) -> Run:
    """axon.loop.trainer + accuracy, K steps per dispatch (no console log: log=0)."""
    require("axon.loop", "axon.model")
    import axon.loop

    if "steps_per_dispatch" not in inspect.signature(axon.loop.Loop.run).parameters:
        raise Unavailable("not available yet (Loop.run has no steps_per_dispatch)")
    loop = axon.loop.trainer(
        axon_model(w), "categorical_cross_entropy", optax.adam(LEARNING_RATE), log=0
    ).metric("accuracy")

    def run() -> None:
        jax.block_until_ready(loop.run(data.batches, epochs=w.epochs, steps_per_dispatch=k))

    return run


def axon_fused_arrays(w: Workload, data: Data, k: int) -> Run:
    """The same over the whole arrays, as Keras gets them: axon.loop.batches(x, y) stacks
    each fused block itself (one copy per array, no per-batch reads or stacking)."""
    require("axon.loop", "axon.model")
    import axon.loop

    loop = axon.loop.trainer(
        axon_model(w), "categorical_cross_entropy", optax.adam(LEARNING_RATE), log=0
    ).metric("accuracy")
    arrays = axon.loop.batches(data.x, data.y, batch_size=w.batch)

    def run() -> None:
        jax.block_until_ready(loop.run(arrays, epochs=w.epochs, steps_per_dispatch=k))

    return run


# ===========================================================================================


def keras_fit(w: Workload, data: Data, k: int, steps_per_execution: int = 1) -> Run:
    """Keras 3 Sequential + fit (JAX backend), loss and accuracy metric, verbose=0."""
    require("keras")
    import keras

    if keras.backend.backend() != "jax":
        raise Unavailable(f"keras was imported with the {keras.backend.backend()} backend")
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((w.features,)),
            keras.layers.Dense(w.hidden, activation="relu"),
            keras.layers.Dense(w.classes, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(LEARNING_RATE),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=steps_per_execution,
    )

    def run() -> None:
        model.fit(data.x, data.y, batch_size=w.batch, epochs=w.epochs, shuffle=False, verbose=0)
        jax.block_until_ready([v.value for v in model.trainable_variables])

    return run


def keras_fit_k(w: Workload, data: Data, k: int) -> Run:
    return keras_fit(w, data, k, steps_per_execution=k)


def flax_linen(w: Workload, data: Data, k: int) -> Run:
    """A flax.linen module and a jax.jit optax step with donated buffers."""
    require("flax.linen")
    import flax.linen as nn

    class MLP(nn.Module):
        hidden: int
        classes: int

        @nn.compact
        def __call__(self, x):
            x = nn.relu(nn.Dense(self.hidden)(x))
            return nn.softmax(nn.Dense(self.classes)(x))

    module = MLP(w.hidden, w.classes)
    optimizer = optax.adam(LEARNING_RATE)

    def step(params, opt_state, x, y):
        grads = jax.grad(lambda p: cross_entropy(y, module.apply({"params": p}, x)))(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    step = jax.jit(step, donate_argnums=(0, 1))
    params = module.init(jax.random.key(0), data.batches[0][0])["params"]
    return carried_loop(step, (params, optimizer.init(params)), data.batches, w.epochs)


def flax_nnx(w: Workload, data: Data, k: int) -> Run:
    """A flax.nnx module, nnx.Optimizer and an nnx.jit step (the NNX tutorial's loop)."""
    require("flax.nnx")
    from flax import nnx

    class MLP(nnx.Module):
        def __init__(self, rngs: nnx.Rngs):
            self.hidden = nnx.Linear(w.features, w.hidden, rngs=rngs)
            self.out = nnx.Linear(w.hidden, w.classes, rngs=rngs)

        def __call__(self, x):
            return nnx.softmax(self.out(nnx.relu(self.hidden(x))))

    model = MLP(nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.adam(LEARNING_RATE), wrt=nnx.Param)

    @nnx.jit
    def step(model, optimizer, x, y):
        grads = nnx.grad(lambda m: cross_entropy(y, m(x)))(model)
        optimizer.update(model, grads)

    def run() -> None:
        for _ in range(w.epochs):
            for x, y in data.batches:
                step(model, optimizer, x, y)
        jax.block_until_ready(nnx.state(model))

    return run


def equinox(w: Workload, data: Data, k: int) -> Run:
    """An eqx.Module of two eqx.nn.Linear (vmapped over the batch), an eqx.filter_jit step."""
    require("equinox")
    import equinox as eqx

    class MLP(eqx.Module):
        hidden: eqx.nn.Linear
        out: eqx.nn.Linear

        def __init__(self, key: jax.Array):
            k1, k2 = jax.random.split(key)
            self.hidden = eqx.nn.Linear(w.features, w.hidden, key=k1)
            self.out = eqx.nn.Linear(w.hidden, w.classes, key=k2)

        def __call__(self, x: jax.Array) -> jax.Array:  # one example
            return jax.nn.softmax(self.out(jax.nn.relu(self.hidden(x))))

    model = MLP(jax.random.key(0))
    optimizer = optax.adam(LEARNING_RATE)

    @eqx.filter_jit
    def step(model, opt_state, x, y):
        grads = eqx.filter_grad(lambda m: cross_entropy(y, jax.vmap(m)(x)))(model)
        updates, opt_state = optimizer.update(grads, opt_state, eqx.filter(model, eqx.is_array))
        return eqx.apply_updates(model, updates), opt_state

    opt_state = optimizer.init(eqx.filter(model, eqx.is_array))
    return carried_loop(step, (model, opt_state), data.batches, w.epochs)


@dataclass(frozen=True)
class Contender:
    key: str  # for --only
    label: str  # {k} is replaced by K
    setup: Callable[[Workload, Data, int], Run]


CONTENDERS = [
    Contender("raw-jit", "raw jax.jit loop", raw_jit),
    Contender("raw-scan", "raw lax.scan, K={k}", raw_scan),
    Contender("axon", "axon trainer + accuracy, log/50", axon_trainer),
    Contender("axon-live", "axon trainer, live display", axon_live),
    Contender("axon-fused", "axon trainer fused, K={k}", axon_fused),
    Contender("axon-fused-arrays", "axon fused, K={k}, batches(x, y)", axon_fused_arrays),
    Contender("keras", "Keras fit", keras_fit),
    Contender("keras-spe", "Keras fit, steps_per_execution={k}", keras_fit_k),
    Contender("flax-linen", "Flax Linen (jax.jit)", flax_linen),
    Contender("flax-nnx", "Flax NNX (nnx.jit)", flax_nnx),
    Contender("equinox", "Equinox (filter_jit)", equinox),
]
BASELINES = ("raw-jit", "raw-scan")


# -- the harness ----------------------------------------------------------------------------


@dataclass
class Result:
    label: str
    status: str = ""  # why there is no number ("not installed", an error), else ""
    rates: list[float] | None = None  # steps/s per round (None for rounds it did not run)


def bench(w: Workload, contenders: list[Contender], k: int, repeats: int) -> dict[str, Result]:
    data = make_data(w, k)
    results: dict[str, Result] = {}
    runs: dict[str, Run] = {}
    for c in contenders:
        label = c.label.format(k=k)
        results[c.key] = Result(label)
        started = time.perf_counter()
        try:
            run = c.setup(w, data, k)
            run()  # compile and warm up, untimed
        except Unavailable as why:
            results[c.key].status = str(why)
            continue
        except Exception as error:  # a broken peer must not end the benchmark
            results[c.key].status = f"failed: {type(error).__name__}: {error}".splitlines()[0]
            continue
        print(f"  ready: {label} ({time.perf_counter() - started:.1f}s setup + warm-up)")
        runs[c.key] = run
        results[c.key].rates = []
    for round_ in range(repeats):
        keys = list(runs)
        keys = keys[round_ % len(keys) :] + keys[: round_ % len(keys)]  # rotate who goes first
        for key in keys:
            gc.collect()
            started = time.perf_counter()
            try:
                runs[key]()
            except Exception as error:
                results[key].status = f"failed: {type(error).__name__}: {error}".splitlines()[0]
                results[key].rates = None
                del runs[key]
                continue
            results[key].rates.append(w.steps / (time.perf_counter() - started))
    return results


def paired_ratio(results: dict[str, Result], key: str, baseline: str) -> float | None:
    """Median over rounds of (contender / baseline) measured in the same round."""
    ours, theirs = results[key].rates, results.get(baseline) and results[baseline].rates
    if not ours or not theirs or len(ours) != len(theirs):
        return None
    return statistics.median(a / b for a, b in zip(ours, theirs, strict=True))


def table(w: Workload, results: dict[str, Result]) -> str:
    header = (
        f"{'contender':<36} {'steps/s':>9} {'min':>8} {'max':>8} "
        f"{'x raw jit':>10} {'x raw scan':>11}"
    )
    lines = [header, "-" * len(header)]
    for key, r in results.items():
        if not r.rates:
            lines.append(f"{r.label:<36} {r.status or 'no result'}")
            continue
        ratios = [paired_ratio(results, key, b) for b in BASELINES]
        cells = [f"{x:.2f}" if x is not None else "-" for x in ratios]
        lines.append(
            f"{r.label:<36} {statistics.median(r.rates):9.0f} {min(r.rates):8.0f} "
            f"{max(r.rates):8.0f} {cells[0]:>10} {cells[1]:>11}"
        )
    return "\n".join(lines)


def targets(results: dict[str, Result], workload: str) -> list[str]:
    """The goals of issues 6 and 18, checked on this run's paired ratios."""
    trainer_goal = {"tiny": 2.0, "mnist": 1.05}.get(workload)  # issue 18, steady state
    checks = [
        ("axon", "raw-jit", 0.95, "axon trainer (accuracy, log/50) >= 0.95x raw jax.jit loop"),
        ("axon-live", "axon", 0.97, "axon trainer's live display >= 0.97x its log lines"),
        ("axon-fused", "raw-scan", 0.90, "axon fused >= 0.9x raw lax.scan loop"),
        ("axon-fused", "keras-spe", 2.0, "axon fused >= 2x Keras steps_per_execution"),
        ("axon-fused", "raw-scan", 0.95, "issue 18: axon fused >= 0.95x raw lax.scan"),
        ("axon-fused-arrays", "raw-scan", 0.95, "issue 18: fused, batches(x, y) >= 0.95x"),
    ]
    if trainer_goal:
        text = f"issue 18: axon trainer >= {trainer_goal}x raw jax.jit loop"
        checks.append(("axon", "raw-jit", trainer_goal, text))
    lines = []
    for key, baseline, goal, text in checks:
        ratio = paired_ratio(results, key, baseline) if key in results else None
        if ratio is None:
            lines.append(f"  [ -- ] {text}: not measured")
        else:
            verdict = "MET " if ratio >= goal else "MISS"
            lines.append(f"  [{verdict}] {text}: {ratio:.2f}x")
    return lines


def versions() -> str:
    names = ["jax", "jaxlib", "optax", "axon-loop", "keras", "flax", "equinox"]
    found = []
    for name in names:
        try:
            found.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            found.append(f"{name} -")
    return ", ".join(found)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: tiny workload, few steps, 2 repeats"
    )
    parser.add_argument(
        "--workload", choices=[*WORKLOADS, "all"], help="default: all (tiny with --quick)"
    )
    parser.add_argument("--repeats", type=int, help="timed runs per contender (default 5)")
    parser.add_argument("--epochs", type=int, help="override the epochs per run")
    parser.add_argument(
        "-k",
        "--steps-per-dispatch",
        type=int,
        help=f"K of the fused contenders (default 100, {QUICK_K} with --quick)",
    )
    parser.add_argument(
        "--only",
        help="comma-separated contender keys: " + ", ".join(c.key for c in CONTENDERS),
    )
    args = parser.parse_args(argv)
    k = args.steps_per_dispatch or (QUICK_K if args.quick else 100)
    repeats = args.repeats or (2 if args.quick else 5)
    chosen = CONTENDERS
    if args.only:
        keys = args.only.split(",")
        unknown = sorted(set(keys) - {c.key for c in CONTENDERS})
        if unknown:
            parser.error(f"unknown contender(s) {unknown}")
        chosen = [c for c in CONTENDERS if c.key in keys]
    workloads = QUICK if args.quick else WORKLOADS
    workload = args.workload or ("tiny" if args.quick else "all")
    names = list(workloads) if workload == "all" else [workload]

    print(versions())
    print(
        f"device: {jax.devices()[0].device_kind} ({jax.default_backend()}), "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; "
        f"{repeats} timed runs per contender, interleaved; steps/s = median"
    )
    for name in names:
        w = workloads[name]
        if args.epochs:
            w = Workload(**{**w.__dict__, "epochs": args.epochs})
        if w.batches % k:
            parser.error(f"K={k} must divide the {w.batches} batches per epoch of {name!r}")
        print(f"\n{w.describe()}")
        results = bench(w, chosen, k, repeats)
        print()
        print(table(w, results))
        print("\n".join(targets(results, name)))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
