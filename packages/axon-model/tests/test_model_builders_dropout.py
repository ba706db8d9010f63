"""Dropout builders: identity in inference, per-layer keys in training, rate validation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import axon.model
from axon.functional import layers as F
from axon.model import LayerError
from axon.model._compiler.program import _stable_hash

X = jax.random.normal(jax.random.key(0), (4, 6, 8))
KEY = jax.random.key(7)


@pytest.mark.parametrize(
    "builder, functional, options",
    [
        ("dropout", F.dropout, {"rate": 0.3}),
        ("dropout", F.dropout, {"rate": 0.5, "noise_shape": (4, 1, 8)}),
        ("spatial_dropout", F.spatial_dropout, {"rate": 0.5}),
        ("alpha_dropout", F.alpha_dropout, {"rate": 0.2}),
        ("feature_alpha_dropout", F.feature_alpha_dropout, {"rate": 0.4, "channels": "first"}),
    ],
)
def test_dropout_family_train_and_inference(builder, functional, options):
    x = axon.model.input("x", shape=(None, 6, 8))
    for model in (getattr(x, builder)(**options), getattr(axon.model, builder)(x, **options)):
        state = model.init(0, X)
        assert state.params == {} and state.state == {}
        np.testing.assert_array_equal(axon.model.predict(model, state, X), X)
        _, train_fn = axon.model.build(model, mode="train")
        y, new_state = train_fn(state, X, key=KEY)
        assert new_state == {}
        layer_key = jax.random.fold_in(KEY, _stable_hash(f"{builder}_0"))
        np.testing.assert_allclose(y, functional(X, layer_key, mode="train", **options), rtol=1e-6)
        assert not np.allclose(y, X)
        y2, _ = train_fn(state, X, key=jax.random.key(8))
        assert not np.allclose(y, y2)


def test_two_dropout_layers_draw_different_masks_and_need_a_key():
    x = axon.model.input("x", shape=(None, 6, 8))
    model = axon.model.concatenate(x.dropout(), x.dropout(), axis=0)
    state = model.init(0, X)
    y, _ = model.apply(state, X, mode="train", key=KEY)
    assert not np.array_equal(y[:4] == 0, y[4:] == 0)
    with pytest.raises(LayerError, match="pass key="):
        model.apply(state, X, mode="train")


@pytest.mark.parametrize("builder", ["dropout", "spatial_dropout", "alpha_dropout",
                                     "feature_alpha_dropout"])  # fmt: skip
@pytest.mark.parametrize("rate", [1.0, -0.1, "0.5", True])
def test_rate_is_validated_when_building(builder, rate):
    with pytest.raises(ValueError, match=rf"{builder}: option 'rate' must be a drop probability "
                                         rf"with 0 <= rate < 1; received"):  # fmt: skip
        getattr(axon.model.input("x"), builder)(rate=rate)


def test_channels_and_noise_shape_are_validated():
    with pytest.raises(ValueError, match=r"spatial_dropout: option 'channels'"):
        axon.model.input("x").spatial_dropout(channels="mid")
    with pytest.raises(ValueError, match=r"dropout: option 'noise_shape'"):
        axon.model.input("x").dropout(noise_shape="abc")
    assert jnp.all(
        axon.model.input("x")
        .dropout(rate=0.0)
        .apply(axon.model.input("x").dropout(rate=0.0).init(0, X), X, mode="train", key=KEY)[0]
        == X
    )
