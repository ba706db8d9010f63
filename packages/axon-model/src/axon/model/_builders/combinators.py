"""Combinators: merging, splitting, branching and wrapping models (no parameters).

``concatenate``, ``add``, ``subtract``, ``multiply`` take two models or a list;
``split`` returns a tuple of models; ``container`` groups models into a dict/tuple/list
(nested) whose value is that pytree, e.g. for multi-output models; ``cond`` picks one of
two branches at run time; ``constant`` is a fixed array; ``nx`` wraps any JAX function;
``stack_columns`` stacks the fields of a record into the last axis; ``optional`` and
``or_else`` implement Axon's handling of missing values (see :func:`or_else`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._graph.constructors import layer
from .._graph.model import Model
from .._graph.node import Node, defined_at
from .options import (
    check_callable,
    check_model,
    is_int,
    option_error,
)
from .structured import plain, structured


def _inputs(fn: str, x: Any, y: Any) -> list[Model]:
    """``[x, y]``, ``x`` (a list), or ``[x, *y]`` (chained with a list), all models."""
    if isinstance(x, list | tuple):
        if y is not None:
            raise TypeError(f"{fn}: pass either a list of models or two models, not both.")
        models = list(x)
    elif isinstance(y, list | tuple):
        models = [x, *y]
    elif y is None:
        raise TypeError(f"{fn}: needs at least two models: {fn}(x, y) or {fn}([x, y, ...]).")
    else:
        models = [x, y]
    for i, m in enumerate(models):
        check_model(fn, f"inputs[{i}]", m)
    if len(models) < 2:
        raise ValueError(f"{fn}: needs at least two models; received {len(models)}.")
    return models


def concatenate_op(*xs: jax.Array, axis: int = -1) -> jax.Array:
    """``jnp.concatenate(xs, axis)`` (the op of :func:`concatenate`)."""
    return jnp.concatenate(xs, axis=axis)


def concatenate(
    x: Model | Sequence[Model],
    y: Model | Sequence[Model] | None = None,
    *,
    axis: int = -1,
    name: str | None = None,
) -> Model:
    """Concatenate two models or a list of them along ``axis`` (``Axon.concatenate``).

    >>> import jax.numpy as jnp, axon.model
    >>> a, b = axon.model.input("a", shape=(None, 2)), axon.model.input("b", shape=(None, 3))
    >>> model = a.concatenate(b)
    >>> inputs = {"a": jnp.ones((1, 2)), "b": jnp.ones((1, 3))}
    >>> model.apply(model.init(0, inputs), inputs)[0].shape
    (1, 5)
    """
    models = _inputs("concatenate", x, y)
    if not is_int(axis):
        raise option_error("concatenate", "axis", "an int", axis)
    return layer(
        concatenate_op, models, name=name, op_name="concatenate", config={"axis": axis}, axis=axis
    )


def add_op(*xs: jax.Array) -> jax.Array:
    """``xs[0] + xs[1] + ...`` with broadcasting."""
    return functools.reduce(jnp.add, xs)


def subtract_op(*xs: jax.Array) -> jax.Array:
    """``xs[0] - xs[1] - ...`` with broadcasting."""
    return functools.reduce(jnp.subtract, xs)


def multiply_op(*xs: jax.Array) -> jax.Array:
    """``xs[0] * xs[1] * ...`` with broadcasting."""
    return functools.reduce(jnp.multiply, xs)


def _elementwise(fn: str, op: Callable[..., Any], x: Any, y: Any, name: str | None) -> Model:
    return layer(op, _inputs(fn, x, y), name=name, op_name=fn)


def add(
    x: Model | Sequence[Model], y: Model | Sequence[Model] | None = None, *, name: str | None = None
) -> Model:
    """Element-wise sum of two models or a list, with broadcasting (``Axon.add``).

    >>> import jax.numpy as jnp, axon.model
    >>> x = axon.model.input("x", shape=(None, 2))
    >>> model = x.add(x.dense(2))  # a residual connection
    >>> model.apply(model.init(0, jnp.ones((1, 2))), jnp.ones((3, 2)))[0].shape
    (3, 2)
    """
    return _elementwise("add", add_op, x, y, name)


def subtract(
    x: Model | Sequence[Model], y: Model | Sequence[Model] | None = None, *, name: str | None = None
) -> Model:
    """``x - y`` (or ``x0 - x1 - ...`` for a list), with broadcasting (``Axon.subtract``).

    >>> import jax.numpy as jnp, axon.model
    >>> a, b = axon.model.input("a", shape=(None, 2)), axon.model.input("b", shape=(None, 1))
    >>> inputs = {"a": jnp.ones((1, 2)), "b": jnp.full((1, 1), 3.0)}
    >>> model = axon.model.subtract(a, b)
    >>> model.apply(model.init(0, inputs), inputs)[0].tolist()
    [[-2.0, -2.0]]
    """
    return _elementwise("subtract", subtract_op, x, y, name)


def multiply(
    x: Model | Sequence[Model], y: Model | Sequence[Model] | None = None, *, name: str | None = None
) -> Model:
    """Element-wise product of two models or a list, with broadcasting (``Axon.multiply``).

    >>> import jax.numpy as jnp, axon.model
    >>> x = axon.model.input("x", shape=(None, 2))
    >>> model = axon.model.multiply([x, x, x])
    >>> model.apply(model.init(0, jnp.ones((1, 2))), jnp.full((1, 2), 2.0))[0].tolist()
    [[8.0, 8.0]]
    """
    return _elementwise("multiply", multiply_op, x, y, name)


def split_op(x: jax.Array, *, splits: int | tuple[int, ...], index: int, axis: int) -> jax.Array:
    """Part ``index`` of ``x`` split along ``axis`` into ``splits`` equal parts or given sizes."""
    size = x.shape[axis]
    if isinstance(splits, int):
        if size % splits:
            raise ValueError(
                f"split: cannot split axis {axis} of size {size} (input shape {x.shape}) into "
                f"{splits} equal parts; pass sizes instead, e.g. split(x, [..]) summing to {size}."
            )
        sizes = (size // splits,) * splits
    else:
        sizes = splits
        if sum(sizes) != size:
            raise ValueError(
                f"split: sizes {list(sizes)} sum to {sum(sizes)}, but axis {axis} of the input "
                f"(shape {x.shape}) has size {size}."
            )
    start = sum(sizes[:index])
    return jax.lax.slice_in_dim(x, start, start + sizes[index], axis=axis % x.ndim)


def split(
    x: Model,
    splits: int | Sequence[int],
    *,
    axis: int = -1,
    name: str | Sequence[str] | None = None,
) -> tuple[Model, ...]:
    """Split ``x`` along ``axis`` into a tuple of models (``Axon.split``).

    ``splits`` is a number of equal parts or a list of part sizes. ``name`` is a base name
    (parts are ``<name>_0``, ``<name>_1``, ...) or one name per part.

    >>> import jax.numpy as jnp, axon.model
    >>> a, b = axon.model.input("x", shape=(None, 6)).split([2, 4])
    >>> state = a.init(0, jnp.zeros((1, 6)))
    >>> a.apply(state, jnp.arange(6.0)[None])[0].tolist()
    [[0.0, 1.0]]
    >>> b.apply(state, jnp.arange(6.0)[None])[0].shape
    (1, 4)
    """
    check_model("split", "x", x)
    if is_int(splits) and splits > 0:
        parts, spec = int(splits), int(splits)
    elif (
        isinstance(splits, Sequence)
        and len(splits) > 0
        and all(is_int(s) and s > 0 for s in splits)
    ):
        spec = tuple(int(s) for s in splits)
        parts = len(spec)
    else:
        raise option_error(
            "split", "splits", "a positive number of parts or a list of positive sizes", splits
        )
    if not is_int(axis):
        raise option_error("split", "axis", "an int", axis)
    if name is None or isinstance(name, str):
        names = [None if name is None else f"{name}_{i}" for i in range(parts)]
    else:
        names = list(name)
        if len(names) != parts:
            raise option_error("split", "name", f"a string or {parts} names", name)
    return tuple(
        layer(
            split_op,
            [x],
            name=names[i],
            op_name="split",
            config={"splits": spec, "index": i, "axis": axis},
            splits=spec,
            index=i,
            axis=int(axis),
        )
        for i in range(parts)
    )


def cond_op(x: Any, on_true: Any, on_false: Any, *, cond_fn: Callable[[Any], Any]) -> Any:
    """``on_true if cond_fn(x) else on_false``, decided at run time with ``jax.lax.cond``."""
    predicate = jnp.asarray(cond_fn(x))
    if predicate.shape != ():
        raise ValueError(
            f"cond: cond_fn must return a scalar (a bool or a number), e.g. jnp.all(x > 0); it "
            f"returned shape {predicate.shape}."
        )
    if jax.tree_util.tree_structure(on_true) != jax.tree_util.tree_structure(on_false) or any(
        np.shape(a) != np.shape(b) or jnp.result_type(a) != jnp.result_type(b)
        for a, b in zip(jax.tree_util.tree_leaves(on_true), jax.tree_util.tree_leaves(on_false),
                        strict=True)
    ):  # fmt: skip
        raise ValueError(
            f"cond: both branches must have the same shapes and dtypes; the true branch gives "
            f"{jax.tree_util.tree_map(jnp.shape, on_true)}, the false branch "
            f"{jax.tree_util.tree_map(jnp.shape, on_false)}."
        )
    return jax.lax.cond(predicate.astype(bool), lambda t, f: t, lambda t, f: f, on_true, on_false)


def cond(
    x: Model,
    cond_fn: Callable[[jax.Array], Any],
    true_graph: Model,
    false_graph: Model,
    *,
    name: str | None = None,
) -> Model:
    """Choose ``true_graph`` or ``false_graph`` at run time from ``cond_fn(x)`` (``Axon.cond``).

    ``cond_fn`` gets the value of ``x`` and returns a scalar; both branches must have the
    same shapes and dtypes. Both branch graphs are computed (they are ordinary inputs of the
    node); the choice is ``jax.lax.cond``, so it works under ``jit`` and ``grad``.

    >>> import jax.numpy as jnp, axon.model
    >>> x = axon.model.input("x", shape=(None, 2))
    >>> model = x.cond(lambda v: jnp.all(v > 0), x.nx(lambda v: v * 10), x.nx(jnp.negative))
    >>> state = model.init(0, jnp.ones((1, 2)))
    >>> model.apply(state, jnp.ones((1, 2)))[0].tolist()
    [[10.0, 10.0]]
    >>> model.apply(state, -jnp.ones((1, 2)))[0].tolist()
    [[1.0, 1.0]]
    """
    check_callable("cond", "cond_fn", cond_fn)
    check_model("cond", "true_graph", true_graph)
    check_model("cond", "false_graph", false_graph)
    return layer(cond_op, [x, true_graph, false_graph], name=name, op_name="cond", cond_fn=cond_fn)


def container_op(*leaves: Any, treedef: Any) -> Any:
    """Rebuild the container's structure from its leaf values (see :func:`container`)."""
    return structured(jax.tree_util.tree_unflatten(treedef, [plain(v) for v in leaves]))


