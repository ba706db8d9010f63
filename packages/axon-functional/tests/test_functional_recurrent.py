"""Recurrent cells and unrolls against PyTorch (forward and gradients), and each other.

The PyTorch references live in ``fixtures/{lstm,gru,conv_lstm}.npz``, written by
``fixtures/make_sequence_fixtures.py``.
"""

from functools import partial
from pathlib import Path

import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from jax.test_util import check_grads

from axon.functional import layers

FIXTURES = Path(__file__).parent / "fixtures"
LSTM = dict(np.load(FIXTURES / "lstm.npz"))
GRU = dict(np.load(FIXTURES / "gru.npz"))
CONV_LSTM = dict(np.load(FIXTURES / "conv_lstm.npz"))
TOL = dict(rtol=1e-4, atol=1e-5)


def params(data, prefix):
    """``(input_kernel, hidden_kernel, bias)`` dicts from flat fixture keys."""
    groups = {"input_kernel": {}, "hidden_kernel": {}, "bias": {}}
    for key, value in data.items():
        parts = key.split("/")
        if len(parts) == 3 and parts[0] == prefix and parts[1] in groups:
            groups[parts[1]][parts[2]] = jnp.asarray(value)
    return groups["input_kernel"], groups["hidden_kernel"], groups["bias"]


def padding_mask(lengths, seq):
    """Axon's mask: 1 at padding steps (right padding after ``lengths``)."""
    return (np.arange(seq)[None, :] >= np.asarray(lengths)[:, None]).astype(np.int32)


# --- cells against torch.nn.LSTMCell / GRUCell ----------------------------------------------


def test_lstm_cell_matches_torch():
    wi, wh, b = params(LSTM, "cell")
    out, (c, h) = layers.lstm_cell(
        LSTM["cell/x"], (LSTM["cell/c0"], LSTM["cell/h0"]), None, wi, wh, b
    )
    np.testing.assert_allclose(c, LSTM["cell/c1"], **TOL)
    np.testing.assert_allclose(h, LSTM["cell/h1"], **TOL)
    np.testing.assert_array_equal(out, h)


def test_gru_cell_matches_torch():
    wi, wh, b = params(GRU, "cell")
    out, (h,) = layers.gru_cell(GRU["cell/x"], (GRU["cell/h0"],), None, wi, wh, b)
    np.testing.assert_allclose(h, GRU["cell/h1"], **TOL)
    np.testing.assert_array_equal(out, h)


# --- whole sequences against torch.nn.LSTM / GRU: forward and every gradient -----------------


def sequence_loss(kind, unroll, x, h0, c0, wi, wh, b, mask, out_weight, h_weight):
    """The fixture's loss: sum(out * out_weight) + sum(h_n * h_weight), over real steps."""
    if kind == "lstm":
        out, (_, h_n) = layers.lstm(x, (c0, h0), mask, wi, wh, b, unroll=unroll)
    else:
        out, (h_n,) = layers.gru(x, (h0,), mask, wi, wh, b, unroll=unroll)
    if mask is not None:  # torch's packed outputs are zero at padding steps
        out = jnp.where(mask[..., None] > 0, 0.0, out)
    return jnp.sum(out * out_weight) + jnp.sum(h_n * h_weight)


@pytest.mark.parametrize("unroll", ["dynamic", "static"])
@pytest.mark.parametrize("case", ["seq", "masked"])
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_sequence_forward_and_gradients_match_torch(kind, case, unroll):
    data = LSTM if kind == "lstm" else GRU
    wi, wh, b = params(data, case)
    x, h0, c0 = (jnp.asarray(data[f"{case}/{k}"]) for k in ("x", "h0", "c0"))
    mask = None
    if case == "masked":
        mask = jnp.asarray(padding_mask(data["masked/lengths"], x.shape[1]))

    fn = layers.lstm if kind == "lstm" else layers.gru
    carry = (c0, h0) if kind == "lstm" else (h0,)
    out, final = jax.jit(partial(fn, unroll=unroll))(x, carry, mask, wi, wh, b)
    if mask is not None:
        real = mask[..., None] == 0
        np.testing.assert_allclose(jnp.where(real, out, 0.0), data[f"{case}/output"], **TOL)
    else:
        np.testing.assert_allclose(out, data[f"{case}/output"], **TOL)
    np.testing.assert_allclose(final[-1], data[f"{case}/h_n"], **TOL)
    if kind == "lstm":
        np.testing.assert_allclose(final[0], data[f"{case}/c_n"], **TOL)

    loss = partial(sequence_loss, kind, unroll)
    weights = (data[f"{case}/out_weight"], data[f"{case}/h_weight"])
    grads = jax.jit(jax.grad(loss, argnums=(0, 1, 2, 3, 4, 5)))(
        x, h0, c0, wi, wh, b, mask, *weights
    )
    gx, gh0, gc0, gwi, gwh, gb = grads
    np.testing.assert_allclose(gx, data[f"{case}/grad/x"], **TOL)
    np.testing.assert_allclose(gh0, data[f"{case}/grad/h0"], **TOL)
    if kind == "lstm":
        np.testing.assert_allclose(gc0, data[f"{case}/grad/c0"], **TOL)
    for group, tree in (("input_kernel", gwi), ("hidden_kernel", gwh), ("bias", gb)):
        for key, value in tree.items():
            np.testing.assert_allclose(value, data[f"{case}/grad/{group}/{key}"], **TOL)


