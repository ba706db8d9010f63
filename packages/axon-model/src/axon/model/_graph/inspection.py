"""Inspecting model graphs (``Axon.get_*``, ``properties``, ``reduce_nodes``): nothing changes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

from .model import Model, expect_model
from .node import Node, Parameter, Shape, topological_order

Acc = TypeVar("Acc")


def get_inputs(model: Model) -> dict[str, Shape | None]:
    """The model's inputs, ``{name: declared shape}`` (``None`` where no shape was declared).

    Args:
        model: the model to inspect.

    Returns:
        A dict from input name to its declared shape, in graph order.

    >>> import axon.model
    >>> a, b = axon.model.input("a", shape=(None, 2)), axon.model.input("b")
    >>> get_inputs(axon.model.layer(lambda u, v: u + v, [a, b]))
    {'a': (None, 2), 'b': None}
    """
    program = expect_model(model, "get_inputs").program
    return {program.names[node.id]: node.config.get("shape") for node in program.inputs}


def get_op_counts(model: Model) -> dict[str, int]:
    """How many layers of each op the model has, ``{op_name: count}`` (inputs included).

    A layer shared by several others is counted once.

    Args:
        model: the model to inspect.

    Returns:
        A dict from op name to the number of layers with that op.

    >>> import axon.model
    >>> model = axon.model.input("x", shape=(None, 4)).dense(8, activation="relu").dense(1)
    >>> get_op_counts(model)
    {'input': 1, 'dense': 2, 'relu': 1}
    """
    order = expect_model(model, "get_op_counts").program.order
    return dict(Counter(node.op_name for node in order))


def properties(model: Model) -> dict[str, str]:
    """Every layer's name and op, ``{layer_name: op_name}``, in evaluation order.

    Args:
        model: the model to inspect.

    Returns:
        A dict from layer name (as used in ``ModelState``) to op name.

    >>> import axon.model
    >>> properties(axon.model.input("x").dense(3, name="head").relu())
    {'x': 'input', 'head': 'dense', 'relu_0': 'relu'}
    """
    program = expect_model(model, "properties").program
    return {program.names[node.id]: node.op_name for node in program.order}


def get_parameters(model: Model) -> list[Parameter]:
    """The parameters of the model's output layer, in the order its op receives them.

    Args:
        model: the model whose output layer is inspected.

    Returns:
        A list of :class:`~axon.model.Parameter`.

    >>> import axon.model
    >>> [p.name for p in get_parameters(axon.model.input("x").dense(3))]
    ['kernel', 'bias']
    """
    return list(expect_model(model, "get_parameters").node.parameters)


def get_options(model: Model) -> dict[str, Any]:
    """The options passed to the output layer's op (e.g. ``alpha`` of a leaky ReLU).

    Args:
        model: the model whose output layer is inspected.

    Returns:
        A copy of the op's keyword options.

    >>> import axon.model
    >>> get_options(axon.model.input("x").leaky_relu(alpha=0.2))
    {'alpha': 0.2}
    """
    return dict(expect_model(model, "get_options").node.opts)


def reduce_nodes(model: Model, acc: Acc, fn: Callable[[Node, Acc], Acc]) -> Acc:
    """Fold ``fn(node, acc)`` over every node, each once, inputs before the layers using them.

    Args:
        model: the model to walk.
        acc: the initial accumulator.
        fn: ``fn(node, acc) -> acc``.

    Returns:
        The final accumulator.

    >>> import axon.model
    >>> model = axon.model.input("x").dense(4).relu().dense(1)
    >>> reduce_nodes(model, [], lambda node, acc: [*acc, node.op_name])
    ['input', 'dense', 'relu', 'dense']
    """
    for node in topological_order([expect_model(model, "reduce_nodes").node]):
        acc = fn(node, acc)
    return acc
