"""The built-in layers of axon-model, registered through its own entry point."""

from __future__ import annotations

from ._builders.table import BUILTIN_LAYERS
from .plugins import hookimpl


@hookimpl
def axon_layers():
    return dict(BUILTIN_LAYERS)