def _is_model(value: Any) -> bool:
    return isinstance(value, Model)


def container(structure: Any, *, name: str | None = None) -> Model:
    """A layer whose value is ``structure`` (dicts/tuples/lists of models, nested) with every
    model replaced by its value (``Axon.container``): a multi-output model.

    The model's prediction is then that pytree, e.g. ``{"logits": ..., "features": ...}``;
    losses and metrics can take it apart.

    >>> import jax.numpy as jnp, axon.model
    >>> x = axon.model.input("x", shape=(None, 3))
    >>> model = axon.model.container({"a": x.dense(2), "b": (x.dense(1), x)})
    >>> out, _ = model.apply(model.init(0, jnp.ones((1, 3))), jnp.ones((4, 3)))
    >>> out["a"].shape, out["b"][0].shape, out["b"][1].shape
    ((4, 2), (4, 1), (4, 3))
    """
    leaves, treedef = jax.tree_util.tree_flatten(structure, is_leaf=_is_model)
    bad = [leaf for leaf in leaves if not isinstance(leaf, Model)]
    if bad or not leaves:
        raise TypeError(
            f"container: every leaf of the structure must be a Model; received "
            f"{[type(b).__name__ for b in bad] or 'no model at all'} in {structure!r}."
        )
    return layer(container_op, leaves, name=name, op_name="container", treedef=treedef)


