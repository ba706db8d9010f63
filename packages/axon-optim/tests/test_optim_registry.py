"""Optimizers and schedules are looked up by name through the plugin registries."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

import jax.numpy as jnp
import optax
import pytest

import axon.optim
from axon.optim import plugins, schedules
from axon.optim.plugins import DuplicateNameError, UnknownNameError, hookimpl

OPTIMIZERS = [
    "adabelief", "adagrad", "adam", "adamw", "fromage", "lamb",
    "noisy_sgd", "radam", "rmsprop", "sgd", "yogi",
]  # fmt: skip
SCHEDULES = [
    "constant", "cosine_decay", "exponential_decay", "linear_decay", "one_cycle",
    "polynomial_decay", "warmup_cosine_decay",
]  # fmt: skip


def test_builtins_are_registered_through_the_entry_point():
    assert axon.optim.names() == OPTIMIZERS
    assert schedules.names() == SCHEDULES
    assert "axon-optim" in plugins.optimizers.provider("adam")
    assert "axon-optim" in plugins.schedules.provider("cosine_decay")


def test_public_api():
    assert axon.optim.__version__ == importlib.metadata.version("axon-optim")
    for name in OPTIMIZERS:
        assert getattr(axon.optim, name) is getattr(axon.optim.optimizers, name)
        assert plugins.optimizers.get(name) is getattr(axon.optim, name)
    for name in SCHEDULES:
        assert schedules.get(name) is getattr(schedules, name)


def test_get_builds_the_optimizer_with_options():
    optimizer = axon.optim.get("adamw", learning_rate=3e-4)
    assert isinstance(optimizer, optax.GradientTransformation)
    state = optimizer.init({"w": jnp.ones(2)})
    assert float(state.hyperparams["learning_rate"]) == pytest.approx(3e-4)
    assert float(state.hyperparams["decay"]) == 0.0


def test_unknown_name_suggests_a_close_match():
    with pytest.raises(UnknownNameError) as raised:
        axon.optim.get("adamm")
    message = str(raised.value)
    assert "Unknown optimizer 'adamm'." in message
    assert "Did you mean 'adam'" in message
    assert "'axon.optim'" in message  # where plugins register more
    assert isinstance(raised.value, LookupError)


def test_unknown_schedule_suggests_a_close_match():
    with pytest.raises(UnknownNameError, match="Did you mean 'cosine_decay'"):
        schedules.get("cosine_decy")


def test_unknown_option_names_the_optimizer_and_what_it_accepts():
    with pytest.raises(TypeError) as raised:
        axon.optim.get("adamw", weight_decay=0.1)
    message = str(raised.value)
    assert "Optimizer 'adamw'" in message and "weight_decay" in message
    assert "It accepts: learning_rate, b1, b2, eps, eps_root, decay." in message


def signed_sgd(learning_rate=0.1):
    """A third-party optimizer: signSGD."""
    return optax.inject_hyperparams(
        lambda learning_rate: optax.chain(
            optax.scale_by_sign(), optax.scale_by_learning_rate(learning_rate)
        )
    )(learning_rate=learning_rate)


class SignedSgdPlugin:
    @hookimpl
    def axon_optimizers(self):
        return {"signed_sgd": signed_sgd}

    @hookimpl
    def axon_schedules(self):
        return {"halving": lambda init_value: lambda count: init_value * 0.5**count}


def test_a_temporary_plugin_is_usable_through_get():
    assert "signed_sgd" not in axon.optim.names()
    with plugins.system.temporary(SignedSgdPlugin()):
        optimizer = axon.optim.get("signed_sgd", learning_rate=0.5)
        params = jnp.array([3.0, -0.1])
        updates, _ = optimizer.update(2 * params, optimizer.init(params), params)
        assert updates.tolist() == [-0.5, 0.5]
        assert "signed_sgd" in axon.optim.names()
        assert float(schedules.get("halving")(0.8)(3)) == pytest.approx(0.1)
    with pytest.raises(UnknownNameError):
        axon.optim.get("signed_sgd")


class ShadowsAdam:
    @hookimpl
    def axon_optimizers(self):
        return {"adam": signed_sgd}


def test_a_duplicate_name_names_both_providers():
    shadow = plugins.system.temporary(ShadowsAdam(), name="shadow-plugin")
    with shadow, pytest.raises(DuplicateNameError) as raised:
        axon.optim.get("adam")
    message = str(raised.value)
    assert "The optimizer name 'adam' is registered twice" in message
    assert "axon-optim" in message and "plugin 'shadow-plugin'" in message
    # Once the plugin is gone the built-in is back.
    assert plugins.optimizers.get("adam") is axon.optim.adam


def test_a_plugin_entry_must_be_callable():
    class Broken:
        @hookimpl
        def axon_optimizers(self):
            return {"broken": 0.1}

    with plugins.system.temporary(Broken()), pytest.raises(TypeError, match="'broken'"):
        axon.optim.names()


def test_importing_does_not_load_sibling_axon_packages():
    code = (
        "import sys, axon.optim; axon.optim.get('adam'); "
        "print(sorted(m for m in sys.modules if m.startswith('axon.') "
        "and not m.startswith('axon.optim')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_a_plugin_with_a_misspelled_hook_is_not_kept():
    class Misspelled:
        @hookimpl
        def axon_optimizer(self):  # the hook is axon_optimizers
            return {"signed_sgd": signed_sgd}

    with pytest.raises(plugins.PluginError, match="unknown hook 'axon_optimizer'") as raised:
        plugins.system.register(Misspelled(), name="misspelled-plugin")
    assert "axon_optimizers, axon_schedules" in str(raised.value)
    assert not plugins.system.manager.has_plugin("misspelled-plugin")
    with plugins.system.temporary(SignedSgdPlugin()):  # registering still works
        assert "signed_sgd" in axon.optim.names()
