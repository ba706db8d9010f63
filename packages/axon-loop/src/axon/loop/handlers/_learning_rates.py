"""The learning rate inside an optimizer state: read it (``log_to`` logs it) and scale it
(``reduce_lr_on_plateau``).

An optimizer keeps its learning rate in its state only through
``optax.inject_hyperparams`` (every ``axon.optim`` optimizer is wrapped so); such
states may sit anywhere in a chained, masked or multi-step state.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import optax


def learning_rate_metrics(step_state: Any) -> dict[str, float]:
    """The learning rate(s) a trainer's step state holds, by the name they are logged under:
    ``{"learning_rate": rate}``, ``learning_rate_0``, ``learning_rate_1``... when the
    optimizer has several (one per parameter group), and nothing when it has none injected."""
    if not isinstance(step_state, Mapping) or "optimizer_state" not in step_state:
        return {}
    rates = learning_rates(step_state["optimizer_state"])
    if len(rates) == 1:
        return {"learning_rate": rates[0]}
    return {f"learning_rate_{i}": rate for i, rate in enumerate(rates)}


def learning_rates(optimizer_state: Any) -> list[float]:
    """The effective learning rate of every injected state, in tree order (read to the host)."""
    rates = []
    for node in jax.tree_util.tree_leaves(optimizer_state, is_leaf=_injected):
        if _injected(node) and "learning_rate" in node.hyperparams:
            scale = node.hyperparams.get("learning_rate_scale", 1.0)
            rates.append(float(node.hyperparams["learning_rate"] * scale))
    return rates


def scale_learning_rate(optimizer_state: Any, factor: float, floor: float) -> Any:
    """``optimizer_state`` with every injected learning rate multiplied by ``factor``, never
    below ``floor``: its ``learning_rate_scale`` where it has one (axon.optim's, which a
    schedule leaves alone), else the ``learning_rate`` itself."""
    found = []

    def scale(node: Any) -> Any:
        if not _injected(node):
            return node
        hyperparams = dict(node.hyperparams)
        if "learning_rate_scale" in hyperparams and "learning_rate" in hyperparams:
            scale = jnp.asarray(hyperparams["learning_rate_scale"])
            lr = hyperparams["learning_rate"] * scale
            target = jnp.maximum(lr * factor, floor)
            ratio = jnp.where(lr > 0, target / lr, 1.0)
            hyperparams["learning_rate_scale"] = (scale * ratio).astype(scale.dtype)
        elif "learning_rate" in hyperparams:
            lr = jnp.asarray(hyperparams["learning_rate"])
            hyperparams["learning_rate"] = jnp.maximum(lr * factor, floor).astype(lr.dtype)
        else:
            return node
        found.append(node)
        return node._replace(hyperparams=hyperparams)

    scaled = jax.tree_util.tree_map(scale, optimizer_state, is_leaf=_injected)
    if not found:
        raise ValueError(
            "reduce_lr_on_plateau found no learning rate in the optimizer state. Use an "
            "axon.optim optimizer, or wrap an optax one: optax.inject_hyperparams(optax.adam)"
            "(learning_rate=1e-3)."
        )
    return scaled


def _injected(node: Any) -> bool:
    return isinstance(node, optax.InjectHyperparamsState | optax.InjectStatefulHyperparamsState)
