"""The plugin system of axon-functional.

Third-party packages add activations, initializers, losses, metrics and penalties by
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

from . import _hookspecs, _registry
from ._registry import *  # noqa: F403  (the registry API, re-exported: see _registry.__all__)

__all__ = [
    *_registry.__all__,
    "activations",
    "hookimpl",
    "initializers",
    "losses",
    "metrics",
    "penalties",
    "system",
]

#: Marks a plugin's implementation of an axon-functional hook.
hookimpl = pluggy.HookimplMarker("axon.functional")

#: The plugin manager of this package, loaded from entry points on first use.
system = _registry.PluginSystem("axon.functional", _hookspecs, "axon.functional")

activations = system.registry("axon_activations", "activation")
initializers = system.registry("axon_initializers", "initializer")
losses = system.registry("axon_losses", "loss")
metrics = system.registry("axon_metrics", "metric")
penalties = system.registry("axon_penalties", "penalty")
