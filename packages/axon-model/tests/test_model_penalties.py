"""Regularizer options of the builders and the model's penalty, against hand-written sums."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import axon.model
from axon.functional import penalties
from axon.functional.penalties import L1, L1L2, L2


def scrambled(state, seed=3, scale=2.5):
    """The state with every parameter replaced by values far from unit scale."""
    leaves, treedef = jax.tree_util.tree_flatten(state.params)
    keys = jax.random.split(jax.random.key(seed), len(leaves))
    new = [
        scale * jax.random.normal(k, x.shape, x.dtype) + 0.75
        for k, x in zip(keys, leaves, strict=True)
    ]
    return state.replace(params=jax.tree_util.tree_unflatten(treedef, new))


def l1(x, f):
    return f * jnp.sum(jnp.abs(x))


def l2(x, f):
    return f * jnp.sum(x**2)


def model_with_every_family():
    x = axon.model.input("x", shape=(None, 6, 3))
    ids = axon.model.input("ids", shape=(None, 6))
    h = x.dense(4, kernel_regularizer=L2(0.3), bias_regularizer="l1", name="d")
    h = h.conv(5, kernel_size=2, padding="same", kernel_regularizer=L1L2(0.2, 0.05), name="c")
    seq, _ = h.lstm(3, kernel_regularizer=L2(0.02), recurrent_regularizer=L1(0.04),
                    bias_regularizer=L2(0.5), name="r")  # fmt: skip
    e = ids.embedding(11, 3, kernel_regularizer=L1(0.06), name="e")
    b = axon.model.bilinear(seq, e, 2, kernel_regularizer=L2(0.07), name="bi")
    a = b.multi_head_attention(num_heads=1, key_size=2, kernel_regularizer=L1(0.08), name="att")
    a = a.layer_norm(gamma_regularizer=L2(0.11), beta_regularizer=L1(0.13), name="ln")
    a = a.batch_norm(gamma_regularizer=L1(0.15), name="bn").rms_norm(gamma_regularizer=L2(0.17))
    a = a.group_norm(1, gamma_regularizer=L1(0.19), beta_regularizer=L2(0.21), name="gn")
    scale = axon.model.param("s", lambda s: (s[-1],), initializer="ones", regularizer=L2(0.9))
    return axon.model.layer(lambda v, s: v * s, [a, scale], name="custom")


def hand_written_parameter_penalty(p):
    lstm_input = [p["r"][k] for k in ("wii", "wif", "wig", "wio")]
    lstm_hidden = [p["r"][k] for k in ("whi", "whf", "whg", "who")]
    lstm_bias = [p["r"][k] for k in ("bi", "bf", "bg", "bo")]
    kernels = [p["att"][f"{w}_kernel"] for w in ("query", "key", "value", "output")]
    return (
        l2(p["d"]["kernel"], 0.3) + l1(p["d"]["bias"], 0.01)
        + l1(p["c"]["kernel"], 0.2) + l2(p["c"]["kernel"], 0.05)
        + sum(l2(w, 0.02) for w in lstm_input) + sum(l1(w, 0.04) for w in lstm_hidden)
        + sum(l2(w, 0.5) for w in lstm_bias)
        + l1(p["e"]["kernel"], 0.06) + l2(p["bi"]["kernel"], 0.07)
        + sum(l1(w, 0.08) for w in kernels) + l2(p["custom"]["s"], 0.9)
        + l2(p["ln"]["gamma"], 0.11) + l1(p["ln"]["beta"], 0.13) + l1(p["bn"]["gamma"], 0.15)
        + l2(p["rms_norm_0"]["gamma"], 0.17)
        + l1(p["gn"]["gamma"], 0.19) + l2(p["gn"]["beta"], 0.21)
    )  # fmt: skip


INPUTS = {
    "x": jnp.linspace(-3, 4, 4 * 6 * 3).reshape(4, 6, 3),
    "ids": jnp.arange(24).reshape(4, 6) % 11,
}


@pytest.fixture(scope="module")
def every_family():
    model = model_with_every_family()
    return model, scrambled(model.init(0, INPUTS))


def test_parameter_penalty_equals_the_hand_written_sum_over_every_family(every_family):
    model, state = every_family
    assert model.has_penalties
    expected = hand_written_parameter_penalty(state.params)
    np.testing.assert_allclose(axon.model.penalty(model, state), expected, rtol=1e-5)


def test_parameter_penalty_gradients_equal_the_hand_written_ones(every_family):
    model, state = every_family
    ours = jax.grad(lambda p: axon.model.penalty(model, state.replace(params=p)))(state.params)
    theirs = jax.grad(hand_written_parameter_penalty)(state.params)
    jax.tree_util.tree_map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7), ours, theirs
    )


def activity_model():
    x = axon.model.input("x", shape=(None, 3))
    h = x.dense(4, activation="tanh", activity_regularizer=L2(0.4), name="hidden")
    seq, _ = h.reshape(("batch", 2, 2)).gru(3, activity_regularizer=L1(0.3), name="g")
    return seq.flatten().dense(
        2, kernel_regularizer="l2", activity_regularizer="l1_l2", name="head"
    )


X = jnp.array([[0.5, -3.0, 7.0], [2.0, 0.25, -1.5], [-4.0, 1.0, 0.0], [9.0, -2.0, 3.0]])


def test_activity_penalty_is_the_hand_written_sum_of_outputs_divided_by_the_batch():
    model = activity_model()
    state = scrambled(model.init(0, jnp.ones((1, 3))))
    p, n = state.params, X.shape[0]
    hidden = jnp.tanh(X @ p["hidden"]["kernel"] + p["hidden"]["bias"])  # after the activation
    gru_value = axon.model.Model(model.program.layers["g"]).apply(state, X)[0]
    sequence, (carry,) = gru_value  # the gru's whole value: its sequence and its final carry
    head = model.apply(state, X)[0]
    expected = (
        l2(hidden, 0.4) / n
        + (l1(sequence, 0.3) + l1(carry, 0.3)) / n
        + (l1(head, 0.01) + l2(head, 0.01)) / n
        + l2(p["head"]["kernel"], 0.01)
    )
    np.testing.assert_allclose(axon.model.penalty(model, state, X), expected, rtol=1e-5)
    prediction, _, penalty = model.apply_with_penalty(state, X, mode="train")
    np.testing.assert_allclose(prediction, head, rtol=1e-6)
    np.testing.assert_allclose(penalty, expected, rtol=1e-5)


def test_activity_penalty_gradients_equal_the_hand_written_ones():
    x = axon.model.input("x", shape=(None, 3))
    model = x.dense(4, activation="tanh", activity_regularizer=L2(0.4), name="hidden")
    state = scrambled(model.init(0, jnp.ones((1, 3))))

    def by_hand(params):
        hidden = params["hidden"]
        return l2(jnp.tanh(X @ hidden["kernel"] + hidden["bias"]), 0.4) / X.shape[0]

    ours = jax.grad(lambda p: axon.model.penalty(model, state.replace(params=p), X))(state.params)
    theirs = jax.grad(by_hand)(state.params)
    jax.tree_util.tree_map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7), ours, theirs
    )


def test_frozen_parameters_contribute_nothing(every_family):
    model, state = every_family
    frozen = state.freeze(["d/*", "r/*", "custom/s"])
    p = state.params
    expected = hand_written_parameter_penalty(p) - (
        l2(p["d"]["kernel"], 0.3) + l1(p["d"]["bias"], 0.01) + l2(p["custom"]["s"], 0.9)
        + sum(l2(p["r"][k], 0.02) for k in ("wii", "wif", "wig", "wio"))
        + sum(l1(p["r"][k], 0.04) for k in ("whi", "whf", "whg", "who"))
        + sum(l2(p["r"][k], 0.5) for k in ("bi", "bf", "bg", "bo"))
    )  # fmt: skip
    np.testing.assert_allclose(axon.model.penalty(model, frozen), expected, rtol=1e-5)
    grads = jax.grad(lambda p: axon.model.penalty(model, frozen.replace(params=p)))(p)
    assert not np.any(grads["d"]["kernel"]) and not np.any(grads["custom"]["s"])


def test_a_model_without_regularizers_has_a_zero_penalty():
    model = axon.model.input("x", shape=(None, 3)).dense(2)
    state = model.init(0, jnp.ones((1, 3)))
    assert not model.has_penalties
    assert float(axon.model.penalty(model, state, jnp.ones((2, 3)))) == 0.0
    assert model.as_functions()[1] == model.apply


def test_regularizers_are_stored_as_registered_penalty_objects_that_serialize():
    model = axon.model.input("x", shape=(None, 3)).dense(
        2, kernel_regularizer="l2", bias_regularizer={"name": "l1", "config": {"l1": 0.5}},
        activity_regularizer=L1L2(l1=0.1, l2=0.0),
    )  # fmt: skip
    node = model.node
    kernel, bias = node.parameters
    assert kernel.regularizer == L2(0.01) and bias.regularizer == L1(0.5)
    assert node.activity_regularizer == L1L2(0.1, 0.0)
    stored = json.dumps([penalties.serialize(kernel.regularizer)])
    assert penalties.deserialize(json.loads(stored)[0]) == L2(0.01)


@pytest.mark.parametrize(
    ("build", "option"),
    [
        (lambda x: x.dense(2, kernel_regularizer="l3", name="head"), "kernel_regularizer"),
        (lambda x: x.conv(2, bias_regularizer=lambda w: 0.0, name="head"), "bias_regularizer"),
        (lambda x: x.lstm(2, recurrent_regularizer=0.01, name="head"), "recurrent_regularizer"),
        (lambda x: x.batch_norm(gamma_regularizer="l3", name="head"), "gamma_regularizer"),
        (
            lambda x: x.embedding(5, 2, activity_regularizer="L2", name="head"),
            "activity_regularizer",
        ),
    ],
)
def test_a_regularizer_that_is_not_a_penalty_names_the_layer_option_and_line(build, option):
    x = axon.model.input("x", shape=(None, 4, 4))
    with pytest.raises((ValueError, TypeError)) as error:
        build(x)
    message = str(error.value)
    assert "layer 'head'" in message and repr(option) in message
    assert f"{__file__}:" in message


def test_mixed_precision_penalties_are_computed_in_float32():
    from axon.model import mixed_precision

    model = axon.model.input("x", shape=(None, 3)).dense(
        2, kernel_regularizer=L2(0.5), activity_regularizer=L2(0.25), name="d"
    )
    policy = mixed_precision.create_policy(compute="bfloat16", output="bfloat16")
    low = mixed_precision.apply_policy(model, policy)
    state = scrambled(low.init(0, jnp.ones((1, 3))))
    x = jnp.array([[1.0, -2.0, 3.0], [0.5, 0.5, -4.0]])
    out = low.apply(state, x)[0].astype(jnp.float32)
    kernel_penalty = l2(state.params["d"]["kernel"], 0.5)
    np.testing.assert_allclose(axon.model.penalty(low, state), kernel_penalty, rtol=1e-6)
    penalty = axon.model.penalty(low, state, x)
    assert penalty.dtype == jnp.float32
    # the bfloat16 output, summed in float32 (XLA may round the fused output differently)
    np.testing.assert_allclose(penalty, kernel_penalty + l2(out, 0.25) / 2, rtol=1e-2)
