"""Each optimizer equals the optax optimizer or chain it stands for, step by step.

Both sides see the same gradients at every step (the same loss on their own
parameters), so any difference in defaults, order of transforms or state shows
up as a different update.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import axon.optim

STEPS = 5

# A nested pytree: a dict holding a tuple of arrays and a scalar leaf.
PARAMS = {
    "dense": (jnp.array([[0.5, -1.0], [2.0, 0.25]]), jnp.array([0.1, -0.3])),
    "scale": jnp.array(1.5),
}


def loss(params):
    kernel, bias = params["dense"]
    x = jnp.array([[1.0, 2.0], [-0.5, 0.3]])
    y = jnp.tanh(x @ kernel + bias) * params["scale"]
    return jnp.sum((y - 0.2) ** 2) + 0.1 * jnp.sum(kernel**4)


def _chain(*transforms, learning_rate):
    return optax.chain(*transforms, optax.scale_by_learning_rate(learning_rate))


CASES = [
    # (name, options, the optax equivalent)
    ("adabelief", {}, lambda: optax.adabelief(1e-3, eps=0.0, eps_root=1e-16)),
    (
        "adabelief",
        {"learning_rate": 0.05, "b1": 0.8, "b2": 0.99, "eps": 1e-6, "eps_root": 1e-12},
        lambda: optax.adabelief(0.05, b1=0.8, b2=0.99, eps=1e-6, eps_root=1e-12),
    ),
    ("adagrad", {}, lambda: optax.adagrad(1e-3, initial_accumulator_value=0.1, eps=1e-7)),
    (
        "adagrad",
        {"learning_rate": 0.2, "initial_accumulator_value": 0.5, "eps": 1e-5},
        lambda: optax.adagrad(0.2, initial_accumulator_value=0.5, eps=1e-5),
    ),
    ("adam", {}, lambda: optax.adam(1e-3, eps_root=1e-15)),
    (
        "adam",
        {"learning_rate": 0.05, "b1": 0.8, "b2": 0.95, "eps": 1e-6, "eps_root": 0.0},
        lambda: optax.adam(0.05, b1=0.8, b2=0.95, eps=1e-6, eps_root=0.0),
    ),
    ("adamw", {}, lambda: optax.adamw(1e-3, eps_root=1e-15, weight_decay=0.0)),
    (
        "adamw",
        {"learning_rate": 0.02, "b1": 0.85, "decay": 0.1},
        lambda: optax.adamw(0.02, b1=0.85, eps_root=1e-15, weight_decay=0.1),
    ),
    ("fromage", {}, lambda: optax.fromage(1e-2, min_norm=1e-6)),
    (
        "fromage",
        {"learning_rate": 0.1, "min_norm": 1e-3},
        lambda: optax.fromage(0.1, min_norm=1e-3),
    ),
    ("lamb", {}, lambda: optax.lamb(1e-2, eps=1e-8, eps_root=1e-15, weight_decay=0.0)),
    (
        "lamb",
        {"learning_rate": 0.05, "eps": 1e-6, "decay": 0.01, "min_norm": 0.5},
        lambda: _chain(
            optax.scale_by_adam(eps=1e-6, eps_root=1e-15),
            optax.add_decayed_weights(0.01),
            optax.scale_by_trust_ratio(min_norm=0.5),
            learning_rate=0.05,
        ),
    ),
    # Positional eta, gamma, seed: the fourth parameter is `seed` in optax 0.2.3, `key` later.
    ("noisy_sgd", {}, lambda: optax.noisy_sgd(1e-2, 0.01, 0.55, 0)),
    (
        "noisy_sgd",
        {"learning_rate": 0.1, "eta": 0.3, "gamma": 0.7, "seed": 7},
        lambda: optax.noisy_sgd(0.1, 0.3, 0.7, 7),
    ),
    ("radam", {}, lambda: optax.radam(1e-3)),
    (
        "radam",
        {"learning_rate": 0.01, "b2": 0.9, "eps_root": 1e-10, "threshold": 3.0},
        lambda: optax.radam(0.01, b2=0.9, eps_root=1e-10, threshold=3.0),
    ),
    ("rmsprop", {}, lambda: optax.rmsprop(1e-2)),
    (
        "rmsprop",
        {
            "learning_rate": 0.05,
            "centered": True,
            "momentum": 0.9,
            "nesterov": True,
            "initial_scale": 0.1,
            "decay": 0.8,
            "eps": 1e-6,
        },
        lambda: optax.rmsprop(
            0.05,
            decay=0.8,
            eps=1e-6,
            initial_scale=0.1,
            centered=True,
            momentum=0.9,
            nesterov=True,
        ),
    ),
    ("sgd", {}, lambda: optax.sgd(1e-2)),
    (
        "sgd",
        {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True},
        lambda: optax.sgd(0.1, momentum=0.9, nesterov=True),
    ),
    ("yogi", {}, lambda: optax.yogi(1e-2, eps=1e-3)),
    (
        "yogi",
        {
            "learning_rate": 0.05,
            "initial_accumulator_value": 0.01,
            "b1": 0.8,
            "eps": 1e-4,
            "eps_root": 1e-8,
        },
        lambda: _chain(
            optax.scale_by_yogi(b1=0.8, eps=1e-4, eps_root=1e-8, initial_accumulator_value=0.01),
            learning_rate=0.05,
        ),
    ),
]


def _case_id(case):
    name, options, _ = case
    return f"{name}-{'custom' if options else 'defaults'}"


def test_every_builtin_optimizer_has_a_default_and_a_custom_case():
    defaults = {name for name, options, _ in CASES if not options}
    custom = {name for name, options, _ in CASES if options}
    assert defaults == custom == set(axon.optim.optimizers.BUILTINS)


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_matches_optax_step_by_step(case):
    name, options, reference_factory = case
    ours, reference = axon.optim.get(name, **options), reference_factory()
    params_ours, params_ref = PARAMS, PARAMS
    state_ours, state_ref = ours.init(params_ours), reference.init(params_ref)

    for step in range(STEPS):
        updates_ours, state_ours = ours.update(jax.grad(loss)(params_ours), state_ours, params_ours)
        updates_ref, state_ref = reference.update(jax.grad(loss)(params_ref), state_ref, params_ref)
        assert jax.tree.structure(updates_ours) == jax.tree.structure(updates_ref)
        for got, want in zip(
            jax.tree.leaves(updates_ours), jax.tree.leaves(updates_ref), strict=True
        ):
            np.testing.assert_allclose(
                got, want, rtol=2e-5, atol=1e-9, err_msg=f"{name} update at step {step}"
            )
        params_ours = optax.apply_updates(params_ours, updates_ours)
        params_ref = optax.apply_updates(params_ref, updates_ref)

    moved = jax.tree.leaves(jax.tree.map(lambda a, b: bool(jnp.any(a != b)), params_ours, PARAMS))
    assert any(moved), f"{name} did not move the parameters"


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_works_under_jit(case):
    name, options, _ = case
    optimizer = axon.optim.get(name, **options)
    state = optimizer.init(PARAMS)
    eager_updates, _ = optimizer.update(jax.grad(loss)(PARAMS), state, PARAMS)
    jit_updates, _ = jax.jit(optimizer.update)(jax.grad(loss)(PARAMS), state, PARAMS)
    # XLA may fuse differently under jit: float32 round-off, relative to the largest update.
    for got, want in zip(jax.tree.leaves(jit_updates), jax.tree.leaves(eager_updates), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * float(np.abs(want).max()))
