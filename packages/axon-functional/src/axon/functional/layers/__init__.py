"""Layer functions (``Axon.Layers``): pure functions of inputs and parameters.

Parameters are explicit arguments, so these compose with any JAX code. Each family
lives in its own private module; everything public is re-exported here.

>>> import jax.numpy as jnp
>>> dense(jnp.ones((2, 3)), jnp.ones((3, 4)), jnp.zeros(4)).shape
(2, 4)
"""

from ._attention import *  # noqa: F403
from ._conv import *  # noqa: F403
from ._dropout import *  # noqa: F403
from ._linear import *  # noqa: F403
from ._normalization import *  # noqa: F403
from ._pooling import *  # noqa: F403
from ._recurrent import *  # noqa: F403
from ._shape import *  # noqa: F403
