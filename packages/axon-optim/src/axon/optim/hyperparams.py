"""Hyperparameters held in the optimizer state, and helpers to read and change them.

Every optimizer of :mod:`axon.optim` is built with :func:`inject_hyperparams`, so
its float options live in the optimizer state (an
:class:`optax.InjectStatefulHyperparamsState`) rather than in the closure: a
training loop can change them between steps, under ``jax.jit`` too, without
rebuilding or recompiling anything.

Besides its own options, an optimizer that has a ``learning_rate`` gets one more
hyperparameter, ``learning_rate_scale`` (``1.0``), and steps with
``learning_rate * learning_rate_scale``. A schedule given as ``learning_rate`` is
re-evaluated from the step count at every update, so writing a new value over
it would be undone at the next step; the scale is never scheduled, so
multiplying it (:func:`scale_learning_rate`) is how a loop reduces the learning
rate on a plateau for *any* optimizer, scheduled or not.

The helpers find injected hyperparameters anywhere in a state: at the top, inside
:func:`optax.chain` tuples, :func:`optax.masked`, :func:`optax.multi_transform`
(:func:`axon.optim.masks.partition`), :class:`optax.MultiSteps`
(:func:`axon.optim.updates.accumulate_gradients`) or another injected state. They
are pure functions: they return a new state and never modify the one given.

>>> import jax.numpy as jnp
>>> import axon.optim
>>> from axon.optim import schedules
>>> optimizer = axon.optim.adam(learning_rate=schedules.cosine_decay(1e-2, decay_steps=100))
>>> state = optimizer.init({"w": jnp.zeros(3)})
>>> state = axon.optim.scale_learning_rate(state, 0.5)  # reduce on plateau
>>> axon.optim.get_hyperparams(state)["learning_rate_scale"]
Array(0.5, dtype=float32)
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterable
from typing import Any

import jax
import jax.numpy as jnp
import optax

__all__ = [
    "LEARNING_RATE_SCALE",
    "inject_hyperparams",
    "get_hyperparams",
    "set_hyperparams",
    "scale_learning_rate",
    "get_learning_rate",
]

#: The name of the multiplicative learning-rate hyperparameter.
LEARNING_RATE_SCALE = "learning_rate_scale"

_INJECTED_TYPES = tuple(
    cls
    for cls in (
        getattr(optax, "InjectStatefulHyperparamsState", None),
        getattr(optax, "InjectHyperparamsState", None),
    )
    if cls is not None
)


def inject_hyperparams(
    inner_factory: Callable[..., optax.GradientTransformation],
    static_args: str | Iterable[str] = (),
) -> Callable[..., optax.GradientTransformation]:
    """:func:`optax.inject_hyperparams`, plus a ``learning_rate_scale`` hyperparameter.

    Use it to write your own optimizer the way the built-in ones are written. When
    ``inner_factory`` has a ``learning_rate`` parameter, the returned factory also
    accepts ``learning_rate_scale`` (default ``1.0``, keyword-only) and calls
    ``inner_factory`` with ``learning_rate * learning_rate_scale``; both are kept
    in the state, and the scale stays adjustable while ``learning_rate`` is a
    schedule. Other factories are injected exactly as optax does.

    Args:
        inner_factory: a function of the hyperparameters returning an
            ``optax.GradientTransformation``.
        static_args: names of callable parameters that are not schedules, as in
            :func:`optax.inject_hyperparams`.

    Returns:
        A factory taking the same arguments as ``inner_factory`` (numbers or
        schedules ``count -> value``) and returning the injected transformation.

    Example:
        >>> import jax.numpy as jnp
        >>> import optax
        >>> from axon.optim import inject_hyperparams, scale_learning_rate
        >>> def signed_sgd(learning_rate=0.1):
        ...     return optax.chain(optax.scale_by_sign(), optax.scale(-learning_rate))
        >>> optimizer = inject_hyperparams(signed_sgd)(learning_rate=0.5)
        >>> params = jnp.array([3.0, -1.0])
        >>> state = scale_learning_rate(optimizer.init(params), 0.5)
        >>> optimizer.update(params, state, params)[0]
        Array([-0.25,  0.25], dtype=float32)
    """
    signature = inspect.signature(inner_factory)
    if "learning_rate" not in signature.parameters or LEARNING_RATE_SCALE in signature.parameters:
        return optax.inject_hyperparams(inner_factory, static_args=static_args)

    def scaled_factory(**options: Any) -> optax.GradientTransformation:
        scale = options.pop(LEARNING_RATE_SCALE)
        options["learning_rate"] = options["learning_rate"] * scale
        return inner_factory(**options)

    parameters = list(signature.parameters.values())
    extra = inspect.Parameter(LEARNING_RATE_SCALE, inspect.Parameter.KEYWORD_ONLY, default=1.0)
    position = next(
        (i for i, p in enumerate(parameters) if p.kind is inspect.Parameter.VAR_KEYWORD),
        len(parameters),
    )
    parameters.insert(position, extra)
    scaled_factory.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    scaled_factory.__name__ = getattr(inner_factory, "__name__", "scaled_factory")
    scaled_factory.__doc__ = inner_factory.__doc__
    return optax.inject_hyperparams(scaled_factory, static_args=static_args)


def _is_injected(node: Any) -> bool:
    return isinstance(node, _INJECTED_TYPES)


def _injected_states(state: Any) -> list[Any]:
    """Every injected-hyperparameter state in ``state``, outermost first."""
    found: list[Any] = []

    def visit(node: Any) -> Any:
        if _is_injected(node):
            found.append(node)
            found.extend(_injected_states(node.inner_state))
        return node

    jax.tree.map(visit, state, is_leaf=_is_injected)
    return found


def _map_injected(state: Any, fn: Callable[[Any], Any]) -> Any:
    """``state`` with ``fn`` applied to every injected state (inner ones first)."""

    def visit(node: Any) -> Any:
        if _is_injected(node):
            node = node._replace(inner_state=_map_injected(node.inner_state, fn))
            return fn(node)
        return node

    return jax.tree.map(visit, state, is_leaf=_is_injected)


def _scheduled(node: Any) -> set[str]:
    """Names of the hyperparameters of ``node`` that come from a schedule."""
    return set(getattr(node, "hyperparams_states", None) or ())


def _no_hyperparams_error(what: str) -> ValueError:
    return ValueError(
        f"{what}: this optimizer state holds no injected hyperparameters. Build the "
        f"optimizer with axon.optim (axon.optim.get('adam'), axon.optim.adam(...)) or wrap "
        f"your own with axon.optim.inject_hyperparams (or optax.inject_hyperparams), and "
        f"pass the state that its init/update returned."
    )


def get_hyperparams(state: Any) -> dict[str, jax.Array]:
    """The injected hyperparameters of an optimizer state, by name.

    The state may hold several injected optimizers (e.g. one per parameter group
    of :func:`axon.optim.masks.partition`); their hyperparameters are merged.
    Scheduled hyperparameters hold the value used by the most recent update (or
    the schedule's value at step 0 before the first update).

    Args:
        state: an optimizer state, or any pytree containing one.

    Returns:
        A new ``dict`` from name to scalar array.

    Raises:
        ValueError: if the state holds no injected hyperparameters, or if two
            injected optimizers hold the same name with different values (then
            pass the part of the state you mean, e.g. ``state.inner_states["a"]``).

    Example:
        >>> import jax.numpy as jnp
        >>> import axon.optim
        >>> state = axon.optim.sgd(learning_rate=0.1).init(jnp.zeros(2))
        >>> sorted(axon.optim.get_hyperparams(state))
        ['learning_rate', 'learning_rate_scale']
    """
    nodes = _injected_states(state)
    if not nodes:
        raise _no_hyperparams_error("get_hyperparams")
    merged: dict[str, jax.Array] = {}
    for node in nodes:
        for name, value in node.hyperparams.items():
            if name in merged and merged[name] is not value and _differs(merged[name], value):
                raise ValueError(
                    f"get_hyperparams: the state holds several optimizers whose {name!r} "
                    f"differ ({merged[name]} and {value}). Pass the part of the state of "
                    f"one optimizer, e.g. state.inner_states[label] for a partition."
                )
            merged.setdefault(name, value)
    return merged


def _differs(a: Any, b: Any) -> bool:
    try:
        return bool(jnp.any(jnp.asarray(a) != jnp.asarray(b)))
    except jax.errors.ConcretizationTypeError:  # traced: cannot tell, assume they differ
        return True


def _check_value(name: str, value: Any) -> None:
    if isinstance(value, jax.core.Tracer):
        if jnp.shape(value) != ():
            raise ValueError(
                f"set_hyperparams: {name} must be a scalar; received shape {jnp.shape(value)}."
            )
        return
    if callable(value):
        raise TypeError(
            f"set_hyperparams: {name} must be a number; received a callable. A schedule "
            f"cannot be put into an existing state: build a new optimizer with it."
        )
    if isinstance(value, (bool, str, bytes)) or value is None:
        raise TypeError(
            f"set_hyperparams: {name} must be a number; received {value!r} of type "
            f"{type(value).__name__}."
        )
    array = jnp.asarray(value)
    if array.shape != ():
        raise ValueError(f"set_hyperparams: {name} must be a scalar; received shape {array.shape}.")
    number = float(array)
    if not math.isfinite(number):
        raise ValueError(f"set_hyperparams: {name} must be finite; received {value!r}.")
    if name in ("learning_rate", LEARNING_RATE_SCALE) and number < 0:
        raise ValueError(f"set_hyperparams: {name} must be >= 0; received {value!r}.")


def set_hyperparams(state: Any, **values: Any) -> Any:
    """A copy of ``state`` with the given injected hyperparameters replaced.

    Every injected optimizer in the state that has a hyperparameter of that name
    gets the new value (cast to the dtype it had), so the next update uses it
    exactly. Works under ``jax.jit`` (values may be traced).

    Args:
        state: an optimizer state, or any pytree containing one.
        **values: new scalar values by hyperparameter name, e.g. ``learning_rate=1e-4``.

    Returns:
        The new state; ``state`` itself is unchanged.

    Raises:
        KeyError: if no injected optimizer in the state has one of the names (the
            message lists the names there are).
        ValueError: if a name is driven by a schedule in every optimizer that has
            it (the schedule would overwrite the value at the next step: change
            ``learning_rate_scale`` instead), or a value is not a finite scalar,
            or a learning rate or its scale is negative.

    Example:
        >>> import jax.numpy as jnp
        >>> import axon.optim
        >>> optimizer = axon.optim.sgd(learning_rate=0.1)
        >>> params = jnp.array([1.0, -2.0])
        >>> state = axon.optim.set_hyperparams(optimizer.init(params), learning_rate=0.5)
        >>> optimizer.update(params, state, params)[0]
        Array([-0.5,  1. ], dtype=float32)
    """
    nodes = _injected_states(state)
    if not nodes:
        raise _no_hyperparams_error("set_hyperparams")
    for name, value in values.items():
        _check_value(name, value)
        holders = [node for node in nodes if name in node.hyperparams]
        if not holders:
            known = sorted({n for node in nodes for n in node.hyperparams})
            raise KeyError(
                f"set_hyperparams: no optimizer in this state has a hyperparameter "
                f"{name!r}; it has: {', '.join(known)}."
            )
        if all(name in _scheduled(node) for node in holders):
            hint = (
                " Use axon.optim.scale_learning_rate(state, factor) (it multiplies "
                "learning_rate_scale, which no schedule overwrites)."
                if name == "learning_rate"
                else ""
            )
            raise ValueError(
                f"set_hyperparams: {name!r} is given by a schedule, which recomputes it "
                f"from the step count at every update, so a value set here would be "
                f"ignored.{hint}"
            )

    def replace(node: Any) -> Any:
        hyperparams = dict(node.hyperparams)
        scheduled = _scheduled(node)
        for name, value in values.items():
            if name in hyperparams and name not in scheduled:
                old = hyperparams[name]
                hyperparams[name] = jnp.asarray(value, dtype=jnp.result_type(old)).reshape(
                    jnp.shape(old)
                )
        return node._replace(hyperparams=hyperparams)

    return _map_injected(state, replace)


def scale_learning_rate(state: Any, factor: Any) -> Any:
    """A copy of ``state`` whose learning rates are multiplied by ``factor``.

    Multiplies ``learning_rate_scale`` in every injected optimizer that has one
    (all of :mod:`axon.optim`'s), so it works when ``learning_rate`` is a
    schedule; in an optimizer injected by plain :func:`optax.inject_hyperparams`
    it multiplies ``learning_rate`` itself, which must then not be scheduled.
    This is what a reduce-on-plateau handler calls.

    Args:
        state: an optimizer state, or any pytree containing one.
        factor: a finite number >= 0 (``0.1`` divides the learning rate by ten).

    Returns:
        The new state; ``state`` itself is unchanged.

    Raises:
        ValueError: if ``factor`` is negative or not finite, if the state holds no
            injected learning rate, or if a learning rate is scheduled and has no
            scale to multiply.

    Example:
        >>> import jax.numpy as jnp
        >>> import axon.optim
        >>> state = axon.optim.adam(learning_rate=1e-3).init(jnp.zeros(2))
        >>> state = axon.optim.scale_learning_rate(state, 0.1)
        >>> round(float(axon.optim.get_learning_rate(state)), 8)
        0.0001
    """
    _check_value("factor", factor)
    if not isinstance(factor, jax.core.Tracer) and float(factor) < 0:
        raise ValueError(f"scale_learning_rate: factor must be >= 0; received {factor!r}.")
    nodes = _injected_states(state)
    if not nodes:
        raise _no_hyperparams_error("scale_learning_rate")
    if not any(
        LEARNING_RATE_SCALE in n.hyperparams or "learning_rate" in n.hyperparams for n in nodes
    ):
        raise ValueError(
            "scale_learning_rate: no optimizer in this state has a learning_rate hyperparameter."
        )
    for node in nodes:
        if LEARNING_RATE_SCALE not in node.hyperparams and "learning_rate" in _scheduled(node):
            raise ValueError(
                "scale_learning_rate: this optimizer's learning_rate is a schedule and it "
                "has no learning_rate_scale to multiply (it was built with "
                "optax.inject_hyperparams). Build it with axon.optim.inject_hyperparams, "
                "which adds the scale."
            )

    def multiply(node: Any) -> Any:
        hyperparams = dict(node.hyperparams)
        name = LEARNING_RATE_SCALE if LEARNING_RATE_SCALE in hyperparams else "learning_rate"
        if name in hyperparams:
            old = hyperparams[name]
            hyperparams[name] = (old * factor).astype(jnp.result_type(old))
        return node._replace(hyperparams=hyperparams)

    return _map_injected(state, multiply)


def get_learning_rate(state: Any) -> jax.Array:
    """The learning rate in effect: ``learning_rate * learning_rate_scale``.

    For a scheduled learning rate this is the value used by the most recent update.

    Args:
        state: an optimizer state, or any pytree containing one.

    Returns:
        A scalar array.

    Raises:
        ValueError: as :func:`get_hyperparams`, or if there is no ``learning_rate``.

    Example:
        >>> import jax.numpy as jnp
        >>> import axon.optim
        >>> state = axon.optim.sgd(learning_rate=0.5).init(jnp.zeros(2))
        >>> axon.optim.get_learning_rate(axon.optim.scale_learning_rate(state, 0.5))
        Array(0.25, dtype=float32)
    """
    hyperparams = get_hyperparams(state)
    if "learning_rate" not in hyperparams:
        raise ValueError(
            f"get_learning_rate: this optimizer has no learning_rate hyperparameter; "
            f"it has: {', '.join(sorted(hyperparams))}."
        )
    return hyperparams["learning_rate"] * hyperparams.get(LEARNING_RATE_SCALE, 1.0)
