"""Data parallel training across two processes (jax.distributed on the CPU) equals one process."""

import json
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import optax

import axon.loop

WORKER = textwrap.dedent(
    """
    import json, sys
    import jax
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    process, port = int(sys.argv[1]), sys.argv[2]
    jax.distributed.initialize(f"localhost:{port}", num_processes=2, process_id=process)
    import numpy as np, optax, axon.loop

    def init(key, x):
        return {"w": jax.numpy.zeros((x.shape[-1], 1))}

    def apply(params, x, *, mode, key):
        return x @ params["w"], None

    def batches(epoch):  # each process feeds its half of every global batch
        x = np.random.default_rng(epoch).normal(size=(64, 3)).astype(np.float32)
        y = x @ np.array([[1.0], [-2.0], [0.5]], np.float32)
        half = slice(process * 4, process * 4 + 4)
        return [(x[i : i + 8][half], y[i : i + 8][half]) for i in range(0, 64, 8)]

    mesh = jax.make_mesh((2,), ("data",))
    trained = axon.loop.trainer((init, apply), "mean_squared_error", optax.sgd(0.1), log=0).run(
        batches, epochs=2, mesh=mesh
    )
    w = np.asarray(jax.experimental.multihost_utils.process_allgather(trained["w"], tiled=True))
    print(json.dumps(w.ravel().tolist()))
    """
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def single_process():
    def init(key, x):
        return {"w": np.zeros((x.shape[-1], 1), np.float32)}

    def apply(params, x, *, mode, key):
        return x @ params["w"], None

    def batches(epoch):
        x = np.random.default_rng(epoch).normal(size=(64, 3)).astype(np.float32)
        y = x @ np.array([[1.0], [-2.0], [0.5]], np.float32)
        return [(x[i : i + 8], y[i : i + 8]) for i in range(0, 64, 8)]

    trainer = axon.loop.trainer((init, apply), "mean_squared_error", optax.sgd(0.1), log=0)
    return np.asarray(trainer.run(batches, epochs=2)["w"]).ravel()


def test_two_processes_train_like_one(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    port = str(free_port())
    # one CPU device per process: drop the conftest's four-device XLA_FLAGS
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    command = [sys.executable, str(script)]
    workers = [
        subprocess.Popen(
            [*command, str(i), port],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        for i in (0, 1)
    ]
    outputs = [w.communicate(timeout=240) for w in workers]
    for worker, (_, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err[-3000:]
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    np.testing.assert_allclose(results[0], results[1])
    np.testing.assert_allclose(results[0], single_process(), rtol=1e-5)
