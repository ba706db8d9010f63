"""Rewriting model graphs (``set_*``, ``map_nodes``, ``rewrite_nodes``, ``pop_node``).

Graphs are immutable: every function here returns a new ``Model`` and leaves the one
it was given untouched. Rewrites rebuild only the nodes downstream of a change, with a
memo by node id, so a subgraph shared by several layers stays shared (and is computed
once) in the result.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .model import Model, expect_model
from .node import Node, Parameter, topological_order

Rewriter = Callable[[list[Model], Model], Model]


def set_parameters(model: Model, parameters: Sequence[Parameter]) -> Model:
    """The model with its output layer's parameters replaced, position by position.

    Use it to change an initializer, a dtype or a kind; the layer keeps its
    inputs. The new list must have as many parameters as the old one.

    Args:
        model: the model whose output layer changes.
        parameters: the new parameters, in the order of :func:`get_parameters`.

    Returns:
        A new model; ``model`` is unchanged.

    >>> import dataclasses, jax.numpy as jnp, axon.model
    >>> model = axon.model.input("x").dense(2)
    >>> kernel, bias = axon.model.get_parameters(model)
    >>> ones = set_parameters(model, [dataclasses.replace(kernel, initializer="ones"), bias])
    >>> ones.init(0, jnp.zeros((1, 3))).params["dense_0"]["kernel"].tolist()
    [[1.0, 1.0], [1.0, 1.0], [1.0, 1.0]]
    """
    node = expect_model(model, "set_parameters").node
    parameters = list(parameters)
    old = node.parameters
    if len(parameters) != len(old) or not all(isinstance(p, Parameter) for p in parameters):
        raise ValueError(
            f"set_parameters needs {len(old)} Parameter objects for layer {node.op_name!r} "
            f"(defined at {node.defined_at}), one for each of {[p.name for p in old]}; "
            f"received {[getattr(p, 'name', type(p).__name__) for p in parameters]}. To add "
            f"or remove parameters, build a new layer (axon.model.layer) or use rewrite_nodes."
        )
    names = [p.name for p in parameters]
    if len(set(names)) != len(names):
        raise ValueError(f"Parameter names must be unique within a layer, got {names}.")
    replacements = iter(parameters)
    args = tuple(next(replacements) if isinstance(a, Parameter) else a for a in node.args)
    return Model(node.rebuilt(args=args))


def set_options(model: Model, **options: Any) -> Model:
    """The model with options of its output layer's op set (merged into the existing ones).

    Options the op cannot accept are an error. Descriptive ``config`` entries of
    the same name (what ``display`` shows) are updated too.

    Args:
        model: the model whose output layer changes.
        **options: the op options to set.

    Returns:
        A new model; ``model`` is unchanged.

    >>> import jax.numpy as jnp, axon.model
    >>> model = set_options(axon.model.input("x").leaky_relu(alpha=0.2), alpha=0.5)
    >>> model.apply(model.init(0, -jnp.ones((1, 2))), -jnp.ones((1, 2)))[0].tolist()
    [[-0.5, -0.5]]
    """
    node = expect_model(model, "set_options").node
    if node.op is None:
        raise ValueError(f"The output layer is an input ({node.name!r}); it has no op options.")
    _check_accepts(node, options)
    config = {**node.config, **{k: v for k, v in options.items() if k in node.config}}
    return Model(node.rebuilt(opts={**node.opts, **options}, config=config))


def _check_accepts(node: Node, options: Mapping[str, Any]) -> None:
    try:
        signature = inspect.signature(node.op)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return
    parameters = signature.parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return
    accepted = [
        name
        for name, p in parameters.items()
        if p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        and name not in ("mode", "key")
    ]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise TypeError(
            f"The op of layer {node.op_name!r} (defined at {node.defined_at}) does not accept "
            f"option(s) {unknown}; it accepts {accepted}."
        )


def map_nodes(model: Model, fn: Callable[[Node], Node]) -> Model:
    """Apply ``fn`` to every node once and rebuild the graph from the results.

    ``fn`` receives each node of ``model`` as it is (so its id matches
    ``model.program.names``) and returns it unchanged or a changed copy, usually
    ``dataclasses.replace(node, op=..., op_name=...)``. Inputs of the returned
    nodes are rewired to the mapped inputs; nodes that do not change and whose
    inputs do not change are reused as they are, and shared subgraphs stay shared.

    Args:
        model: the model to rewrite.
        fn: ``fn(node) -> node``.

    Returns:
        A new model; ``model`` is unchanged.

    >>> import dataclasses, jax, axon.model
    >>> model = axon.model.input("x").dense(4).relu().dense(1)
    >>> def to_gelu(node):
    ...     if node.op_name != "relu":
    ...         return node
    ...     return dataclasses.replace(node, op=jax.nn.gelu, op_name="gelu")
    >>> axon.model.get_op_counts(map_nodes(model, to_gelu))
    {'input': 1, 'dense': 2, 'gelu': 1}
    """
    output = expect_model(model, "map_nodes").node
    memo: dict[int, Node] = {}
    for node in topological_order([output]):
        mapped = fn(node)
        if not isinstance(mapped, Node):
            raise TypeError(
                f"map_nodes: the function must return a Node (e.g. dataclasses.replace(node, "
                f"op=...)), but for layer {node.op_name!r} (defined at {node.defined_at}) it "
                f"returned {type(mapped).__name__}. To replace a layer by a subgraph or remove "
                f"it, use rewrite_nodes."
            )
        args = tuple(memo.get(a.id, a) if isinstance(a, Node) else a for a in mapped.args)
        rewired = any(a is not b for a, b in zip(args, mapped.args, strict=True))
        if mapped is node and not rewired:
            memo[node.id] = node
        elif rewired or mapped.id == node.id:
            memo[node.id] = mapped.rebuilt(args=args)
        else:
            memo[node.id] = mapped
    return Model(memo[output.id])


def rewrite_nodes(model: Model, fn: Callable[[Node], Rewriter | None]) -> Model:
    """Replace layers by subgraphs: insert adapters, swap layers, remove layers.

    ``fn(node)`` is called once per node of ``model`` (inputs before the layers
    using them) and returns ``None`` to keep the node, or a *rewriter*
    ``rewriter(inputs, output) -> Model``. The rewriter receives the node's
    (already rewritten) inputs as models and the node itself (rewired to those
    inputs) as ``output``, and returns the model that takes its place:

    - ``lambda inputs, output: inputs[0]`` removes the layer;
    - ``lambda inputs, output: output.dropout(rate=0.1)`` adds a layer after it;
    - ``lambda inputs, output: axon.model.layer(op, [inputs[0], output, a, b])``
      wraps it (LoRA).

    Layers that no longer lead to the output disappear from the result. A
    rewritten layer keeps its name (explicit, or ``<op>_<n>`` when its op and
    position do not change), so its parameters in an existing ``ModelState``
    still apply.

    Args:
        model: the model to rewrite.
        fn: ``fn(node) -> None | rewriter``.

    Returns:
        A new model; ``model`` is unchanged.

    >>> import axon.model
    >>> model = axon.model.input("x").dense(4).relu().dense(1)
    >>> def remove_relu(node):
    ...     return (lambda inputs, output: inputs[0]) if node.op_name == "relu" else None
    >>> axon.model.get_op_counts(rewrite_nodes(model, remove_relu))
    {'input': 1, 'dense': 2}
    """
    output = expect_model(model, "rewrite_nodes").node
    memo: dict[int, Node] = {}
    for node in topological_order([output]):
        args = tuple(memo[a.id] if isinstance(a, Node) else a for a in node.args)
        rewired = any(a is not b for a, b in zip(args, node.args, strict=True))
        current = node.rebuilt(args=args) if rewired else node
        rewriter = fn(node)
        if rewriter is None:
            memo[node.id] = current
            continue
        if not callable(rewriter):
            raise TypeError(
                f"rewrite_nodes: the function must return None (keep the layer) or a rewriter "
                f"fn(inputs, output) -> Model; for layer {node.op_name!r} (defined at "
                f"{node.defined_at}) it returned {type(rewriter).__name__}."
            )
        inputs = [Model(a) for a in args if isinstance(a, Node)]
        replacement = rewriter(inputs, Model(current))
        if not isinstance(replacement, Model):
            raise TypeError(
                f"rewrite_nodes: the rewriter for layer {node.op_name!r} (defined at "
                f"{node.defined_at}) must return a Model (e.g. inputs[0] to remove the layer), "
                f"got {type(replacement).__name__}."
            )
        memo[node.id] = replacement.node
    return Model(memo[output.id])


def pop_node(model: Model) -> tuple[Node, Model | tuple[Model, ...]]:
    """Split off the output layer: ``(popped_node, parent)``.

    ``parent`` is the model feeding the output layer, or a tuple of models when
    the layer has several inputs. An input node cannot be popped.

    Args:
        model: the model whose output layer is removed.

    Returns:
        The popped :class:`Node` and its input model(s).

    >>> import axon.model
    >>> node, base = pop_node(axon.model.input("x", shape=(None, 3)).dense(8).softmax())
    >>> node.op_name, base
    ('softmax', <Model inputs={'x': (None, 3)} output='dense_0' layers=2>)
    """
    node = expect_model(model, "pop_node").node
    parents = node.inputs
    if not parents:
        raise ValueError(f"Cannot pop input {node.name!r}: an input has no parent layer to return.")
    if len(parents) == 1:
        return node, Model(parents[0])
    return node, tuple(Model(p) for p in parents)
