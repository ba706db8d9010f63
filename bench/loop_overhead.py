"""Per-step overhead of axon.loop.trainer against a hand-written jax.jit training loop.

The workload of DESIGN.md §5: an MLP 784-128-10 on batches of 128 with adam. Both
sides run the same model, optimizer and data in this one process, so the printed
ratio is comparable even on a busy machine; compile time is excluded by a warm-up.

    python bench/loop_overhead.py             # 2000 steps per side
    python bench/loop_overhead.py --steps 200
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import axon.loop
import axon.model

Optimizer = optax.GradientTransformation


def make_batches(steps: int) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 128, 784)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, size=(16, 128))]
    return [(x[i % 16], y[i % 16]) for i in range(steps)]


def raw_jax(
    model: axon.model.Model, batches: list, optimizer: optax.GradientTransformation
) -> float:
    """Steps per second of the loop a JAX user writes by hand (jit, donation, no metrics)."""
    params = model.init(0, batches[0][0]).params
    apply = model.apply

    @jax.jit
    def step(params, opt_state, x, y):
        def loss(p):
            probabilities = apply(axon.model.ModelState(p), x)[0]
            return -jnp.mean(jnp.sum(y * jnp.log(jnp.clip(probabilities, 1e-7, 1.0)), -1))

        grads = jax.grad(loss)(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    opt_state = optimizer.init(params)
    params, opt_state = step(params, opt_state, *batches[0])  # compile
    jax.block_until_ready(params)
    start = time.perf_counter()
    for x, y in batches:
        params, opt_state = step(params, opt_state, x, y)
    jax.block_until_ready(params)
    return len(batches) / (time.perf_counter() - start)


def axon_trainer(
    model: axon.model.Model, batches: list, optimizer: optax.GradientTransformation
) -> float:
    """Steps per second of axon.loop.trainer (loss metric accumulated on the device)."""
    loop = axon.loop.trainer(model, "categorical_cross_entropy", optimizer, log=0)
    loop.run(batches[:2])  # compile
    start = time.perf_counter()
    loop.run(batches)
    return len(batches) / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    args = parser.parse_args(argv)
    model = (
        axon.model.input("x", shape=(None, 784))
        .dense(128, activation="relu")
        .dense(10, activation="softmax")
    )
    batches = make_batches(args.steps)
    optimizer = optax.adam(1e-3)
    raw = raw_jax(model, batches, optimizer)
    ours = axon_trainer(model, batches, optimizer)
    print(f"device: {jax.devices()[0].platform}, steps: {args.steps}")
    print(f"raw jax.jit loop   {raw:8.1f} steps/s")
    print(f"axon.loop.trainer  {ours:8.1f} steps/s   ratio {ours / raw:.2f}x of raw")


if __name__ == "__main__":
    main()
