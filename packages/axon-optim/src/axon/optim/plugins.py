"""The plugin system of axon-optim.

Third-party packages add optimizers and learning-rate schedules by implementing
the hooks of :mod:`axon.optim._hookspecs` in a module that is registered in the
``axon.optim`` entry-point group::

    # pyproject.toml of your package
    [project.entry-points."axon.optim"]
    my-package = "my_package.axon_optim"

    # my_package/axon_optim.py
    import optax
    from axon.optim.plugins import hookimpl

    def lion(learning_rate=1e-4, b1=0.9, b2=0.99):
        return optax.inject_hyperparams(optax.lion)(learning_rate, b1, b2)

    @hookimpl
    def axon_optimizers():
        return {"lion": lion}

After ``pip install``, ``axon.optim.get("lion", learning_rate=3e-5)`` finds it, and
so does every axon API that accepts an optimizer name. In tests and notebooks a
plugin object can be registered for a ``with`` block instead:
``with axon.optim.plugins.system.temporary(MyPlugin()): ...``.
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
    "hookimpl",
    "optimizers",
    "schedules",
    "system",
]

#: Marks a plugin's implementation of an axon-optim hook.
hookimpl = pluggy.HookimplMarker("axon.optim")

#: The plugin manager of this package, loaded from entry points on first use.
system = PluginSystem("axon.optim", _hookspecs, "axon.optim")


def _require_callable(name: str, entry: object) -> None:
    if not callable(entry):
        raise TypeError(f"Entry {name!r} must be callable, got {type(entry).__name__}.")


optimizers: Registry = Registry(system, "axon_optimizers", "optimizer", _require_callable)
schedules: Registry = Registry(system, "axon_schedules", "schedule", _require_callable)
