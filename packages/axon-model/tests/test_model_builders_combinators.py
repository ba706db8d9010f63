"""Combinators: merge, split, cond, container (multi-output), constant, nx, stack_columns,
optional/or_else, and a ResNet-style graph with a shared skip connection."""

import collections

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import axon.model
from axon.model import InputError, LayerError
from axon.model._builders import combinators as C

A = jax.random.normal(jax.random.key(0), (3, 4))
B = jax.random.normal(jax.random.key(1), (3, 4))
INPUTS = {"a": A, "b": B}


def two():
    return axon.model.input("a", shape=(None, 4)), axon.model.input("b", shape=(None, 4))


def run(model, inputs=INPUTS):
    return model.apply(model.init(0, inputs), inputs)[0]


def test_concatenate_two_or_a_list_on_any_axis():
    a, b = two()
    np.testing.assert_array_equal(run(a.concatenate(b)), jnp.concatenate([A, B], -1))
    np.testing.assert_array_equal(
        run(axon.model.concatenate([a, b, a], axis=0)), jnp.concatenate([A, B, A], 0)
    )
    np.testing.assert_array_equal(run(a.concatenate([b, b])), jnp.concatenate([A, B, B], -1))


def test_add_subtract_multiply_with_lists_and_broadcasting():
    a, b = two()
    np.testing.assert_allclose(run(a.add(b)), A + B)
    np.testing.assert_allclose(run(axon.model.add([a, b, b])), A + 2 * B, rtol=1e-6)
    np.testing.assert_allclose(run(axon.model.subtract([a, b, b])), A - B - B, rtol=1e-6)
    np.testing.assert_allclose(run(a.multiply(b)), A * B)
    row = axon.model.constant(jnp.arange(4.0))
    np.testing.assert_allclose(run(a.multiply(row), A), A * jnp.arange(4.0))


def test_merge_errors_teach():
    a, _ = two()
    with pytest.raises(TypeError, match=r"add: needs at least two models"):
        axon.model.add(a)
    with pytest.raises(TypeError, match=r"concatenate: argument 'inputs\[1\]' must be an axon"):
        axon.model.concatenate([a, A])
    with pytest.raises(LayerError, match=r"add_0.*shapes"):
        run(a.add(axon.model.input("c", shape=(None, 3))), {"a": A, "c": jnp.ones((3, 3))})


def test_split_equal_parts_and_sizes():
    x = axon.model.input("x", shape=(None, 6))
    data = jnp.arange(12.0).reshape(2, 6)
    parts = x.split(3)
    assert isinstance(parts, tuple) and len(parts) == 3
    merged = axon.model.container(parts)
    out = run(merged, data)
    for got, expected in zip(out, jnp.split(data, 3, axis=-1), strict=True):
        np.testing.assert_array_equal(got, expected)
    first, second = axon.model.split(x, [1, 5], name="part")
    assert first.program.names[first.node.id] == "part_0"
    np.testing.assert_array_equal(run(second, data), data[:, 1:])
    with pytest.raises(LayerError, match=r"cannot split axis -1 of size 6 .* into 4 equal parts"):
        run(x.split(4)[0], data)
    with pytest.raises(ValueError, match=r"split: option 'splits'"):
        x.split(0)


def test_cond_chooses_a_branch_at_run_time_under_jit_and_grad():
    x = axon.model.input("x", shape=(None, 2))
    model = x.cond(lambda v: v.sum() > 0, x.dense(2, name="pos"), x.nx(jnp.negative))
    state = model.init(0, jnp.ones((1, 2)))
    kernel = state.params["pos"]["kernel"]
    np.testing.assert_allclose(model.apply(state, jnp.ones((1, 2)))[0], jnp.ones((1, 2)) @ kernel)
    np.testing.assert_allclose(model.apply(state, -jnp.ones((1, 2)))[0], jnp.ones((1, 2)))

    def loss(params, x):
        return model.apply(state.replace(params=params), x)[0].sum()

    grads = jax.grad(loss)(state.params, -jnp.ones((1, 2)))
    np.testing.assert_array_equal(grads["pos"]["kernel"], jnp.zeros((2, 2)))
    bad = x.cond(lambda v: v > 0, x, x)
    with pytest.raises(LayerError, match=r"cond_fn must return a scalar"):
        run(bad, jnp.ones((1, 2)))
    with pytest.raises(LayerError, match=r"same shapes and dtypes"):
        run(x.cond(lambda v: True, x, x.dense(3)), jnp.ones((1, 2)))


def test_container_gives_a_nested_multi_output_that_other_layers_can_consume():
    a, b = two()
    model = axon.model.container({"sum": a.add(b), "pair": (a, [b.dense(2)])})
    out = run(model)
    assert isinstance(out, dict) and set(out) == {"sum", "pair"}
    np.testing.assert_allclose(out["sum"], A + B)
    assert isinstance(out["pair"], tuple) and isinstance(out["pair"][1], list)
    assert out["pair"][1][0].shape == (3, 2)
    assert axon.model.get_output_shape(model, INPUTS)["sum"].shape == (3, 4)
    summed = model.nx(lambda tree: tree["sum"] + tree["pair"][0])
    np.testing.assert_allclose(run(summed), 2 * A + B, rtol=1e-6)
    with pytest.raises(TypeError, match=r"container: every leaf of the structure must be a Model"):
        axon.model.container({"a": a, "b": 3})


