"""The plugin system of axon-loggers.

A third-party package adds a logging backend by implementing the
``axon_loggers`` hook of :mod:`axon.loggers._hookspecs` in a module that is
registered in the ``axon.loggers`` entry-point group::

    # pyproject.toml of your package
    [project.entry-points."axon.loggers"]
    my-package = "my_package.axon_loggers"

    # my_package/axon_loggers.py
    from axon.loggers import LoggerBase
    from axon.loggers.plugins import hookimpl

    class WandbLogger(LoggerBase):
        supported_kinds = frozenset({"scalars"})

        def __init__(self, project):
            ...

        def _write_scalars(self, scalars, step):
            ...

    @hookimpl
    def axon_loggers():
        return {"wandb": WandbLogger}

After ``pip install``, ``axon.loggers.create("wandb", project="demo")`` builds
one, and so does ``loop.log_to("wandb", project="demo")`` in axon-loop. A factory
may be any callable taking keyword options and returning an object that
satisfies :class:`axon.loggers.Logger`.

In tests and notebooks, an object with the hook can be registered for the
duration of a ``with`` block instead of being installed:

>>> import axon.loggers
>>> from axon.loggers import LoggerBase
>>> from axon.loggers.plugins import hookimpl, system
>>> class ListLogger(LoggerBase):
...     supported_kinds = frozenset({"scalars"})
...     def __init__(self, *, into):
...         super().__init__()
...         self.into = into
...     def _write_scalars(self, scalars, step):
...         self.into.append((step, scalars))
>>> class ListPlugin:
...     @hookimpl
...     def axon_loggers(self):
...         return {"list": ListLogger}
>>> points = []
>>> with system.temporary(ListPlugin(), name="list-plugin"):
...     with axon.loggers.create("list", into=points) as logger:
...         logger.log_scalars({"loss": 0.5}, step=1)
...     print(axon.loggers.plugins.loggers.provider("list"))
plugin 'list-plugin'
>>> points
[(1, {'loss': 0.5})]
>>> "list" in axon.loggers.names()
False
"""

from __future__ import annotations

import functools

import pluggy

from . import _hookspecs, _registry
from ._registry import *  # noqa: F403  (the registry API, re-exported: see _registry.__all__)

__all__ = [*_registry.__all__, "hookimpl", "loggers", "system"]

#: Marks a plugin's implementation of the axon-loggers hook.
hookimpl = pluggy.HookimplMarker("axon.loggers")

#: The plugin manager of this package, loaded from entry points on first use.
system = _registry.PluginSystem("axon.loggers", _hookspecs, "axon.loggers")

# Loggers are registered as factories (classes or functions), never as instances.
_require_factory = functools.partial(
    _registry.require_callable,
    what="Logger",
    must_be="registered as a factory (a class or function called with keyword options)",
)

loggers = system.registry("axon_loggers", "logger", _require_factory)
