"""Rematerialization: ``remat=`` on builders, ``layer``, ``block`` and ``build``.

Results are compared with the same model without remat. Predictions are bitwise equal
(the forward pass runs the same operations). Gradients are compared bitwise where XLA
compiles the same arithmetic (MLPs), and within float32 rounding (rtol 1e-5) for the
transformer, whose recomputed forward XLA may fuse differently into the backward pass.
"""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import axon.model
from axon.model import ModelError, SerializationError

WIDTH = 32


def mlp(depth: int, remat=None, *, remat_layers=None, width: int = WIDTH) -> axon.model.Model:
    h = axon.model.input("x", shape=(None, width))
    for i in range(depth):
        chosen = remat_layers is None or i in remat_layers
        h = h.dense(width, activation="tanh", remat=remat if chosen else None)
    return h.dense(1)


def inputs(shape=(16, WIDTH), seed=1):
    return 30.0 * jax.random.normal(jax.random.key(seed), shape)  # far from unit scale


def loss_and_grad(model, state, x, *, mode="inference", key=None):
    def loss(params):
        out, _ = model.apply(state.replace(params=params), x, mode=mode, key=key)
        return jnp.mean(out**2)

    return jax.value_and_grad(loss)(state.params)


def _subjaxprs(eqn):
    for value in eqn.params.values():
        for item in value if isinstance(value, (list, tuple)) else [value]:
            inner = getattr(item, "jaxpr", item)  # a ClosedJaxpr's jaxpr, or a Jaxpr
            if hasattr(inner, "eqns"):
                yield inner


def checkpoints(jaxpr) -> list:
    """Every ``checkpoint`` (remat) equation in ``jaxpr`` and its sub-jaxprs, outermost first."""
    found = []
    for eqn in jaxpr.eqns:
        if eqn.primitive.name in ("checkpoint", "remat2"):
            found.append(eqn)
        for sub in _subjaxprs(eqn):
            found += checkpoints(sub)
    return found


def dots(jaxpr) -> int:
    count = sum(eqn.primitive.name == "dot_general" for eqn in jaxpr.eqns)
    return count + sum(dots(sub) for eqn in jaxpr.eqns for sub in _subjaxprs(eqn))


def backward_jaxpr(model, state, x):
    def loss(params):
        return jnp.mean(model.apply(state.replace(params=params), x)[0] ** 2)

    return jax.make_jaxpr(jax.grad(loss))(state.params).jaxpr


def assert_trees_equal(a, b):
    for left, right in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(left), np.asarray(right))


def assert_trees_close(a, b, rtol=1e-5):
    """Equal up to float32 rounding, relative to each array and to the largest entry of the
    tree (entries that are zero in exact arithmetic come out as rounding noise)."""
    scale = max(float(np.max(np.abs(np.asarray(leaf)))) for leaf in jax.tree.leaves(b))
    for left, right in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(
            np.asarray(left), np.asarray(right), rtol=rtol, atol=rtol * scale
        )


@pytest.mark.parametrize(
    "policy", [True, "dots_saveable", jax.checkpoint_policies.everything_saveable]
)
def test_per_layer_remat_gives_bitwise_equal_loss_and_gradients(policy):
    plain, remat = mlp(4), mlp(4, policy)
    state = plain.init(0, inputs())
    x = inputs()
    assert_trees_equal(loss_and_grad(remat, state, x), loss_and_grad(plain, state, x))
    assert_trees_equal(remat.apply(state, x)[0], plain.apply(state, x)[0])


def test_the_backward_pass_rematerializes_exactly_the_chosen_layers():
    x = inputs()
    plain = mlp(4)
    state = plain.init(0, x)
    assert checkpoints(backward_jaxpr(plain, state, x)) == []
    chosen = mlp(4, True, remat_layers={1, 3})
    # the gradient inlines the forward pass; its backward pass recomputes each chosen layer
    assert len(checkpoints(backward_jaxpr(chosen, state, x))) == 2
    found = checkpoints(jax.make_jaxpr(lambda s: chosen.apply(s, x))(state).jaxpr)
    assert [dots(eqn.params["jaxpr"]) for eqn in found] == [1, 1]  # one dense layer each
    assert {str(eqn.params["policy"]) for eqn in found} == {"None"}  # True: nothing saved


