"""Defaults are Polaris's (as in its code), the table of the parity notes §1.16.

Small differences such as ``eps_root`` 1e-15 vs 0 barely move an update, so the
step-by-step parity tests cannot see them; this pins them explicitly.
"""

from __future__ import annotations

import inspect

import jax.numpy as jnp
import pytest

import axon.optim

POLARIS_DEFAULTS = {
    "adabelief": {"learning_rate": 1e-3, "b1": 0.9, "b2": 0.999, "eps": 0.0, "eps_root": 1e-16},
    "adagrad": {"learning_rate": 1e-3, "initial_accumulator_value": 0.1, "eps": 1e-7},
    "adam": {"learning_rate": 1e-3, "b1": 0.9, "b2": 0.999, "eps": 1e-8, "eps_root": 1e-15},
    "adamw": {
        "learning_rate": 1e-3, "b1": 0.9, "b2": 0.999, "eps": 1e-8, "eps_root": 1e-15,
        "decay": 0.0,
    },
    "fromage": {"learning_rate": 1e-2, "min_norm": 1e-6},  # not in Polaris: paper / optax
    "lamb": {
        "learning_rate": 1e-2, "b1": 0.9, "b2": 0.999, "eps": 1e-8, "eps_root": 1e-15,
        "decay": 0.0, "min_norm": 0.0,
    },
    "noisy_sgd": {"learning_rate": 1e-2, "eta": 0.01, "gamma": 0.55, "seed": 0},
    "radam": {
        "learning_rate": 1e-3, "b1": 0.9, "b2": 0.999, "eps": 1e-8, "eps_root": 0.0,
        "threshold": 5.0,
    },
    "rmsprop": {
        "learning_rate": 1e-2, "centered": False, "momentum": None, "nesterov": False,
        "initial_scale": 0.0, "decay": 0.9, "eps": 1e-8,
    },
    "sgd": {"learning_rate": 1e-2, "momentum": None, "nesterov": False},
    "yogi": {
        "learning_rate": 1e-2, "initial_accumulator_value": 1e-6, "b1": 0.9, "b2": 0.999,
        "eps": 1e-3, "eps_root": 0.0,
    },
}  # fmt: skip


def test_every_builtin_is_listed():
    assert set(POLARIS_DEFAULTS) == set(axon.optim.optimizers.BUILTINS)


@pytest.mark.parametrize("name", sorted(POLARIS_DEFAULTS))
def test_signature_defaults(name):
    parameters = inspect.signature(axon.optim.optimizers.BUILTINS[name]).parameters
    assert {key: p.default for key, p in parameters.items()} == POLARIS_DEFAULTS[name]


@pytest.mark.parametrize("name", sorted(POLARIS_DEFAULTS))
def test_float_defaults_are_hyperparameters_in_the_state(name):
    state = axon.optim.get(name).init({"w": jnp.zeros(2)})
    expected = {
        key: value
        for key, value in POLARIS_DEFAULTS[name].items()
        if isinstance(value, float) and key != "momentum"
    }
    # Plus the multiplier every axon.optim optimizer carries (see axon.optim.hyperparams).
    assert set(state.hyperparams) == set(expected) | {"learning_rate_scale"}
    assert float(state.hyperparams["learning_rate_scale"]) == 1.0
    for key, value in expected.items():
        assert float(state.hyperparams[key]) == pytest.approx(value, rel=1e-6), key
