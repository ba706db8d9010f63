"""``ModelState``: a model's parameters and layer state, as one pytree."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import jax
import numpy as np

Tree = dict[str, dict[str, Any]]


@dataclass(frozen=True)
class ModelState:
    """Parameters (trained) and state (updated by layers, e.g. running statistics).

    Both are nested dicts ``{layer_name: {name: array}}``. ``ModelState`` is a
    pytree, so it passes through ``jax.jit``, ``jax.grad`` and optax unchanged.

    >>> import jax.numpy as jnp
    >>> state = ModelState({"dense_0": {"kernel": jnp.ones((2, 3))}})
    >>> state.num_parameters
    6
    """

    params: Tree = field(default_factory=dict)
    state: Tree = field(default_factory=dict)

    def replace(self, **changes: Any) -> ModelState:
        """A copy with some fields replaced."""
        return replace(self, **changes)

    @property
    def num_parameters(self) -> int:
        return sum(int(np.prod(leaf.shape)) for leaf in jax.tree_util.tree_leaves(self.params))

    def merge(self, other: ModelState) -> ModelState:
        """Entries of ``other`` override those of ``self``, layer by layer."""
        return ModelState(_merge(self.params, other.params), _merge(self.state, other.state))

    def __repr__(self) -> str:
        return (
            f"ModelState(layers={len(self.params)}, parameters={self.num_parameters}, "
            f"state_entries={len(jax.tree_util.tree_leaves(self.state))})"
        )


def _merge(base: Tree, override: Tree) -> Tree:
    merged = {layer: dict(values) for layer, values in base.items()}
    for layer, values in override.items():
        merged.setdefault(layer, {}).update(values)
    return merged


jax.tree_util.register_dataclass(ModelState, data_fields=["params", "state"], meta_fields=[])