def test_constant_and_nx():
    x = axon.model.input("x", shape=(None, 2))
    model = x.multiply(axon.model.constant(3.0)).nx(jnp.cumsum, op_name="cumsum")
    assert model.program.names[model.node.id] == "cumsum_0"
    np.testing.assert_allclose(run(model, jnp.ones((1, 2))), jnp.cumsum(jnp.full((1, 2), 3.0)))
    with pytest.raises(TypeError, match=r"constant: takes an array or a number, not a model"):
        x.constant(1.0)
    with pytest.raises(TypeError, match=r"constant: value must be an array or a number"):
        axon.model.constant("three")
    with pytest.raises(TypeError, match=r"nx: argument 'fn' must be a function"):
        x.nx(3)


def test_stack_columns_from_inputs_or_a_record_valued_model():
    cols = {n: axon.model.input(n, shape=(None,)) for n in ("a", "b", "c")}
    data = {"a": jnp.arange(3.0), "b": jnp.ones(3), "c": jnp.zeros(3)}
    out = run(axon.model.stack_columns(cols, ignore=["b"]), data)
    np.testing.assert_array_equal(out, jnp.stack([data["a"], data["c"]], axis=-1))
    Row = collections.namedtuple("Row", ["x", "y"])
    x = axon.model.input("x", shape=(None, 2))
    record = x.nx(lambda v: {"x": v, "y": v[:, 0]})
    np.testing.assert_array_equal(
        C.stack_columns_op(Row(A[:, :2], A[:, 0])), jnp.concatenate([A[:, :2], A[:, :1]], -1)
    )
    assert run(record.stack_columns(), A[:, :2]).shape == (3, 3)
    with pytest.raises(ValueError, match=r"stack_columns: option 'ignore'"):
        axon.model.stack_columns(cols, ignore="b")


def test_optional_and_or_else_semantics():
    x = axon.model.input("x", shape=(None, 2))
    fallback = axon.model.constant(jnp.zeros((1, 2)))
    model = x.optional().or_else(fallback)
    np.testing.assert_array_equal(run(model, jnp.ones((1, 2))), jnp.ones((1, 2)))
    # what the compiler gives a missing value: None, replaced by the fallback
    np.testing.assert_array_equal(C.or_else_op(None, jnp.zeros(2)), jnp.zeros(2))
    assert C.optional_op(None) is None
    assert C.optional_op.accepts_none and C.or_else_op.accepts_none


def masked_sum_model():
    """``sum(x * mask)`` where the mask is an optional input defaulting to all ones."""
    x = axon.model.input("x", shape=(None, 3))
    mask = axon.model.input("mask", shape=(None, 3), optional=True)
    ones = axon.model.constant(jnp.ones((1, 3)))
    masked = axon.model.multiply(x, mask.optional().or_else(ones))
    return axon.model.nx(masked, lambda v: v.sum(-1)), mask


def test_an_optional_input_may_be_left_out_and_falls_back_through_or_else():
    model, _ = masked_sum_model()
    x, mask = jnp.array([[1.0, 2.0, 3.0]]), jnp.array([[1.0, 0.0, 1.0]])
    state = model.init(0, {"x": x, "mask": mask})
    predict = lambda inputs: model.apply(state, inputs)[0].tolist()  # noqa: E731
    assert predict({"x": x, "mask": mask}) == [4.0]
    assert predict({"x": x}) == [6.0]  # left out
    assert predict({"x": x, "mask": None}) == [6.0]  # given as None
    assert predict(x) == [6.0]  # the only required input may be passed bare
    assert model.init(0, {"x": x}).params == {}  # init needs no optional input


def test_a_missing_value_skips_every_layer_behind_it_until_or_else():
    x = axon.model.input("x", shape=(None, 3))
    extra = axon.model.input("extra", shape=(None, 3), optional=True)
    projected = extra.dense(3)  # skipped, with its parameters unused, when extra is missing
    model = axon.model.container({"y": x.add(projected.optional().or_else(x)), "aux": projected})
    inputs = {"x": A[:, :3], "extra": B[:, :3]}
    state = model.init(0, inputs)
    assert set(state.params) == {"dense_0"}
    out = model.apply(state, {"x": A[:, :3]})[0]
    assert out["aux"] is None  # a container keeps the missing value as None
    np.testing.assert_allclose(out["y"], 2 * A[:, :3])
    full = model.apply(state, inputs)[0]
    np.testing.assert_allclose(full["y"], A[:, :3] + full["aux"], rtol=1e-6)
    # gradients flow through the present path only
    grads = jax.grad(lambda p: model.apply(state.replace(params=p), {"x": A[:, :3]})[0]["y"].sum())(
        state.params
    )
    assert not np.any(grads["dense_0"]["kernel"])


def test_a_missing_required_input_is_named_and_optional_ones_listed():
    model, _ = masked_sum_model()
    state = model.init(0, {"x": jnp.ones((1, 3))})
    with pytest.raises(
        InputError, match=r"required: \['x'\].*missing: \['x'\].*\['mask'\] may be left out"
    ):
        model.apply(state, {"mask": jnp.ones((1, 3))})
    with pytest.raises(InputError, match=r"unexpected: \['masks'\]"):
        model.apply(state, {"x": jnp.ones((1, 3)), "masks": jnp.ones((1, 3))})
    with pytest.raises(InputError, match=r"expects shape \(None, 3\)"):  # a present one is checked
        model.apply(state, {"x": jnp.ones((1, 3)), "mask": jnp.ones((1, 4))})


def test_missing_values_show_in_the_table():
    model, _ = masked_sum_model()
    table = axon.model.display.as_table(model, {"x": jnp.ones((1, 3))})
    assert "| mask (input)" in table and "missing" in table and "optional=True" in table
