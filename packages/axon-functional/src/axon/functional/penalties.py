"""Regularization penalties over pytrees: ``l1``, ``l2``, ``l1_l2`` and their penalty objects.

The functions follow Keras's conventions exactly, so a factor means what it means in
Keras: ``l1(tree, factor) = factor * sum(|x|)`` and ``l2(tree, factor) = factor *
sum(x**2)``, summed over every leaf of ``tree``. There is **no** ``1/2`` in ``l2``: its
gradient is ``2 * factor * x``, so training with ``l2(factor)`` on plain SGD is
decoupled weight decay with ``weight_decay = 2 * factor`` (``optax.add_decayed_weights(2
* factor)`` before ``optax.sgd``). Keras's convention was kept, not the ``1/2`` of some
textbooks, so that factors copied from Keras models give the same training.

Layers take a penalty as data, never as a closure: a name (``"l2"``, Keras's default
factor ``0.01``) or a small frozen object such as ``L2(1e-4)``, which a model file can
store as JSON (:func:`serialize`) and rebuild (:func:`deserialize`) by its registered
name. Plugins add penalties through the ``axon_penalties`` hook (a class whose
instances are called on a pytree and whose ``get_config()`` rebuilds them).

>>> import jax.numpy as jnp
>>> params = {"w": jnp.array([1.0, -2.0]), "b": jnp.array(3.0)}
>>> l2(params, 0.1)
Array(1.4, dtype=float32)
>>> L1L2(l1=0.5, l2=0.1)(params)
Array(4.4, dtype=float32)
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp

from .plugins import penalties as _registered

__all__ = [
    "BUILTINS",
    "L1",
    "L1L2",
    "L2",
    "Penalty",
    "deserialize",
    "get",
    "l1",
    "l1_l2",
    "l2",
    "names",
    "resolve",
    "serialize",
]


def _sum(tree: Any, term: Any) -> jax.Array:
    """``sum(term(leaf))`` over the floating leaves of ``tree``, in at least float32 (a
    bfloat16 parameter's squares would lose the penalty's small terms)."""
    total = jnp.zeros((), jnp.float32)
    for leaf in jax.tree_util.tree_leaves(tree):
        leaf = jnp.asarray(leaf)
        if jnp.issubdtype(leaf.dtype, jnp.floating):
            total = total + jnp.sum(term(leaf.astype(jnp.promote_types(leaf.dtype, jnp.float32))))
    return total


def l1(tree: Any, factor: float = 0.01) -> jax.Array:
    """``factor * sum(|x|)`` over every floating leaf of ``tree`` (Keras's ``L1``).

    >>> import jax.numpy as jnp
    >>> l1({"a": jnp.array([1.0, -2.0]), "b": [jnp.array(-4.0)]}, factor=0.5)
    Array(3.5, dtype=float32)
    """
    return factor * _sum(tree, jnp.abs)


def l2(tree: Any, factor: float = 0.01) -> jax.Array:
    """``factor * sum(x**2)`` over every floating leaf of ``tree`` (Keras's ``L2``: no ``1/2``).

    Its gradient is ``2 * factor * x``: on plain SGD this is weight decay ``2 * factor``.

    >>> import jax, jax.numpy as jnp
    >>> l2(jnp.array([1.0, -2.0]), factor=0.5)
    Array(2.5, dtype=float32)
    >>> jax.grad(l2)(jnp.array([1.0, -2.0]), 0.5)
    Array([ 1., -2.], dtype=float32)
    """
    return factor * _sum(tree, jnp.square)


def l1_l2(tree: Any, l1: float = 0.01, l2: float = 0.01) -> jax.Array:
    """``l1 * sum(|x|) + l2 * sum(x**2)`` over every floating leaf of ``tree`` (Keras's ``L1L2``).

    >>> import jax.numpy as jnp
    >>> l1_l2(jnp.array([1.0, -2.0]), l1=0.5, l2=0.25)
    Array(2.75, dtype=float32)
    """
    return l1 * _sum(tree, jnp.abs) + l2 * _sum(tree, jnp.square)


def _factor(owner: Any, option: str) -> None:
    """Check a penalty factor (a finite number >= 0) and store it as a float."""
    value = getattr(owner, option)
    valid = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not valid or not math.isfinite(value) or value < 0:
        raise ValueError(
            f"{type(owner).__name__}: {option} must be a finite number >= 0; received {value!r}."
        )
    object.__setattr__(owner, option, float(value))


@dataclasses.dataclass(frozen=True)
class Penalty:
    """A penalty as data: called on a pytree, it returns a scalar; ``get_config()`` rebuilds it.

    Subclasses are frozen dataclasses of JSON numbers, so ``type(p)(**p.get_config())
    == p``; register them through the ``axon_penalties`` hook to make them known by
    name (to :func:`resolve` and to model files).

    >>> import dataclasses, jax.numpy as jnp
    >>> @dataclasses.dataclass(frozen=True)
    ... class MaxNorm(Penalty):  # factor * the largest |x| of every leaf, summed
    ...     factor: float = 0.01
    ...     def __call__(self, tree):
    ...         leaves = jax.tree_util.tree_leaves(tree)
    ...         return self.factor * sum(jnp.max(jnp.abs(x)) for x in leaves)
    >>> MaxNorm(0.5)({"a": jnp.array([1.0, -3.0]), "b": jnp.array([2.0])})
    Array(2.5, dtype=float32)
    """

    def __call__(self, tree: Any) -> jax.Array:
        """The penalty of ``tree``, a scalar.

        >>> L2(0.5)(jnp.array([2.0]))
        Array(2., dtype=float32)
        """
        raise NotImplementedError(f"{type(self).__name__} must define __call__(tree).")

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments, as JSON numbers: ``type(p)(**p.get_config()) == p``.

        >>> L1L2(l1=0.5).get_config()
        {'l1': 0.5, 'l2': 0.01}
        """
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class _Factors(Penalty):
    """A penalty whose fields are all factors: finite numbers >= 0, stored as floats."""

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            _factor(self, field.name)


@dataclasses.dataclass(frozen=True)
class L1(_Factors):
    """``l1 * sum(|x|)`` (Keras's ``L1``; the name ``"l1"`` means ``L1(0.01)``).

    >>> L1(0.5)(jnp.array([1.0, -2.0]))
    Array(1.5, dtype=float32)
    """

    l1: float = 0.01

    def __call__(self, tree: Any) -> jax.Array:
        return l1(tree, self.l1)


@dataclasses.dataclass(frozen=True)
class L2(_Factors):
    """``l2 * sum(x**2)`` (Keras's ``L2``, no ``1/2``; the name ``"l2"`` means ``L2(0.01)``).

    >>> L2(0.5)(jnp.array([1.0, -2.0]))
    Array(2.5, dtype=float32)
    """

    l2: float = 0.01

    def __call__(self, tree: Any) -> jax.Array:
        return l2(tree, self.l2)


@dataclasses.dataclass(frozen=True)
class L1L2(_Factors):
    """``l1 * sum(|x|) + l2 * sum(x**2)``; the name ``"l1_l2"`` means ``L1L2(0.01, 0.01)``.

    The defaults are those of Keras 2's ``l1_l2()``: Keras 3's ``L1L2()`` defaults to
    zeros, a penalty that does nothing, which a name should never silently give.

    >>> L1L2(l1=0.5, l2=0.25)(jnp.array([1.0, -2.0]))
    Array(2.75, dtype=float32)
    """

    l1: float = 0.01
    l2: float = 0.01

    def __call__(self, tree: Any) -> jax.Array:
        return l1_l2(tree, self.l1, self.l2)


def get(name: str) -> type[Penalty]:
    """The penalty class registered under ``name``.

    >>> get("l2") is L2
    True
    """
    return _registered.get(name)


def names() -> list[str]:
    """Every registered penalty name, sorted.

    >>> names()
    ['l1', 'l1_l2', 'l2']
    """
    return _registered.names()


def resolve(spec: str | Penalty | Mapping[str, Any]) -> Penalty:
    """A penalty object from a registered name (default factors), a ``Penalty``, or the
    ``{"name": ..., "config": ...}`` of :func:`serialize`.

    Anything else (a function, a lambda) is refused: a layer's penalty is data, so
    that a model file can store it.

    >>> resolve("l2")
    L2(l2=0.01)
    >>> resolve(L1(1e-4)) == L1(1e-4)
    True
    >>> try:
    ...     resolve(lambda tree: 0.0)
    ... except TypeError as error:
    ...     print(str(error).split(". ")[1])
    A function is not accepted: a model file could not store it
    """
    if isinstance(spec, str):
        return get(spec)()
    if isinstance(spec, Penalty):
        return spec
    if isinstance(spec, Mapping):
        return deserialize(spec)
    raise TypeError(
        f"A penalty must be a registered name ({', '.join(names())}), a Penalty object such "
        f"as axon.functional.penalties.L2(1e-4) or its serialized dict; received "
        f"{type(spec).__name__} {spec!r}. A function is not accepted: a model file could not "
        f"store it. Write a frozen dataclass subclass of Penalty and register it with the "
        f"axon_penalties hook."
    )


def serialize(penalty: Penalty) -> dict[str, Any]:
    """``{"name": registered name, "config": get_config()}``: JSON that :func:`deserialize` reads.

    >>> serialize(L2(1e-4))
    {'name': 'l2', 'config': {'l2': 0.0001}}
    """
    registered = [name for name in names() if get(name) is type(penalty)]
    if not registered:
        raise TypeError(
            f"The penalty {penalty!r} is not registered, so it cannot be serialized: return "
            f"{{name: {type(penalty).__name__}}} from an axon_penalties hook of a plugin."
        )
    return {"name": registered[0], "config": dict(penalty.get_config())}


def deserialize(data: Mapping[str, Any]) -> Penalty:
    """The penalty that :func:`serialize` described; only registered classes are built.

    >>> deserialize({"name": "l1_l2", "config": {"l1": 0.5, "l2": 0.0}})
    L1L2(l1=0.5, l2=0.0)
    """
    if not isinstance(data, Mapping) or set(data) != {"name", "config"}:
        raise ValueError(
            f'A serialized penalty is {{"name": ..., "config": {{...}}}}; received {data!r}.'
        )
    cls = get(data["name"])
    try:
        return cls(**data["config"])
    except TypeError as error:
        raise ValueError(
            f"The penalty {data['name']!r} cannot be built from config {data['config']!r}: {error}"
        ) from None


#: The built-in penalty classes, by name.
BUILTINS: dict[str, type[Penalty]] = {"l1": L1, "l2": L2, "l1_l2": L1L2}