def test_conv_lstm_matches_torch_conv2d_reference():
    x, wi, wh, b = (
        jnp.asarray(CONV_LSTM[k]) for k in ("x", "input_kernel", "hidden_kernel", "bias")
    )
    out, (c, h) = layers.conv_lstm(x, None, None, wi, wh, b)
    np.testing.assert_allclose(out, CONV_LSTM["output"], **TOL)
    np.testing.assert_allclose(c, CONV_LSTM["c_n"], **TOL)
    np.testing.assert_array_equal(h, out[:, -1])

    def loss(x, wi, wh, b):
        return jnp.sum(layers.conv_lstm(x, None, None, wi, wh, b)[0] * CONV_LSTM["out_weight"])

    grads = jax.grad(loss, argnums=(0, 1, 2, 3))(x, wi, wh, b)
    for name, grad in zip(("x", "input_kernel", "hidden_kernel", "bias"), grads, strict=True):
        np.testing.assert_allclose(grad, CONV_LSTM[f"grad/{name}"], **TOL)


def test_conv_lstm_with_1x1_kernels_is_a_per_pixel_lstm():
    # Independent of the torch fixture: a 1x1 ConvLSTM is an LSTM at every pixel, with
    # Axon's gate order (i, g, f, o) and its +1 forget bias.
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 4, 3, 3, 5)).astype(np.float32)
    wi, wh = rng.normal(size=(1, 1, 5, 8)), rng.normal(size=(1, 1, 2, 8))
    b = rng.normal(size=(8,))
    out, _ = layers.conv_lstm(x, None, None, wi, wh, b)

    split = lambda w: dict(zip(("i", "g", "f", "o"), np.split(np.asarray(w), 4, -1), strict=True))  # noqa: E731
    wi_g, wh_g, b_g = split(wi[0, 0]), split(wh[0, 0]), split(b)
    b_g["f"] = b_g["f"] + 1.0
    pixels = x.transpose(0, 2, 3, 1, 4).reshape(-1, 4, 5)
    lstm_out, _ = layers.lstm(
        jnp.asarray(pixels),
        None,
        None,
        {f"wi{g}": wi_g[g] for g in "ifgo"},
        {f"wh{g}": wh_g[g] for g in "ifgo"},
        {f"b{g}": b_g[g] for g in "ifgo"},
    )
    expected = np.asarray(lstm_out).reshape(2, 3, 3, 4, 2).transpose(0, 3, 1, 2, 4)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


# --- masking semantics -----------------------------------------------------------------------


def random_lstm(rng, features=3, units=4):
    wi = {
        k: jnp.asarray(rng.normal(size=(features, units)), jnp.float32)
        for k in ("wii", "wif", "wig", "wio")
    }
    wh = {
        k: jnp.asarray(rng.normal(size=(units, units)) * 0.5, jnp.float32)
        for k in ("whi", "whf", "whg", "who")
    }
    b = {k: jnp.asarray(rng.normal(size=(units,)), jnp.float32) for k in ("bi", "bf", "bg", "bo")}
    return wi, wh, b


