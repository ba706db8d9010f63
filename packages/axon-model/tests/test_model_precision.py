"""Mixed precision: policies, per-layer casts of parameters, inputs and outputs, selection."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import axon.model
from axon.model import mixed_precision as mp

BF16, F32, F16 = jnp.dtype(jnp.bfloat16), jnp.dtype(jnp.float32), jnp.dtype(jnp.float16)
X = jax.random.normal(jax.random.key(0), (8, 6))


def mlp():
    return axon.model.input("x", shape=(None, 6)).dense(16).relu().dense(4)


def layer_dtypes(model, inputs):
    """{layer name: output dtype} from shape inference, and {layer: {param: dtype}}."""
    structs, params = model.program.infer(inputs)
    names = model.program.names
    outputs = {names[n.id]: structs[n.id].dtype for n in model.program.order}
    return outputs, {layer: {p: s.dtype for p, s in v.items()} for layer, v in params.items()}


def test_create_policy_normalizes_dtypes_and_has_a_readable_repr():
    policy = mp.create_policy(params=jnp.float32, compute="bfloat16", output=np.float16)
    assert (policy.params, policy.compute, policy.output) == (F32, BF16, F16)
    assert repr(policy) == "Policy(params=f32, compute=bf16, output=f16)"
    assert repr(mp.create_policy()) == "Policy(params=None, compute=None, output=None)"
    assert mp.create_policy(compute=jnp.bfloat16) == mp.create_policy(compute="bfloat16")
    with pytest.raises(ValueError, match=r"floating dtype.*int32"):
        mp.create_policy(compute=jnp.int32)
    with pytest.raises(TypeError, match="compute= must be a floating dtype"):
        mp.create_policy(compute="bfloat17")


def test_short_names_mean_bit_widths_and_float128_is_refused():
    # NumPy alone reads "f16" as a 16-byte float128 and knows neither "bf16" nor "f32"
    policy = mp.create_policy(params="f32", compute="bf16", output="f16")
    assert (policy.params, policy.compute, policy.output) == (F32, BF16, F16)
    assert mp.create_policy(params="F64").params == np.float64
    model = mp.apply_policy(axon.model.input("x", shape=(None, 3)).dense(2), policy)
    assert model.init(0, jnp.ones((1, 3))).params["dense_0"]["kernel"].dtype == F32
    if np.dtype(np.longdouble).itemsize > 8:  # on Linux; on Windows longdouble is float64
        with pytest.raises(ValueError, match=r"params=.*float128, a type JAX does not support"):
            mp.create_policy(params=np.longdouble)
    with pytest.raises(ValueError, match=r"'f8' is ambiguous.*float64"):
        mp.create_policy(compute="f8")


def test_cast_never_touches_integers_or_booleans():
    policy = mp.create_policy(params=jnp.float16, compute=jnp.bfloat16)
    tree = {"x": jnp.ones(2), "ids": jnp.arange(2), "mask": jnp.ones(2, bool)}
    out = mp.cast(policy, tree, "compute")
    assert (out["x"].dtype, out["ids"].dtype, out["mask"].dtype) == (BF16, jnp.int32, bool)
    assert mp.cast(policy, tree, "params")["x"].dtype == F16
    assert mp.cast(policy, tree, "output")["x"] is tree["x"]  # None: no cast
    struct = mp.cast(policy, jax.ShapeDtypeStruct((2,), jnp.float32), "compute")
    assert struct == jax.ShapeDtypeStruct((2,), BF16)
    with pytest.raises(ValueError, match="did you mean 'compute'"):
        mp.cast(policy, tree, "comptue")


def test_params_are_stored_and_outputs_produced_in_the_policy_dtypes_per_layer():
    policy = mp.create_policy(params=jnp.bfloat16, compute=jnp.bfloat16, output=jnp.float16)
    model = mp.apply_policy(mlp(), policy, except_=["relu"])
    outputs, params = layer_dtypes(model, X)
    assert outputs == {"x": F32, "dense_0": F16, "relu_0": F16, "dense_1": F16}
    both = {"kernel": BF16, "bias": BF16}
    assert params == {"dense_0": both, "dense_1": both}
    state = model.init(0, X)
    assert {v.dtype for v in jax.tree_util.tree_leaves(state.params)} == {BF16}
    y, _ = model.apply(state, X)
    assert y.dtype == F16
    assert axon.model.get_output_shape(model, X).dtype == F16
    # filter= and only= narrow the selection
    only_last = mp.apply_policy(mlp(), policy, filter=lambda node: node.name == "head")
    assert layer_dtypes(only_last, X)[0]["dense_1"] == F32  # no node is named "head"
    dense_only = mp.apply_policy(mlp(), policy, only=["dense"])
    outputs, params = layer_dtypes(dense_only, X)
    assert outputs["relu_0"] == F16  # relu has no policy: it keeps its input's dtype
    assert params["dense_0"]["kernel"] == BF16


def test_bf16_compute_predicts_close_to_float32_and_keeps_float32_params_and_gradients():
    policy = mp.create_policy(params=jnp.float32, compute=jnp.bfloat16, output=jnp.float32)
    model = mlp()
    half = mp.apply_policy(model, policy)
    state = model.init(0, X)
    half_state = half.init(0, X)
    jax.tree_util.tree_map(np.testing.assert_array_equal, state.params, half_state.params)
    seen = []
    traced = axon.model.layer(lambda v: seen.append(v.dtype) or v, [half], op_name="probe")
    traced_state = traced.init(0, X)
    seen.clear()
    traced.apply(traced_state, X)
    assert seen == [F32]  # output cast back to float32
    y32, y16 = model.apply(state, X)[0], half.apply(half_state, X)[0]
    assert y16.dtype == F32
    np.testing.assert_allclose(y16, y32, rtol=5e-2, atol=5e-2)
    assert not np.array_equal(y16, y32)  # really computed in bfloat16
    grads = jax.grad(lambda s: half.apply(s, X)[0].sum())(half_state)
    assert {g.dtype for g in jax.tree_util.tree_leaves(grads.params)} == {F32}
    np.testing.assert_allclose(
        grads.params["dense_1"]["bias"],
        jax.grad(lambda s: model.apply(s, X)[0].sum())(state).params["dense_1"]["bias"],
    )


def test_the_op_receives_compute_dtype_inputs_and_params_but_integer_ids_untouched():
    received = []

    def lookup(ids, table, scale):
        received.append((ids.dtype, table.dtype, scale.dtype))
        return table[ids] * scale

    ids = axon.model.input("ids", shape=(None, 3))
    table = axon.model.param("table", (10, 4), initializer="normal")
    scale = axon.model.param("scale", (), initializer="ones")
    model = axon.model.layer(lookup, [ids, table, scale], op_name="embedding")
    policy = mp.create_policy(params=jnp.float32, compute=jnp.bfloat16)
    model = mp.apply_policy(model, policy)
    tokens = jnp.array([[1, 2, 3], [4, 5, 9]], jnp.int32)
    state = model.init(0, tokens)
    received.clear()
    y, _ = model.apply(state, tokens)
    assert received == [(jnp.int32, BF16, BF16)]
    assert y.dtype == BF16  # output=None: no cast after the op
    np.testing.assert_allclose(
        y.astype(jnp.float32), state.params["embedding_0"]["table"][tokens], rtol=1e-2
    )


def test_apply_policy_keeps_names_sharing_and_the_original_model():
    calls = []

    def counted(v):
        calls.append(1)
        return v * 2

    x = axon.model.input("x", shape=(None, 6))
    trunk = x.activation(counted)
    model = axon.model.layer(jnp.add, [trunk.dense(3, name="a"), trunk.dense(3, name="b")])
    policy = mp.create_policy(compute=jnp.bfloat16)
    half = mp.apply_policy(model, policy)
    assert sorted(half.program.names.values()) == sorted(model.program.names.values())
    assert len(half.program.order) == len(model.program.order)
    state = model.init(0, X)
    calls.clear()
    half.apply(state, X)  # a state of the original model fits
    assert len(calls) == 1  # the shared trunk is still one node
    assert all(node.policy is None for node in model.program.order)
    assert all((node.policy is policy) == (node.op is not None) for node in half.program.order)


def test_given_parameters_are_cast_to_the_params_dtype_at_init():
    policy = mp.create_policy(params=jnp.bfloat16)
    pretrained = mlp().init(1, X)
    state = mp.apply_policy(mlp(), policy).init(0, X, pretrained)
    kernel = state.params["dense_0"]["kernel"]
    assert kernel.dtype == BF16
    np.testing.assert_array_equal(kernel, pretrained.params["dense_0"]["kernel"].astype(BF16))


def test_layer_state_keeps_its_dtype_through_train_steps():
    def center(x, mean, *, mode):
        if mode == "inference":
            return x - mean
        return x - x.mean(0), {"mean": 0.9 * mean + 0.1 * x.mean(0)}

    x = axon.model.input("x", shape=(None, 6))
    mean = axon.model.param("mean", lambda s: (s[-1],), initializer="zeros", kind="state")
    model = axon.model.layer(center, [x, mean], op_name="center")
    model = mp.apply_policy(model, mp.create_policy(params=jnp.bfloat16, compute=jnp.bfloat16))
    state = model.init(0, X)
    assert state.state["center_0"]["mean"].dtype == F32  # state is not cast at init
    y, layer_state = model.apply(state, X, mode="train")
    assert y.dtype == BF16 and layer_state["center_0"]["mean"].dtype == F32
    assert np.any(layer_state["center_0"]["mean"] != 0)


def test_apply_policy_errors_teach():
    policy = mp.create_policy(compute=jnp.bfloat16)
    with pytest.raises(ValueError, match=r"no layer of this model has op 'dens'.*'dense'"):
        mp.apply_policy(mlp(), policy, only=["dens"])
    with pytest.raises(ValueError, match=r"except_=.*'relu6'"):
        mp.apply_policy(mlp(), policy, except_=["relu6"])
    with pytest.raises(TypeError, match="Policy from create_policy"):
        mp.apply_policy(mlp(), jnp.bfloat16)
    with pytest.raises(TypeError, match="expects a Model"):
        mp.apply_policy(X, policy)
