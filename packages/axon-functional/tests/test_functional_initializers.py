"""Initializers: the variance-scaling family reproduces jax.nn.initializers for key(0)."""

import jax
import numpy as np
import pytest

from axon.functional import initializers

KEY = jax.random.key(0)
SHAPE = (6, 4)

JAX_EQUIVALENTS = {
    "lecun_uniform": jax.nn.initializers.lecun_uniform(),
    "lecun_normal": jax.nn.initializers.lecun_normal(),
    "glorot_uniform": jax.nn.initializers.glorot_uniform(),
    "glorot_normal": jax.nn.initializers.glorot_normal(),
    "he_uniform": jax.nn.initializers.he_uniform(),
    "he_normal": jax.nn.initializers.he_normal(),
    "orthogonal": jax.nn.initializers.orthogonal(),
}


@pytest.mark.parametrize("name", sorted(JAX_EQUIVALENTS))
def test_matches_jax_for_key_zero(name):
    ours = initializers.resolve(name)(KEY, SHAPE)
    np.testing.assert_array_equal(ours, JAX_EQUIVALENTS[name](KEY, SHAPE))


def test_deterministic_initializers():
    assert (initializers.zeros()(KEY, (2, 2)) == 0).all()
    assert (initializers.ones()(KEY, (2,)) == 1).all()
    assert (initializers.full(3.5)(KEY, (3,)) == 3.5).all()
    np.testing.assert_array_equal(initializers.identity()(KEY, (3, 3)), np.eye(3))


def test_uniform_is_symmetric_as_in_axon():
    values = initializers.uniform(scale=0.5)(KEY, (10_000,))
    assert values.min() < -0.45 and values.max() > 0.45 and abs(values).max() <= 0.5


def test_normal_scale_and_mean():
    values = initializers.normal(scale=2.0, mean=1.0)(KEY, (20_000,))
    assert abs(float(values.mean()) - 1.0) < 0.05 and abs(float(values.std()) - 2.0) < 0.05


@pytest.mark.parametrize("shape", [(5, 5), (3, 7), (7, 3), (2, 3, 4)])
@pytest.mark.parametrize("distribution", ["normal", "uniform"])
def test_orthogonal_rows_or_columns_are_orthonormal(shape, distribution):
    w = initializers.orthogonal(distribution)(KEY, shape).reshape(-1, shape[-1])
    gram = w.T @ w if w.shape[0] >= w.shape[1] else w @ w.T
    np.testing.assert_allclose(gram, np.eye(gram.shape[0]), atol=1e-5)


def test_bad_options_are_rejected():
    with pytest.raises(ValueError, match="mode"):
        initializers.variance_scaling(mode="fan_sideways")
    with pytest.raises(ValueError, match="2-D"):
        initializers.identity()(KEY, (2, 2, 2))
    with pytest.raises(TypeError, match="initializer must be a name"):
        initializers.resolve(3)
