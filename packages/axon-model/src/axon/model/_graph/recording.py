"""Which registered builder call made each node: what lets a model file rebuild a graph.

A layer's op and its parameter shapes are Python functions (often closures over the
builder's options), which a file must never store. What a file *can* store is the call
that made them: the registered builder's name and its arguments (data, and references
to other layers). So every call of a registered builder (through ``axon.model.layers``,
a chained method ``x.dense(...)`` or ``axon.model.dense``) is recorded as a
:class:`BuilderCall`, and each node created during it gets ``origin = (call, index)``,
its position among the nodes that call created. A builder called inside another one
(``transformer_encoder`` making dense layers) belongs to the outer call. Rebuilding is
calling the same builders again with the same arguments; ``_files.model_file`` checks
that the result equals the saved description before trusting it.

Two other kinds of call are recorded the same way: ``axon.model.parameter``
(``kind="parameter"``) and each call of an ``axon.model.block`` (``kind="block_call"``,
``block`` the block called). A block's function runs with no call active
(:func:`unrecorded`), so the builder calls inside it are recorded one by one: they are
the block's body, which the file stores once, however often the block is called.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .remat import context_set, remat_scope

_calls = itertools.count()
_active: contextvars.ContextVar[BuilderCall | None] = contextvars.ContextVar(
    "axon_model_builder_call", default=None
)


@dataclass(eq=False)
class BuilderCall:
    """One recorded call: the builder's name, its arguments and how many nodes it created.

    ``kind`` is ``"builder"`` (a registered builder), ``"parameter"``
    (``axon.model.parameter``) or ``"block_call"`` (a call of ``block``, a ``Block``).
    """

    builder: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    kind: str = "builder"
    block: Any = None
    seq: int = field(default_factory=lambda: next(_calls))
    created: int = 0


def current_origin() -> tuple[BuilderCall, int] | None:
    """``(call, index)`` for a node created now, or ``None`` outside any builder call."""
    call = _active.get()
    if call is None:
        return None
    call.created += 1
    return call, call.created - 1


def call_builder(
    name: str, builder: Callable[..., Any], /, *args: Any, **kwargs: Any
) -> tuple[BuilderCall, Any]:
    """Run ``builder`` as a recorded call, or as part of the call already running:
    ``(call, result)``."""
    return run_call(BuilderCall(name, args, kwargs), builder)


def run_call(call: BuilderCall, builder: Callable[..., Any]) -> tuple[BuilderCall, Any]:
    """``builder(*call.args, **call.kwargs)`` recorded as ``call`` (or as part of the call
    already running): ``(call, result)``.

    ``remat=`` is an option of every builder, taken here: the nodes the call creates form
    one rematerialized segment (``remat.remat_scope``); the recorded call keeps it.
    """
    kwargs = dict(call.kwargs)
    remat = kwargs.pop("remat", None)
    token = _active.set(_active.get() or call)
    try:
        with remat_scope(remat, f"{call.builder} (remat=)"):
            return call, builder(*call.args, **kwargs)
    finally:
        _active.reset(token)


def call_running() -> bool:
    """Whether a recorded call is running (a node created now belongs to it)."""
    return _active.get() is not None


def unrecorded() -> contextlib.AbstractContextManager[None]:
    """No call active inside: the calls made there are recorded one by one, each its own."""
    return context_set(_active, None)


def recorded(name: str, builder: Callable[..., Any], kind: str = "builder") -> Callable[..., Any]:
    """``builder`` recording its calls under the registered ``name`` (idempotent)."""
    if getattr(builder, "__axon_builder__", None) == name:
        return builder

    @functools.wraps(builder)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return run_call(BuilderCall(name, args, kwargs, kind), builder)[1]

    wrapper.__axon_builder__ = name  # type: ignore[attr-defined]
    return wrapper


def records(name: str, kind: str = "builder") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator form of :func:`recorded` for builders exported as module attributes."""
    return functools.partial(recorded, name, kind=kind)
