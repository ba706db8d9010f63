"""axon-optim: Polaris optimizers, update transforms and schedules as optax transformations.

Everything returned is a plain :class:`optax.GradientTransformation`, so it works
with any JAX code, and any optax transformation works wherever these do.

- :mod:`axon.optim.optimizers`: the named optimizers (``adam``, ``sgd``, ...), also
  importable from here and looked up by name with :func:`get`;
- :mod:`axon.optim.updates`: the update transforms they are built from
  (``Polaris.Updates``), :func:`compose`/:func:`chain` and :func:`apply_updates`;
- :mod:`axon.optim.schedules`: learning-rate schedules;
- :mod:`axon.optim.hyperparams`: hyperparameters in the optimizer state, with
  :func:`get_hyperparams`, :func:`set_hyperparams`, :func:`scale_learning_rate`;
- :mod:`axon.optim.masks`: masks by parameter path (freeze, per-group optimizers);
- :mod:`axon.optim.loss_scale`: loss scaling for mixed precision;
- :mod:`axon.optim.plugins`: the registries that plugins extend.

>>> import jax.numpy as jnp
>>> import axon.optim
>>> optimizer = axon.optim.get("adamw", learning_rate=3e-4)
>>> state = optimizer.init({"w": jnp.zeros(3)})
>>> state.hyperparams["learning_rate"]
Array(0.0003, dtype=float32)
"""

import importlib.metadata

from . import hyperparams, loss_scale, masks, optimizers, plugins, schedules, updates
from .hyperparams import (
    get_hyperparams,
    get_learning_rate,
    inject_hyperparams,
    scale_learning_rate,
    set_hyperparams,
)
from .optimizers import *  # noqa: F403  (the named optimizers, get and names)
from .updates import accumulate_gradients, apply_updates, chain, compose

__version__ = importlib.metadata.version("axon-optim")

__all__ = [
    *optimizers.__all__,
    "get_hyperparams",
    "set_hyperparams",
    "scale_learning_rate",
    "get_learning_rate",
    "inject_hyperparams",
    "compose",
    "chain",
    "accumulate_gradients",
    "apply_updates",
    "hyperparams",
    "loss_scale",
    "masks",
    "optimizers",
    "plugins",
    "schedules",
    "updates",
]
