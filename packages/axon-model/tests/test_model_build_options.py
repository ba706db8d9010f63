"""build options (global_layer_options, print_values, debug, raise_on_none) and the traces."""

import logging
import re

import jax
import jax.extend
import jax.numpy as jnp
import numpy as np
import pytest

import axon.functional
import axon.model
from axon.model import ModelError


def scaled(v, *, factor=1.0):
    return v * factor


def shifted(v, shift=0.0):  # positional-or-keyword after the inputs: accepts it too
    return v + shift


def anything(v, **options):  # **kwargs declares nothing: never handed global options
    assert not options, options
    return v


def tiled(v, *, times=1):
    return jnp.tile(v, (1, times))


def test_global_option_reaches_the_layers_whose_op_declares_it_and_replaces_their_own():
    x = axon.model.input("x", shape=(None, 2))
    a = axon.model.layer(scaled, [x], name="a", factor=2.0)  # its own value is replaced
    b = axon.model.layer(shifted, [a], name="b")
    model = axon.model.layer(anything, [b], name="c")
    state = model.init(0, jnp.ones((1, 2)))
    data = jnp.array([[1.5, -4.0]])
    _, plain = axon.model.build(model)
    np.testing.assert_allclose(plain(state, data), data * 2.0)
    _, predict_fn = axon.model.build(model, global_layer_options={"factor": -3.0, "shift": 10.0})
    np.testing.assert_allclose(predict_fn(state, data), data * -3.0 + 10.0)
    np.testing.assert_allclose(jax.jit(predict_fn)(state, data), data * -3.0 + 10.0)
    # the graph itself is unchanged: display and get_options show the layer's own value
    assert axon.model.get_options(a)["factor"] == 2.0


def test_global_option_reaches_built_in_layers():
    x = axon.model.input("x", shape=(None, 4))
    model = x.layer_norm(epsilon=1e-5)
    state = model.init(0, jnp.ones((1, 4)))
    data = jnp.array([[1.0, 2.0, 4.0, 9.0]]) * 0.01
    out = axon.model.predict(model, state, data, global_layer_options={"epsilon": 0.5})
    centered = data - data.mean(-1, keepdims=True)
    expected = centered / jnp.sqrt((centered**2).mean(-1, keepdims=True) + 0.5)
    np.testing.assert_allclose(out, expected, rtol=1e-5)


def test_global_option_changes_shapes_in_init_fn():
    x = axon.model.input("x", shape=(None, 2))
    model = axon.model.layer(tiled, [x], name="tiled").dense(3, name="head")
    init_fn, predict_fn = axon.model.build(model, global_layer_options={"times": 4})
    state = init_fn(0, jnp.ones((1, 2)))
    assert state.params["head"]["kernel"].shape == (8, 3)
    assert predict_fn(state, jnp.ones((5, 2))).shape == (5, 3)
    assert model.init(0, jnp.ones((1, 2))).params["head"]["kernel"].shape == (2, 3)


def test_global_options_that_no_layer_accepts_are_errors():
    model = axon.model.layer(scaled, [axon.model.input("x", shape=(None, 2))])
    with pytest.raises(ValueError, match=r"\['fctor'\] are accepted by no layer.*'factor'"):
        axon.model.build(model, global_layer_options={"fctor": 2.0})
    with pytest.raises(ValueError, match=r"may not set \['mode'\]"):
        axon.model.build(model, global_layer_options={"mode": "train"})
    with pytest.raises(TypeError, match=r"global_layer_options\['factor'\] must be hashable"):
        axon.model.build(model, global_layer_options={"factor": [2.0]})


def test_print_values_prints_every_layer_in_order_under_jit_grad_and_train(capsys):
    x = axon.model.input("x", shape=(None, 2))
    model = x.dense(1, name="hidden", kernel_initializer="ones").relu(name="out")
    state = model.init(0, jnp.ones((1, 2)))
    _, predict_fn = axon.model.build(model, print_values=True)
    jax.jit(predict_fn)(state, jnp.array([[1.0, 2.0]]))
    jax.effects_barrier()
    assert capsys.readouterr().out == "hidden: [[3.]]\nout: [[3.]]\n"

    _, train_fn = axon.model.build(model, "train", print_values=True)
    jax.grad(lambda s: train_fn(s, -jnp.ones((1, 2)))[0].sum())(state)
    jax.effects_barrier()
    assert capsys.readouterr().out == "hidden: [[-2.]]\nout: [[0.]]\n"

    axon.model.build(model)[1](state, jnp.ones((1, 2)))  # off by default
    jax.effects_barrier()
    assert capsys.readouterr().out == ""


