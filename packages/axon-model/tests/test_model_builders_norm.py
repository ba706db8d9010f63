"""Normalization builders: params/state, gamma default, train vs inference, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import axon.model
from axon.functional import layers as F
from axon.model import LayerError

X = jax.random.normal(jax.random.key(0), (4, 5, 6)) * 3 + 1


@pytest.mark.parametrize("builder, functional", [("batch_norm", F.batch_norm),
                                                  ("instance_norm", F.instance_norm)])  # fmt: skip
def test_stateful_norms_train_and_inference(builder, functional):
    for model in (
        getattr(axon.model.input("x", shape=(None, 5, 6)), builder)(momentum=0.2),
        getattr(axon.model, builder)(axon.model.input("x"), momentum=0.2),
    ):
        state = model.init(0, X)
        name = f"{builder}_0"
        p, s = state.params[name], state.state[name]
        assert set(p) == {"gamma", "beta"} and set(s) == {"mean", "var"}
        np.testing.assert_array_equal(p["gamma"], jnp.ones(6))  # deliberate: ones
        np.testing.assert_array_equal(p["beta"], jnp.zeros(6))
        np.testing.assert_array_equal(s["mean"], jnp.zeros(6))
        np.testing.assert_array_equal(s["var"], jnp.ones(6))

        _, train_fn = axon.model.build(model, mode="train")
        y, new_state = train_fn(state, X)
        expected_y, expected_state = functional(
            X, p["gamma"], p["beta"], s["mean"], s["var"], momentum=0.2, mode="train"
        )
        np.testing.assert_allclose(y, expected_y, rtol=1e-5, atol=1e-6)
        for key in ("mean", "var"):
            np.testing.assert_allclose(new_state[name][key], expected_state[key], rtol=1e-6)
        assert not np.allclose(new_state[name]["mean"], 0.0)

        trained = state.replace(state=new_state)
        inference = axon.model.predict(model, trained, X)
        np.testing.assert_allclose(
            inference,
            functional(X, p["gamma"], p["beta"], new_state[name]["mean"], new_state[name]["var"]),
            rtol=1e-5,
            atol=1e-6,
        )
        assert not np.allclose(inference, y)  # running statistics, not batch statistics


def test_gamma_initializer_is_an_option():
    model = axon.model.input("x").batch_norm(gamma_initializer="normal")
    gamma = model.init(0, X).params["batch_norm_0"]["gamma"]
    assert not np.allclose(gamma, 1.0)


def test_channel_index_selects_the_parameter_size():
    model = axon.model.input("x").batch_norm(channel_index=1)
    state = model.init(0, X)
    assert state.params["batch_norm_0"]["gamma"].shape == (5,)
    assert state.state["batch_norm_0"]["var"].shape == (5,)


@pytest.mark.parametrize(
    "builder, args, functional, names, options",
    [
        ("layer_norm", (), F.layer_norm, ("gamma", "beta"), {"epsilon": 1e-3}),
        ("group_norm", (3,), F.group_norm, ("gamma", "beta"), {"num_groups": 3}),
        ("rms_norm", (), F.rms_norm, ("gamma",), {"shift": 1.0, "epsilon": 1e-5}),
    ],
)
def test_stateless_norms_equal_the_functional_op(builder, args, functional, names, options):
    builder_options = {k: v for k, v in options.items() if k != "num_groups"}
    x = axon.model.input("x", shape=(None, 5, 6))
    for model in (
        getattr(x, builder)(*args, **builder_options),
        getattr(axon.model, builder)(x, *args, **builder_options),
    ):
        state = model.init(0, X)
        p = state.params[f"{builder}_0"]
        assert tuple(p) == names and all(v.shape == (6,) for v in p.values())
        np.testing.assert_array_equal(p["gamma"], jnp.ones(6))
        expected = functional(X, *(p[n] for n in names), **options)
        np.testing.assert_allclose(model.apply(state, X)[0], expected, rtol=1e-5, atol=1e-6)
        _, train_fn = axon.model.build(model, mode="train")
        assert train_fn(state, X)[1] == {}


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda x: x.batch_norm(momentum=1.5), r"batch_norm: option 'momentum' .* 1.5"),
        (lambda x: x.instance_norm(epsilon=-1), r"instance_norm: option 'epsilon' .* -1"),
        (lambda x: x.layer_norm(channel_index=0.5), r"layer_norm: option 'channel_index'"),
        (lambda x: x.group_norm(0), r"group_norm: option 'num_groups' .* received 0"),
        (lambda x: x.rms_norm(upcast="some"), r"rms_norm: option 'upcast'"),
    ],
)
def test_bad_options_fail_at_build_time(build, message):
    with pytest.raises(ValueError, match=message):
        build(axon.model.input("x"))


def test_group_count_must_divide_the_channels():
    with pytest.raises(LayerError, match=r"'num_groups' \(4\) must divide the 6 channels"):
        axon.model.input("x").group_norm(4).init(0, X)
