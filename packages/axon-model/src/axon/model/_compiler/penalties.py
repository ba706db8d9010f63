"""The penalties a model adds to its training objective: of parameters and of layer outputs.

Parameter penalties (``Parameter.regularizer``) are computed from the model state;
frozen parameters are left out, so freezing a layer also stops its penalty (it could
not change it anyway). Activity penalties (``Node.activity_regularizer``) are computed
during the forward pass from each penalized layer's output, divided by the batch
size (the leading axis), as tf.keras does, so that their weight against a mean data
loss does not change with the batch size.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp

from .._graph.node import Node
from .state import ModelState


def has_penalties(layers: Mapping[str, Node]) -> bool:
    """Whether any layer has an activity regularizer or a parameter with a regularizer."""
    return any(
        node.activity_regularizer is not None
        or any(p.regularizer is not None for p in node.parameters)
        for node in layers.values()
    )


def parameter_penalty(layers: Mapping[str, Node], model_state: ModelState) -> jax.Array:
    """The sum of every trainable parameter's penalty (frozen ones contribute nothing)."""
    total = jnp.zeros((), jnp.float32)
    for name, node in layers.items():
        for p in node.parameters:
            if p.regularizer is None or model_state.is_frozen(name, p.name):
                continue
            value = model_state.params.get(name, {}).get(p.name)
            if value is not None:  # None: the layer was skipped (a missing optional input)
                total = total + p.regularizer(value)
    return total


def activity_penalty(node: Node, output: Any) -> jax.Array:
    """``node``'s activity penalty of its ``output``: the penalty of each floating leaf
    divided by that leaf's batch size (its leading axis; a scalar is not divided)."""
    total = jnp.zeros((), jnp.float32)
    for leaf in jax.tree_util.tree_leaves(output):
        if not jnp.issubdtype(leaf.dtype, jnp.floating):
            continue
        batch = leaf.shape[0] if leaf.ndim else 1
        total = total + node.activity_regularizer(leaf) / max(batch, 1)  # type: ignore[misc]
    return total
