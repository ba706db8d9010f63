"""Hook specifications of axon-loop (entry-point group ``axon.loop``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("axon.loop")


@hookspec
def axon_checkpoint_backends() -> Mapping[str, Callable[..., Any]]:
    """Checkpoint backend factories, by name:
    ``factory(path, *, keep=None, run_id=None, overwrite=False) -> backend``.

    A backend has ``save(step, tree, metadata)``, ``restore(step=None, *, like)``,
    ``metadata(step=None)``, ``steps()`` and ``close()``; ``run_id`` claims ``path``
    for one run (see ``axon.loop.checkpoint.CheckpointBackend``).
    """


@hookspec
def axon_handlers() -> Mapping[str, Callable[..., Any]]:
    """Loop extensions ``fn(loop, *args, **options) -> Loop``, by name.

    Used as ``loop.attach(name, ...)``; ``fn`` usually calls ``loop.handle_event``.
    """
