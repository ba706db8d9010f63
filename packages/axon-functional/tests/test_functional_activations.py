"""Activations against jax.nn / closed-form references, with gradients checked."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from axon.functional import activations

X = jnp.linspace(-4.0, 4.0, 17).reshape(1, 17)

REFERENCES = {
    "celu": lambda x: jax.nn.celu(x, 1.0),
    "elu": lambda x: np.where(x > 0, x, np.expm1(x)),
    "exp": np.exp,
    "gelu": lambda x: jax.nn.gelu(x, approximate=False),
    "hard_sigmoid": lambda x: np.clip(0.2 * x + 0.2, 0, 1),
    "hard_silu": lambda x: x * np.clip(0.2 * x + 0.2, 0, 1),
    "hard_tanh": lambda x: np.clip(x, -1, 1),
    "leaky_relu": lambda x: np.where(x > 0, x, 0.01 * x),
    "linear": lambda x: x,
    "log_sumexp": lambda x: np.log(np.sum(np.exp(x), axis=-1, keepdims=True)),
    "log_sigmoid": lambda x: -np.log1p(np.exp(-x)),
    "log_softmax": lambda x: x - np.log(np.sum(np.exp(x), axis=-1, keepdims=True)),
    "mish": lambda x: x * np.tanh(np.log1p(np.exp(x))),
    "relu": lambda x: np.maximum(x, 0),
    "relu6": lambda x: np.clip(x, 0, 6),
    "selu": lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * np.expm1(x)),
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "silu": lambda x: x / (1 + np.exp(-x)),
    "softmax": lambda x: np.exp(x) / np.sum(np.exp(x), axis=-1, keepdims=True),
    "softplus": lambda x: np.log1p(np.exp(x)),
    "softsign": lambda x: x / (1 + np.abs(x)),
    "tanh": np.tanh,
}


def test_all_22_axon_activations_and_swiglu_are_registered():
    assert sorted([*REFERENCES, "swiglu"]) == sorted(activations.BUILTINS)
    assert set(REFERENCES) | {"swiglu"} <= set(activations.names())


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_forward_matches_reference(name):
    fn = activations.get(name)
    expected = np.asarray(REFERENCES[name](np.asarray(X, np.float64)))
    np.testing.assert_allclose(jax.jit(fn)(X), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "name",
    sorted(
        set(REFERENCES) - {"relu", "relu6", "hard_tanh", "hard_sigmoid", "hard_silu", "leaky_relu"}
    ),
)
def test_gradients_match_finite_differences(name):
    # Piecewise-linear activations are excluded: their kinks break finite differences.
    check_grads(activations.get(name), (X * 0.9 + 0.05,), order=1, modes=["rev"], atol=1e-2)


def test_options_follow_axon():
    x = jnp.array([-2.0, 3.0])
    np.testing.assert_allclose(activations.leaky_relu(x, alpha=0.5), [-1.0, 3.0])
    np.testing.assert_allclose(activations.elu(x, alpha=2.0), [2 * np.expm1(-2.0), 3.0], rtol=1e-6)
    np.testing.assert_allclose(activations.hard_sigmoid(x, alpha=0.5, beta=0.5), [0.0, 1.0])
    np.testing.assert_allclose(
        activations.softmax(jnp.eye(2), axis=0), jax.nn.softmax(jnp.eye(2), axis=0)
    )
    np.testing.assert_allclose(activations.gelu(x, approximate=True), jax.nn.gelu(x), rtol=1e-6)


def test_swiglu_gates_the_second_half_with_silu_of_the_first():
    # Axon's doctest values (PR #642): silu(a) * b with a = [-3, -2, -1, 0], b = [1, 2, 3, 4].
    x = jnp.array([[-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0]])
    np.testing.assert_allclose(
        jax.jit(activations.get("swiglu"))(x),
        [[-0.14227763, -0.47681168, -0.8068243, 0.0]],
        rtol=1e-6,
    )
    y = np.random.default_rng(0).normal(size=(4, 6, 3)).astype(np.float32)
    a, b = y[:, :3], y[:, 3:]
    np.testing.assert_allclose(
        activations.swiglu(y, axis=1), a / (1 + np.exp(-a)) * b, rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        jax.vmap(activations.swiglu)(y.transpose(0, 2, 1)),
        activations.swiglu(y.transpose(0, 2, 1)),
        rtol=1e-6,
    )
    check_grads(
        lambda y: activations.swiglu(y, axis=1),
        (jnp.asarray(y),),
        order=1,
        modes=["rev"],
        atol=1e-2,
    )


def test_swiglu_explains_bad_input():
    with pytest.raises(ValueError, match=r"swiglu: axis -1 .* even size .*\(2, 3\)"):
        activations.swiglu(jnp.ones((2, 3)))
    with pytest.raises(ValueError, match="swiglu: axis 2 is out of range"):
        activations.swiglu(jnp.ones((2, 4)), axis=2)


def test_celu_refuses_alpha_zero_like_axon():
    # jax.nn.celu(x, 0) divides by zero and returns NaN; Axon raises.
    for alpha in (0, 0.0, np.float32(0)):
        with pytest.raises(ValueError, match=r"celu: alpha must be non-zero"):
            activations.celu(X, alpha=alpha)
    with pytest.raises(ValueError, match=r"celu: alpha must be non-zero"):
        activations.get("celu")(X, 0.0)
    np.testing.assert_allclose(
        jax.jit(activations.celu)(X, 2.0), jax.nn.celu(X, 2.0), rtol=1e-6
    )  # a traced alpha still works
