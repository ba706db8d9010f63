"""ModelState: freezing by pattern or predicate, trainable subsets, update, merge, pytree."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import axon.model
from axon.model import ModelState

X = jnp.arange(8.0).reshape(2, 4) / 8


def running_mean(x, mean, *, mode):
    if mode == "inference":
        return x - mean
    batch_mean = x.mean(axis=0)
    return x - batch_mean, {"mean": 0.5 * mean + 0.5 * batch_mean}


def model_with_state():
    """input -> dense_0 -> center (state "mean") -> dense_1."""
    x = axon.model.input("x", shape=(None, 4)).dense(3)
    mean = axon.model.param("mean", lambda s: (s[-1],), initializer="zeros", kind="state")
    return axon.model.layer(running_mean, [x, mean], name="center").dense(2)


def small_state():
    return ModelState(
        {
            "enc": {"kernel": jnp.ones((2, 3)), "bias": jnp.zeros(3)},
            "head": {"kernel": jnp.ones((3, 1)), "bias": jnp.zeros(1)},
        },
        {"bn": {"mean": jnp.zeros(3), "var": jnp.ones(3)}},
    )


def test_freeze_everything_by_default_and_unfreeze_everything():
    ms = small_state().freeze()
    assert ms.frozen == {
        "enc/kernel", "enc/bias", "head/kernel", "head/bias", "bn/mean", "bn/var"
    }  # fmt: skip
    assert ms.trainable_parameters == {} and ms.trainable_state == {}
    assert ms.unfreeze().frozen == frozenset()
    assert small_state().frozen == frozenset()  # freeze returns a copy


def test_freeze_by_glob_patterns_and_lists():
    ms = small_state()
    assert ms.freeze("enc/*").frozen == {"enc/kernel", "enc/bias"}
    assert ms.freeze("*/bias").frozen == {"enc/bias", "head/bias"}
    assert ms.freeze(["enc/kernel", "bn/*"]).frozen == {"enc/kernel", "bn/mean", "bn/var"}
    # freezing accumulates; unfreezing removes only what it selects
    both = ms.freeze("enc/*").freeze("head/kernel")
    assert both.frozen == {"enc/kernel", "enc/bias", "head/kernel"}
    assert both.unfreeze("*/kernel").frozen == {"enc/bias"}


def test_freeze_by_predicate_sees_path_and_array():
    seen = []

    def big(path, array):
        seen.append(path)
        return array.size >= 3

    ms = small_state().freeze(big)
    assert ms.frozen == {"enc/kernel", "enc/bias", "head/kernel", "bn/mean", "bn/var"}
    assert sorted(seen) == sorted(
        ["enc/kernel", "enc/bias", "head/kernel", "head/bias", "bn/mean", "bn/var"]
    )


def test_freeze_errors_teach():
    ms = small_state()
    with pytest.raises(ValueError, match=r"'encoder/\*'\) matches no entry.*did you mean"):
        ms.freeze("encoder/*")
    with pytest.raises(TypeError, match="patterns must be strings"):
        ms.freeze([3])
    with pytest.raises(TypeError, match=r"predicate failed on 'enc/kernel'"):
        ms.freeze(lambda path: True)  # wrong arity
    with pytest.raises(TypeError, match="single string"):
        ModelState({}, {}, "enc/kernel")


def test_trainable_and_frozen_subsets_partition_params_and_state():
    ms = small_state().freeze(["enc/*", "head/bias", "bn/var"])
    assert ms.trainable_parameters == {"head": {"kernel": ms.params["head"]["kernel"]}}
    assert set(ms.frozen_parameters) == {"enc", "head"}
    assert set(ms.frozen_parameters["head"]) == {"bias"}
    assert set(ms.trainable_state["bn"]) == {"mean"}
    assert set(ms.frozen_state["bn"]) == {"var"}
    assert ms.is_frozen("enc", "bias") and not ms.is_frozen("head", "kernel")


def test_update_skips_frozen_entries_and_checks_paths_and_shapes():
    ms = small_state().freeze(["enc/kernel", "bn/var"])
    new = ms.update(
        params={"enc": {"kernel": jnp.zeros((2, 3)), "bias": jnp.ones(3)}},
        state={"bn": {"mean": jnp.ones(3), "var": jnp.zeros(3)}},
    )
    np.testing.assert_array_equal(new.params["enc"]["kernel"], np.ones((2, 3)))  # frozen
    np.testing.assert_array_equal(new.params["enc"]["bias"], np.ones(3))
    np.testing.assert_array_equal(new.params["head"]["kernel"], np.ones((3, 1)))  # not given
    np.testing.assert_array_equal(new.state["bn"]["mean"], np.ones(3))
    np.testing.assert_array_equal(new.state["bn"]["var"], np.ones(3))  # frozen state kept
    assert new.frozen == ms.frozen
    np.testing.assert_array_equal(ms.params["enc"]["bias"], np.zeros(3))  # original unchanged
    with pytest.raises(KeyError, match=r"no params for layer 'enc0'.*did you mean 'enc'"):
        ms.update(params={"enc0": {"bias": jnp.zeros(3)}})
    with pytest.raises(KeyError, match=r"layer 'enc' has no params 'b'"):
        ms.update(params={"enc": {"b": jnp.zeros(3)}})
    with pytest.raises(ValueError, match=r"enc/bias has shape \(3,\), received \(4,\)"):
        ms.update(params={"enc": {"bias": jnp.zeros(4)}})


def test_merge_overrides_or_combines_and_unites_frozen_sets():
    a = ModelState({"d": {"k": jnp.ones(2)}}).freeze()
    b = ModelState({"d": {"k": jnp.full(2, 3.0)}, "e": {"k": jnp.zeros(1)}}).freeze("e/*")
    np.testing.assert_array_equal(a.merge(b).params["d"]["k"], [3.0, 3.0])
    paths = []

    def mean(path, mine, theirs):
        paths.append(path)
        return (mine + theirs) / 2

    merged = a.merge(b, mean)
    np.testing.assert_array_equal(merged.params["d"]["k"], [2.0, 2.0])
    assert paths == ["d/k"] and merged.frozen == {"d/k", "e/k"}
    with pytest.raises(TypeError, match=r"ModelState\.new"):
        a.merge({"d": {"k": jnp.ones(2)}})


def test_new_empty_and_repr():
    ms = ModelState.new({"d": {"k": jnp.ones((2, 2))}}, {"s": {"m": jnp.ones(3)}}, ["d/k"])
    assert ms.frozen == {"d/k"} and ms.state["s"]["m"].shape == (3,)
    copy = ModelState.new(ms)
    assert copy.frozen == ms.frozen and copy.params is not ms.params
    assert ModelState.empty().params == {} and ModelState.empty().state == {}
    with pytest.raises(TypeError, match="nested dict"):
        ModelState.new({"d": jnp.ones(2)})
    ms = small_state().freeze("enc/*")
    assert repr(ms) == (
        "ModelState(parameters=13 (52 B), trainable=4 (16 B), frozen=9 (36 B), state=6 (24 B))"
    )
    big = ModelState({"d": {"k": jnp.ones((256, 8), jnp.bfloat16)}})
    assert "parameters=2048 (4.00 KB)" in repr(big)


def test_frozen_set_is_static_pytree_metadata():
    ms = small_state()
    frozen = ms.freeze("enc/*")
    assert jax.tree_util.tree_leaves(ms) and len(jax.tree_util.tree_leaves(frozen)) == 6
    assert jax.tree_util.tree_structure(ms) != jax.tree_util.tree_structure(frozen)
    doubled = jax.tree_util.tree_map(lambda v: v * 2, frozen)
    assert isinstance(doubled, ModelState) and doubled.frozen == frozen.frozen
    through_jit = jax.jit(lambda s: s)(frozen)
    assert through_jit.frozen == frozen.frozen
    paths = [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(frozen)[0]]
    assert ".params['enc']['kernel']" in paths


def test_frozen_parameters_get_no_gradient_inside_the_model():
    model = axon.model.input("x", shape=(None, 4)).dense(3).dense(2)
    ms = model.init(0, X).freeze("dense_0/*")
    grads = jax.grad(lambda s: model.apply(s, X)[0].sum())(ms)
    assert not np.any(grads.params["dense_0"]["kernel"])
    assert not np.any(grads.params["dense_0"]["bias"])
    assert np.any(grads.params["dense_1"]["kernel"])
    # freezing changes no prediction
    np.testing.assert_array_equal(model.apply(ms, X)[0], model.apply(ms.unfreeze(), X)[0])


def test_init_keeps_the_frozen_set_of_a_given_model_state():
    model = axon.model.input("x", shape=(None, 4)).dense(3).dense(2)
    pretrained = ModelState({"dense_0": {"bias": jnp.full(3, 2.0)}}).freeze()
    ms = model.init(0, X, pretrained)
    assert ms.frozen == {"dense_0/bias"}
    assert set(ms.trainable_parameters) == {"dense_0", "dense_1"}


def test_the_trainer_contract_a_jitted_step_trains_only_the_trainable_subset():
    """What axon-loop does: differentiate trainable_parameters, write back with update."""
    model = model_with_state()
    ms = model.init(0, X).freeze(["dense_0/*", "center/mean"])
    frozen_before = jax.tree_util.tree_map(np.asarray, ms.frozen_parameters)

    @jax.jit
    def step(model_state, x):
        def loss(trainable):
            current = model_state.update(params=trainable)
            y, layer_state = model.apply(current, x, mode="train")
            return jnp.sum(y**2), layer_state

        grads, layer_state = jax.grad(loss, has_aux=True)(model_state.trainable_parameters)
        new = jax.tree_util.tree_map(
            lambda p, g: p - 0.1 * g, model_state.trainable_parameters, grads
        )
        return model_state.update(params=new, state=layer_state), grads

    new_ms, grads = step(ms, X)
    assert set(grads) == {"dense_1"}  # frozen parameters are not even differentiated
    assert new_ms.frozen == ms.frozen
    jax.tree_util.tree_map(np.testing.assert_array_equal, new_ms.frozen_parameters, frozen_before)
    assert not np.array_equal(new_ms.params["dense_1"]["kernel"], ms.params["dense_1"]["kernel"])
    np.testing.assert_array_equal(new_ms.state["center"]["mean"], np.zeros(3))  # frozen state
    # the same step with the state unfrozen updates the running mean
    moving = ms.unfreeze("center/*")
    updated, _ = step(moving, X)
    assert np.any(updated.state["center"]["mean"] != 0)
    # and a frozen-layer model trains for several steps with frozen entries bitwise unchanged
    for _ in range(3):
        new_ms, _ = step(new_ms, X)
    for layer, values in frozen_before.items():
        for name, value in values.items():
            assert np.asarray(new_ms.params[layer][name]).tobytes() == value.tobytes()
