"""Errors raised while building or running a model."""

from __future__ import annotations


class ModelError(Exception):
    """Base class of axon.model errors.

    Catch it to handle any error of a model's inputs or layers:

    >>> import jax.numpy as jnp, axon.model
    >>> model = axon.model.input("x", shape=(None, 3)).dense(2)
    >>> try:
    ...     model.init(0, jnp.ones((1, 3, 3)))
    ... except axon.model.ModelError as error:
    ...     print(type(error).__name__, str(error).split(", received")[0])
    InputError Input 'x' (defined at ...) expects shape (None, 3) (None = any size)
    """


class LayerError(ModelError):
    """A layer failed while inferring shapes, initializing or running.

    The message names the layer, its op and where it was defined, shows the
    shapes it received, and chains the original exception.

    >>> import jax.numpy as jnp, axon.model
    >>> x = axon.model.input("x", shape=(None, 3))
    >>> model = axon.model.layer(lambda v: v.reshape(-1, 5), [x], name="regroup")
    >>> try:
    ...     model.init(0, jnp.ones((2, 3)))
    ... except axon.model.LayerError as error:
    ...     print(str(error).split(": ")[0])
    ...     print(type(error.__cause__).__name__)
    Layer 'regroup' (<lambda>, defined at ...) failed on arguments ((2, 3) float32)
    TypeError
    """


class InputError(ModelError, ValueError):
    """Inputs given to a model do not match its declared inputs.

    Also a ``ValueError``. The message lists the expected and received inputs:

    >>> import jax.numpy as jnp, axon.model
    >>> model = axon.model.input("x", shape=(None, 3)).dense(2)
    >>> try:
    ...     model.init(0, {"features": jnp.ones((1, 3))})
    ... except axon.model.InputError as error:
    ...     print(str(error).split("; ")[0])
    The model's inputs are ['x'] (required: ['x'])
    """