def test_raise_on_none_names_the_missing_output_and_can_be_turned_off():
    x = axon.model.input("x", shape=(None, 3), optional=True)
    model = x.dense(2)
    state = model.init(0, {"x": jnp.ones((1, 3))})
    _, predict_fn = axon.model.build(model)
    with pytest.raises(ModelError, match=r"output 'dense_0' is missing.*\['x'\].*or_else"):
        predict_fn(state, {})
    with pytest.raises(ModelError, match="raise_on_none=False"):
        axon.model.build(model, "train")[1](state, {})
    assert axon.model.build(model, raise_on_none=False)[1](state, {}) is None
    assert axon.model.predict(model, state, {}, raise_on_none=False) is None
    assert axon.model.build(model)[1](state, {"x": jnp.ones((4, 3))}).shape == (4, 2)


def test_debug_logs_init_and_trace_times_and_changes_nothing(caplog):
    model = axon.model.input("x", shape=(None, 3)).dense(4, name="hidden").dense(1, name="head")
    init_fn, predict_fn = axon.model.build(model, debug=True)
    with caplog.at_level(logging.DEBUG, logger="axon.model"):
        state = init_fn(0, jnp.ones((1, 3)))
        prediction = predict_fn(state, jnp.ones((2, 3)))
    messages = [r.getMessage() for r in caplog.records if r.name == "axon.model"]
    for expected in (
        r"init: shape inference in \d+\.\d ms",
        r"init: layer 'hidden' \(2 entries\) in \d+\.\d ms",
        r"init: layer 'head' \(2 entries\) in",
        r"^init in \d+\.\d ms",
        r"apply \(inference\): traced the model in \d+\.\d ms",
    ):
        assert any(re.search(expected, m) for m in messages), (expected, messages)
    reference = model.init(0, jnp.ones((1, 3)))
    assert jax.tree.all(jax.tree.map(jnp.array_equal, state.params, reference.params))
    np.testing.assert_array_equal(prediction, model.apply(reference, jnp.ones((2, 3)))[0])


def test_trace_init_shows_the_random_initialization():
    model = axon.model.input("x", shape=(None, 3)).dense(2, kernel_initializer="normal")
    jaxpr = axon.model.trace_init(model, jax.ShapeDtypeStruct((1, 3), jnp.float32), key=3)
    names = primitives(jaxpr)
    assert {"random_bits", "erf_inv"} <= names, names
    assert sorted(str(a) for a in jaxpr.out_avals) == ["float32[2]", "float32[3,2]"]


def test_trace_forward_inference_and_train_modes():
    x = axon.model.input("x", shape=(None, 3))
    model = x.dense(4).dropout(rate=0.5).batch_norm()
    state = model.init(0, jnp.ones((2, 3)))
    template = jax.ShapeDtypeStruct((8, 3), jnp.float32)
    inference = primitives(axon.model.trace_forward(model, template, state))
    assert "dot_general" in inference and "rsqrt" in inference
    assert "random_bits" not in inference  # dropout passes its input through
    train = axon.model.trace_forward(model, template, state, mode="train")
    assert "random_bits" in primitives(train)
    assert any(str(a) == "float32[4]" for a in train.out_avals)  # new batch-norm statistics
    hlo = axon.model.trace_forward(model, template, state, output="hlo")
    assert "HloModule" in hlo and "dot(" in hlo
    with pytest.raises(ValueError, match="output must be one of"):
        axon.model.trace_forward(model, template, state, output="mlir")