def test_a_transformer_encoder_rematerializes_as_one_segment_in_training():
    def model(remat):
        x = axon.model.input("x", shape=(None, 6, 16))
        h = x
        for _ in range(2):
            h = h.transformer_encoder(num_heads=2, hidden_size=32, dropout_rate=0.1, remat=remat)
        return h.dense(1)

    plain, remat = model(None), model("dots_saveable")
    x = inputs((4, 6, 16))
    state = plain.init(0, x)
    key = jax.random.key(7)
    assert_trees_equal(
        remat.apply(state, x, mode="train", key=key)[0],
        plain.apply(state, x, mode="train", key=key)[0],
    )  # same dropout masks: the key reaches the recomputation unchanged
    assert_trees_close(
        loss_and_grad(remat, state, x, mode="train", key=key),
        loss_and_grad(plain, state, x, mode="train", key=key),
    )
    found = checkpoints(backward_jaxpr(remat, state, x))
    assert len(found) == 2  # one per encoder, each recomputing its attention and MLP
    assert all("DotsSaveable" in str(e.params["policy"]) for e in found)


def test_each_call_of_a_remat_block_is_its_own_segment_with_shared_parameters():
    layer = axon.model.block(lambda v: v.dense(WIDTH, activation="tanh"), remat=True, name="layer")
    plain_layer = axon.model.block(lambda v: v.dense(WIDTH, activation="tanh"), name="layer")

    def deep(block):
        h = axon.model.input("x", shape=(None, WIDTH))
        for _ in range(3):
            h = block(h)
        return h.dense(1)

    remat, plain = deep(layer), deep(plain_layer)
    x = inputs()
    state = plain.init(0, x)
    assert sorted(state.params) == ["dense_0", "layer/dense_0"]
    assert_trees_equal(loss_and_grad(remat, state, x), loss_and_grad(plain, state, x))
    assert len(checkpoints(backward_jaxpr(remat, state, x))) == 3


def test_whole_forward_remat_of_build_and_as_functions():
    plain = mlp(3)
    x = inputs()
    state = plain.init(0, x)
    _, predict = axon.model.build(plain, mode="train", remat="dots_saveable")
    _, apply = plain.as_functions(remat=True)

    def loss(fn):
        return lambda params: jnp.mean(fn(state.replace(params=params), x)[0] ** 2)

    expected = jax.value_and_grad(loss(lambda s, v: plain.apply(s, v)))(state.params)
    assert_trees_equal(jax.value_and_grad(loss(predict))(state.params), expected)
    assert_trees_equal(jax.value_and_grad(loss(apply))(state.params), expected)
    (whole, *_) = checkpoints(jax.make_jaxpr(jax.grad(loss(predict)))(state.params).jaxpr)
    assert dots(whole.params["jaxpr"]) >= 4 and "DotsSaveable" in str(whole.params["policy"])


def test_layer_state_and_penalties_inside_a_segment_match():
    def model(remat):
        x = axon.model.input("x", shape=(None, 8))
        h = x.dense(8, activity_regularizer="l2", remat=remat)
        h = h.batch_norm(remat=remat).dense(1, kernel_regularizer="l1")
        return h

    plain, remat = model(None), model(True)
    x = inputs((16, 8))
    state = plain.init(0, x)
    for a, b in zip(
        remat.apply_with_penalty(state, x, mode="train"),
        plain.apply_with_penalty(state, x, mode="train"),
        strict=True,
    ):
        assert_trees_equal(a, b)


def test_a_segment_whose_inputs_come_from_a_later_branch_is_scheduled_in_one_piece():
    pair = axon.model.block(lambda u, v: axon.model.add(u.dense(4), v.dense(4)), remat=True)
    x = axon.model.input("x", shape=(None, 4))
    first = x.dense(4, name="first")
    both = pair(first, first.relu().dense(4, name="branch"))
    model = axon.model.concatenate([both, first]).dense(1)
    plain_pair = axon.model.block(lambda u, v: axon.model.add(u.dense(4), v.dense(4)))
    plain = axon.model.concatenate(
        [plain_pair(first, first.relu().dense(4, name="branch")), first]
    ).dense(1)
    state = plain.init(0, inputs((2, 4)))
    # the segment runs after the branch, not between its layers: XLA may fuse the other
    # order differently, so equal within float32 rounding
    assert_trees_close(
        loss_and_grad(model, state, inputs((2, 4))), loss_and_grad(plain, state, inputs((2, 4)))
    )


