"""The built-in checkpoint backend and handlers of axon-loop, registered by entry point."""

from __future__ import annotations

from . import _console, _handlers
from .checkpoint import OrbaxBackend
from .plugins import hookimpl


@hookimpl
def axon_checkpoint_backends():
    return {"orbax": OrbaxBackend}


@hookimpl
def axon_handlers():
    return {
        "checkpoint": _handlers.checkpoint,
        "log_progress": _console.log_progress,
        "log_to": _handlers.log_to,
        "validate": _handlers.validate,
    }