def test_trace_forward_with_global_layer_options_and_print_values():
    x = axon.model.input("x", shape=(None, 2))
    model = axon.model.layer(scaled, [x], name="a")
    state = model.init(0, jnp.ones((1, 2)))
    jaxpr = axon.model.trace_forward(
        model, jnp.ones((1, 2)), state, global_layer_options={"factor": 7.0}, print_values=True
    )
    assert "mul a 7.0" in str(jaxpr)
    assert {"debug_print", "debug_callback"} & primitives(jaxpr)  # the name depends on JAX


def test_trace_backward_differentiates_the_trainable_parameters():
    x = axon.model.input("x", shape=(None, 3))
    model = x.dense(4, name="frozen").tanh().dense(2, name="head")
    state = model.init(0, jnp.ones((1, 3))).freeze("frozen/*")
    template = jax.ShapeDtypeStruct((5, 3), jnp.float32)
    jaxpr = axon.model.trace_backward(model, template, state, "mean_squared_error")
    assert sorted(str(a) for a in jaxpr.out_avals) == ["float32[2]", "float32[4,2]"]
    assert {"tanh", "dot_general", "transpose", "stop_gradient"} <= primitives(jaxpr)
    # the traced function computes the real gradient
    data, targets = jnp.arange(15.0).reshape(5, 3) / 7.0, jnp.full((5, 2), 3.0)
    custom = axon.model.trace_backward(
        model, data, state, lambda y, p: jnp.abs(y - p), targets=targets
    )
    arguments = jax.tree.leaves((state, data, targets, jax.random.key(0)))
    grads = jax.extend.core.jaxpr_as_fun(custom)(*arguments)

    def reference(head):
        hidden = jnp.tanh(data @ state.params["frozen"]["kernel"] + state.params["frozen"]["bias"])
        return jnp.mean(jnp.abs(targets - (hidden @ head["kernel"] + head["bias"])))

    expected = jax.grad(reference)(state.params["head"])
    np.testing.assert_allclose(grads[0], expected["bias"], rtol=1e-5)
    np.testing.assert_allclose(grads[1], expected["kernel"], rtol=1e-5)


def test_trace_backward_adds_the_models_penalties_as_the_trainer_does():
    x = axon.model.input("x", shape=(None, 3))
    model = x.dense(2, kernel_regularizer=axon.functional.penalties.L2(0.3), name="head")
    state = model.init(0, jnp.ones((1, 3)))
    data, targets = jnp.arange(12.0).reshape(4, 3) - 5.0, jnp.full((4, 2), 3.0)
    traced = axon.model.trace_backward(model, data, state, "mean_squared_error", targets=targets)
    grads = jax.extend.core.jaxpr_as_fun(traced)(
        *jax.tree.leaves((state, data, targets, jax.random.key(0)))
    )

    def reference(head):
        prediction = data @ head["kernel"] + head["bias"]
        return jnp.mean((targets - prediction) ** 2) + 0.3 * jnp.sum(head["kernel"] ** 2)

    expected = jax.grad(reference)(state.params["head"])
    np.testing.assert_allclose(grads[1], expected["kernel"], rtol=1e-5)


def primitives(closed_jaxpr):
    """Every primitive of a jaxpr, also inside nested jaxprs (pjit, custom_jvp, ...)."""
    found = set()

    def walk(jaxpr):
        for eqn in jaxpr.eqns:
            found.add(eqn.primitive.name)
            for value in eqn.params.values():
                inner = getattr(value, "jaxpr", value)
                if hasattr(inner, "eqns"):
                    walk(inner)

    walk(closed_jaxpr.jaxpr)
    return found


def test_a_global_causal_switch_reaches_every_attention_layer():
    x = axon.model.input("x", shape=(None, 4, 6))
    model = x.additive_attention(units=3, name="additive").multi_head_attention(
        num_heads=2, key_size=3, name="heads"
    )
    data = jax.random.normal(jax.random.key(2), (2, 4, 6)) * 5.0
    state = model.init(0, data)
    causal = x.additive_attention(units=3, causal=True, name="additive").multi_head_attention(
        num_heads=2, key_size=3, causal=True, name="heads"
    )
    switched = axon.model.predict(model, state, data, global_layer_options={"causal": True})
    np.testing.assert_allclose(switched, causal.apply(state, data)[0], rtol=1e-6)
    assert not np.allclose(switched, model.apply(state, data)[0], rtol=1e-3)
