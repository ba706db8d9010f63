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
    "loggers",
    "system",
]

#: Marks a plugin's implementation of the axon-loggers hook.
hookimpl = pluggy.HookimplMarker("axon.loggers")

#: The plugin manager of this package, loaded from entry points on first use.
system = PluginSystem("axon.loggers", _hookspecs, "axon.loggers")


def _require_callable(name: str, entry: object) -> None:
    if not callable(entry):
        raise TypeError(
            f"Logger {name!r} must be registered as a factory (a class or function called "
            f"with keyword options), got {type(entry).__name__}."
        )


loggers: Registry = Registry(system, "axon_loggers", "logger", _require_callable)
