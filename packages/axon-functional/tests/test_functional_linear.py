"""Linear layers (dense, bilinear, embedding) against PyTorch CPU fixtures, with gradients,
jit/vmap and bad input."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from layer_checks import assert_error_names

from axon.functional import layers

FIXTURES = np.load(Path(__file__).parent / "fixtures" / "linear.npz")


def load(case):
    return {k.split("/")[1]: FIXTURES[k] for k in FIXTURES.files if k.startswith(case + "/")}


def test_bilinear_matches_pytorch_forward_and_gradients():
    d = load("bilinear")
    y, vjp = jax.vjp(layers.bilinear, d["x1"], d["x2"], d["w"], d["b"])
    np.testing.assert_allclose(y, d["y"], rtol=1e-5, atol=1e-6)
    for got, key in zip(vjp(jnp.asarray(d["g"])), ["dx1", "dx2", "dw", "db"], strict=True):
        np.testing.assert_allclose(got, d[key], rtol=1e-5, atol=1e-5)


def test_embedding_matches_pytorch_forward_and_kernel_gradient():
    d = load("embedding")
    y, vjp = jax.vjp(lambda k: layers.embedding(d["ids"], k), d["kernel"])
    np.testing.assert_allclose(y, d["y"])
    (dkernel,) = vjp(jnp.asarray(d["g"]))
    np.testing.assert_allclose(dkernel, d["dkernel"], rtol=1e-5, atol=1e-6)


def test_bilinear_keeps_extra_leading_axes():
    x1, x2 = jnp.ones((2, 3, 4)), jnp.ones((2, 3, 5))
    assert layers.bilinear(x1, x2, jnp.ones((6, 4, 5))).shape == (2, 3, 6)


KEY = jax.random.key(0)
X1, X2 = jax.random.normal(KEY, (3, 4)), jax.random.normal(jax.random.fold_in(KEY, 1), (3, 2))
W = jax.random.normal(jax.random.fold_in(KEY, 2), (5, 4, 2))
IDS = jnp.array([[0, 3], [2, 2], [1, 0]])
TABLE = jax.random.normal(jax.random.fold_in(KEY, 3), (4, 3))
FUNCTIONS = {
    "dense": (lambda x, k: layers.dense(x, k, jnp.ones(5)), (X1, W[:, :, 0].T)),
    "bilinear": (lambda x1, x2, w: layers.bilinear(x1, x2, w, jnp.ones(5)), (X1, X2, W)),
    "embedding": (lambda table: layers.embedding(IDS, table), (TABLE,)),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_gradients_match_finite_differences(name):
    fn, args = FUNCTIONS[name]
    check_grads(fn, args, order=2, modes=["fwd", "rev"], atol=1e-2, rtol=1e-2)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_jit_and_vmap(name):
    fn, args = FUNCTIONS[name]
    np.testing.assert_allclose(jax.jit(fn)(*args), fn(*args), rtol=1e-6)
    stacked = [jnp.stack([a, 2 * a]) for a in args]
    np.testing.assert_allclose(
        jax.vmap(fn)(*stacked)[1], fn(*[2 * a for a in args]), rtol=1e-5, atol=1e-6
    )


def test_embedding_vmaps_over_ids():
    batched = jax.vmap(lambda ids: layers.embedding(ids, TABLE))(jnp.stack([IDS, IDS[::-1]]))
    np.testing.assert_allclose(batched[1], TABLE[IDS[::-1]])


@pytest.mark.parametrize(
    "call, error, fragments",
    [
        (
            lambda: layers.bilinear(X1, X2[:2], W),
            ValueError,
            ["bilinear", "'x1' and 'x2'", "(3, 4)", "(2, 2)"],
        ),
        (
            lambda: layers.bilinear(X1, X2, W[:, :3]),
            ValueError,
            ["bilinear", "'kernel'", "(out, 4, 2)", "(5, 3, 2)"],
        ),
        (
            lambda: layers.embedding(jnp.ones((2, 2)), TABLE),
            TypeError,
            ["embedding", "'x'", "integer", "float32"],
        ),
        (
            lambda: layers.embedding(IDS, jnp.ones(4)),
            ValueError,
            ["embedding", "'kernel'", "(vocab, features)"],
        ),
    ],
)
def test_bad_input_names_function_argument_and_values(call, error, fragments):
    assert_error_names(call, error, fragments)
