"""Graph inspection and rewriting: get_*/set_*, map_nodes, reduce_nodes, rewrite_nodes, pop_node."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import axon.model
from axon.functional import layers as F
from axon.model import (
    get_inputs,
    get_op_counts,
    get_options,
    get_parameters,
    map_nodes,
    pop_node,
    properties,
    reduce_nodes,
    rewrite_nodes,
    set_options,
    set_parameters,
)

X = jnp.linspace(-2.0, 2.0, 12).reshape(3, 4)


def mlp():
    return axon.model.input("x", shape=(None, 4)).dense(8, activation="relu").dense(3)


def shared_trunk():
    """Two heads over one trunk: the trunk's layers must be counted and computed once."""
    x = axon.model.input("x", shape=(None, 4))
    trunk = x.dense(6, name="trunk").relu()
    return axon.model.layer(jnp.add, [trunk.dense(2, name="a"), trunk.dense(2, name="b")])


def test_inputs_counts_and_properties_count_a_shared_subgraph_once():
    model = shared_trunk()
    assert get_inputs(model) == {"x": (None, 4)}
    assert get_op_counts(model) == {"input": 1, "dense": 3, "relu": 1, "add": 1}
    assert properties(model) == {
        "x": "input", "trunk": "dense", "relu_0": "relu", "a": "dense", "b": "dense",
        "add_0": "add",
    }  # fmt: skip
    assert reduce_nodes(model, 0, lambda node, n: n + len(node.parameters)) == 6


def test_get_inputs_of_several_inputs_keeps_undeclared_shapes():
    a, b = axon.model.input("a", shape=(None, 2)), axon.model.input("b")
    assert get_inputs(axon.model.layer(jnp.add, [a, b])) == {"a": (None, 2), "b": None}


def test_map_nodes_swaps_relu_for_gelu_and_keeps_the_original():
    model = mlp()
    state = model.init(0, X)

    def to_gelu(node):
        if node.op_name == "relu":
            return dataclasses.replace(node, op=jax.nn.gelu, op_name="gelu")
        return node

    gelu = map_nodes(model, to_gelu)
    assert get_op_counts(gelu) == {"input": 1, "dense": 2, "gelu": 1}
    assert get_op_counts(model) == {"input": 1, "dense": 2, "relu": 1}  # unchanged
    p = state.params
    hidden = F.dense(X, p["dense_0"]["kernel"], p["dense_0"]["bias"])
    expected = F.dense(jax.nn.gelu(hidden), p["dense_1"]["kernel"], p["dense_1"]["bias"])
    np.testing.assert_allclose(gelu.apply(state, X)[0], expected, rtol=1e-6, atol=1e-6)
    assert not np.allclose(gelu.apply(state, X)[0], model.apply(state, X)[0])
    # the rewritten graph and the original can be combined: unchanged nodes (the input and
    # the first dense) are shared, rebuilt ones are new nodes, and no node ids collide
    both = axon.model.layer(lambda u, v: u - v, [gelu, model], op_name="difference")
    assert get_op_counts(both) == {
        "input": 1, "dense": 3, "gelu": 1, "relu": 1, "difference": 1,
    }  # fmt: skip


def test_map_nodes_keeps_shared_subgraphs_shared_and_reuses_unchanged_nodes():
    model = shared_trunk()
    calls = []

    def counted_relu(x):
        calls.append(1)
        return jax.nn.relu(x)

    def swap(node):
        return dataclasses.replace(node, op=counted_relu) if node.op_name == "relu" else node

    mapped = map_nodes(model, swap)
    assert get_op_counts(mapped) == get_op_counts(model)
    identity = map_nodes(model, lambda node: node)
    assert identity.node is model.node  # nothing changed: the same graph
    state = mapped.init(0, X)
    calls.clear()
    mapped.apply(state, X)
    assert len(calls) == 1  # the shared trunk is still one node
    np.testing.assert_allclose(mapped.apply(state, X)[0], model.apply(state, X)[0])


def test_map_nodes_requires_nodes():
    with pytest.raises(TypeError, match=r"must return a Node.*use rewrite_nodes"):
        map_nodes(mlp(), lambda node: None)


def lora(rank=2, scale=1.0):
    """A rewriter factory that wraps each dense layer with a low-rank update (LoRA)."""

    def lora_op(x, y, a, b):
        return y + scale * (x @ a) @ b

    def rewriter(inputs, output):
        (x,) = inputs
        a = axon.model.param("lora_a", lambda xs, ys: (xs[-1], rank), initializer="normal")
        b = axon.model.param("lora_b", lambda xs, ys: (rank, ys[-1]), initializer="zeros")
        return axon.model.layer(lora_op, [x, output, a, b], op_name="lora")

    return lambda node: rewriter if node.op_name == "dense" else None


