"""A tiny linear model as a plain (init_fn, apply_fn) pair: the loop's model contract."""

import os

# Four CPU devices for the data-parallel tests; must be set before JAX initializes.
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=4")

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import axon.loop


def init_linear(key, x):
    return {"w": jax.random.normal(key, (x.shape[-1], 1)) * 0.1, "b": jnp.zeros((1,))}


def apply_linear(params, x, *, mode, key):
    return x @ params["w"] + params["b"], None


@pytest.fixture
def linear():
    return init_linear, apply_linear


@pytest.fixture
def regression_batches():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype(np.float32)
    y = x @ np.array([[1.0], [-2.0], [0.5]], np.float32) + 0.3
    return [(x[i : i + 16], y[i : i + 16]) for i in range(0, 64, 16)]


class RecordingLogger:
    """Implements the logger protocol and remembers every call."""

    def __init__(self):
        self.scalars, self.flushes, self.closed = [], 0, False

    def log_scalars(self, scalars, step):
        self.scalars.append((step, dict(scalars)))

    def flush(self):
        self.flushes += 1

    def close(self):
        self.closed = True


@pytest.fixture
def recording_logger():
    return RecordingLogger()


def five_batches(epoch):
    """Five batches of 8 examples; which ones depends only on the epoch, as exact resume needs."""
    x = np.random.default_rng(epoch).normal(size=(40, 3)).astype(np.float32)
    return [(x[i : i + 8], x[i : i + 8] @ np.ones((3, 1), np.float32)) for i in range(0, 40, 8)]


@pytest.fixture
def epoch_batches():
    """``fn(epoch)``: the data of the checkpoint and resume tests."""
    return five_batches


@pytest.fixture
def adam_trainer(linear):
    """A trainer of the linear model (Adam) whose run returns the whole ``State``."""
    return axon.loop.trainer(linear, "mean_squared_error", optax.adam(1e-2), log=0).replace(
        output_transform=None
    )


@pytest.fixture
def crash_at():
    """``crash_at(n)``: a handler raising ``RuntimeError("crashed at ...")`` at iteration n, in
    place of a killed process."""

    def handler_at(iteration):
        def crash(state):
            if state.iteration == iteration:
                raise RuntimeError(f"crashed at iteration {iteration}")

        return crash

    return handler_at