def constant_op(*, value: Any) -> jax.Array:
    """The constant ``value`` as a JAX array."""
    return jnp.asarray(value)


def constant(value: Any, *extra: Any, name: str | None = None) -> Model:
    """A layer with a fixed value, an array or a number (``Axon.constant``).

    It has no inputs and no parameters; combine it with other layers (a model still
    needs an ``input``). A mixed-precision policy casts it like any layer output.

    >>> import jax.numpy as jnp, axon.model
    >>> x = axon.model.input("x", shape=(None, 2))
    >>> model = x.add(axon.model.constant(jnp.array([1.0, 2.0])))
    >>> model.apply(model.init(0, jnp.zeros((1, 2))), jnp.zeros((1, 2)))[0].tolist()
    [[1.0, 2.0]]
    """
    if isinstance(value, Model) or extra:
        raise TypeError(
            "constant: takes an array or a number, not a model; use axon.model.constant(value) "
            "(not x.constant(value))."
        )
    if isinstance(value, bool) or not (
        isinstance(value, int | float | complex) or hasattr(value, "__array__")
    ):
        raise TypeError(
            f"constant: value must be an array or a number; received {type(value).__name__}."
        )
    array = np.asarray(value)
    return Model(
        Node(
            op=constant_op,
            op_name="constant",
            opts={"value": value if isinstance(value, int | float) else array},
            config={"shape": array.shape, "dtype": str(array.dtype)},
            name=name,
            defined_at=defined_at(),
        )
    )