def test_rewrite_nodes_inserts_lora_adapters_that_start_as_the_identity():
    model = mlp()
    state = model.init(0, X)
    adapted = rewrite_nodes(model, lora(rank=2))
    assert get_op_counts(adapted) == {"input": 1, "dense": 2, "lora": 2, "relu": 1}
    fresh = adapted.init(1, X)
    shapes = {
        layer: {k: v.shape for k, v in entries.items()} for layer, entries in fresh.params.items()
    }
    assert shapes == {
        "dense_0": {"kernel": (4, 8), "bias": (8,)},
        "lora_0": {"lora_a": (4, 2), "lora_b": (2, 8)},
        "dense_1": {"kernel": (8, 3), "bias": (3,)},
        "lora_1": {"lora_a": (8, 2), "lora_b": (2, 3)},
    }
    # the pretrained dense weights still fit (same layer names); B = 0 keeps the output
    combined = adapted.init(1, X, state)
    np.testing.assert_allclose(adapted.apply(combined, X)[0], model.apply(state, X)[0], atol=1e-6)
    # and a non-zero B changes it
    nonzero = combined.replace(
        params={**combined.params, "lora_1": {**combined.params["lora_1"],
                                              "lora_b": jnp.ones((2, 3))}}
    )  # fmt: skip
    assert not np.allclose(adapted.apply(nonzero, X)[0], model.apply(state, X)[0])


def test_rewrite_nodes_removes_a_layer_and_prunes_what_no_longer_feeds_the_output():
    model = mlp()
    removed = rewrite_nodes(
        model, lambda node: (lambda inputs, output: inputs[0]) if node.op_name == "relu" else None
    )
    assert get_op_counts(removed) == {"input": 1, "dense": 2}
    state = model.init(0, X)
    p = state.params
    expected = F.dense(F.dense(X, **p["dense_0"]), **p["dense_1"])
    np.testing.assert_allclose(removed.apply(state, X)[0], expected, rtol=1e-5, atol=1e-6)
    # replacing the second dense by its input drops it, and its parameters
    truncated = rewrite_nodes(
        model,
        lambda node: (lambda inputs, output: inputs[0]) if properties_name(model, node) == "dense_1"
        else None,
    )  # fmt: skip
    assert list(truncated.init(0, X).params) == ["dense_0"]


def properties_name(model, node):
    return model.program.names[node.id]


def test_rewrite_nodes_downstream_of_a_rewrite_uses_the_new_layer():
    model = mlp().softmax()
    swapped = rewrite_nodes(
        model,
        lambda node: (lambda inputs, output: inputs[0].tanh()) if node.op_name == "relu" else None,
    )
    assert list(properties(swapped).values()) == ["input", "dense", "tanh", "dense", "softmax"]
    state = model.init(0, X)
    p = state.params
    logits = F.dense(jnp.tanh(F.dense(X, **p["dense_0"])), **p["dense_1"])
    np.testing.assert_allclose(swapped.apply(state, X)[0], jax.nn.softmax(logits), rtol=1e-5)


def test_rewrite_nodes_rejects_bad_rewriters():
    with pytest.raises(TypeError, match=r"None \(keep the layer\) or a rewriter"):
        rewrite_nodes(mlp(), lambda node: "skip")
    with pytest.raises(TypeError, match="must return a Model"):
        rewrite_nodes(mlp(), lambda node: lambda inputs, output: None)


def test_get_and_set_parameters_of_the_output_layer():
    model = mlp()
    kernel, bias = get_parameters(model)
    assert (kernel.name, bias.name) == ("kernel", "bias")
    ones = set_parameters(model, [dataclasses.replace(kernel, initializer="ones"), bias])
    state = ones.init(0, X)
    np.testing.assert_array_equal(state.params["dense_1"]["kernel"], np.ones((8, 3)))
    assert model.init(0, X).params["dense_1"]["kernel"].std() > 0  # original unchanged
    with pytest.raises(ValueError, match=r"needs 2 Parameter objects.*\['kernel', 'bias'\]"):
        set_parameters(model, [kernel])


def test_get_and_set_options_of_the_output_layer():
    model = axon.model.input("x").leaky_relu(alpha=0.2)
    assert get_options(model) == {"alpha": 0.2}
    changed = set_options(model, alpha=0.5)
    assert get_options(changed) == {"alpha": 0.5} and get_options(model) == {"alpha": 0.2}
    np.testing.assert_allclose(
        changed.apply(changed.init(0, X), X)[0], jnp.where(X > 0, X, 0.5 * X)
    )
    assert "alpha=0.5" in axon.model.display.as_table(changed, X, flops=False)
    with pytest.raises(TypeError, match=r"does not accept option\(s\) \['alpah'\]"):
        set_options(model, alpah=0.5)


def test_pop_node_returns_the_output_layer_and_its_parents():
    node, base = pop_node(mlp().softmax())
    assert node.op_name == "softmax"
    assert properties(base) == properties(mlp())
    a, b = axon.model.input("a", shape=(None, 2)), axon.model.input("b", shape=(None, 2))
    node, parents = pop_node(axon.model.layer(jnp.add, [a, b]))
    assert [get_inputs(p) for p in parents] == [{"a": (None, 2)}, {"b": (None, 2)}]
    with pytest.raises(ValueError, match="Cannot pop input 'a'"):
        pop_node(a)


def test_functions_check_they_get_a_model():
    with pytest.raises(TypeError, match=r"get_op_counts expects an axon\.model\.Model"):
        get_op_counts({"dense": 1})
