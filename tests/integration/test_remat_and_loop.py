"""``trainer(..., remat=...)``: the model's whole forward pass rematerialized in the step
(here, not in axon-loop's own tests: those run without axon-model)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import axon.loop
import axon.model as model_lib


def deep_model(**remat):
    h = model_lib.input("x", shape=(None, 8))
    for _ in range(3):
        h = h.dense(16, activation="tanh", **remat)
    return h.dense(1, kernel_regularizer="l2")  # the penalized path too


def batches():
    keys = jax.random.split(jax.random.key(3), 6)
    return [(20.0 * jax.random.normal(k, (16, 8)), jnp.ones((16, 1))) for k in keys]


def train(model, **options):
    loop = axon.loop.trainer(model, "mean_squared_error", optax.adam(1e-2), log=0, **options)
    return loop.run(batches(), epochs=2)


@pytest.mark.parametrize(
    ("options", "layer_remat", "rtol"),
    [({"remat": "dots_saveable"}, {}, 1e-5), ({}, {"remat": True}, 0.0)],
    ids=["whole forward", "per layer"],
)
def test_remat_trains_to_the_same_parameters(options, layer_remat, rtol):
    """Per-layer remat of dense layers compiles to the same arithmetic (bitwise); the whole
    forward under dots_saveable lets XLA fuse the recomputed elementwise work differently,
    which moves the last bit of a few parameters after 12 adam steps (float32 rounding)."""
    expected = train(deep_model())
    trained = train(deep_model(**layer_remat), **options)
    for a, b in zip(jax.tree.leaves(trained.params), jax.tree.leaves(expected.params), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=rtol * 1e-2)


def test_the_trainers_step_holds_the_checkpoint():
    init_fn, step_fn = axon.loop.train_step(
        deep_model(), "mean_squared_error", optax.sgd(0.1), remat=True
    )
    state = init_fn(batches()[0], None)
    assert "remat2" in str(jax.make_jaxpr(step_fn)(batches()[0], state))
    _, plain_step = axon.loop.train_step(deep_model(), "mean_squared_error", optax.sgd(0.1))
    assert "remat2" not in str(jax.make_jaxpr(plain_step)(batches()[0], state))


def test_remat_needs_an_axon_model_graph():
    pair = (lambda key, x: {"w": jnp.zeros((8, 1))}, lambda p, x, *, mode, key: (x @ p["w"], None))
    with pytest.raises(TypeError, match=r"remat= needs an axon\.model graph"):
        axon.loop.trainer(pair, "mean_squared_error", optax.sgd(0.1), remat=True)