#: XLA:CPU expands the optimization barriers that keep a recomputation apart from the
#: forward pass before common-subexpression elimination, which then merges the two and
#: undoes the remat; measuring with that pass off shows what remat does where the barriers
#: hold (bench/memory.py, bench/README.md).
KEEP_BARRIERS = {"xla_disable_hlo_passes": "cse_barrier_expander"}


@pytest.mark.parametrize("policy", [True, "dots_saveable"])
def test_peak_temporary_memory_is_lower_with_remat(policy):
    """XLA's count of temporary bytes of the compiled gradient (a count, not a timing) of
    8 residual MLP blocks (128 -> 512 -> 128, gelu): with each block rematerialized, the
    backward pass keeps the blocks' inputs (and, with dots_saveable, the matrix products)
    instead of every intermediate."""

    def deep(remat):
        mlp_block = axon.model.block(
            lambda v: axon.model.add(v, v.dense(512, activation="gelu").dense(128)), remat=remat
        )
        h = axon.model.input("x", shape=(None, 128))
        for _ in range(8):
            h = mlp_block(h)
        return h

    def temp_bytes(model):
        x = jax.ShapeDtypeStruct((2048, 128), jnp.float32)
        state = jax.eval_shape(lambda: model.init(0, x))

        def loss(params, v):
            return jnp.mean(model.apply(state.replace(params=params), v)[0] ** 2)

        lowered = jax.jit(jax.grad(loss)).lower(state.params, x)
        return lowered.compile(compiler_options=KEEP_BARRIERS).memory_analysis().temp_size_in_bytes

    plain, remat = temp_bytes(deep(None)), temp_bytes(deep(policy))
    assert remat < {True: 0.4, "dots_saveable": 0.8}[policy] * plain, (remat, plain)


def test_remat_round_trips_through_the_model_file(tmp_path):
    block = axon.model.block(lambda v: v.dense(8, activation="relu"), remat="dots_saveable")
    x = axon.model.input("x", shape=(None, 8))
    model = block(block(x.dense(8, remat=True))).dense(1)
    state = model.init(0, inputs((2, 8)))
    path = os.fspath(tmp_path / "model.safetensors")
    axon.model.save_model(path, model, state)
    loaded, loaded_state = axon.model.load_model(path)
    policies = [n.remat and n.remat.label for n in loaded.program.order]
    assert policies == [n.remat and n.remat.label for n in model.program.order]
    assert policies == [None, "nothing_saveable", *["dots_saveable"] * 4, None]
    assert len({n.remat.id for n in loaded.program.order if n.remat}) == 3
    assert_trees_equal(
        loss_and_grad(loaded, loaded_state, inputs((2, 8))),
        loss_and_grad(model, state, inputs((2, 8))),
    )
    assert len(checkpoints(backward_jaxpr(loaded, loaded_state, inputs((2, 8))))) == 3


def test_a_policy_function_cannot_be_stored_in_a_model_file(tmp_path):
    policy = jax.checkpoint_policies.save_only_these_names("h")
    model = axon.model.block(lambda v: v.dense(2), remat=policy)(
        axon.model.input("x", shape=(None, 2))
    )
    with pytest.raises(SerializationError, match="policy function"):
        axon.model.save_model(os.fspath(tmp_path / "m.safetensors"), model)


def test_bad_remat_options_are_refused_where_they_are_written():
    x = axon.model.input("x", shape=(None, 2))
    with pytest.raises(ValueError, match=r"dense \(remat=\).*'dots_saveable'"):
        x.dense(2, remat="dots")
    with pytest.raises(TypeError, match="remat must be"):
        axon.model.block(lambda v: v.dense(2), remat=3)
    with pytest.raises(ValueError, match="build: remat='everything'"):
        axon.model.build(x.dense(2), remat="everything")


def test_a_non_contiguous_segment_is_refused():
    from axon.model._compiler.segments import schedule
    from axon.model._graph.remat import new_segment

    x = axon.model.input("x", shape=(None, 2))
    segment = new_segment("nothing_saveable")
    first = x.relu().node.rebuilt(remat=segment)
    outside = axon.model.Model(first).tanh().node
    second = axon.model.add(axon.model.Model(first), axon.model.Model(outside)).node.rebuilt(
        remat=segment
    )
    with pytest.raises(ModelError, match="not contiguous"):
        schedule(axon.model.Model(second).program.order, second)
