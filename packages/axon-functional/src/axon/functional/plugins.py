"""The plugin system of axon-functional.

Third-party packages add activations, initializers, losses and metrics by
implementing the hooks of :mod:`axon.functional._hookspecs` in a module that is
registered in the ``axon.functional`` entry-point group::

    # pyproject.toml of your package
    [project.entry-points."axon.functional"]
    my-package = "my_package.axon_functional"

    # my_package/axon_functional.py
    from axon.functional.plugins import hookimpl

    @hookimpl
    def axon_activations():
        return {"squareplus": squareplus}

After ``pip install``, ``axon.functional.activations.get("squareplus")`` finds it,
and so does every axon API that accepts an activation name.
"""

from __future__ import annotations

import pluggy

from . import _hookspecs
from ._registry import (
    DISABLED_PLUGINS_ENV,
    DuplicateNameError,
    PluginError,
    PluginSystem,
    Registry,
    UnknownNameError,
)

__all__ = [
    "DISABLED_PLUGINS_ENV",
    "DuplicateNameError",
    "PluginError",
    "PluginSystem",
    "Registry",
    "UnknownNameError",
    "activations",
    "hookimpl",
    "initializers",
    "losses",
    "metrics",
    "system",
]

#: Marks a plugin's implementation of an axon-functional hook.
hookimpl = pluggy.HookimplMarker("axon.functional")

#: The plugin manager of this package, loaded from entry points on first use.
system = PluginSystem("axon.functional", _hookspecs, "axon.functional")


def _require_callable(name: str, entry: object) -> None:
    if not callable(entry):
        raise TypeError(f"Entry {name!r} must be callable, got {type(entry).__name__}.")


activations: Registry = Registry(system, "axon_activations", "activation", _require_callable)
initializers: Registry = Registry(system, "axon_initializers", "initializer", _require_callable)
losses: Registry = Registry(system, "axon_losses", "loss", _require_callable)
metrics: Registry = Registry(system, "axon_metrics", "metric", _require_callable)
