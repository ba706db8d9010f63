"""Rematerialization requests: which layers form one ``jax.checkpoint`` segment, and its policy.

A request comes from a builder call (``x.dense(8, remat=True)``: every node that call
creates), a block (``block(fn, remat=...)``: every call of it is one segment) or
``axon.model.layer(..., remat=...)``. The nodes made under a request carry the same
:class:`Remat`, read from a context variable when the node is created, as ``origin`` is;
the compiler runs each segment as one checkpointed function (``_compiler/segments.py``).
Requests do not nest: inside a segment, an inner request is part of the outer one.
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import jax

#: Policy names: the ``jax.checkpoint_policies`` that are policies (not policy factories).
POLICIES = (
    "nothing_saveable",
    "dots_saveable",
    "dots_with_no_batch_dims_saveable",
    "everything_saveable",
    "checkpoint_dots",
    "checkpoint_dots_with_no_batch_dims",
)
_ids = itertools.count()
_scope: contextvars.ContextVar[Remat | None] = contextvars.ContextVar(
    "axon_model_remat", default=None
)


@dataclass(frozen=True)
class Remat:
    """One checkpointed segment: its identity and the policy of what it saves for backward.

    ``policy`` is a name from :data:`POLICIES` or a ``jax.checkpoint_policies`` function.
    """

    id: int
    policy: str | Callable[..., Any]

    @property
    def label(self) -> str:
        """The policy as shown and stored: its name, or the function's name."""
        if isinstance(self.policy, str):
            return self.policy
        return getattr(self.policy, "__name__", "custom policy")


def remat_policy(value: Any, where: str) -> str | Callable[..., Any] | None:
    """``remat=`` as a policy: ``None``/``False`` (none), ``True`` (``"nothing_saveable"``),
    a policy name, or a policy function; anything else is an error naming ``where``."""
    if value is None or value is False:
        return None
    if value is True:
        return "nothing_saveable"
    if isinstance(value, str):
        if value not in POLICIES:
            raise ValueError(
                f"{where}: remat={value!r} is not a policy name; use True (save nothing, "
                f"recompute the whole segment), one of {list(POLICIES)} (the policies of "
                f"jax.checkpoint_policies), or a jax.checkpoint_policies function."
            )
        return value
    if callable(value):
        return value
    raise TypeError(
        f"{where}: remat must be True, False, a policy name from {list(POLICIES)} or a "
        f"jax.checkpoint_policies function; received {type(value).__name__}."
    )


def jax_policy(policy: str | Callable[..., Any]) -> Callable[..., Any] | None:
    """The ``policy=`` argument of ``jax.checkpoint`` for a checked policy."""
    if not isinstance(policy, str):
        return policy
    return None if policy == "nothing_saveable" else getattr(jax.checkpoint_policies, policy)


def current_remat() -> Remat | None:
    """The segment a node created now belongs to (``None`` outside any request)."""
    return _scope.get()


def new_segment(policy: str | Callable[..., Any]) -> Remat:
    """A fresh segment with ``policy`` (each call of a remat block gets its own)."""
    return Remat(next(_ids), policy)


@contextlib.contextmanager
def remat_scope(value: Any, where: str) -> Iterator[None]:
    """Nodes created inside belong to one new segment with policy ``value`` (none if falsy);
    inside another segment they stay in that one."""
    policy = remat_policy(value, where)
    if policy is None or _scope.get() is not None:
        yield
        return
    with context_set(_scope, new_segment(policy)):
        yield


def outside_segments() -> contextlib.AbstractContextManager[None]:
    """No segment active inside (a block's template is traced apart from its first call)."""
    return context_set(_scope, None)


@contextlib.contextmanager
def context_set(variable: contextvars.ContextVar[Any], value: Any) -> Iterator[None]:
    """``variable`` is ``value`` inside (and what it was again afterwards)."""
    token = variable.set(value)
    try:
        yield
    finally:
        variable.reset(token)
