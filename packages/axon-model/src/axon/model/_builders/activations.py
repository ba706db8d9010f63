"""Activation layers: ``activation`` (by name or function) and one builder per named activation.

Every built-in activation of ``axon.functional`` gets a builder of its own name, so
``x.relu()`` and ``axon.model.relu(x)`` work; any other (a plugin's) is reached with
``x.activation(name)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from axon.functional import activations as functional_activations

from .._graph.constructors import layer
from .._graph.model import Model
from .._graph.recording import records

Activation = str | Callable[..., Any]


@records("activation")  # exported as axon.model.activation: record direct calls too
def activation_layer(
    x: Model, activation: Activation, *, name: str | None = None, **opts: Any
) -> Model:
    """Apply an activation given by registered name (plugins included) or as a function.

    Options such as ``alpha`` are passed to the activation.

    >>> import axon.model
    >>> model = axon.model.input("x", shape=(None, 4)).activation("leaky_relu", alpha=0.2)
    """
    if isinstance(activation, str):
        fn, op_name = functional_activations.get(activation), activation
    elif callable(activation):
        fn, op_name = activation, getattr(activation, "__name__", "activation")
    else:
        raise TypeError(
            f"activation must be a name such as 'relu' or a function, got "
            f"{type(activation).__name__}."
        )
    return layer(fn, [x], name=name, op_name=op_name, config=opts, **opts)


def with_activation(out: Model, activation: Activation | None) -> Model:
    """``out`` followed by ``activation`` as a layer of its own (as in Axon), if one is given."""
    return out if activation is None else activation_layer(out, activation)


def _named_activation(activation: str) -> Callable[..., Model]:
    def builder(x: Model, *, name: str | None = None, **opts: Any) -> Model:
        return activation_layer(x, activation, name=name, **opts)

    builder.__name__ = activation
    builder.__doc__ = f"Add a {activation!r} activation layer (options go to the activation)."
    return builder


BUILDERS: dict[str, Callable[..., Model]] = {
    **{name: _named_activation(name) for name in functional_activations.BUILTINS},
    "activation": activation_layer,
}
