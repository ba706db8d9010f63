"""The built-in entries of axon-functional, registered through its own entry point."""

from __future__ import annotations

from . import activations, initializers, losses, metrics, penalties
from .plugins import hookimpl


@hookimpl
def axon_activations():
    return activations.BUILTINS


@hookimpl
def axon_initializers():
    return initializers.BUILTINS


@hookimpl
def axon_losses():
    return losses.BUILTINS


@hookimpl
def axon_metrics():
    return metrics.BUILTINS


@hookimpl
def axon_penalties():
    return penalties.BUILTINS
