"""Hook specifications of axon-optim, entry-point group ``axon.optim``: a hook returns
``{name: entry}`` (the rules are ``PluginSystem``'s, in ``_registry``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("axon.optim")


@hookspec
def axon_optimizers() -> Mapping[str, Callable[..., Any]]:
    """Optimizer factories ``factory(**options) -> optax.GradientTransformation``, by name."""


@hookspec
def axon_schedules() -> Mapping[str, Callable[..., Any]]:
    """Schedule factories ``factory(init_value, **options) -> schedule(count) -> value``."""
