"""Hyperparameters live in the optimizer state, accept schedules, and are validated."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import axon.optim
from axon.optim import schedules

NAMES = sorted(axon.optim.optimizers.BUILTINS)
PARAMS = {"w": jnp.array([1.0, -2.0, 0.5]), "b": (jnp.array(0.3),)}


def grads_of(params):
    return jax.grad(lambda p: jnp.sum(p["w"] ** 2) + jnp.sum(p["b"][0] ** 3))(params)


def leaves(tree):
    return [np.asarray(leaf) for leaf in jax.tree.leaves(tree)]


@pytest.mark.parametrize("name", NAMES)
def test_learning_rate_is_in_the_state(name):
    state = axon.optim.get(name, learning_rate=0.125).init(PARAMS)
    assert float(state.hyperparams["learning_rate"]) == 0.125


@pytest.mark.parametrize("name", [n for n in NAMES if n != "fromage"])
def test_changing_the_learning_rate_in_the_state_scales_the_next_update_exactly(name):
    optimizer = axon.optim.get(name, learning_rate=0.01)
    state = optimizer.init(PARAMS)
    _, state = optimizer.update(grads_of(PARAMS), state, PARAMS)

    unchanged, _ = optimizer.update(grads_of(PARAMS), state, PARAMS)
    state.hyperparams["learning_rate"] = 4 * state.hyperparams["learning_rate"]
    changed, _ = optimizer.update(grads_of(PARAMS), state, PARAMS)

    # The step size is the last factor of every chain, and 4x is exact in floating point.
    for got, want in zip(leaves(changed), leaves(unchanged), strict=True):
        np.testing.assert_array_equal(got, 4 * want)


def test_changing_fromage_learning_rate_equals_fromage_built_with_it():
    # Fromage's learning rate also sets its weight shrinkage, so the update is not linear in it.
    optimizer = axon.optim.fromage(learning_rate=0.01)
    state = optimizer.init(PARAMS)
    _, state = optimizer.update(grads_of(PARAMS), state, PARAMS)
    state.hyperparams["learning_rate"] = jnp.float32(0.04)
    changed, _ = optimizer.update(grads_of(PARAMS), state, PARAMS)
    reference = optax.fromage(jnp.float32(0.04))
    expected, _ = reference.update(grads_of(PARAMS), state.inner_state, PARAMS)
    for got, want in zip(leaves(changed), leaves(expected), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_learning_rate_can_be_a_schedule(name):
    schedule = schedules.exponential_decay(0.1, decay_rate=0.5, transition_steps=2)
    scheduled = axon.optim.get(name, learning_rate=schedule)
    state = scheduled.init(PARAMS)
    for step in range(4):
        # The value for this step is in the state once the step is taken.
        _, state = scheduled.update(grads_of(PARAMS), state, PARAMS)
        np.testing.assert_allclose(state.hyperparams["learning_rate"], schedule(step), rtol=1e-6)


def test_scheduled_sgd_steps_are_the_schedule_times_the_gradient():
    optimizer = axon.optim.sgd(learning_rate=lambda count: 0.1 / (1 + count))
    params, state = PARAMS, optimizer.init(PARAMS)
    for step in range(3):
        updates, state = optimizer.update(grads_of(params), state, params)
        for got, grad in zip(leaves(updates), leaves(grads_of(params)), strict=True):
            np.testing.assert_allclose(got, -0.1 / (1 + step) * grad, rtol=1e-6)
        params = optax.apply_updates(params, updates)


def test_scheduled_adam_matches_optax_with_the_same_schedule():
    schedule = schedules.cosine_decay(0.05, decay_steps=4)
    ours, reference = axon.optim.adam(schedule), optax.adam(schedule, eps_root=1e-15)
    state_ours, state_ref = ours.init(PARAMS), reference.init(PARAMS)
    for _ in range(5):
        updates_ours, state_ours = ours.update(grads_of(PARAMS), state_ours, PARAMS)
        updates_ref, state_ref = reference.update(grads_of(PARAMS), state_ref, PARAMS)
        for got, want in zip(leaves(updates_ours), leaves(updates_ref), strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("bad", [-1e-3, math.nan, math.inf, -math.inf])
def test_negative_or_non_finite_learning_rate_raises(name, bad):
    with pytest.raises(ValueError) as raised:
        axon.optim.get(name, learning_rate=bad)
    message = str(raised.value)
    assert message.startswith(f"{name}: learning_rate must be a finite number >= 0")
    assert repr(bad) in message
    assert "schedule" in message


@pytest.mark.parametrize("bad", ["0.1", None, True])
def test_learning_rate_of_the_wrong_type_raises(bad):
    with pytest.raises(TypeError, match="adam: learning_rate must be"):
        axon.optim.adam(learning_rate=bad)


def test_zero_learning_rate_is_allowed_and_freezes_the_parameters():
    optimizer = axon.optim.adam(learning_rate=0.0)
    updates, _ = optimizer.update(grads_of(PARAMS), optimizer.init(PARAMS), PARAMS)
    assert all(np.all(leaf == 0) for leaf in leaves(updates))


BAD_OPTIONS = [
    ("adam", {"b1": 1.0}, ValueError, "b1"),
    ("adam", {"b2": -0.1}, ValueError, "b2"),
    ("adam", {"eps": -1e-8}, ValueError, "eps"),
    ("adamw", {"decay": math.nan}, ValueError, "decay"),
    ("lamb", {"min_norm": -1.0}, ValueError, "min_norm"),
    ("rmsprop", {"decay": 1.5}, ValueError, "decay"),
    ("rmsprop", {"nesterov": True}, ValueError, "momentum"),
    ("sgd", {"nesterov": True}, ValueError, "momentum"),
    ("sgd", {"momentum": 1.0}, ValueError, "momentum"),
    ("yogi", {"initial_accumulator_value": -1.0}, ValueError, "initial_accumulator_value"),
    ("noisy_sgd", {"seed": 1.5}, TypeError, "seed"),
    ("noisy_sgd", {"eta": -0.1}, ValueError, "eta"),
    ("radam", {"threshold": math.inf}, ValueError, "threshold"),
]


@pytest.mark.parametrize(("name", "options", "error", "mentions"), BAD_OPTIONS)
def test_bad_options_raise(name, options, error, mentions):
    with pytest.raises(error, match=mentions) as raised:
        axon.optim.get(name, **options)
    assert str(raised.value).startswith(f"{name}: ")
