"""The plugin system of axon-model: layers registered by name.

A third-party package adds a layer with a module in the ``axon.model``
entry-point group::

    # pyproject.toml
    [project.entry-points."axon.model"]
    my-package = "my_package.axon_model"

    # my_package/axon_model.py
    import axon.model
    from axon.model.plugins import hookimpl

    def scale(x, *, name=None):
        s = axon.model.param("scale", (), initializer="ones")
        return axon.model.layer(lambda v, s: v * s, [x, s], name=name, op_name="scale")

    @hookimpl
    def axon_layers():
        return {"scale": scale}

Then ``x.scale()`` and ``axon.model.layers.get("scale")(x)`` both work.
"""

from __future__ import annotations

import pluggy

from axon.functional.plugins import PluginSystem, Registry

from . import _hookspecs

__all__ = ["hookimpl", "layers", "system"]

hookimpl = pluggy.HookimplMarker("axon.model")
system = PluginSystem("axon.model", _hookspecs, "axon.model")


def _check_layer(name: str, entry: object) -> None:
    if not callable(entry):
        raise TypeError(f"Layer builder {name!r} must be callable, got {type(entry).__name__}.")
    from ._graph.model import Model

    if name.startswith("_") or hasattr(Model, name):
        raise ValueError(
            f"A layer cannot be named {name!r}: that name is taken by Model.{name}, so "
            f"x.{name}(...) could never reach the layer. Register it under another name."
        )


layers: Registry = Registry(system, "axon_layers", "layer", _check_layer)
