"""get/set/scale hyperparameters anywhere in an optimizer state, scheduled or not."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import axon.optim
from axon.optim import masks, schedules, updates
from axon.optim.hyperparams import get_hyperparams, scale_learning_rate, set_hyperparams

NAMES = sorted(axon.optim.optimizers.BUILTINS)
LINEAR_IN_LR = [n for n in NAMES if n != "fromage"]  # fromage's lr also shrinks the weights
PARAMS = {"layer": {"kernel": jnp.array([[1.0, -2.0], [0.5, 0.3]]), "bias": jnp.array([0.1, -0.2])}}


def grads_of(params):
    return jax.grad(
        lambda p: jnp.sum(p["layer"]["kernel"] ** 2) + jnp.sum(p["layer"]["bias"] ** 3)
    )(params)


def leaves(tree):
    return [np.asarray(leaf) for leaf in jax.tree.leaves(tree)]


def one_step(optimizer, state):
    return optimizer.update(grads_of(PARAMS), state, PARAMS)


@pytest.mark.parametrize("name", LINEAR_IN_LR)
def test_set_learning_rate_changes_the_next_update_exactly(name):
    optimizer = axon.optim.get(name, learning_rate=0.01)
    _, state = one_step(optimizer, optimizer.init(PARAMS))
    unchanged, _ = one_step(optimizer, state)
    changed, _ = one_step(optimizer, set_hyperparams(state, learning_rate=0.04))
    for got, want in zip(leaves(changed), leaves(unchanged), strict=True):
        np.testing.assert_allclose(got, 4 * want, rtol=1e-6)
    assert float(state.hyperparams["learning_rate"]) == pytest.approx(0.01)  # not mutated


@pytest.mark.parametrize("name", NAMES)
def test_set_learning_rate_equals_building_with_it(name):
    """The state-set value is used as if the optimizer had been built with it."""
    built = axon.optim.get(name, learning_rate=0.03)
    state = set_hyperparams(
        axon.optim.get(name, learning_rate=0.01).init(PARAMS), learning_rate=0.03
    )
    got, _ = one_step(built, state)
    want, _ = one_step(built, built.init(PARAMS))
    for a, b in zip(leaves(got), leaves(want), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", LINEAR_IN_LR)
def test_scale_learning_rate_works_with_a_schedule(name):
    schedule = schedules.cosine_decay(0.05, decay_steps=10)
    optimizer = axon.optim.get(name, learning_rate=schedule)
    _, state = one_step(optimizer, optimizer.init(PARAMS))
    unchanged, _ = one_step(optimizer, state)
    changed, after = one_step(optimizer, scale_learning_rate(state, 0.25))
    for got, want in zip(leaves(changed), leaves(unchanged), strict=True):
        np.testing.assert_allclose(got, 0.25 * want, rtol=1e-6, atol=1e-12)
    # The schedule goes on, times the scale.
    np.testing.assert_allclose(axon.optim.get_learning_rate(after), 0.25 * schedule(1), rtol=1e-6)


def test_setting_a_scheduled_learning_rate_is_an_error_that_points_to_the_scale():
    optimizer = axon.optim.adam(learning_rate=schedules.constant(0.1))
    with pytest.raises(ValueError, match=r"given by a schedule.*scale_learning_rate"):
        set_hyperparams(optimizer.init(PARAMS), learning_rate=0.01)
    state = set_hyperparams(optimizer.init(PARAMS), learning_rate_scale=0.5)
    assert float(get_hyperparams(state)["learning_rate_scale"]) == 0.5


def test_other_hyperparameters_can_be_set():
    optimizer = axon.optim.adam(learning_rate=0.1, b1=0.9)
    state = set_hyperparams(optimizer.init(PARAMS), b1=0.0, b2=0.0, eps=0.0, eps_root=0.0)
    # With b1 = b2 = 0 Adam's step is lr * g / |g| = lr * sign(g).
    step, _ = one_step(optimizer, state)
    for got, grad in zip(leaves(step), leaves(grads_of(PARAMS)), strict=True):
        np.testing.assert_allclose(got, -0.1 * np.sign(grad), rtol=1e-6)


CONTAINERS = {
    "chain": lambda opt: updates.compose(updates.clip_by_global_norm(1.0), opt),
    "optax.masked": lambda opt: optax.masked(opt, masks.match("*kernel")),
    "freeze": lambda opt: masks.freeze(opt, "*bias"),
    "accumulate_gradients": lambda opt: updates.accumulate_gradients(opt, steps=1),
    "nested chain in masked": lambda opt: masks.masked(
        optax.chain(optax.identity(), opt), "layer/*"
    ),
}


@pytest.mark.parametrize("container", sorted(CONTAINERS))
def test_helpers_find_the_hyperparameters_inside_wrappers(container):
    optimizer = CONTAINERS[container](axon.optim.sgd(learning_rate=0.1))
    reference = CONTAINERS[container](axon.optim.sgd(learning_rate=0.025))
    state = optimizer.init(PARAMS)
    assert float(get_hyperparams(state)["learning_rate"]) == pytest.approx(0.1)
    for changed in (set_hyperparams(state, learning_rate=0.025), scale_learning_rate(state, 0.25)):
        assert float(axon.optim.get_learning_rate(changed)) == pytest.approx(0.025)
        got, _ = one_step(optimizer, changed)
        want, _ = one_step(reference, reference.init(PARAMS))
        for a, b in zip(leaves(got), leaves(want), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-6)
        assert jax.tree.structure(changed) == jax.tree.structure(state)


def test_partition_groups_are_all_changed_and_conflicting_reads_are_an_error():
    optimizer = masks.partition(
        {"slow": axon.optim.sgd(learning_rate=0.01), "fast": axon.optim.sgd(learning_rate=0.1)},
        {"*bias": "fast"},
        default="slow",
    )
    state = optimizer.init(PARAMS)
    with pytest.raises(ValueError, match=r"several optimizers whose 'learning_rate' differ"):
        get_hyperparams(state)
    assert float(get_hyperparams(state.inner_states["fast"])["learning_rate"]) == pytest.approx(0.1)
    halved = scale_learning_rate(state, 0.5)
    step, _ = optimizer.update(grads_of(PARAMS), halved, PARAMS)
    grads = grads_of(PARAMS)
    np.testing.assert_allclose(step["layer"]["bias"], -0.05 * grads["layer"]["bias"], rtol=1e-6)
    np.testing.assert_allclose(
        step["layer"]["kernel"], -0.005 * grads["layer"]["kernel"], rtol=1e-6
    )
    # Equal values in several groups read fine.
    same = set_hyperparams(state, learning_rate=0.2)
    assert float(get_hyperparams(same)["learning_rate"]) == pytest.approx(0.2)


def test_helpers_work_under_jit_with_traced_values():
    optimizer = axon.optim.adam(learning_rate=0.1)
    state = optimizer.init(PARAMS)

    @jax.jit
    def reduce(state, factor, lr):
        return set_hyperparams(scale_learning_rate(state, factor), learning_rate=lr)

    reduced = reduce(state, jnp.float32(0.5), jnp.float32(0.2))
    assert float(axon.optim.get_learning_rate(reduced)) == pytest.approx(0.1)


def test_a_plain_optax_injected_optimizer_is_supported():
    optimizer = optax.inject_hyperparams(optax.sgd)(learning_rate=0.1)
    state = scale_learning_rate(optimizer.init(PARAMS), 0.5)
    assert float(get_hyperparams(state)["learning_rate"]) == pytest.approx(0.05)
    scheduled = optax.inject_hyperparams(optax.sgd)(learning_rate=lambda count: 0.1)
    with pytest.raises(ValueError, match=r"axon\.optim\.inject_hyperparams"):
        scale_learning_rate(scheduled.init(PARAMS), 0.5)


def test_inject_hyperparams_adds_the_scale_to_your_own_optimizer():
    def signed_sgd(learning_rate=0.1, momentum=0.0):
        return optax.chain(
            optax.scale_by_sign(), optax.trace(momentum), optax.scale(-learning_rate)
        )

    optimizer = axon.optim.inject_hyperparams(signed_sgd)(learning_rate=schedules.constant(0.5))
    state = optimizer.init(PARAMS)
    assert sorted(get_hyperparams(state)) == ["learning_rate", "learning_rate_scale", "momentum"]
    step, _ = one_step(optimizer, scale_learning_rate(state, 0.5))
    for got, grad in zip(leaves(step), leaves(grads_of(PARAMS)), strict=True):
        np.testing.assert_allclose(got, -0.25 * np.sign(grad))
    # Without a learning_rate there is nothing to scale: plain optax injection.
    plain = axon.optim.inject_hyperparams(optax.clip)(max_delta=1.0)
    assert sorted(plain.init(PARAMS).hyperparams) == ["max_delta"]


@pytest.mark.parametrize(
    ("call", "error", "mentions"),
    [
        (lambda s: set_hyperparams(s, learning_rat=0.1), KeyError, "it has: b1, b2, eps"),
        (lambda s: set_hyperparams(s, learning_rate=-0.1), ValueError, "must be >= 0"),
        (lambda s: set_hyperparams(s, learning_rate=math.nan), ValueError, "finite"),
        (lambda s: set_hyperparams(s, b1=math.inf), ValueError, "finite"),
        (lambda s: set_hyperparams(s, learning_rate=jnp.ones(2)), ValueError, "scalar"),
        (lambda s: set_hyperparams(s, learning_rate="0.1"), TypeError, "number"),
        (lambda s: set_hyperparams(s, learning_rate=lambda c: 0.1), TypeError, "new optimizer"),
        (lambda s: scale_learning_rate(s, -1.0), ValueError, "factor must be >= 0"),
        (lambda s: scale_learning_rate(s, math.inf), ValueError, "finite"),
        (lambda s: get_hyperparams(s.inner_state), ValueError, "no injected hyperparameters"),
        (lambda s: set_hyperparams(s.inner_state, b1=0.5), ValueError, "axon.optim.inject"),
    ],
)
def test_bad_calls_raise_clear_errors(call, error, mentions):
    state = axon.optim.adam().init(PARAMS)
    with pytest.raises(error, match=mentions):
        call(state)


def test_get_learning_rate_needs_a_learning_rate():
    state = optax.inject_hyperparams(optax.clip)(max_delta=1.0).init(PARAMS)
    with pytest.raises(ValueError, match="no learning_rate hyperparameter; it has: max_delta"):
        axon.optim.get_learning_rate(state)


@pytest.mark.parametrize("name", NAMES)
def test_a_schedule_returning_an_array_is_rejected_when_building(name):
    with pytest.raises(
        ValueError, match=rf"{name}: learning_rate: a schedule must return a scalar"
    ):
        axon.optim.get(name, learning_rate=lambda count: jnp.full(3, 0.1))


def test_a_schedule_that_fails_on_a_count_is_rejected_when_building():
    with pytest.raises(TypeError, match=r"adam: learning_rate is a callable.*calling it"):
        axon.optim.adam(learning_rate=lambda: 0.1)
    with pytest.raises(ValueError, match="adam: b1: a schedule must return a scalar"):
        axon.optim.adam(b1=lambda count: jnp.zeros(2))
