"""Compiled programs shared by every loop of an equal configuration.

A loop's programs (its fused step, its block program, its init) are determined by
what it computes, not by the ``Loop`` object: a second ``trainer(...)`` with the same
model, loss, optimizer and metrics, or a loop rebuilt by ``replace``, must reuse
what the first one compiled. So programs are cached here, process-wide, under a
*fingerprint* of the functions that make them, and JAX's own cache inside each
``jax.jit`` object tells input signatures (shapes, dtypes, shardings) apart.

A fingerprint compares functions by structure: the same code with equal closure
values, defaults and referenced global constants (``optax.adam(1e-3)`` made twice
gives equal fingerprints; ``optax.adam(1e-2)`` does not). Arrays compare by
value (large ones by identity), plain data by value, frozen dataclasses and
``functools.partial`` field by field; anything else (a model graph) by identity, kept
alive by the key, and an object of a user's class by identity and its attributes (a loss
object whose ``weight`` was changed is another configuration). Functions and modules read as
globals compare by identity: like ``jax.jit``, a global read by a helper function is
read when the program is traced.

The key of a program is ``(kind, fingerprint, flags...)``; a caller that adds
something else determining the program (e.g. in/out shardings) adds it to the flags.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import types
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from typing import Any

import jax
import numpy as np

#: Configurations kept (least recently used dropped first); each holds a few programs.
MAX_ENTRIES = 64
#: Arrays up to this many bytes are compared by value, larger ones by identity.
MAX_VALUE_BYTES = 1 << 16

_programs: OrderedDict[Hashable, Any] = OrderedDict()


def shared(key: Hashable, build: Callable[[], Any]) -> Any:
    """The program cached under ``key``, built (and cached) on the first request."""
    try:
        _programs.move_to_end(key)
        return _programs[key]
    except KeyError:
        pass
    program = _programs[key] = build()
    while len(_programs) > MAX_ENTRIES:
        _programs.popitem(last=False)
    return program


def clear() -> None:
    """Forget every cached program (e.g. to measure compilation)."""
    _programs.clear()


class _Identity:
    """A key part that compares by identity and keeps its object alive."""

    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Identity) and other.value is self.value

    def __hash__(self) -> int:
        return id(self.value)


_PLAIN = (type(None), bool, int, float, complex, str, bytes)


def fingerprint(value: Any) -> Hashable:
    """A hashable description of ``value``: equal for values that trace to the same
    program (see the module's docstring)."""
    return _fingerprint(value, set())


def _fingerprint(value: Any, active: set[int]) -> Hashable:
    if isinstance(value, _PLAIN):
        return type(value), value
    if isinstance(value, (types.ModuleType, type)):
        return _Identity(value)
    if id(value) in active:  # a cycle (a recursive closure): its start is named already
        return "cycle"
    active.add(id(value))
    try:
        return _structural(value, active)
    finally:
        active.discard(id(value))


def _structural(value: Any, active: set[int]) -> Hashable:
    fp = functools.partial(_fingerprint, active=active)
    if isinstance(value, (tuple, list)):
        return type(value), tuple(map(fp, value))
    if isinstance(value, dict):
        return type(value), tuple((fp(k), fp(v)) for k, v in value.items())
    if isinstance(value, types.FunctionType):
        return _function(value, fp)
    if isinstance(value, types.MethodType):
        return "method", fp(value.__func__), fp(value.__self__)
    if isinstance(value, functools.partial):
        return "partial", fp(value.func), fp(value.args), fp(value.keywords)
    if isinstance(value, (np.ndarray, np.generic, jax.Array)):
        return _array(value)
    if dataclasses.is_dataclass(value) and value.__dataclass_params__.frozen:
        fields = (fp(getattr(value, f.name)) for f in dataclasses.fields(value) if f.compare)
        return type(value), tuple(fields)
    if _users(value):  # the same object with changed attributes traces another program
        return _Identity(value), fp(dict(vars(value)))
    return _Identity(value)


#: Libraries whose objects a step reads are immutable (a model graph, an optax state):
#: compared by identity alone. A user's object is compared by its attributes too.
_IMMUTABLE_LIBRARIES = frozenset({"axon", "jax", "jaxlib", "numpy", "optax", "builtins"})


def _users(value: Any) -> bool:
    module = type(value).__module__.split(".", 1)[0]
    return module not in _IMMUTABLE_LIBRARIES and hasattr(value, "__dict__")


def _function(fn: types.FunctionType, fp: Callable[[Any], Hashable]) -> Hashable:
    cells = tuple(fp(_cell(cell)) for cell in fn.__closure__ or ())
    defaults = fp(fn.__defaults__), fp(fn.__kwdefaults__)
    return fn.__code__, cells, defaults, _globals(fn, fp)


def _globals(fn: types.FunctionType, fp: Callable[[Any], Hashable]) -> Hashable:
    """The global constants ``fn`` reads, by value; global functions by identity."""
    read = []
    for name in _global_names(fn.__code__):
        if name in fn.__globals__:
            value = fn.__globals__[name]
            read.append((name, _Identity(value) if callable(value) else fp(value)))
    return tuple(read)


@functools.cache
def _global_names(code: types.CodeType) -> tuple[str, ...]:
    nested = (_global_names(c) for c in code.co_consts if isinstance(c, types.CodeType))
    return tuple(sorted(set(code.co_names).union(*nested)))


def _cell(cell: Any) -> Any:
    try:
        return cell.cell_contents
    except ValueError:  # a cell not filled yet
        return "empty cell"


def _array(value: Any) -> Hashable:
    if isinstance(value, jax.core.Tracer):
        return _Identity(value)
    if np.ndim(value) and np.size(value) * np.dtype(value.dtype).itemsize > MAX_VALUE_BYTES:
        return _Identity(value)
    host = np.asarray(value)
    return "array", host.shape, str(host.dtype), host.tobytes()


@dataclasses.dataclass
class Compilations:
    """What XLA compiled in a ``with compilations()`` block."""

    compiled: int = 0  # programs compiled (persistent-cache hits not counted)
    from_disk: int = 0  # programs read from the persistent compilation cache


@contextlib.contextmanager
def compilations() -> Iterator[Compilations]:
    """Count the programs XLA compiles inside the block (JAX's monitoring events: a
    count, not a time), e.g. to check that a loop compiles nothing new."""
    counted = Compilations()
    requested = [0]

    def on_duration(event: str, duration: float, **_: Any) -> None:
        if event == "/jax/core/compile/backend_compile_duration":
            requested[0] += 1

    def on_event(event: str, **_: Any) -> None:
        if event == "/jax/compilation_cache/cache_hits":
            counted.from_disk += 1

    jax.monitoring.register_event_duration_secs_listener(on_duration)
    jax.monitoring.register_event_listener(on_event)
    try:
        yield counted
    finally:
        jax.monitoring.unregister_event_duration_listener(on_duration)
        jax.monitoring.unregister_event_listener(on_event)
    counted.compiled = requested[0] - counted.from_disk
