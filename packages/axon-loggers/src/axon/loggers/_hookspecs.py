"""Hook specification of axon-loggers, entry-point group ``axon.loggers``: a hook returns
``{name: entry}`` (the rules are ``PluginSystem``'s, in ``_registry``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("axon.loggers")


@hookspec
def axon_loggers() -> Mapping[str, Callable[..., Any]]:
    """Logger factories ``factory(**options) -> Logger``, by name (e.g. ``"tensorboard"``)."""
