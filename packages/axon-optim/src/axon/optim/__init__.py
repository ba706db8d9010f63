"""axon-optim: Polaris optimizers and learning-rate schedules as optax transformations.

>>> import jax.numpy as jnp
>>> import axon.optim
>>> optimizer = axon.optim.get("adamw", learning_rate=3e-4)
>>> state = optimizer.init({"w": jnp.zeros(3)})
>>> state.hyperparams["learning_rate"]
Array(0.0003, dtype=float32)
"""

import importlib.metadata

from . import optimizers, plugins, schedules
from .optimizers import (
    adabelief,
    adagrad,
    adam,
    adamw,
    fromage,
    get,
    lamb,
    names,
    noisy_sgd,
    radam,
    rmsprop,
    sgd,
    yogi,
)

__version__ = importlib.metadata.version("axon-optim")

__all__ = [
    "adabelief",
    "adagrad",
    "adam",
    "adamw",
    "fromage",
    "lamb",
    "noisy_sgd",
    "radam",
    "rmsprop",
    "sgd",
    "yogi",
    "get",
    "names",
    "optimizers",
    "plugins",
    "schedules",
]
