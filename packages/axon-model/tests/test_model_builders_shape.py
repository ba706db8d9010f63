"""Shape builders: reshape (batch/auto), transpose, pad, resize."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import axon.model
from axon.functional import layers as F
from axon.model import LayerError

X = jax.random.normal(jax.random.key(0), (2, 4, 6, 3))


def run(model, x=X):
    return model.apply(model.init(0, x), x)[0]


def test_reshape_batch_and_auto_work_for_any_batch_size():
    model = axon.model.input("x", shape=(None, 4, 6, 3)).reshape(("batch", "auto", 3))
    state = model.init(0, X)
    assert model.apply(state, X)[0].shape == (2, 24, 3)
    assert model.apply(state, jnp.ones((5, 4, 6, 3)))[0].shape == (5, 24, 3)
    np.testing.assert_array_equal(run(axon.model.reshape(axon.model.input("x"), (-1, 72))),
                                  F.reshape(X, (-1, 72)))  # fmt: skip
    with pytest.raises(LayerError, match=r"cannot reshape an input of shape \(2, 4, 6, 3\)"):
        run(axon.model.input("x").reshape(("batch", 5)))


def test_transpose_and_pad_and_resize_equal_functional_ops():
    np.testing.assert_array_equal(run(axon.model.input("x").transpose()), F.transpose(X))
    np.testing.assert_array_equal(
        run(axon.model.input("x").transpose((0, 3, 1, 2))), F.transpose(X, (0, 3, 1, 2))
    )
    np.testing.assert_array_equal(
        run(axon.model.pad(axon.model.input("x"), [(1, 2), (0, 1)], 5.0)),
        F.pad(X, [(1, 2), (0, 1)], 5.0),
    )
    x = axon.model.input("x")
    np.testing.assert_allclose(
        run(x.resize((8, 3), method="bicubic", antialias=False)),
        F.resize(X, (8, 3), method="bicubic", antialias=False),
        rtol=1e-6,
    )
    assert run(x.pad([(1, 1)], channels="first"), jnp.ones((1, 2, 3))).shape == (1, 2, 5)


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda x: x.reshape(("batch", "auto", "auto")), r"reshape: option 'shape'"),
        (lambda x: x.reshape(12), r"reshape: option 'shape' .* received 12"),
        (lambda x: x.transpose("abc"), r"transpose: option 'permutation'"),
        (lambda x: x.pad([(1, "a")]), r"pad: option 'config'"),
        (lambda x: x.pad([(1, 1)], value="zero"), r"pad: option 'value' must be a number"),
        (lambda x: x.resize(0), r"resize: option 'size'"),
        (lambda x: x.resize(4, method="area"), r"resize: option 'method' must be one of"),
    ],
)
def test_bad_options_fail_at_build_time(build, message):
    with pytest.raises(ValueError, match=message):
        build(axon.model.input("x"))
