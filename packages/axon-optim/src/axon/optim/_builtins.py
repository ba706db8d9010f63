"""The built-in entries of axon-optim, registered through its own entry point."""

from __future__ import annotations

from . import optimizers, schedules
from .plugins import hookimpl


@hookimpl
def axon_optimizers():
    return optimizers.BUILTINS


@hookimpl
def axon_schedules():
    return schedules.BUILTINS
