"""axon-functional: activations, initializers, layers, losses, metrics and penalties as pure JAX
functions.

>>> import jax.numpy as jnp
>>> import axon.functional as F
>>> F.activations.relu(jnp.array([-1.0, 1.0]))
Array([0., 1.], dtype=float32)
"""

import importlib.metadata

from . import activations, initializers, layers, losses, metrics, penalties, plugins

__version__ = importlib.metadata.version("axon-functional")

__all__ = ["activations", "initializers", "layers", "losses", "metrics", "penalties", "plugins"]
