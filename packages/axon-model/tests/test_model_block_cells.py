"""A block as the cell of ``rnn``: a recurrent cell written with layers, its parameters
shared with the block's other calls; checked against hand-written JAX."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import axon.model
from axon.model import mixed_precision

TOL = {"rtol": 1e-5, "atol": 1e-5}
BATCH, STEPS, FEATURES, UNITS = 3, 7, 4, 5


def sequence(seed=0, scale=6.0):
    return scale * jax.random.normal(jax.random.key(seed), (BATCH, STEPS, FEATURES)) - 2.0


def carry_values(seed):
    return 3.0 * jax.random.normal(jax.random.key(seed), (BATCH, UNITS)) + 1.0


def gated_cell(x_t, h, c):
    """An LSTM-like cell of layers: two carries, a gate, a dense shared by both paths."""
    joined = axon.model.concatenate([x_t, h])
    gate = joined.dense(UNITS, activation="sigmoid")
    candidate = joined.dense(UNITS, activation="tanh")
    c = axon.model.add(axon.model.multiply(gate, c), candidate)
    h = c.tanh().dense(UNITS, use_bias=False)
    return h, (h, c)


def reference_step(p, x_t, h, c, prefix="cell"):
    joined = jnp.concatenate([x_t, h], axis=-1)
    g = jax.nn.sigmoid(joined @ p[f"{prefix}/dense_0"]["kernel"] + p[f"{prefix}/dense_0"]["bias"])
    cand = jnp.tanh(joined @ p[f"{prefix}/dense_1"]["kernel"] + p[f"{prefix}/dense_1"]["bias"])
    c = g * c + cand
    return jnp.tanh(c) @ p[f"{prefix}/dense_2"]["kernel"], c


def reference(p, x, mask=None, reverse=False):
    h = jnp.zeros((BATCH, UNITS))
    c = jnp.ones((BATCH, UNITS))
    ys = [None] * STEPS
    for t in reversed(range(STEPS)) if reverse else range(STEPS):
        h2, c2 = reference_step(p, x[:, t], h, c)
        if mask is not None:
            keep = mask[:, t, None]
            h2, c2 = jnp.where(keep, h, h2), jnp.where(keep, c, c2)
            ys[t] = jnp.where(keep, 0.0, h2)
        else:
            ys[t] = h2
        h, c = h2, c2
    return jnp.stack(ys, axis=1), h, c


def initial(x):
    return jnp.zeros((x.shape[0], UNITS)), jnp.ones((x.shape[0], UNITS))


@pytest.mark.parametrize(
    "unroll, reverse, masked",
    [("dynamic", False, False), ("static", True, False), ("dynamic", True, True)],
)
def test_a_block_cell_equals_the_hand_written_recurrence_values_and_gradients(
    unroll, reverse, masked
):
    x = axon.model.input("x", shape=(None, STEPS, FEATURES))
    mask = axon.model.input("mask", shape=(None, STEPS)) if masked else None
    cell = axon.model.block(gated_cell, name="cell")
    seq, carry = x.rnn(cell, carry_init=initial, mask=mask, unroll=unroll, reverse=reverse)
    model = axon.model.container((seq, carry))  # carry: the model of the pair (h, c)
    data = {"x": sequence()}
    if masked:  # right padding: the last two steps of the first example
        data["mask"] = jnp.zeros((BATCH, STEPS), bool).at[0, -2:].set(True)
    state = model.init(0, data)
    assert sorted(state.params) == ["cell/dense_0", "cell/dense_1", "cell/dense_2"]

    got = jax.tree.leaves(model.apply(state, data)[0])
    want = reference(state.params, data["x"], data.get("mask"), reverse)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, **TOL)

    def loss(p, fn):
        seq, h, c = fn(p)
        return jnp.sum(seq**2) + jnp.sum(h * c)

    ours = jax.grad(loss)(
        state.params, lambda p: jax.tree.leaves(model.apply(state.replace(params=p), data)[0])
    )
    theirs = jax.grad(loss)(
        state.params, lambda p: reference(p, data["x"], data.get("mask"), reverse)
    )
    for layer in state.params:
        for name in state.params[layer]:
            np.testing.assert_allclose(ours[layer][name], theirs[layer][name], **TOL)


def test_a_block_used_as_a_cell_and_outside_shares_its_parameters_and_sums_gradients():
    proj = axon.model.block(lambda v: v.dense(UNITS, activation="tanh"), name="proj")

    def elman(x_t, h):
        h = axon.model.add(proj(x_t), h.dense(UNITS, use_bias=False, name="recur"))
        return h, h

    cell = axon.model.block(elman, name="cell")
    x = axon.model.input("x", shape=(None, STEPS, FEATURES))
    summary = axon.model.input("summary", shape=(None, FEATURES))
    _, h = x.rnn(cell, carry_init=axon.model.input("h0", shape=(None, UNITS)))
    model = axon.model.add(h, proj(summary))
    data = {"x": sequence(), "summary": sequence(1)[:, 0], "h0": carry_values(2)}
    state = model.init(0, data)
    assert sorted(state.params) == ["cell/recur", "proj/dense_0"]  # proj once

    def ref(p):
        def project(v):
            return jnp.tanh(v @ p["proj/dense_0"]["kernel"] + p["proj/dense_0"]["bias"])

        h = data["h0"]
        for t in range(STEPS):
            h = project(data["x"][:, t]) + h @ p["cell/recur"]["kernel"]
        return jnp.sum((h + project(data["summary"])) ** 2)

    def ours(p):
        return jnp.sum(model.apply(state.replace(params=p), data)[0] ** 2)

    np.testing.assert_allclose(ours(state.params), ref(state.params), rtol=1e-5)
    got, want = jax.grad(ours)(state.params), jax.grad(ref)(state.params)
    for layer in want:
        for name in want[layer]:
            np.testing.assert_allclose(got[layer][name], want[layer][name], rtol=1e-4, atol=1e-4)

    frozen = state.freeze("proj/*")
    grads = jax.grad(lambda p: jnp.sum(model.apply(frozen.replace(params=p), data)[0] ** 2))(
        frozen.params
    )
    assert all(float(jnp.abs(g).max()) == 0 for g in jax.tree.leaves(grads["proj/dense_0"]))
    assert float(jnp.abs(grads["cell/recur"]["kernel"]).max()) > 0


def test_mixed_precision_by_the_cell_blocks_name():
    x = axon.model.input("x", shape=(None, STEPS, FEATURES))
    cell = axon.model.block(gated_cell, name="cell")
    seq, _ = x.rnn(cell, carry_init=initial)
    model = seq.dense(2, name="head")
    half = mixed_precision.create_policy(compute=jnp.bfloat16, output=jnp.float32)
    cast = mixed_precision.apply_policy(model, half, only=["cell"])
    with_policy = {cast.program.names[n.id] for n in cast.program.order if n.policy is not None}
    assert len(with_policy) == 9 and all(name.startswith("cell/") for name in with_policy)
    data = sequence()
    state = cast.init(0, data)
    full = model.apply(state, data)[0]
    half_out = cast.apply(state, data)[0]
    assert half_out.dtype == jnp.float32
    np.testing.assert_allclose(half_out, full, rtol=0.1, atol=0.1)  # bfloat16 arithmetic
    assert float(jnp.abs(half_out - full).max()) > 0  # it did compute in bfloat16


def test_dropout_in_a_cell_draws_one_mask_per_sequence_in_training():
    def cell(x_t, h):
        h = axon.model.add(x_t.dropout(rate=0.5), h.dense(FEATURES, use_bias=False))
        return h, h

    x = axon.model.input("x", shape=(None, STEPS, FEATURES))
    seq, _ = x.rnn(axon.model.block(cell), carry_init=lambda x: jnp.zeros_like(x[:, 0]))
    ones = jnp.ones((BATCH, STEPS, FEATURES))
    state = seq.init(0, ones)
    state = state.replace(params={k: jax.tree.map(jnp.zeros_like, v)
                                  for k, v in state.params.items()})  # fmt: skip
    inference = seq.apply(state, ones)[0]
    np.testing.assert_allclose(inference, ones)
    trained = seq.apply(state, ones, mode="train", key=jax.random.key(3))[0]
    assert set(np.unique(np.asarray(trained)).tolist()) == {0.0, 2.0}  # inverted dropout
    np.testing.assert_array_equal(trained[:, 0], trained[:, -1])  # the same mask every step


def test_model_file_round_trip_of_a_block_cell_in_a_fresh_graph(tmp_path):
    x = axon.model.input("x", shape=(None, STEPS, FEATURES))
    h0 = axon.model.input("h0", shape=(None, UNITS))
    c0 = axon.model.input("c0", shape=(None, UNITS))
    cell = axon.model.block(gated_cell, name="cell")
    first, _ = x.rnn(cell, carry_init=(h0, c0))  # traced here: a first call ...
    seq, carry = first.dense(FEATURES).rnn(cell, carry_init=(h0, c0))  # ... and a second
    model = axon.model.container({"seq": seq, "carry": carry})
    data = {"x": sequence(), "h0": carry_values(1), "c0": carry_values(2)}
    state = model.init(0, data)
    axon.model.save_model(tmp_path / "cell.axon", model, state)
    loaded, loaded_state = axon.model.load_model(tmp_path / "cell.axon")
    assert sorted(loaded_state.params) == sorted(state.params)
    want, got = model.apply(state, data)[0], loaded.apply(loaded_state, data)[0]
    jax.tree.map(np.testing.assert_array_equal, got, want)


def test_a_cell_function_initial_carry_is_refused_by_the_model_file_naming_the_rnn(tmp_path):
    x = axon.model.input("x", shape=(None, STEPS, FEATURES))
    seq, _ = x.rnn(axon.model.block(gated_cell), carry_init=initial, name="encoder")
    with pytest.raises(axon.model.SerializationError, match=r"layer 'encoder' \(rnn.*carry_init"):
        axon.model.save_model(tmp_path / "m.axon", seq)


def test_block_cell_errors_teach():
    x = axon.model.input("x", shape=(None, STEPS, FEATURES))
    h0 = axon.model.input("h0", shape=(None, UNITS))

    def normed(x_t, h):
        h = axon.model.add(x_t.dense(UNITS), h).batch_norm()
        return h, h

    with pytest.raises(ValueError, match=r"batch_norm.*has state.*layer_norm instead"):
        x.rnn(axon.model.block(normed, name="n"), carry_init=h0)

    def penalized(x_t, h):
        h = axon.model.add(x_t.dense(UNITS, activity_regularizer="l2"), h)
        return h, h

    with pytest.raises(ValueError, match="activity regularizer"):
        x.rnn(axon.model.block(penalized), carry_init=h0)
    with pytest.raises(TypeError, match="must return \\(y_t, new_carry\\)"):
        x.rnn(axon.model.block(lambda x_t, h: h.dense(UNITS)), carry_init=h0)
    with pytest.raises(ValueError, match="new carry of 2 model\\(s\\); the initial carry has 1"):
        x.rnn(axon.model.block(lambda x_t, h: (h, (h, h))), carry_init=h0)
    with pytest.raises(TypeError, match="one argument per carry array"):
        x.rnn(axon.model.block(lambda *v: (v[0], v[1])), carry_init=initial)
    with pytest.raises(TypeError, match="a block cell has its layers' own"):
        x.rnn(
            axon.model.block(lambda x_t, h: (h, h)),
            carry_init=h0,
            params={"w": axon.model.param("w", (2,))},
        )
