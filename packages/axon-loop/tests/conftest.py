"""A tiny linear model as a plain (init_fn, apply_fn) pair: the loop's model contract."""

import os

# Four CPU devices for the data-parallel tests; must be set before JAX initializes.
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=4")

import jax
import jax.numpy as jnp
import numpy as np
import pytest


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
