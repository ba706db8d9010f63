"""Entries for axon-functional: the ``"squareplus"`` activation and an RMSE metric.

Registered in the ``axon.functional`` entry-point group, so that
``axon.functional.activations.get("squareplus")``, ``dense(..., activation="squareplus")``
and ``loop.metric("root_mean_squared_error")`` all find them by name.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from axon.functional.plugins import hookimpl


def squareplus(x: jax.Array, b: float = 4.0) -> jax.Array:
    """Squareplus, a smooth ReLU built from a square root: ``(x + sqrt(x**2 + b)) / 2``.

    ``b > 0`` sets how curved it is near zero (``b = 0`` gives ReLU); the default
    ``4.0`` is the one proposed by Barron (2021, arXiv:2112.11687).
    """
    return (x + jnp.sqrt(jnp.square(x) + b)) / 2


def root_mean_squared_error(y_true: jax.Array, y_pred: jax.Array) -> jax.Array:
    """Square root of the mean of ``(y_true - y_pred) ** 2`` over every element."""
    return jnp.sqrt(jnp.mean(jnp.square(y_true - y_pred)))


@hookimpl
def axon_activations():
    return {"squareplus": squareplus}


@hookimpl
def axon_metrics():
    return {"root_mean_squared_error": root_mean_squared_error}
