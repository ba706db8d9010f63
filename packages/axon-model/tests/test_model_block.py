"""Shared weights: ``block`` (one set of parameters for every call) and ``parameter``
(a free-standing array several layers read), checked against hand-written JAX."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import axon.model
from axon.model import mixed_precision

TOL = {"rtol": 1e-5, "atol": 1e-5}


def inputs_ab(scale=1.0, features=3, batch=4):
    ka, kb = jax.random.split(jax.random.key(7))
    return {
        "a": scale * jax.random.normal(ka, (batch, features)) + 5.0,
        "b": -scale * jax.random.normal(kb, (batch, features)) - 2.0,
    }


def mlp(p, x):
    h = jnp.tanh(x @ p["blk/dense_0"]["kernel"] + p["blk/dense_0"]["bias"])
    return h @ p["blk/dense_1"]["kernel"] + p["blk/dense_1"]["bias"]


def test_gradients_of_a_block_used_three_times_are_the_sum_of_its_uses():
    shared = axon.model.block(lambda x: x.dense(5, activation="tanh").dense(3), name="blk")
    a, b = axon.model.input("a", shape=(None, 3)), axon.model.input("b", shape=(None, 3))
    # used on two inputs and on its own output: three uses of one set of parameters
    model = axon.model.subtract(shared(a), shared(shared(b)))
    data = inputs_ab(scale=30.0)
    state = model.init(jax.random.key(0), data)
    assert sorted(state.params) == ["blk/dense_0", "blk/dense_1"]

    def ours(params):
        out, _ = model.apply(state.replace(params=params), data)
        return jnp.sum(out**2 * jnp.arange(1.0, 4.0))

    def reference(p):
        out = mlp(p, data["a"]) - mlp(p, mlp(p, data["b"]))
        return jnp.sum(out**2 * jnp.arange(1.0, 4.0))

    np.testing.assert_allclose(ours(state.params), reference(state.params), **TOL)
    got, want = jax.grad(ours)(state.params), jax.grad(reference)(state.params)
    for layer in want:
        for name in want[layer]:
            np.testing.assert_allclose(got[layer][name], want[layer][name], **TOL)
    assert float(jnp.abs(want["blk/dense_0"]["kernel"]).max()) > 0


def test_shared_parameters_are_counted_once():
    shared = axon.model.block(lambda x: x.dense(4))
    a, b = axon.model.input("a", shape=(None, 3)), axon.model.input("b", shape=(None, 3))
    model = axon.model.concatenate([shared(a), shared(b)]).dense(1)
    data = inputs_ab()
    state = model.init(0, data)
    assert state.num_parameters == (3 * 4 + 4) + (8 + 1)
    table = axon.model.display.as_table(model, data)
    assert "Total parameters: 25 (100 B)" in table
    assert table.count("shared, counted above") == 1
    flops = axon.model.display.layer_flops(model, data)
    assert flops["block_0/dense_0"] == 2 * axon.model.display.layer_flops(shared(a), data["a"]).get(
        "block_0/dense_0", 0
    )


def test_tied_embeddings_share_one_array_whose_gradient_is_the_sum_of_both_uses():
    vocab, dim = 11, 4
    table = axon.model.parameter("embedding", (vocab, dim), initializer="normal")
    ids = axon.model.input("ids", shape=(None, 5))
    hidden = ids.embedding(vocab, dim, kernel=table).dense(dim, activation="tanh", name="mix")
    logits = hidden.dense(vocab, kernel=table.transpose(), name="out")
    tokens = jnp.array([[1, 2, 3, 4, 10], [0, 0, 7, 9, 5]])
    state = logits.init(jax.random.key(3), tokens)
    assert sorted(state.params) == ["embedding", "mix", "out"]
    assert sorted(state.params["out"]) == ["bias"]  # the output projection has no kernel
    big = state.replace(params={**state.params, "embedding": {"value": 8.0 * jax.random.normal(
        jax.random.key(1), (vocab, dim))}})  # fmt: skip

    def ours(params):
        out, _ = logits.apply(big.replace(params=params), tokens)
        return jnp.sum(jax.nn.log_softmax(out) * jnp.linspace(-1, 2, vocab))

    def reference(p):
        t = p["embedding"]["value"]
        h = jnp.tanh(t[tokens] @ p["mix"]["kernel"] + p["mix"]["bias"])
        return jnp.sum(jax.nn.log_softmax(h @ t.T + p["out"]["bias"]) * jnp.linspace(-1, 2, vocab))

    np.testing.assert_allclose(ours(big.params), reference(big.params), **TOL)
    got, want = jax.grad(ours)(big.params), jax.grad(reference)(big.params)
    np.testing.assert_allclose(got["embedding"]["value"], want["embedding"]["value"], **TOL)

    def lookup_only(p):  # the gradient really has two parts: each use alone gives less
        t = p["embedding"]["value"]
        h = jnp.tanh(jax.lax.stop_gradient(t)[tokens] @ p["mix"]["kernel"] + p["mix"]["bias"])
        return jnp.sum(jax.nn.log_softmax(h @ t.T + p["out"]["bias"]) * jnp.linspace(-1, 2, vocab))

    part = jax.grad(lookup_only)(big.params)["embedding"]["value"]
    assert not np.allclose(part, want["embedding"]["value"], atol=1e-3)


def test_parameter_in_a_custom_layer_and_its_errors():
    scale = axon.model.parameter("scale", (3,), initializer="ones")
    x = axon.model.input("x", shape=(None, 3))
    model = axon.model.layer(lambda v, s: v * s, [x, scale], op_name="scaled").add(
        axon.model.layer(lambda v, s: v + s, [x, scale], op_name="shifted")
    )
    state = model.init(0, jnp.ones((1, 3)))
    assert list(state.params) == ["scale"]
    grad = jax.grad(
        lambda p: jnp.sum(model.apply(state.replace(params=p), jnp.full((2, 3), 3.0))[0])
    )(state.params)
    np.testing.assert_allclose(grad["scale"]["value"], [8.0, 8.0, 8.0])  # 2*(3 + 1) per column
    with pytest.raises(ValueError, match="tuple of positive ints"):
        axon.model.parameter("w", lambda s: (s[-1],))
    with pytest.raises(TypeError, match="non-empty string"):
        axon.model.parameter("", (2,))
    with pytest.raises(TypeError, match="kernel_initializer"):
        x.dense(3, kernel="ones")
    wrong = x.dense(4, kernel=axon.model.parameter("k", (3, 5)))
    with pytest.raises(axon.model.LayerError, match=r"kernel of shape \(in, 4\).*\(3, 5\)"):
        wrong.init(0, jnp.ones((1, 3)))
    ids = axon.model.input("ids", shape=(None, 2))
    lookup = ids.embedding(10, 4, kernel=axon.model.parameter("t", (4, 10)))
    with pytest.raises(axon.model.LayerError, match=r"table of shape \(10, 4\)"):
        lookup.init(0, jnp.zeros((1, 2), jnp.int32))


def test_nested_blocks_are_named_under_their_block_and_share_everywhere():
    inner = axon.model.block(lambda x: x.dense(3, name="proj"), name="inner")
    outer = axon.model.block(lambda x: inner(inner(x)).dense(3), name="outer")
    x = axon.model.input("x", shape=(None, 3))
    model = outer(outer(x))
    state = model.init(0, jnp.ones((1, 3)))
    assert sorted(state.params) == ["outer/dense_0", "outer/inner/proj"]

    def reference(p, v):
        for _ in range(2):
            for _ in range(2):
                v = v @ p["outer/inner/proj"]["kernel"] + p["outer/inner/proj"]["bias"]
            v = v @ p["outer/dense_0"]["kernel"] + p["outer/dense_0"]["bias"]
        return v

    v = jax.random.normal(jax.random.key(2), (2, 3)) * 10
    np.testing.assert_allclose(model.apply(state, v)[0], reference(state.params, v), **TOL)
    # used inside outer and on its own: one block, named at the top
    both = axon.model.add(outer(x), inner(x))
    assert sorted(both.init(0, jnp.ones((1, 3))).params) == ["inner/proj", "outer/dense_0"]
    # an unnamed block inside another is numbered under it
    numbered = axon.model.block(lambda x: axon.model.block(lambda y: y.dense(2))(x).relu())
    assert list(numbered(x).init(0, jnp.ones((1, 3))).params) == ["block_0/block_1/dense_0"]


def test_blocks_with_several_inputs_and_outputs():
    def fn(x, y):
        h = axon.model.concatenate([x, y]).dense(4, name="mix")
        return {"left": h.dense(2, name="l"), "right": (h, h.dense(1, name="r"))}

    pair = axon.model.block(fn, name="pair")
    a, b, c = (axon.model.input(n, shape=(None, 3)) for n in "abc")
    first, second = pair(a, b), pair(b, c)
    assert set(first) == {"left", "right"} and isinstance(first["right"], tuple)
    model = axon.model.concatenate(
        [first["left"], second["left"], first["right"][1], second["right"][1]]
    )
    data = {k: jnp.full((2, 3), float(i + 1)) for i, k in enumerate("abc")}
    state = model.init(0, data)
    assert sorted(state.params) == ["pair/l", "pair/mix", "pair/r"]
    p = state.params

    def dense(name, v):
        return v @ p[name]["kernel"] + p[name]["bias"]

    h1 = dense("pair/mix", jnp.concatenate([data["a"], data["b"]], -1))
    h2 = dense("pair/mix", jnp.concatenate([data["b"], data["c"]], -1))
    expected = jnp.concatenate(
        [dense("pair/l", h1), dense("pair/l", h2), dense("pair/r", h1), dense("pair/r", h2)], -1
    )
    np.testing.assert_allclose(model.apply(state, data)[0], expected, **TOL)


def test_freezing_and_mixed_precision_by_block_name():
    encoder = axon.model.block(lambda x: x.dense(4).dense(2), name="encoder")
    a, b = axon.model.input("a", shape=(None, 3)), axon.model.input("b", shape=(None, 3))
    model = axon.model.add(encoder(a), encoder(b)).dense(1, name="head")
    data = inputs_ab()
    state = model.init(0, data).freeze("encoder/*")
    assert sorted(state.frozen_parameters) == ["encoder/dense_0", "encoder/dense_1"]
    grads = jax.grad(lambda p: jnp.sum(model.apply(state.replace(params=p), data)[0]))(state.params)
    assert all(float(jnp.abs(g).max()) == 0 for g in jax.tree.leaves(grads["encoder/dense_0"]))
    assert float(jnp.abs(grads["head"]["kernel"]).max()) > 0

    half = mixed_precision.create_policy(compute=jnp.bfloat16, output=jnp.bfloat16)
    cast = mixed_precision.apply_policy(model, half, only=["encoder"])
    structs, _ = cast.program.infer(data)
    dtypes = {cast.program.names[n.id]: structs[n.id].dtype for n in cast.program.order}
    assert dtypes["encoder/dense_1"] == jnp.bfloat16 and dtypes["head"] == jnp.float32
    kept = mixed_precision.apply_policy(model, half, except_=["encoder"])
    assert all(n.policy is None for n in kept.program.order if n.blocks)
    with pytest.raises(ValueError, match="its blocks \\['encoder'\\]"):
        mixed_precision.apply_policy(model, half, only=["encodr"])


def test_batch_norm_in_a_block_updates_its_one_state_once_per_use_in_turn():
    norm = axon.model.block(lambda x: x.batch_norm(momentum=0.5), name="norm")
    a, b = axon.model.input("a", shape=(None, 2)), axon.model.input("b", shape=(None, 2))
    model = axon.model.add(norm(a), norm(b))
    data = inputs_ab(features=2)
    state = model.init(0, data)
    assert list(state.state) == ["norm/batch_norm_0"]
    _, new = model.apply(state, data, mode="train")
    mean = jnp.zeros(2)
    for x in (data["a"], data["b"]):  # Axon's momentum: new = m * old + (1 - m) * batch
        mean = 0.5 * mean + 0.5 * x.mean(0)
    np.testing.assert_allclose(new["norm/batch_norm_0"]["mean"], mean, **TOL)


def test_a_block_holding_an_rnn_and_a_parameter_shared_with_a_cell():
    shared_u = axon.model.parameter("u", (4, 4), initializer="orthogonal")

    def cell(x_t, h, p):
        h = jnp.tanh(x_t @ p["w"] + h @ p["u"])
        return h, h

    def encode(seq):
        _, h = seq.rnn(
            cell,
            carry_init=lambda s: jnp.zeros((s.shape[0], 4)),
            params={"w": axon.model.param("w", lambda s: (s[-1], 4)), "u": shared_u},
        )
        return h

    encoder = axon.model.block(encode, name="enc")
    a = axon.model.input("a", shape=(None, 5, 3))
    b = axon.model.input("b", shape=(None, 5, 3))
    model = axon.model.subtract(encoder(a), encoder(b)).dense(4, kernel=shared_u)
    seqs = {"a": jax.random.normal(jax.random.key(0), (2, 5, 3)) * 4, "b": jnp.ones((2, 5, 3))}
    state = model.init(0, seqs)
    assert sorted(state.params) == ["dense_0", "enc/rnn_0", "u"]

    def reference(p):
        def run(x):
            h = jnp.zeros((2, 4))
            for t in range(5):
                h = jnp.tanh(x[:, t] @ p["enc/rnn_0"]["w"] + h @ p["u"]["value"])
            return h

        d = run(seqs["a"]) - run(seqs["b"])
        return jnp.sum((d @ p["u"]["value"] + p["dense_0"]["bias"]) ** 2)

    def ours(p):
        return jnp.sum(model.apply(state.replace(params=p), seqs)[0] ** 2)

    np.testing.assert_allclose(ours(state.params), reference(state.params), **TOL)
    got, want = jax.grad(ours)(state.params), jax.grad(reference)(state.params)
    np.testing.assert_allclose(got["u"]["value"], want["u"]["value"], **TOL)
    np.testing.assert_allclose(got["enc/rnn_0"]["w"], want["enc/rnn_0"]["w"], **TOL)


def test_block_errors_teach():
    x = axon.model.input("x", shape=(None, 3))
    with pytest.raises(TypeError, match=r"must return a model.*NoneType.*forget to return"):
        axon.model.block(lambda v: None)(x)
    with pytest.raises(TypeError, match="returned ndarray inside its result"):
        axon.model.block(lambda v: (v.dense(2), np.zeros(2)))(x)
    two = axon.model.block(lambda u, v: axon.model.add(u, v), name="sum2")
    with pytest.raises(TypeError, match=r"'sum2'.*called with 1 input.*\(u, v\)"):
        two(x)
    one = axon.model.block(lambda v: v.dense(2))
    with pytest.raises(TypeError, match="called with a ndarray as input 0"):
        one(np.zeros((1, 3)))
    star = axon.model.block(lambda *vs: axon.model.concatenate(list(vs)))
    star(x, x)
    with pytest.raises(TypeError, match=r"takes 2 input.*received 3"):
        star(x, x, x)
    shared = axon.model.block(lambda v: v.dense(2), name="enc")
    wide = axon.model.input("wide", shape=(None, 5))
    model = axon.model.add(shared(x), shared(wide))
    with pytest.raises(axon.model.LayerError, match=r"'enc/dense_0'.*block 'enc'.*same feature"):
        model.init(0, {"x": jnp.ones((1, 3)), "wide": jnp.ones((1, 5))})
    other = axon.model.block(lambda v: v.relu(), name="enc")
    with pytest.raises(ValueError, match=r"block named 'enc'.*has the name of a block defined"):
        axon.model.add(shared(x), other(x)).init(0, jnp.ones((1, 3)))
    with pytest.raises(ValueError, match="without '/'"):
        axon.model.block(lambda v: v, name="a/b")
    with pytest.raises(TypeError, match="expects a function"):
        axon.model.block(x)
    selfish = axon.model.block(lambda v: selfish(v))
    with pytest.raises(ValueError, match="calls itself"):
        selfish(x)
