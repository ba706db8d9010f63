"""Entry for axon-model: the ``"scale"`` layer, one trainable scalar times the input.

Registered in the ``axon.model`` entry-point group, so ``model.scale()`` and
``axon.model.layers.get("scale")(model)`` both work once the plugin is installed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax

import axon.model
from axon.model.plugins import hookimpl


def _scale(x: jax.Array, scale: jax.Array) -> jax.Array:
    return x * scale


def scale(
    x: axon.model.Model,
    *,
    name: str | None = None,
    initializer: str | Callable[..., Any] = "ones",
) -> axon.model.Model:
    """Multiply ``x`` by a trainable scalar parameter named ``"scale"``.

    ``initializer`` is an initializer name (``"ones"`` keeps the layer an identity
    at the start) or an ``init(key, shape, dtype)`` function.
    """
    factor = axon.model.param("scale", (), initializer=initializer)
    return axon.model.layer(_scale, [x, factor], name=name, op_name="scale")


@hookimpl
def axon_layers():
    return {"scale": scale}
