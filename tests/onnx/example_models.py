"""The models the ONNX tests export and round-trip: every example program's model (built by
the example's own ``build_model``), a ResNet-style block and a shared block; and inputs like
their templates at another batch size, far from unit scale."""

from __future__ import annotations

import importlib
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import axon.model as am

ROOT = Path(__file__).resolve().parents[2]


def inputs_like(templates, batch, seed=0):
    """Inputs like ``templates`` with another batch size, far from unit scale."""
    rng = np.random.default_rng(seed)

    def draw(t):
        shape = (batch, *t.shape[1:])
        if jnp.issubdtype(t.dtype, jnp.integer):
            return rng.integers(0, 5, shape).astype(np.dtype(t.dtype))
        return (rng.normal(size=shape) * 7 + 3).astype(np.float32)

    return jax.tree_util.tree_map(draw, templates)


def example(name, monkeypatch):
    """The example program ``examples/<name>.py`` as a module (its main does not run)."""
    monkeypatch.syspath_prepend(str(ROOT / "examples"))  # it and its shared _cli.py
    return importlib.import_module(name)


def resnet():
    """A ResNet-style block: conv, batch norm, residual add, pooling, dense head."""
    x = am.input("image", shape=(None, 8, 8, 3))
    h = x.conv(8, kernel_size=3, padding="same").batch_norm().relu()
    r = h.conv(8, kernel_size=3, padding="same").batch_norm()
    h = am.layers.get("add")(h, r).relu().max_pool(kernel_size=2)
    return h.global_avg_pool().dropout(rate=0.3).dense(10, activation="softmax")


def shared_block():
    body = am.block(lambda v: v.dense(6, activation="tanh").dense(4), name="shared")
    x = am.input("x", shape=(None, 4))
    return body(body(x))


EXAMPLES = {
    "digits_cnn": (lambda m: m.build_model(4), jnp.zeros((2, 8, 8, 1))),
    "denoising_autoencoder": (lambda m: m.build_model(4), jnp.zeros((2, 8, 8, 1))),
    "char_lstm": (lambda m: m.build_model(12, 10, 8, 16), jnp.zeros((2, 10), jnp.int32)),
    "char_lm_tied": (lambda m: m.build_model(12, 10, 16), jnp.zeros((2, 10), jnp.int32)),
    "time_series": (lambda m: m.build_model(12, 8), jnp.zeros((2, 12, 1))),
    "transformer_classifier": (
        lambda m: m.build_model(10, 12, 8, 2, 2),
        jnp.zeros((2, 10), jnp.int32),
    ),
    "multi_input": (lambda m: m.build_model(8), {"x1": jnp.zeros((2, 1)), "x2": jnp.zeros((2, 1))}),
    "multi_output": (lambda m: m.build_model(8), jnp.zeros((2, 1))),
    "gan": (lambda m: m.generator_model(8, 16), jnp.zeros((2, 8))),
    "vae": (lambda m: m.build_vae(4, 16), jnp.zeros((2, 64))),
}
