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

from ._graph.model import layers
from ._plugin_system import system

__all__ = ["hookimpl", "layers", "system"]

hookimpl = pluggy.HookimplMarker("axon.model")