def test_padded_steps_keep_the_carry_and_repeat_the_last_output():
    rng = np.random.default_rng(2)
    wi, wh, b = random_lstm(rng)
    x = jnp.asarray(rng.normal(size=(3, 6, 3)), jnp.float32)
    lengths = [6, 4, 1]
    out, (c, h) = layers.lstm(x, None, padding_mask(lengths, 6), wi, wh, b)
    for row, length in enumerate(lengths):
        alone, (c_alone, h_alone) = layers.lstm(x[row : row + 1, :length], None, None, wi, wh, b)
        np.testing.assert_allclose(out[row, :length], alone[0], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(h[row], h_alone[0], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(c[row], c_alone[0], rtol=1e-5, atol=1e-6)
        # Padding steps output the last real output, so out[:, -1] is the last real h.
        for t in range(length, 6):
            np.testing.assert_array_equal(out[row, t], out[row, length - 1])


def test_left_padding_outputs_the_initial_state_until_real_steps_start():
    rng = np.random.default_rng(3)
    _, wh, _ = random_lstm(rng)
    wi = {k: jnp.asarray(rng.normal(size=(3, 4)), jnp.float32) for k in ("wir", "wiz", "win")}
    wh = {k: v for k, v in zip(("whr", "whz", "whn"), list(wh.values())[:3], strict=True)}
    x = jnp.asarray(rng.normal(size=(1, 5, 3)), jnp.float32)
    h0 = jnp.full((1, 4), 0.25)
    mask = jnp.array([[1, 1, 0, 0, 0]])
    out, (h,) = layers.gru(x, (h0,), mask, wi, wh)
    np.testing.assert_array_equal(out[0, :2], jnp.broadcast_to(h0, (2, 4)))
    alone, (h_alone,) = layers.gru(x[:, 2:], (h0,), None, wi, wh)
    np.testing.assert_allclose(out[:, 2:], alone, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h, h_alone, rtol=1e-5, atol=1e-6)


def test_padding_steps_get_no_gradient():
    rng = np.random.default_rng(4)
    wi, wh, b = random_lstm(rng)
    x = jnp.asarray(rng.normal(size=(2, 5, 3)), jnp.float32)
    mask = padding_mask([5, 2], 5)
    grad = jax.grad(lambda x: jnp.sum(layers.lstm(x, None, mask, wi, wh, b)[0] ** 2))(x)
    assert np.all(np.asarray(grad)[1, 2:] == 0)
    assert np.all(np.abs(np.asarray(grad)[1, :2]) > 0)


def test_unrolls_enforce_the_mask_for_cells_that_ignore_it():
    def careless_cell(x, carry, mask, w):
        new = carry + x @ w
        return new, new

    x, w = jnp.ones((2, 3, 2)), jnp.eye(2)
    mask = jnp.array([[0, 1, 0], [0, 0, 0]])
    for unroll in (layers.dynamic_unroll, layers.static_unroll):
        _, carry = unroll(careless_cell, x, jnp.zeros((2, 2)), mask, w)
        np.testing.assert_array_equal(carry, [[2.0, 2.0], [3.0, 3.0]])


# --- dynamic (lax.scan) and static unrolls agree ---------------------------------------------


def unroll_loss(unroll, reverse, x, carry, mask, wi, wh, b):
    cell = partial(layers.lstm_cell, activation="tanh")
    out, (c, h) = unroll(cell, x, carry, mask, wi, wh, b, reverse=reverse)
    return jnp.sum(jnp.sin(out)) + jnp.sum(c * h)


# Built once, so Hypothesis' examples reuse four compiled programs.
UNROLL_VALUE_AND_GRAD = {
    (unroll, reverse): jax.jit(
        jax.value_and_grad(partial(unroll_loss, unroll, reverse), argnums=(0, 1, 3, 4, 5))
    )
    for unroll in (layers.dynamic_unroll, layers.static_unroll)
    for reverse in (False, True)
}


@settings(max_examples=25, deadline=None)
@given(
    lengths=st.lists(st.integers(0, 5), min_size=3, max_size=3),  # fixed shapes: one compile
    left=st.booleans(),
    reverse=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_static_and_dynamic_unrolls_agree_in_value_and_gradient(lengths, left, reverse, seed):
    rng = np.random.default_rng(seed)
    wi, wh, b = random_lstm(rng)
    batch, seq = len(lengths), 5
    x = jnp.asarray(rng.normal(size=(batch, seq, 3)), jnp.float32)
    carry = tuple(jnp.asarray(rng.normal(size=(batch, 4)), jnp.float32) for _ in range(2))
    mask = padding_mask(lengths, seq)
    if left:
        mask = mask[:, ::-1].copy()

    args = (x, carry, jnp.asarray(mask), wi, wh, b)
    value_d, grads_d = UNROLL_VALUE_AND_GRAD[layers.dynamic_unroll, reverse](*args)
    value_s, grads_s = UNROLL_VALUE_AND_GRAD[layers.static_unroll, reverse](*args)
    np.testing.assert_allclose(value_d, value_s, rtol=1e-5, atol=1e-5)
    jax.tree.map(
        lambda d, s: np.testing.assert_allclose(d, s, rtol=1e-5, atol=1e-5), grads_d, grads_s
    )


def test_reverse_unroll_equals_flipping_the_sequence():
    rng = np.random.default_rng(5)
    wi, wh, b = random_lstm(rng)
    x = jnp.asarray(rng.normal(size=(2, 4, 3)), jnp.float32)
    out, carry = layers.lstm(x, None, None, wi, wh, b, reverse=True)
    flipped, flipped_carry = layers.lstm(x[:, ::-1], None, None, wi, wh, b)
    np.testing.assert_allclose(out, flipped[:, ::-1], rtol=1e-6, atol=1e-6)
    jax.tree.map(
        lambda a, e: np.testing.assert_allclose(a, e, rtol=1e-6, atol=1e-6), carry, flipped_carry
    )


# --- gradients, jit, vmap --------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["lstm_cell", "gru_cell"])
def test_cell_gradients_match_finite_differences(kind):
    data = LSTM if kind == "lstm_cell" else GRU
    wi, wh, b = params(data, "cell")
    x, h0, c0 = (jnp.asarray(data[f"cell/{k}"], jnp.float32) for k in ("x", "h0", "c0"))
    if kind == "lstm_cell":
        fn = lambda x, c, h, wi, wh, b: layers.lstm_cell(x, (c, h), None, wi, wh, b)[1]  # noqa: E731
        args = (x, c0, h0, wi, wh, b)
    else:
        fn = lambda x, h, wi, wh, b: layers.gru_cell(x, (h,), None, wi, wh, b)[1]  # noqa: E731
        args = (x, h0, wi, wh, b)
    check_grads(fn, args, order=1, modes=["rev"], atol=1e-2, rtol=1e-2)


def test_sequence_and_conv_gradients_match_finite_differences():
    rng = np.random.default_rng(6)
    wi, wh, b = random_lstm(rng)
    x = jnp.asarray(rng.normal(size=(2, 3, 3)), jnp.float32)
    mask = jnp.asarray(padding_mask([3, 2], 3))
    check_grads(
        lambda x, wi: layers.lstm(x, None, mask, wi, wh, b)[0],
        (x, wi),
        order=1,
        modes=["rev"],
        atol=1e-2,
        rtol=1e-2,
    )
    frames = jnp.asarray(rng.normal(size=(1, 2, 4, 4, 2)), jnp.float32)
    kernels = (
        jnp.asarray(rng.normal(size=(3, 3, 2, 4)) * 0.3, jnp.float32),
        jnp.asarray(rng.normal(size=(3, 3, 1, 4)) * 0.3, jnp.float32),
    )
    check_grads(
        lambda x, wi, wh: layers.conv_lstm(x, None, None, wi, wh)[0],
        (frames, *kernels),
        order=1,
        modes=["rev"],
        atol=1e-2,
        rtol=1e-2,
    )


def test_vmap_over_a_leading_axis_equals_the_batched_call():
    rng = np.random.default_rng(7)
    wi, wh, b = random_lstm(rng)
    x = jnp.asarray(rng.normal(size=(3, 2, 5, 3)), jnp.float32)  # 3 groups of 2 sequences
    mask = jnp.asarray(np.stack([padding_mask([5, i + 1], 5) for i in range(3)]))
    per_group = jax.vmap(lambda x, m: layers.lstm(x, None, m, wi, wh, b)[0])(x, mask)
    flat = layers.lstm(x.reshape(6, 5, 3), None, mask.reshape(6, 5), wi, wh, b)[0]
    np.testing.assert_allclose(per_group.reshape(6, 5, 4), flat, rtol=1e-5, atol=1e-6)
    gru_wi = {k: wi[w] for k, w in zip(("wir", "wiz", "win"), wi, strict=False)}
    gru_wh = {k: wh[w] for k, w in zip(("whr", "whz", "whn"), wh, strict=False)}
    cells = jax.vmap(lambda x, h: layers.gru_cell(x, (h,), None, gru_wi, gru_wh)[0])(
        x[:, :, 0], jnp.zeros((3, 2, 4))
    )
    assert cells.shape == (3, 2, 4)


def test_the_initial_carry_fixes_the_carry_dtype_in_both_unrolls():
    rng = np.random.default_rng(10)
    wi, wh, b = random_lstm(rng)
    x = jnp.asarray(rng.normal(size=(2, 3, 3)), jnp.bfloat16)
    carry = (jnp.zeros((2, 4), jnp.bfloat16),) * 2
    results = [layers.lstm(x, carry, None, wi, wh, b, unroll=u) for u in ("dynamic", "static")]
    for _, (c, h) in results:
        assert c.dtype == h.dtype == jnp.bfloat16
    np.testing.assert_allclose(
        results[0][0].astype(np.float32), results[1][0].astype(np.float32), atol=1e-2
    )


def test_gate_and_activation_accept_names_and_functions():
    rng = np.random.default_rng(8)
    wi, wh, b = random_lstm(rng)
    x = jnp.asarray(rng.normal(size=(2, 3, 3)), jnp.float32)
    by_name, _ = layers.lstm(x, None, None, wi, wh, b, gate="hard_sigmoid", activation="relu")
    by_fn, _ = layers.lstm(
        x,
        None,
        None,
        wi,
        wh,
        b,
        gate=lambda z: jnp.clip(0.2 * z + 0.2, 0, 1),
        activation=jax.nn.relu,
    )
    default, _ = layers.lstm(x, None, None, wi, wh, b)
    np.testing.assert_allclose(by_name, by_fn, rtol=1e-6)
    assert not np.allclose(by_name, default)


# --- bad input -------------------------------------------------------------------------------


def test_bad_input_is_explained():
    rng = np.random.default_rng(9)
    wi, wh, b = random_lstm(rng)
    x = jnp.ones((2, 5, 3))
    with pytest.raises(ValueError, match=r"lstm: inputs must have rank 3.*\(2, 3\)"):
        layers.lstm(jnp.ones((2, 3)), None, None, wi, wh, b)
    with pytest.raises(
        ValueError,
        match=r"lstm_cell: input_kernel\['wii'\] must have shape "
        r"\(features, units\) = \(2, 4\), got \(3, 4\)",
    ):
        layers.lstm(jnp.ones((2, 5, 2)), None, None, wi, wh, b)
    with pytest.raises(ValueError, match=r"\['wio'\] are missing"):
        layers.lstm(x, None, None, {k: v for k, v in wi.items() if k != "wio"}, wh, b)
    with pytest.raises(TypeError, match="lstm_cell: input_kernel must be a dict"):
        layers.lstm_cell(x[:, 0], (jnp.zeros((2, 4)),) * 2, None, jnp.ones((3, 16)), wh, b)
    with pytest.raises(
        ValueError,
        match=r"dynamic_unroll: mask must have shape \(batch, seq\) = "
        r"\(2, 5\).*\(5, 2\)",
    ):
        layers.lstm(x, None, jnp.zeros((5, 2)), wi, wh, b)
    with pytest.raises(ValueError, match="lstm_cell: carry h must have shape"):
        layers.lstm(x, (jnp.zeros((2, 4)), jnp.zeros((2, 5))), None, wi, wh, b)
    with pytest.raises(TypeError, match=r"gru_cell: carry must be a tuple \(h,\)"):
        layers.gru_cell(x[:, 0], jnp.zeros((2, 4)), None, *random_gru(rng))
    with pytest.raises(ValueError, match="unroll must be 'dynamic' or 'static', got 'fast'"):
        layers.lstm(x, None, None, wi, wh, b, unroll="fast")
    with pytest.raises(TypeError, match="lstm: gate must be an activation name"):
        layers.lstm(x, None, None, wi, wh, b, gate=3)
    with pytest.raises(Exception, match="sigmod"):
        layers.lstm(x, None, None, wi, wh, b, gate="sigmod")
    with pytest.raises(TypeError, match="static_unroll: cell_fn must be a function"):
        layers.static_unroll("lstm", x, None, None)
    with pytest.raises(ValueError, match=r"conv_lstm_cell: input_kernel's last axis must be 4"):
        layers.conv_lstm_cell(
            jnp.ones((1, 4, 4, 3)), None, None, jnp.ones((3, 3, 3, 6)), jnp.ones((3, 3, 1, 6))
        )
    with pytest.raises(ValueError, match="padding must be 'same', 'valid'"):
        layers.conv_lstm(
            jnp.ones((1, 2, 4, 4, 3)),
            None,
            None,
            jnp.ones((3, 3, 3, 8)),
            jnp.ones((3, 3, 2, 8)),
            padding="full",
        )


def random_gru(rng, features=3, units=4):
    wi = {
        k: jnp.asarray(rng.normal(size=(features, units)), jnp.float32)
        for k in ("wir", "wiz", "win")
    }
    wh = {
        k: jnp.asarray(rng.normal(size=(units, units)), jnp.float32) for k in ("whr", "whz", "whn")
    }
    return wi, wh
