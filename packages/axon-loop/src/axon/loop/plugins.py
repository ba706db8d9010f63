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

from axon.functional.plugins import PluginSystem, Registry

from . import _hookspecs

__all__ = ["checkpoint_backends", "handlers", "hookimpl", "system"]

hookimpl = pluggy.HookimplMarker("axon.loop")
system = PluginSystem("axon.loop", _hookspecs, "axon.loop")


def _require_callable(name: str, entry: object) -> None:
    if not callable(entry):
        raise TypeError(f"Entry {name!r} must be callable, got {type(entry).__name__}.")


checkpoint_backends: Registry = Registry(
    system, "axon_checkpoint_backends", "checkpoint backend", _require_callable
)
handlers: Registry = Registry(system, "axon_handlers", "handler", _require_callable)
