"""Errors raised while building or running a model."""

from __future__ import annotations


class ModelError(Exception):
    """Base class of axon.model errors."""


class LayerError(ModelError):
    """A layer failed while inferring shapes, initializing or running.

    The message names the layer, its op and where it was defined, shows the
    shapes it received, and chains the original exception.
    """


class InputError(ModelError, ValueError):
    """Inputs given to a model do not match its declared inputs."""
