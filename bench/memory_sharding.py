"""FSDP memory and speed: ``run(sharding="fsdp")`` against replicated parameters.

Memory is read from XLA, not assumed: the training step of a ~55M-parameter MLP
(adam) is lowered and compiled (never run) for 4 fake CPU devices with each
placement, and ``compiled.memory_analysis()`` gives the bytes of its arguments per
device (parameters, optimizer state and the batch share) and of its temporaries.
Speed: steps/s of a small MLP trained by ``axon.loop.trainer`` on the same 4 fake
CPU devices, FSDP against replicated (CPU collectives are slow: the figure guards
against regressions, it says nothing about accelerators).

    python bench/memory_sharding.py            # ~1 minute on 2 busy cores
    python bench/memory_sharding.py --quick    # smaller models, fewer steps
"""

from __future__ import annotations

import argparse
import itertools
import os
import time

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=4")

import jax
import jax.numpy as jnp
import numpy as np
import optax

import axon.loop
from axon.loop._engine.placement import Placement

DEVICES = 4


def mlp(widths: list[int]):
    def init(key, x):
        keys = jax.random.split(key, len(widths) - 1)
        return {
            f"dense_{i}": {
                "kernel": jax.random.normal(k, (a, b)) / np.sqrt(a),
                "bias": jnp.zeros((b,)),
            }
            for i, (k, a, b) in enumerate(zip(keys, widths[:-1], widths[1:], strict=True))
        }

    def apply(params, x, *, mode, key):
        for i in range(len(widths) - 1):
            x = x @ params[f"dense_{i}"]["kernel"] + params[f"dense_{i}"]["bias"]
            if i < len(widths) - 2:
                x = jax.nn.relu(x)
        return x, None

    return init, apply


def step_memory(widths: list[int], sharding: str, batch: int = 64) -> dict[str, int]:
    """Per-device bytes of the compiled training step's arguments and temporaries."""
    model = mlp(widths)
    init_fn, step_fn = axon.loop.train_step(model, "mean_squared_error", optax.adam(1e-3))
    x = jax.ShapeDtypeStruct((batch, widths[0]), jnp.float32)
    y = jax.ShapeDtypeStruct((batch, widths[-1]), jnp.float32)
    abstract = jax.eval_shape(lambda x, y: init_fn((x, y), None), x, y)  # nothing allocated
    mesh = jax.make_mesh((DEVICES,), ("data",))
    placement = Placement(mesh, "data", sharding)
    replicated = jax.sharding.NamedSharding(placement.mesh, jax.sharding.PartitionSpec())
    planned = (
        placement.plan.shardings(abstract)
        if placement.plan
        else jax.tree_util.tree_map(lambda _: None, abstract)
    )
    state_shardings = jax.tree_util.tree_map(
        lambda s: s or replicated, planned, is_leaf=lambda s: s is None
    )
    batch_sharding = jax.sharding.NamedSharding(placement.mesh, jax.sharding.PartitionSpec("data"))
    step = jax.jit(
        lambda batch, state: placement.constrain(step_fn(batch, state)),
        in_shardings=((batch_sharding, batch_sharding), state_shardings),
        out_shardings=state_shardings,
        donate_argnums=1,
    )
    analysis = step.lower((x, y), abstract).compile().memory_analysis()
    return {
        "arguments": analysis.argument_size_in_bytes,
        "temporaries": analysis.temp_size_in_bytes,
    }


def steps_per_second(widths: list[int], sharding: str, steps: int, batch: int = 64) -> float:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch * 16, widths[0])).astype(np.float32)
    y = rng.normal(size=(batch * 16, widths[-1])).astype(np.float32)
    data = axon.loop.batches(x, y, batch_size=batch)
    mesh = jax.make_mesh((DEVICES,), ("data",))
    trainer = axon.loop.trainer(mlp(widths), "mean_squared_error", optax.adam(1e-3), log=0)
    trainer.run(data, iterations=8, mesh=mesh, sharding=sharding)  # compile
    start = time.perf_counter()
    params = trainer.run(data, epochs=steps // 16, mesh=mesh, sharding=sharding)
    jax.block_until_ready(params)
    return (steps // 16 * 16) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    big = [512, 1024, 1024, 16] if args.quick else [1024, 4096, 4096, 4096, 4096, 16]
    small = [64, 256, 256, 16] if args.quick else [256, 1024, 1024, 16]
    steps = 64 if args.quick else 512
    count = sum(a * b + b for a, b in itertools.pairwise(big))
    print(f"memory: MLP {big} ({count / 1e6:.1f}M parameters, adam), {DEVICES} CPU devices")
    memory = {s: step_memory(big, s) for s in ("replicated", "fsdp")}
    for s, m in memory.items():
        print(f"  {s:>10}: arguments {m['arguments'] / 2**20:8.1f} MiB/device, "
              f"temporaries {m['temporaries'] / 2**20:8.1f} MiB/device")  # fmt: skip
    ratio = memory["fsdp"]["arguments"] / memory["replicated"]["arguments"]
    print(f"  fsdp/replicated parameter+optimizer bytes per device: {ratio:.3f} (ideal 0.25)")
    print(f"speed: MLP {small}, batch 64, {steps} steps, {DEVICES} CPU devices")
    speed = {s: steps_per_second(small, s, steps) for s in ("replicated", "fsdp")}
    for s, v in speed.items():
        print(f"  {s:>10}: {v:8.1f} steps/s")
    print(f"  fsdp/replicated steps/s: {speed['fsdp'] / speed['replicated']:.2f}")


if __name__ == "__main__":
    main()
