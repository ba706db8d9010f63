"""Hook specifications of axon-model (entry-point group ``axon.model``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("axon.model")


@hookspec
def axon_layers() -> Mapping[str, Callable[..., Any]]:
    """Layer builders ``builder(x, *args, **options) -> Model``, by name.

    Each becomes ``axon.model.layers.get(name)`` and a chained method ``x.<name>(...)``.
    A builder usually calls ``axon.model.layer(op, [x, axon.model.param(...)], op_name=name)``.
    """
