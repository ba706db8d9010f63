"""Recurrent builders: lstm/gru/conv_lstm equal the functional ops; masks; carries; the
custom rnn layer (gradients, static == dynamic, masking); bidirectional."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

import axon.model
from axon.functional import layers as F

X = jax.random.normal(jax.random.key(0), (3, 6, 4))
IDS = jnp.array([[4, 2, 7, 0, 0, 0], [1, 1, 1, 1, 1, 3], [5, 0, 0, 0, 0, 0]])
PADDING = IDS == 0

LSTM_IN, LSTM_HID, LSTM_B = ("wii", "wif", "wig", "wio"), ("whi", "whf", "whg", "who"), (
    "bi", "bf", "bg", "bo")  # fmt: skip
GRU_IN, GRU_HID, GRU_B = ("wir", "wiz", "win"), ("whr", "whz", "whn"), ("br", "bz", "bin", "bhn")


def group(p, names):
    return {k: p[k] for k in names}


@pytest.mark.parametrize("unroll", ["dynamic", "static"])
def test_lstm_equals_the_functional_op_with_mask(unroll):
    x = axon.model.input("x", shape=(None, 6, 4))
    m = axon.model.input("pad", shape=(None, 6))
    for seq, (c, h) in (
        x.lstm(5, mask=m, unroll=unroll),
        axon.model.lstm(x, 5, mask=m, unroll=unroll),
    ):
        out = axon.model.container((seq, c, h))
        inputs = {"x": X, "pad": PADDING}
        state = out.init(0, inputs)
        p = state.params["lstm_0"]
        assert p["wii"].shape == (4, 5) and p["whi"].shape == (5, 5) and p["bf"].shape == (5,)
        np.testing.assert_allclose(p["whi"] @ p["whi"].T, np.eye(5), atol=1e-5)  # orthogonal
        got = out.apply(state, inputs)[0]
        ref_seq, (ref_c, ref_h) = F.lstm(
            X, None, PADDING, group(p, LSTM_IN), group(p, LSTM_HID), group(p, LSTM_B),
            unroll=unroll,
        )  # fmt: skip
        for a, b in zip(got, (ref_seq, ref_c, ref_h), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_gru_equals_the_functional_op_and_chains_carries():
    x = axon.model.input("x", shape=(None, 6, 4))
    seq, (h,) = x.gru(3, use_bias=False, name="enc")
    _, (h2,) = seq.gru(3, initial_carry=(h,), reverse=True, name="dec")
    state = h2.init(0, X)
    assert set(state.params["enc"]) == set(GRU_IN + GRU_HID)
    pe, pd = state.params["enc"], state.params["dec"]
    ref_seq, (ref_h,) = F.gru(X, None, None, group(pe, GRU_IN), group(pe, GRU_HID), None)
    _, (ref_h2,) = F.gru(
        ref_seq, (ref_h,), None, group(pd, GRU_IN), group(pd, GRU_HID), group(pd, GRU_B),
        reverse=True,
    )  # fmt: skip
    np.testing.assert_allclose(h2.apply(state, X)[0], ref_h2, rtol=1e-5, atol=1e-6)
    assert h.program.names[h.node.id] == "enc_h_hidden_state"


def test_conv_lstm_equals_the_functional_op():
    video = jax.random.normal(jax.random.key(1), (2, 3, 5, 5, 2))
    _, (_, h) = axon.model.input("v").conv_lstm(4, kernel_size=3)
    state = h.init(0, video)
    p = state.params["conv_lstm_0"]
    assert p["input_kernel"].shape == (3, 3, 2, 16) and p["hidden_kernel"].shape == (3, 3, 4, 16)
    _, (_, ref_h) = F.conv_lstm(video, None, None, p["input_kernel"], p["hidden_kernel"], p["bias"])
    np.testing.assert_allclose(h.apply(state, video)[0], ref_h, rtol=1e-5, atol=1e-6)


def test_mask_marks_padding_for_ids_and_feature_steps():
    ids = axon.model.input("ids", shape=(None, 6))
    model = ids.mask(0)
    np.testing.assert_array_equal(model.apply(model.init(0, IDS), IDS)[0], PADDING)
    feats = jnp.concatenate([X[:, :4], jnp.zeros((3, 2, 4))], axis=1)
    m = axon.model.mask(axon.model.input("x"), 0.0)
    np.testing.assert_array_equal(
        m.apply(m.init(0, feats), feats)[0], np.array([[0, 0, 0, 0, 1, 1]] * 3, bool)
    )
    with pytest.raises(ValueError, match=r"mask: option 'pad_token' must be a number"):
        ids.mask("pad")


def cell(x_t, carry, p):
    h = jnp.tanh(x_t @ p["w"] + carry["h"] @ p["u"] + p["b"])
    return h, {"h": h, "steps": carry["steps"] + 1}


def custom(unroll="dynamic", **kwargs):
    ids = axon.model.input("ids", shape=(None, 6))
    x = ids.embedding(8, 4)
    return axon.model.rnn(
        x,
        cell,
        carry_init=lambda v: {"h": jnp.zeros((v.shape[0], 5)), "steps": jnp.zeros(v.shape[0])},
        params={
            "w": axon.model.param("w", lambda s: (s[-1], 5)),
            "u": axon.model.param("u", (5, 5), initializer="orthogonal"),
            "b": axon.model.param("b", (5,), initializer="zeros"),
        },
        mask=ids.mask(0),
        unroll=unroll,
        **kwargs,
    )


def test_custom_rnn_masks_padding_and_static_equals_dynamic():
    seq, carry = custom()
    seq_s, carry_s = custom("static")
    state = carry.init(0, IDS)
    assert sorted(state.params["rnn_0"]) == ["b", "u", "w"]
    out = carry.apply(state, IDS)[0]
    np.testing.assert_array_equal(out["steps"], [3, 6, 1])  # only real steps count
    ys = seq.apply(state, IDS)[0]
    np.testing.assert_array_equal(ys[PADDING], 0.0)  # outputs at padding steps are zeros
    np.testing.assert_allclose(out["h"][0], ys[0, 2], rtol=1e-6)  # last real step's state
    np.testing.assert_allclose(seq_s.apply(state, IDS)[0], ys, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(carry_s.apply(state, IDS)[0]["h"], out["h"], rtol=1e-5, atol=1e-6)


def test_custom_rnn_gradients_are_finite_and_equal_across_unrolls():
    _, carry = custom()
    _, carry_s = custom("static")
    head = carry.nx(lambda c: c["h"]).dense(1)
    head_s = carry_s.nx(lambda c: c["h"]).dense(1)
    state = head.init(0, IDS)
    target = jnp.array([[1.0], [-1.0], [0.5]])

    def loss(params, model):
        pred = model.apply(state.replace(params=params), IDS)[0]
        return jnp.mean((pred - target) ** 2)

    grads = jax.grad(loss)(state.params, head)
    grads_s = jax.grad(loss)(state.params, head_s)
    for leaf, leaf_s in zip(jax.tree.leaves(grads), jax.tree.leaves(grads_s), strict=True):
        assert np.all(np.isfinite(leaf))
        np.testing.assert_allclose(leaf, leaf_s, rtol=1e-4, atol=1e-6)
    assert float(jnp.abs(grads["rnn_0"]["u"]).sum()) > 0
    # padding ids never reach the loss: the embedding row of id 0 gets no gradient
    np.testing.assert_array_equal(grads["embedding_0"]["kernel"][0], 0.0)
    check_grads(lambda p: loss(p, head), (state.params,), order=1, modes=["rev"], atol=1e-2,
                rtol=1e-2)  # fmt: skip


def test_custom_rnn_with_a_model_carry_and_reverse():
    x = axon.model.input("x", shape=(None, 6, 4))
    h0 = x.nx(lambda v: v[:, 0])  # initial carry from the graph

    def running_sum(x_t, carry, params):
        total = carry + x_t * params["scale"]
        return total, total

    seq, total = x.rnn(
        running_sum,
        carry_init=h0,
        params={"scale": axon.model.param("scale", (), initializer="ones")},
        reverse=True,
        name="acc",
    )
    state = total.init(0, X)
    np.testing.assert_allclose(total.apply(state, X)[0], X[:, 0] + X.sum(1), rtol=1e-5)
    np.testing.assert_allclose(seq.apply(state, X)[0][:, -1], X[:, 0] + X[:, -1], rtol=1e-5)
    assert total.program.names[total.node.id] == "acc_carry"


@pytest.mark.parametrize(
    "build, error, message",
    [
        (lambda x: x.lstm(0), ValueError, r"lstm: option 'units' must be a positive int"),
        (lambda x: x.gru(2, unroll="auto"), ValueError, r"gru: option 'unroll' .* 'auto'"),
        (lambda x: x.lstm(2, initial_carry=(x,)), ValueError, r"tuple \(c, h\) of 2 model"),
        (lambda x: x.lstm(2, mask=jnp.ones(3)), TypeError, r"lstm: argument 'mask' must be"),
        (lambda x: x.rnn(cell, carry_init=None), TypeError, r"rnn: carry_init must be"),
        (lambda x: x.rnn(3, carry_init=jnp.zeros), TypeError, r"rnn: argument 'cell_fn'"),
        (
            lambda x: x.rnn(cell, carry_init=jnp.zeros, params={"w": 1}),
            TypeError,
            r"rnn: params\['w'\] must be axon.model.param",
        ),
        (
            lambda x: x.rnn(cell, carry_init=jnp.zeros, params={"w": axon.model.param("v", ())}),
            ValueError,
            r"named 'v'",
        ),
        (lambda x: x.conv_lstm(2, padding="full"), ValueError, r"conv_lstm: option 'padding'"),
    ],
)
def test_bad_options_fail_at_build_time(build, error, message):
    with pytest.raises(error, match=message):
        build(axon.model.input("x", shape=(None, 6, 4)))


def test_bidirectional_has_two_parameter_sets_and_aligns_positions():
    x = axon.model.input("x", shape=(None, 6, 4))
    seq, carry = axon.model.bidirectional(
        x, lambda s: s.lstm(3, unroll="static"), axon.model.concatenate
    )
    _, h = carry
    out = axon.model.container((seq, h))
    state = out.init(0, X)
    assert sorted(state.params) == ["lstm_0", "lstm_1"]
    got_seq, got_h = out.apply(state, X)[0]
    pf, pb = state.params["lstm_0"], state.params["lstm_1"]
    fwd, (_, hf) = F.lstm(X, None, None, group(pf, LSTM_IN), group(pf, LSTM_HID), group(pf, LSTM_B))
    bwd, (_, hb) = F.lstm(
        X, None, None, group(pb, LSTM_IN), group(pb, LSTM_HID), group(pb, LSTM_B), reverse=True
    )
    np.testing.assert_allclose(got_seq, jnp.concatenate([fwd, bwd], -1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_h, jnp.concatenate([hf, hb], -1), rtol=1e-5, atol=1e-6)
    with pytest.raises(TypeError, match=r"bidirectional: forward_fn must return a model or"):
        axon.model.bidirectional(x, lambda s: 3, axon.model.add)
