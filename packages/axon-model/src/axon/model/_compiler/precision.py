"""Mixed precision: per-layer dtype policies (``Axon.MixedPrecision``).

A :class:`Policy` names three dtypes: ``params`` (how parameters are stored,
applied at init), ``compute`` (parameters and floating inputs are cast to it
before the layer's op) and ``output`` (floating outputs are cast to it after the
op). ``None`` means "no cast". Integer and boolean values are never cast, so
token ids reach an embedding untouched.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import jax
import jax.numpy as jnp
import numpy as np

from .._graph.node import Node, topological_order

if TYPE_CHECKING:
    from .._graph.model import Model

__all__ = ["Policy", "apply_policy", "cast", "create_policy"]

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

    Dtypes may be given as JAX/NumPy dtypes or names (``"bfloat16"``, ``"float16"``);
    they must be floating dtypes.

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
            f"{_close(str(which), ['params', 'compute', 'output'])}."
        )
    return cast_tree(tree, getattr(policy, which))


def apply_policy(
    model: Model,
    policy: Policy,
    only: Sequence[str] | None = None,
    except_: Sequence[str] | None = None,
    filter: Callable[[Node], bool] | None = None,  # Axon's name for it
) -> Model:
    """A new model whose selected layers carry ``policy`` (``Axon.MixedPrecision.apply_policy``).

    Every layer except the inputs is selected unless narrowed: ``only`` keeps
    layers whose op name (``"dense"``, ``"relu"``, ...) is listed, ``except_``
    drops those listed, and ``filter(node) -> bool`` decides per node; all given
    criteria must hold. Layer names and shared subgraphs are kept, so a model
    state of the original model fits the new one. The original model is unchanged.

    Args:
        model: the model to convert.
        policy: from :func:`create_policy`.
        only: op names to apply the policy to.
        except_: op names to leave alone (e.g. ``["batch_norm", "softmax"]``).
        filter: a predicate over :class:`~axon.model.Node`.

    Returns:
        The converted :class:`~axon.model.Model`.

    >>> import jax, jax.numpy as jnp, axon.model
    >>> from axon.model import mixed_precision as mp
    >>> model = axon.model.input("x", shape=(None, 3)).dense(4).relu().dense(2)
    >>> half = mp.apply_policy(model, mp.create_policy(compute=jnp.bfloat16), except_=["relu"])
    >>> axon.model.get_output_shape(half, jnp.ones((1, 3))).dtype
    dtype(bfloat16)
    """
    from .._graph.model import Model  # the compiler imports this module; Model imports the compiler

    if not isinstance(model, Model):
        raise TypeError(f"apply_policy expects a Model, got {type(model).__name__}.")
    if not isinstance(policy, Policy):
        raise TypeError(
            f"apply_policy expects a Policy from create_policy(...), got {type(policy).__name__}."
        )
    order = topological_order([model.node])
    op_names = sorted({n.op_name for n in order if n.op is not None})
    only_set = _op_names(only, "only", op_names)
    except_set = _op_names(except_, "except_", op_names)

    def selected(node: Node) -> bool:
        if node.op is None:  # inputs have no op to cast around
            return False
        if only_set is not None and node.op_name not in only_set:
            return False
        if except_set is not None and node.op_name in except_set:
            return False
        return filter is None or bool(filter(node))

    rebuilt: dict[int, Node] = {}
    for node in order:  # inputs before their users, each node once: shared stays shared
        args = tuple(rebuilt[a.id] if isinstance(a, Node) else a for a in node.args)
        changed = any(new is not old for new, old in zip(args, node.args, strict=True))
        if selected(node):
            rebuilt[node.id] = node.rebuilt(args=args, policy=policy)
        elif changed:
            rebuilt[node.id] = node.rebuilt(args=args)
        else:
            rebuilt[node.id] = node
    return Model(rebuilt[model.node.id])


# -- used by the compiler -----------------------------------------------------------------


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


def _floating_dtype(value: Any, which: str) -> Any:
    if value is None:
        return None
    try:
        dtype = jnp.dtype(value)
    except TypeError as error:
        raise TypeError(
            f"Policy {which}= must be a floating dtype such as jnp.bfloat16 or 'float16', "
            f"or None for no cast; got {value!r}."
        ) from error
    if not is_floating(dtype):
        raise ValueError(
            f"Policy {which}= must be a floating dtype (bfloat16, float16, float32, ...), got "
            f"{dtype}: a policy never casts integers or booleans."
        )
    return dtype


def _short(dtype: Any) -> str:
    if dtype is None:
        return "None"
    dtype = np.dtype(dtype)
    return "bf16" if dtype.name == "bfloat16" else f"f{dtype.itemsize * 8}"


def _op_names(names: Sequence[str] | None, option: str, known: list[str]) -> set[str] | None:
    if names is None:
        return None
    if isinstance(names, str):
        names = [names]
    unknown = [n for n in names if n not in known]
    if unknown:
        hints = "".join(_close(n, known) for n in unknown)
        raise ValueError(
            f"apply_policy({option}=...): no layer of this model has op {unknown[0]!r}"
            f"{hints}; its ops are {known}. Op names are Node.op_name values such as "
            f"'dense' or 'relu'."
        )
    return set(names)


def _close(name: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=3)
    return f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
