"""The plugin system of axon-model: hooks from ``_hookspecs``, plugins from the ``axon.model``
entry-point group (the built-ins included, see ``_builtins``). Created on first use."""

from __future__ import annotations

from axon.functional.plugins import PluginSystem

from . import _hookspecs

system = PluginSystem("axon.model", _hookspecs, "axon.model")
