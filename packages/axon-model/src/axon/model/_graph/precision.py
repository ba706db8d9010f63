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

    def with_policy(node: Node) -> Node:
        return dataclasses.replace(node, policy=policy) if selected(node) else node

    return map_nodes(model, with_policy)  # keeps names and shared subgraphs


def _op_names(names: Sequence[str] | None, option: str, known: list[str]) -> set[str] | None:
    if names is None:
        return None
    if isinstance(names, str):
        names = [names]
    unknown = [n for n in names if n not in known]
    if unknown:
        hints = "".join(close_matches(n, known) for n in unknown)
        raise ValueError(
            f"apply_policy({option}=...): no layer of this model has op {unknown[0]!r}"
            f"{hints}; its ops are {known}. Op names are Node.op_name values such as "
            f"'dense' or 'relu'."
        )
    return set(names)
