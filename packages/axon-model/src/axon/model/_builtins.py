"""The built-in layers of axon-model, registered through its own entry point."""

from __future__ import annotations

from ._graph.constructors import builtin_layers
from .plugins import hookimpl


@hookimpl
def axon_layers():
    return builtin_layers()
