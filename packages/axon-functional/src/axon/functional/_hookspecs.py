"""Hook specifications of axon-functional, entry-point group ``axon.functional``: a hook returns
``{name: entry}`` (the rules are ``PluginSystem``'s, in ``_registry``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("axon.functional")


@hookspec
def axon_activations() -> Mapping[str, Callable[..., Any]]:
    """Activation functions ``fn(x, **options) -> array``, by name."""


@hookspec
def axon_initializers() -> Mapping[str, Callable[..., Any]]:
    """Initializer factories ``factory(**options) -> init(key, shape, dtype)``, by name."""


@hookspec
def axon_losses() -> Mapping[str, Callable[..., Any]]:
    """Loss functions ``fn(y_true, y_pred, *, reduction=..., **options) -> array``, by name."""


@hookspec
def axon_metrics() -> Mapping[str, Callable[..., Any]]:
    """Metric functions ``fn(y_true, y_pred, **options) -> scalar array``, by name."""


@hookspec
def axon_penalties() -> Mapping[str, Callable[..., Any]]:
    """Penalty classes ``cls(**config) -> penalty`` (``penalty(tree) -> scalar``), by name."""
