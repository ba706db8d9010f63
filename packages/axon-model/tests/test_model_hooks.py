"""Hooks: every event and mode, attach order, firing inside jit/grad/scan, unchanged numerics."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import axon.model
from axon.model import ModelError, attach_hook

X = jnp.arange(8.0).reshape(2, 4) / 8


def base():
    return axon.model.input("x", shape=(None, 4)).dense(3, name="hidden")


def recorder():
    log = []

    def record(tag):
        return lambda value: log.append((tag, value))

    return log, record


def run(model, state, x=X, mode="inference"):
    out = model.apply(state, x, mode=mode, key=jax.random.key(0))
    jax.effects_barrier()
    return out


def test_forward_hook_sees_the_output_on_every_jitted_call_as_host_arrays():
    log, record = recorder()
    model = base().attach_hook(record("fwd"))
    state = model.init(0, X)
    for _ in range(3):
        y, _ = run(model, state)
    assert [tag for tag, _ in log] == ["fwd"] * 3
    assert all(isinstance(value, np.ndarray) for _, value in log)
    np.testing.assert_allclose(log[-1][1], y)


def test_pre_forward_hook_sees_the_layer_inputs():
    log, record = recorder()
    x = axon.model.input("x", shape=(None, 4))
    hidden = x.dense(3, name="hidden")
    model = axon.model.layer(jnp.add, [hidden, x.dense(3, name="other")], name="sum")
    model = model.attach_hook(record("pre"), on="pre_forward")
    state = model.init(0, X)
    y, _ = run(model, state)
    ((_, inputs),) = log
    assert isinstance(inputs, tuple) and len(inputs) == 2
    p, q = state.params["hidden"], state.params["other"]
    np.testing.assert_allclose(inputs[0], X @ p["kernel"] + p["bias"], rtol=1e-6)
    np.testing.assert_allclose(inputs[0] + inputs[1], y, rtol=1e-6)
    np.testing.assert_allclose(inputs[1], X @ q["kernel"] + q["bias"], rtol=1e-6)


def test_initialize_hook_sees_the_layer_params_after_merging_a_given_state():
    log, record = recorder()
    model = base().attach_hook(record("init"), on="initialize")
    state = model.init(0, X)
    ((_, params),) = log
    assert sorted(params) == ["bias", "kernel"]
    np.testing.assert_array_equal(params["kernel"], state.params["hidden"]["kernel"])
    log.clear()
    given = axon.model.ModelState({"hidden": {"bias": jnp.full(3, 5.0)}})
    model.init(0, X, given)
    np.testing.assert_array_equal(log[0][1]["bias"], [5.0, 5.0, 5.0])
    log.clear()
    run(model, state)
    assert log == []  # not a forward event
    jax.jit(model.init)(jax.random.key(0), X)  # inside jit it still fires, with host values
    jax.effects_barrier()
    assert len(log) == 1 and isinstance(log[0][1]["kernel"], np.ndarray)


def test_backward_hook_sees_the_gradient_flowing_into_the_output():
    log, record = recorder()
    model = base().attach_hook(record("bwd"), on="backward").dense(2, name="head")
    state = model.init(0, X)
    weights = jnp.array([[1.0, -2.0], [3.0, 0.5]])

    def loss(s):
        return jnp.sum(model.apply(s, X)[0] * weights)

    grads = jax.jit(jax.grad(loss))(state)
    jax.effects_barrier()
    ((_, cotangent),) = log
    np.testing.assert_allclose(cotangent, weights @ state.params["head"]["kernel"].T, rtol=1e-6)
    log.clear()
    run(model, state)
    assert log == []  # no gradient, no backward event
    assert grads.params["hidden"]["kernel"].shape == (4, 3)


def test_all_fires_every_event_and_several_hooks_run_in_attach_order():
    log, record = recorder()
    model = base().attach_hook(record("first"), on="all").attach_hook(record("second"), on="all")
    state = model.init(0, X)
    jax.grad(lambda s: model.apply(s, X, mode="train")[0].sum())(state)
    jax.effects_barrier()
    tags = [tag for tag, _ in log]
    assert tags == ["first", "second"] * 4  # initialize, pre_forward, forward, backward
    kinds = [type(value).__name__ for _, value in log[::2]]
    assert kinds == ["dict", "tuple", "ndarray", "ndarray"]
    np.testing.assert_array_equal(log[7][1], np.ones((2, 3)))  # d(sum)/d(output)


@pytest.mark.parametrize(
    ("mode", "fires_in"),
    [("both", ["inference", "train"]), ("train", ["train"]), ("inference", ["inference"])],
)
def test_hook_modes(mode, fires_in):
    log, record = recorder()
    model = (
        base()
        .attach_hook(record("fwd"), mode=mode)
        .attach_hook(record("init"), on="initialize", mode=mode)
    )
    state = model.init(0, X)
    assert [t for t, _ in log] == ["init"]  # initialize hooks fire whatever the mode
    fired = []
    for apply_mode in ("inference", "train"):
        log.clear()
        run(model, state, mode=apply_mode)
        if log:
            fired.append(apply_mode)
    assert fired == fires_in


def test_hooks_fire_on_every_iteration_of_a_scanned_step():
    log, record = recorder()
    model = base().attach_hook(record("fwd"))
    state = model.init(0, X)

    def body(carry, x):
        return carry + model.apply(state, x)[0].sum(), None

    jax.lax.scan(body, 0.0, jnp.stack([X, X + 1, X + 2]))
    jax.effects_barrier()
    assert len(log) == 3


def test_hooks_do_not_change_values_or_gradients():
    plain = base().dense(2)
    hooked = attach_hook(
        base().attach_hook(lambda v: None, on="all").dense(2), lambda v: None, on="all"
    )
    state = plain.init(0, X)
    hooked_kernel = hooked.init(0, X).params["hidden"]["kernel"]
    np.testing.assert_array_equal(hooked_kernel, state.params["hidden"]["kernel"])
    np.testing.assert_array_equal(hooked.apply(state, X)[0], plain.apply(state, X)[0])

    def loss(model):
        return jax.grad(lambda s: jnp.sum(model.apply(s, X, mode="train")[0] ** 2))(state)

    jax.tree_util.tree_map(np.testing.assert_array_equal, loss(hooked), loss(plain))
    assert sorted(plain.program.names.values()) == sorted(hooked.program.names.values())


def test_the_hook_attaches_to_the_output_layer_only_and_keeps_the_model_unchanged():
    log, record = recorder()
    inner = base()
    model = inner.attach_hook(record("fwd")).dense(2)
    run(model, model.init(0, X))
    assert [np.shape(v) for _, v in log] == [(2, 3)]  # the hidden layer's output
    assert inner.node.hooks == () and model.node.hooks == ()


def test_hook_errors_teach():
    with pytest.raises(ValueError, match=r"on='forwrad'.*Did you mean 'forward'") as error:
        base().attach_hook(print, on="forwrad")
    assert "test_model_hooks.py" in str(error.value)  # where the layer was defined
    with pytest.raises(ValueError, match="mode must be one of"):
        base().attach_hook(print, mode="eval")
    with pytest.raises(TypeError, match="must be a function"):
        base().attach_hook("print")

    def broken(value):
        raise RuntimeError("boom")

    model = base().attach_hook(broken, on="initialize")
    with pytest.raises(ModelError, match=r"'initialize' hook .*broken of layer 'hidden'.*boom"):
        model.init(0, X)
    model = base().attach_hook(broken)
    state = base().init(0, X)
    with pytest.raises(Exception, match=r"'forward' hook .*broken of layer 'hidden'.*boom"):
        run(model, state)
