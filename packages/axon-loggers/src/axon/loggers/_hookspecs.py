"""Hook specification of axon-loggers (entry-point group ``axon.loggers``).

The hook returns a mapping ``{name: factory}``; names must be unique across all
installed plugins. Plugins mark implementations with
:data:`axon.loggers.plugins.hookimpl`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("axon.loggers")


@hookspec
def axon_loggers() -> Mapping[str, Callable[..., Any]]:
    """Logger factories ``factory(**options) -> Logger``, by name (e.g. ``"tensorboard"``)."""
