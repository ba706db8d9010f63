"""Where a source stands inside an epoch, for sources that can say so.

Two protocols are recognised, by duck typing (neither library is imported):

- ``get_state()``/``set_state(state)`` on the epoch's *iterator*: grain's
  ``DatasetIterator`` (from ``MapDataset``/``IterDataset``) and ``DataLoader``
  iterators;
- ``state_dict()``/``load_state_dict(state)`` on the *loader*: torchdata's
  ``StatefulDataLoader`` and loaders like it.

A position is read before each batch, so it says where that batch was read from.
A checkpoint stores the position of the last batch the run consumed, as JSON; a
resumed run moves a fresh iterator there, reads that one batch again (the run's
state is rebuilt from it) and goes on, without reading the batches before it.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Iterator
from typing import Any

#: ``{"protocol": ..., "source": <type name>, "state": <the source's state>}``, or
#: ``"bytes"`` (base64) in place of ``"state"`` for a state given as bytes (grain's
#: ``DataLoader``).
Position = dict[str, Any]


def position_reader(
    iterable: Iterable[Any], iterator: Iterator[Any]
) -> Callable[[], Position] | None:
    """A function giving where ``iterator`` (over ``iterable``) stands now, or ``None`` for a
    source that cannot say (it is replayed on resume)."""
    source = type(iterable).__name__
    if _has(iterable, "state_dict", "load_state_dict"):
        return lambda: _position("state_dict", source, iterable.state_dict())
    if _has(iterator, "get_state", "set_state"):
        return lambda: _position("get_state", source, iterator.get_state())
    return None


def moved_to(iterable: Iterable[Any], position: Position) -> Iterator[Any] | None:
    """An iterator over ``iterable`` that starts at ``position``, or ``None`` if the source
    does not take positions of that kind (then it is replayed)."""
    state = base64.b64decode(position["bytes"]) if "bytes" in position else position.get("state")
    protocol = position.get("protocol")
    if protocol == "state_dict" and _has(iterable, "state_dict", "load_state_dict"):
        iterable.load_state_dict(state)
        return iter(iterable)
    if protocol == "get_state":
        iterator = iter(iterable)
        if _has(iterator, "get_state", "set_state"):
            iterator.set_state(state)
            return iterator
    return None


def checked_position(position: Position | None) -> Position | None:
    """``position`` if a checkpoint can store it (JSON: str keys, numbers, strings, lists,
    dicts), else a ``TypeError`` naming the source and the value that is not JSON."""
    if position is None:
        return None
    problem = _not_json(position.get("state"), "")
    if problem is None:
        return position
    path, value = problem
    where = f" at {path}" if path else ""
    reader = f"{position['source']}.{position['protocol']}()"
    raise TypeError(
        f"The data's position cannot be checkpointed: {reader} holds a value of type "
        f"{type(value).__name__}{where}, and a checkpoint stores positions as JSON (never "
        f"pickle). Give the source a position made of JSON values, or pass it as "
        f"`lambda: (batch for batch in loader)`, so that a resume reads the epoch again up to "
        f"the checkpoint instead."
    )


def _position(protocol: str, source: str, state: Any) -> Position:
    if isinstance(state, bytes):
        return {"protocol": protocol, "source": source, "bytes": base64.b64encode(state).decode()}
    return {"protocol": protocol, "source": source, "state": state}


def _has(value: Any, *methods: str) -> bool:
    return all(callable(getattr(value, name, None)) for name in methods)


def _not_json(value: Any, path: str) -> tuple[str, Any] | None:
    """The path and value of the first part of ``value`` that is not JSON, else ``None``."""
    if value is None or type(value) in (bool, int, float, str):
        return None
    if isinstance(value, list | tuple):
        items = ((f"{path}[{i}]", item) for i, item in enumerate(value))
    elif isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):  # JSON would turn it into a string
                return f"{path} (a key)".lstrip(), key
        items = ((f"{path}[{key!r}]", item) for key, item in value.items())
    else:
        return path, value
    return next((p for item in items if (p := _not_json(item[1], item[0])) is not None), None)
