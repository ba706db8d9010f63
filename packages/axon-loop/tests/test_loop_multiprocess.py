"""Training across two processes (jax.distributed on the CPU) equals one process: data
parallel, and FSDP over 2 processes x 2 devices killed and resumed from its sharded
checkpoints."""

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


SHARDED_WORKER = textwrap.dedent(
    """
    import json, os, sys
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
    import jax
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    process, port, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    jax.distributed.initialize(f"localhost:{port}", num_processes=2, process_id=process)
    import numpy as np, optax, axon.loop

    def init(key, x):
        return {"w": jax.numpy.zeros((x.shape[-1], 4))}

    def apply(params, x, *, mode, key):
        return x @ params["w"], None

    def batches(epoch):  # each process feeds its half of every global batch of 8
        x = np.random.default_rng(epoch).normal(size=(64, 8)).astype(np.float32) * 10
        y = x @ np.linspace(-2, 2, 32, dtype=np.float32).reshape(8, 4)
        half = slice(process * 4, process * 4 + 4)
        return [(x[i : i + 8][half], y[i : i + 8][half]) for i in range(0, 64, 8)]

    def killed(state):  # both processes die at once, in epoch 2, without any cleanup
        if state.iteration == 20 and sys.argv[4] == "kill":
            os._exit(17)

    mesh = jax.make_mesh((4,), ("data",))  # 2 processes x 2 devices
    loop = axon.loop.trainer((init, apply), "mean_squared_error", optax.adam(0.05), log=0)
    # every 6 iterations: the kill at 20 resumes from 18, inside epoch 2
    loop = loop.checkpoint(path, event="iteration_completed", filter={"every": 6})
    state = loop.handle_event("iteration_completed", killed).replace(output_transform=None).run(
        batches, epochs=3, mesh=mesh, sharding=axon.loop.FSDP(min_size=0), resume="auto"
    )
    w = state.step_state["model_state"]["w"]
    shards = sorted(s.data.shape for s in w.addressable_shards)
    w = np.asarray(jax.experimental.multihost_utils.process_allgather(w, tiled=True))
    result = {"w": w.ravel().tolist(), "resumed_from": state.resumed_from, "shards": shards}
    print(json.dumps(result))
    """
)


def launch(script, *args, env):
    """Both workers of ``script`` (process ids 0 and 1), each with ``args``:
    ``[(returncode, stdout, stderr)]``."""
    port = str(free_port())
    workers = [
        subprocess.Popen(
            [sys.executable, str(script), str(i), port, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        for i in (0, 1)
    ]
    outputs = [w.communicate(timeout=240) for w in workers]
    return [(w.returncode, *out) for w, out in zip(workers, outputs, strict=True)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def linear_from_zeros(outputs):
    """A linear model (no bias) whose weights start at zero: ``(init, apply)``."""

    def init(key, x):
        return {"w": np.zeros((x.shape[-1], outputs), np.float32)}

    def apply(params, x, *, mode, key):
        return x @ params["w"], None

    return init, apply


def single_process():
    def batches(epoch):
        x = np.random.default_rng(epoch).normal(size=(64, 3)).astype(np.float32)
        y = x @ np.array([[1.0], [-2.0], [0.5]], np.float32)
        return [(x[i : i + 8], y[i : i + 8]) for i in range(0, 64, 8)]

    trainer = axon.loop.trainer(linear_from_zeros(1), "mean_squared_error", optax.sgd(0.1), log=0)
    return np.asarray(trainer.run(batches, epochs=2)["w"]).ravel()


def test_two_processes_train_like_one(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    # one CPU device per process: drop the conftest's four-device XLA_FLAGS
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    outputs = launch(script, env=env)
    for code, _, err in outputs:
        assert code == 0, err[-3000:]
    results = [json.loads(out.strip().splitlines()[-1]) for _, out, _ in outputs]
    np.testing.assert_allclose(results[0], results[1])
    np.testing.assert_allclose(results[0], single_process(), rtol=1e-5)


def test_fsdp_over_two_processes_is_killed_and_resumed_from_sharded_checkpoints(tmp_path):
    script, path = tmp_path / "sharded_worker.py", str(tmp_path / "checkpoints")
    script.write_text(SHARDED_WORKER)
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    assert [code for code, _, _ in launch(script, path, "kill", env=env)] == [17, 17]
    outputs = launch(script, path, "resume", env=env)
    for code, _, err in outputs:
        assert code == 0, err[-3000:]
    results = [json.loads(out.strip().splitlines()[-1]) for _, out, _ in outputs]
    for result in results:  # from the newest complete checkpoint before the kill, mid-epoch
        assert result["resumed_from"] in (12, 18)
        assert result["shards"] == [[2, 4], [2, 4]]  # w (8, 4): a quarter on each device
    np.testing.assert_array_equal(results[0]["w"], results[1]["w"])
    np.testing.assert_allclose(results[0]["w"], fsdp_reference(), rtol=1e-5, atol=1e-5)


def fsdp_reference():
    """The same training in one process on one device, uninterrupted."""

    def batches(epoch):
        x = np.random.default_rng(epoch).normal(size=(64, 8)).astype(np.float32) * 10
        y = x @ np.linspace(-2, 2, 32, dtype=np.float32).reshape(8, 4)
        return [(x[i : i + 8], y[i : i + 8]) for i in range(0, 64, 8)]

    model = linear_from_zeros(4)
    trainer = axon.loop.trainer(model, "mean_squared_error", optax.adam(0.05), log=0)
    return np.asarray(trainer.run(batches, epochs=3)["w"]).ravel()
