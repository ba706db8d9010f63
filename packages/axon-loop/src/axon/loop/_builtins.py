"""The built-in checkpoint backend and handlers of axon-loop, registered by entry point."""

from __future__ import annotations

from . import handlers
from .checkpoint import OrbaxBackend
from .plugins import hookimpl


@hookimpl
def axon_checkpoint_backends():
    return {"orbax": OrbaxBackend}


@hookimpl
def axon_handlers():
    return {name: getattr(handlers, name) for name in handlers.__all__}
