"""Mixed precision at compile time (``Axon.MixedPrecision``): policies and the casts they make.

A :class:`Policy` names three dtypes: ``params`` (how parameters are stored,
applied at init), ``compute`` (parameters and floating inputs are cast to it
before the layer's op) and ``output`` (floating outputs are cast to it after the
op). ``None`` means "no cast". Integer and boolean values are never cast, so
token ids reach an embedding untouched. Putting a policy on layers is a graph
rewrite (``_graph.precision``).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np

Which = Literal["params", "compute", "output"]


@dataclass(frozen=True)
class Policy:
    """A mixed-precision policy: dtypes for ``params``, ``compute``, ``output`` (``None``: no cast).

    Create one with :func:`create_policy`; attach it to layers with :func:`apply_policy`.

    >>> import jax.numpy as jnp
    >>> Policy(params=jnp.float32, compute=jnp.bfloat16, output=jnp.float32)
    Policy(params=f32, compute=bf16, output=f32)
    """

    params: Any = None
    compute: Any = None
    output: Any = None

    def __post_init__(self) -> None:
        for which in ("params", "compute", "output"):
            object.__setattr__(self, which, _floating_dtype(getattr(self, which), which))

    def __repr__(self) -> str:
        return (
            f"Policy(params={_short(self.params)}, compute={_short(self.compute)}, "
            f"output={_short(self.output)})"
        )


def create_policy(params: Any = None, compute: Any = None, output: Any = None) -> Policy:
    """A mixed-precision policy (``Axon.MixedPrecision.create_policy``); ``None`` means no cast.

    Dtypes may be given as JAX/NumPy dtypes, names (``"bfloat16"``, ``"float16"``) or
    short names by bit width (``"bf16"``, ``"f16"``, ``"f32"``, ``"f64"``, as a policy
    prints them); they must be floating dtypes that JAX computes in (not float128).

    Args:
        params: dtype parameters are stored in (cast once, at init).
        compute: dtype parameters and floating inputs are cast to before each op.
        output: dtype floating outputs are cast to after each op.

    Returns:
        An immutable :class:`Policy`.

    >>> import jax.numpy as jnp
    >>> create_policy(params=jnp.float32, compute="bfloat16", output=jnp.float32)
    Policy(params=f32, compute=bf16, output=f32)
    >>> create_policy(compute=jnp.float16)
    Policy(params=None, compute=f16, output=None)
    >>> create_policy(params="f32", compute="bf16", output="f16")
    Policy(params=f32, compute=bf16, output=f16)
    """
    return Policy(params=params, compute=compute, output=output)


def cast(policy: Policy, tree: Any, which: Which) -> Any:
    """Cast the floating arrays of ``tree`` to the policy's ``which`` dtype (``Axon`` ``cast/3``).

    Integer and boolean leaves are never cast; ``which`` is ``"params"``,
    ``"compute"`` or ``"output"``; a ``None`` dtype leaves everything as it is.
    ``jax.ShapeDtypeStruct`` leaves get the new dtype too.

    >>> import jax.numpy as jnp
    >>> policy = create_policy(compute=jnp.bfloat16)
    >>> out = cast(policy, {"x": jnp.ones(2), "ids": jnp.arange(2)}, "compute")
    >>> out["x"].dtype, out["ids"].dtype
    (dtype(bfloat16), dtype('int32'))
    """
    if not isinstance(policy, Policy):
        raise TypeError(
            f"cast expects a Policy from create_policy(...), got {type(policy).__name__}."
        )
    if which not in ("params", "compute", "output"):
        raise ValueError(
            f"cast: which must be 'params', 'compute' or 'output', got {which!r}"
            f"{close_matches(str(which), ['params', 'compute', 'output'])}."
        )
    return cast_tree(tree, getattr(policy, which))


def cast_tree(tree: Any, dtype: Any) -> Any:
    """Cast floating leaves (arrays or ``ShapeDtypeStruct``) of ``tree`` to ``dtype``."""
    if dtype is None:
        return tree
    return jax.tree_util.tree_map(lambda leaf: _cast_leaf(leaf, dtype), tree)


def is_floating(dtype: Any) -> bool:
    """Whether ``dtype`` is a real floating dtype (the only kind a policy casts)."""
    try:
        return bool(jnp.issubdtype(dtype, jnp.floating))
    except TypeError:
        return False


def _cast_leaf(leaf: Any, dtype: Any) -> Any:
    current = getattr(leaf, "dtype", None)
    if current is None or not is_floating(current) or current == dtype:
        return leaf
    if isinstance(leaf, jax.ShapeDtypeStruct):
        return jax.ShapeDtypeStruct(leaf.shape, dtype, sharding=leaf.sharding)
    return jnp.asarray(leaf).astype(dtype)


#: The short names people write (and ``Policy`` prints), by bit width. NumPy alone reads
#: ``"f16"`` as a 16-*byte* float (float128) and ``"bf16"``/``"f32"`` not at all.
SHORT_NAMES = {"f16": "float16", "bf16": "bfloat16", "f32": "float32", "f64": "float64"}


def _floating_dtype(value: Any, which: str) -> Any:
    if value is None:
        return None
    if isinstance(value, str) and value.lower() == "f8":
        raise ValueError(
            f"Policy {which}='f8' is ambiguous: NumPy reads it as float64 (8 bytes), but "
            f"'f16'/'f32' here count bits. Write 'float64', or a float8 dtype such as "
            f"jnp.float8_e4m3fn."
        )
    if isinstance(value, str):
        value = SHORT_NAMES.get(value.lower(), value)
    try:
        dtype = jnp.dtype(value)
    except TypeError as error:
        raise TypeError(
            f"Policy {which}= must be a floating dtype such as jnp.bfloat16, 'bfloat16' or "
            f"'bf16', or None for no cast; got {value!r}."
        ) from error
    if not is_floating(dtype):
        raise ValueError(
            f"Policy {which}= must be a floating dtype (bfloat16, float16, float32, ...), got "
            f"{dtype}: a policy never casts integers or booleans."
        )
    if dtype.itemsize > 8:  # float128/longdouble: JAX has no such type
        raise ValueError(
            f"Policy {which}={value!r} is {dtype}, a type JAX does not support. Use one of "
            f"{', '.join(SHORT_NAMES.values())} (or their short names "
            f"{', '.join(map(repr, SHORT_NAMES))})."
        )
    return dtype


def _short(dtype: Any) -> str:
    if dtype is None:
        return "None"
    dtype = np.dtype(dtype)
    return "bf16" if dtype.name == "bfloat16" else f"f{dtype.itemsize * 8}"


def close_matches(name: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=3)
    return f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