def nx(
    x: Model,
    fn: Callable[..., Any],
    *,
    op_name: str = "nx",
    name: str | None = None,
) -> Model:
    """Apply any JAX function of the input's value, without parameters (``Axon.nx``).

    >>> import jax.numpy as jnp, axon.model
    >>> model = axon.model.input("x", shape=(None, 2)).nx(lambda v: jnp.cumsum(v, axis=-1))
    >>> model.apply(model.init(0, jnp.ones((1, 2))), jnp.ones((1, 2)))[0].tolist()
    [[1.0, 2.0]]
    """
    check_callable("nx", "fn", fn)
    return layer(nx_op, [x], name=name, op_name=op_name, fn=fn)


def nx_op(x: Any, *, fn: Callable[..., Any]) -> Any:
    """``fn(x)``; a dict/tuple/list result stays readable by later layers (``.shape``)."""
    return structured(fn(x))


def _fields(record: Any) -> dict[str, Any]:
    if isinstance(record, dict):
        return dict(record)
    if hasattr(record, "_asdict"):
        return dict(record._asdict())
    if hasattr(record, "__dataclass_fields__"):
        return {k: getattr(record, k) for k in record.__dataclass_fields__}
    raise TypeError(
        f"stack_columns: the input must be a record (a dict, named tuple or dataclass of "
        f"arrays); received {type(record).__name__}."
    )


def stack_columns_op(record: Any, *, ignore: tuple[str, ...] = ()) -> jax.Array:
    """Fields of ``record`` (in order, minus ``ignore``) stacked into the last axis."""
    fields = {k: v for k, v in _fields(plain(record)).items() if k not in ignore}
    if not fields:
        raise ValueError(f"stack_columns: no field left to stack (ignored {list(ignore)}).")
    columns = []
    for key, value in fields.items():
        value = jnp.asarray(value)
        if value.ndim == 0:
            raise ValueError(f"stack_columns: field {key!r} is a scalar; fields need a batch axis.")
        columns.append(value[..., None] if value.ndim == 1 else value)
    try:
        return jnp.concatenate(columns, axis=-1)
    except (TypeError, ValueError) as error:
        shapes = {k: jnp.shape(v) for k, v in fields.items()}
        raise ValueError(
            f"stack_columns: fields must be (batch,) or share all but the last axis; received "
            f"{shapes}."
        ) from error


