"""Mixed precision on the graph: ``apply_policy`` puts a policy on the selected layers."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from .._compiler.precision import Policy, close_matches
from .model import Model
from .node import Node, topological_order
from .rewrite import map_nodes


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
    criteria must hold. ``only`` and ``except_`` also take block names
    (``axon.model.block(..., name="encoder")``, or a numbered ``"block_0"``): a block's
    name selects every layer inside it. Layer names and shared subgraphs are kept,
    so a model state of the original model fits the new one. The original model is
    unchanged.

    Args:
        model: the model to convert.
        policy: from :func:`create_policy`.
        only: op names (or block names) to apply the policy to.
        except_: op names (or block names) to leave alone (e.g. ``["batch_norm", "softmax"]``).
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
    if not isinstance(model, Model):
        raise TypeError(f"apply_policy expects a Model, got {type(model).__name__}.")
    if not isinstance(policy, Policy):
        raise TypeError(
            f"apply_policy expects a Policy from create_policy(...), got {type(policy).__name__}."
        )
    order = topological_order([model.node])
    inside = {node.id: _blocks_of(node, model.program.names[node.id]) for node in order}
    groups = {node.id: {node.op_name, *inside[node.id]} for node in order}
    op_names = sorted({n.op_name for n in order if n.op is not None})
    block_names = sorted(set().union(*inside.values()))
    only_set = _op_names(only, "only", op_names, block_names)
    except_set = _op_names(except_, "except_", op_names, block_names)

    def selected(node: Node) -> bool:
        if node.op is None:  # inputs have no op to cast around
            return False
        if only_set is not None and not groups[node.id] & only_set:
            return False
        if except_set is not None and groups[node.id] & except_set:
            return False
        return filter is None or bool(filter(node))

    def with_policy(node: Node) -> Node:
        return dataclasses.replace(node, policy=policy) if selected(node) else node

    return map_nodes(model, with_policy)  # keeps names and shared subgraphs


def _blocks_of(node: Node, name: str) -> set[str]:
    """The names of the blocks ``node`` (named ``name``) is inside: ``a/b/dense_0`` -> a, a/b."""
    parts = name.split("/")[:-1] if node.blocks else []
    return {"/".join(parts[: i + 1]) for i in range(len(parts))}


def _op_names(
    names: Sequence[str] | None, option: str, known: list[str], blocks: list[str]
) -> set[str] | None:
    if names is None:
        return None
    if isinstance(names, str):
        names = [names]
    unknown = [n for n in names if n not in known and n not in blocks]
    if unknown:
        hints = "".join(close_matches(n, known + blocks) for n in unknown)
        in_blocks = f", its blocks {blocks}" if blocks else ""
        raise ValueError(
            f"apply_policy({option}=...): no layer of this model has op {unknown[0]!r}"
            f"{hints}; its ops are {known}{in_blocks}. Op names are Node.op_name values "
            f"such as 'dense' or 'relu'."
        )
    return set(names)
