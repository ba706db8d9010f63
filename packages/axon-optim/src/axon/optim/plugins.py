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

from . import _hookspecs, _registry
from ._registry import *  # noqa: F403  (the registry API, re-exported: see _registry.__all__)

__all__ = [*_registry.__all__, "hookimpl", "optimizers", "schedules", "system"]

#: Marks a plugin's implementation of an axon-optim hook.
hookimpl = pluggy.HookimplMarker("axon.optim")

#: The plugin manager of this package, loaded from entry points on first use.
system = _registry.PluginSystem("axon.optim", _hookspecs, "axon.optim")

optimizers = system.registry("axon_optimizers", "optimizer")
schedules = system.registry("axon_schedules", "schedule")
