"""The plugin system of axon-loop: checkpoint backends and handlers by name.

A third-party package adds entries with a module in the ``axon.loop``
entry-point group::

    # pyproject.toml
    [project.entry-points."axon.loop"]
    my-package = "my_package.axon_loop"

    # my_package/axon_loop.py
    from axon.loop.plugins import hookimpl

    @hookimpl
    def axon_checkpoint_backends():
        return {"s3": S3Backend}

Then ``loop.checkpoint("bucket/run", backend="s3")`` uses it.
"""

from __future__ import annotations

import pluggy

from axon.functional.plugins import PluginSystem

from . import _hookspecs

__all__ = ["checkpoint_backends", "handlers", "hookimpl", "system"]

#: Marks a plugin's implementation of an axon-loop hook.
hookimpl = pluggy.HookimplMarker("axon.loop")

#: The plugin manager of this package, loaded from entry points on first use.
system = PluginSystem("axon.loop", _hookspecs, "axon.loop")

checkpoint_backends = system.registry("axon_checkpoint_backends", "checkpoint backend")
handlers = system.registry("axon_handlers", "handler")
