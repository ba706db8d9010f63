"""The plugin registry (canonical copy; axon-optim and axon-loggers vendor it)."""

import types

import pytest

from axon.functional import _registry as registry_module
from axon.functional import activations, plugins


class ExtraActivations:
    @plugins.hookimpl
    def axon_activations(self):
        return {"cube": lambda x: x**3}


class ClashingActivations:
    @plugins.hookimpl
    def axon_activations(self):
        return {"relu": lambda x: x}


def test_builtins_arrive_through_the_entry_point():
    assert plugins.activations.provider("relu").startswith("axon-functional 0.1.0")
    assert "categorical_cross_entropy" in plugins.losses
    assert "accuracy" in plugins.metrics and "glorot_uniform" in plugins.initializers


def test_a_registered_plugin_is_usable_by_name_and_removed_after():
    with plugins.system.temporary(ExtraActivations(), name="extra"):
        assert activations.get("cube")(2.0) == 8.0
        assert plugins.activations.provider("cube") == "plugin 'extra'"
    assert "cube" not in plugins.activations


def test_duplicate_names_name_both_providers():
    with (
        plugins.system.temporary(ClashingActivations(), name="clash"),
        pytest.raises(plugins.DuplicateNameError) as error,
    ):
        activations.get("relu")
    message = str(error.value)
    assert "'relu'" in message and "axon-functional 0.1.0" in message and "'clash'" in message


def test_unknown_names_suggest_close_matches():
    with pytest.raises(plugins.UnknownNameError) as error:
        activations.get("sigmod")
    assert "Did you mean 'sigmoid'" in str(error.value)
    assert "axon.functional" in str(error.value)


def test_misspelled_hook_is_caught_and_leaves_the_system_as_it_was():
    class Misspelled:
        @plugins.hookimpl
        def axon_activation(self):  # missing "s"
            return {"cube": lambda x: x**3}

    generation = plugins.system.generation
    with pytest.raises(plugins.PluginError) as error:
        plugins.system.register(Misspelled(), name="misspelled")
    message = str(error.value)
    assert "'misspelled' could not be registered" in message
    assert "unknown hook 'axon_activation'" in message and "axon_activations" in message
    assert not plugins.system.manager.has_plugin("misspelled")
    assert plugins.system.generation == generation and "cube" not in plugins.activations
    # the failed plugin no longer blocks the next registration
    with plugins.system.temporary(ExtraActivations(), name="extra"):
        assert activations.get("cube")(2.0) == 8.0


def test_a_plugin_with_a_malformed_hook_is_not_registered():
    class WrongArguments:
        @plugins.hookimpl
        def axon_activations(self, config):  # the hook takes no argument
            return {"cube": lambda x: x**3}

    with pytest.raises(plugins.PluginError, match=r"(?s)'wrong' could not be registered.*'config'"):
        plugins.system.register(WrongArguments(), name="wrong")
    assert not plugins.system.manager.has_plugin("wrong") and "cube" not in plugins.activations


def _fake_entry_point(name, load, dist_name="broken-axon-plugin"):
    dist = types.SimpleNamespace(metadata={"Name": dist_name}, version="9.9")
    return types.SimpleNamespace(name=name, value="broken_plugin:hooks", load=load, dist=dist)


def test_a_plugin_that_fails_to_import_names_its_distribution(monkeypatch):
    def explode():
        raise ImportError("No module named 'torch_stuff'")

    system = registry_module.PluginSystem("axon.functional", plugins._hookspecs, "axon.functional")
    monkeypatch.setattr(
        registry_module.importlib.metadata,
        "entry_points",
        lambda group: [_fake_entry_point("broken", explode)],
    )
    with pytest.raises(plugins.PluginError) as error:
        system.manager  # noqa: B018 - loading happens on first access
    message = str(error.value)
    assert "broken-axon-plugin 9.9" in message and "torch_stuff" in message
    assert "AXON_DISABLED_PLUGINS=broken" in message


def test_disabled_plugins_are_skipped(monkeypatch):
    def explode():
        raise AssertionError("a disabled plugin must not be imported")

    monkeypatch.setenv(plugins.DISABLED_PLUGINS_ENV, "broken")
    monkeypatch.setattr(
        registry_module.importlib.metadata,
        "entry_points",
        lambda group: [_fake_entry_point("broken", explode)],
    )
    system = registry_module.PluginSystem("axon.functional", plugins._hookspecs, "axon.functional")
    assert system.manager.is_blocked("broken")