def stack_columns(
    x: Model | dict[str, Model], *, ignore: Sequence[str] = (), name: str | None = None
) -> Model:
    """Stack the fields of a record into the last axis (``Axon.stack_columns``).

    ``x`` is a model whose value is a dict of arrays (e.g. from :func:`container` or
    :func:`nx`), or a dict of models (e.g. one input per column of a table). Fields of
    shape ``(batch,)`` become one column each; ``(batch, k)`` fields contribute ``k``
    columns. Fields keep their order; ``ignore`` skips some.

    >>> import jax.numpy as jnp, axon.model
    >>> cols = {n: axon.model.input(n, shape=(None,)) for n in ("age", "height", "id")}
    >>> model = axon.model.stack_columns(cols, ignore=["id"])
    >>> data = {"age": jnp.array([30.0, 40.0]), "height": jnp.array([1.8, 1.6]), "id": jnp.zeros(2)}
    >>> model.apply(model.init(0, data), data)[0].shape
    (2, 2)
    """
    if isinstance(ignore, str) or not all(isinstance(k, str) for k in ignore):
        raise option_error("stack_columns", "ignore", "a list of field names", ignore)
    if isinstance(x, dict):
        x = container(x)
    check_model("stack_columns", "x", x)
    ignore = tuple(ignore)
    return layer(
        stack_columns_op,
        [x],
        name=name,
        op_name="stack_columns",
        config={"ignore": ignore} if ignore else {},
        ignore=ignore,
    )


# -- missing values: optional / or_else ------------------------------------------------------


def optional_op(x: Any) -> Any:
    """The identity; marks that ``None`` (a missing value) is passed on, not propagated."""
    return x


def or_else_op(x: Any, default: Any) -> Any:
    """``x`` unless it is ``None`` (missing), else ``default``."""
    return default if x is None else x


container_op.accepts_none = True  # type: ignore[attr-defined]  # a missing value stays None
optional_op.accepts_none = True  # type: ignore[attr-defined]
or_else_op.accepts_none = True  # type: ignore[attr-defined]


def optional(x: Model, *, name: str | None = None) -> Model:
    """Mark ``x`` as possibly missing (``Axon.optional``).

    Semantics (Axon's): a missing value is ``None``; a layer that receives ``None``
    produces ``None`` (it *propagates*), except layers whose op accepts ``None``
    (``op.accepts_none = True``): ``optional`` passes it on unchanged and :func:`or_else`
    replaces it. When the value is present, ``optional`` is the identity. Where a model's
    value can be missing (an input declared optional and left out at predict time) is
    decided by the compiler.

    >>> import jax.numpy as jnp, axon.model
    >>> x = axon.model.input("x", shape=(None, 2))
    >>> model = x.optional()
    >>> model.apply(model.init(0, jnp.ones((1, 2))), jnp.ones((1, 2)))[0].tolist()
    [[1.0, 1.0]]
    """
    return layer(optional_op, [x], name=name, op_name="optional")


def or_else(x: Model, default: Model, *, name: str | None = None) -> Model:
    """``x``'s value, or ``default``'s when ``x`` is missing (``None``) (``Axon.or_else``).

    Use it after :func:`optional` to give a missing value a fallback, e.g. an all-ones
    mask when no mask is passed. Both values must then have the same shape.

    >>> import jax.numpy as jnp, axon.model
    >>> x = axon.model.input("x", shape=(None, 2))
    >>> model = x.optional().or_else(axon.model.constant(jnp.zeros((1, 2))))
    >>> model.apply(model.init(0, jnp.ones((1, 2))), jnp.ones((1, 2)))[0].tolist()
    [[1.0, 1.0]]
    """
    check_model("or_else", "default", default)
    return layer(or_else_op, [x, default], name=name, op_name="or_else")


BUILDERS = {
    "concatenate": concatenate,
    "add": add,
    "subtract": subtract,
    "multiply": multiply,
    "split": split,
    "cond": cond,
    "container": container,
    "constant": constant,
    "nx": nx,
    "stack_columns": stack_columns,
    "optional": optional,
    "or_else": or_else,
}
