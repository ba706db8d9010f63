"""Dropout builders: dropout, spatial, alpha and feature-alpha dropout.

Each layer is the identity in inference. In training (``apply(..., mode="train",
key=key)``) the compiler gives every dropout layer its own key, derived from the step's
key and the layer's name, so two dropout layers never share a mask and the same key
reproduces the same masks. Unlike Axon, no RNG key is kept in the model state (the
caller passes a fresh key per step; ``axon.loop`` trainers do).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from axon.functional import layers as F

from .._graph.constructors import layer
from .._graph.model import Model
from .options import check_channels, is_int, option_error


def check_rate(fn: str, option: str, rate: Any) -> float:
    """A drop probability, ``0 <= rate < 1`` (also checks attention's ``dropout_rate``)."""
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate < 1:
        raise option_error(fn, option, "a drop probability with 0 <= rate < 1", rate)
    return float(rate)


def _dropout(
    fn: str, op: Callable[..., Any], x: Model, rate: Any, name: str | None, **opts: Any
) -> Model:
    rate = check_rate(fn, "rate", rate)
    if "channels" in opts:
        check_channels(fn, opts["channels"])
    return layer(op, [x], name=name, op_name=fn, config={"rate": rate, **opts}, rate=rate, **opts)


def dropout(
    x: Model,
    *,
    rate: float = 0.5,
    noise_shape: Sequence[int] | None = None,
    name: str | None = None,
) -> Model:
    """Inverted dropout (``Axon.dropout``): in training, zero each element with probability
    ``rate`` and scale the rest by ``1 / (1 - rate)``; the identity in inference.

    Args:
        x: any input.
        rate: drop probability, ``0 <= rate < 1``.
        noise_shape: mask shape broadcast against the input (``1`` on axes sharing a mask).
        name: layer name.

    >>> import jax, jax.numpy as jnp, axon.model
    >>> model = axon.model.input("x", shape=(None, 1000)).dropout(rate=0.2)
    >>> state = model.init(0, jnp.ones((1, 1000)))
    >>> y, _ = model.apply(state, jnp.ones((1, 1000)), mode="train", key=jax.random.key(0))
    >>> sorted(set(y.ravel().tolist()))
    [0.0, 1.25]
    >>> bool((model.apply(state, jnp.ones((1, 1000)))[0] == 1).all())  # inference: identity
    True
    """
    opts: dict[str, Any] = {}
    if noise_shape is not None:
        if not (isinstance(noise_shape, Sequence) and all(is_int(d) for d in noise_shape)):
            raise option_error("dropout", "noise_shape", "a sequence of ints", noise_shape)
        opts["noise_shape"] = tuple(int(d) for d in noise_shape)
    return _dropout("dropout", F.dropout, x, rate, name, **opts)


def spatial_dropout(
    x: Model, *, rate: float = 0.5, channels: str = "last", name: str | None = None
) -> Model:
    """Dropout of whole feature maps (``Axon.spatial_dropout``): one mask entry per sample and
    channel.

    >>> import jax, jax.numpy as jnp, axon.model
    >>> model = axon.model.input("x", shape=(None, 3, 8)).spatial_dropout()
    >>> state = model.init(0, jnp.ones((1, 3, 8)))
    >>> y, _ = model.apply(state, jnp.ones((1, 3, 8)), mode="train", key=jax.random.key(0))
    >>> bool(jnp.all(y == y[:, :1, :]))
    True
    """
    return _dropout("spatial_dropout", F.spatial_dropout, x, rate, name, channels=channels)


def alpha_dropout(x: Model, *, rate: float = 0.5, name: str | None = None) -> Model:
    """Alpha dropout for SELU networks (``Axon.alpha_dropout``): keeps mean and variance.

    >>> import jax, jax.numpy as jnp, axon.model
    >>> model = axon.model.input("x", shape=(None, 4)).alpha_dropout(rate=0.3)
    >>> state = model.init(0, jnp.ones((1, 4)))
    >>> model.apply(state, jnp.ones((1, 4)))[0].tolist()  # inference: identity
    [[1.0, 1.0, 1.0, 1.0]]
    """
    return _dropout("alpha_dropout", F.alpha_dropout, x, rate, name)


def feature_alpha_dropout(
    x: Model, *, rate: float = 0.5, channels: str = "last", name: str | None = None
) -> Model:
    """Alpha dropout of whole channels (``Axon.feature_alpha_dropout``).

    >>> import jax, jax.numpy as jnp, axon.model
    >>> model = axon.model.input("x", shape=(None, 5, 4)).feature_alpha_dropout()
    >>> state = model.init(0, jnp.zeros((1, 5, 4)))
    >>> y, _ = model.apply(state, jnp.zeros((2, 5, 4)), mode="train", key=jax.random.key(0))
    >>> bool(jnp.all(y == y[:, :1, :]))
    True
    """
    return _dropout(
        "feature_alpha_dropout", F.feature_alpha_dropout, x, rate, name, channels=channels
    )


BUILDERS = {
    "dropout": dropout,
    "spatial_dropout": spatial_dropout,
    "alpha_dropout": alpha_dropout,
    "feature_alpha_dropout": feature_alpha_dropout,
}
