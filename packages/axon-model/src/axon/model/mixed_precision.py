"""Mixed precision (``Axon.MixedPrecision``): layers in bfloat16/float16, parameters in float32.

A :class:`Policy` holds three dtypes, each ``None`` for "no cast":

- ``params``: parameters are stored in it (cast at init);
- ``compute``: parameters and floating inputs are cast to it before the layer's op;
- ``output``: floating outputs are cast to it after the op.

Integers and booleans are never cast, so token ids reach an embedding untouched.
Layer state (e.g. running statistics) keeps its declared dtype and is cast to
``compute`` only for the op; updates are stored back in the declared dtype.

>>> import jax, jax.numpy as jnp, axon.model
>>> from axon.model import mixed_precision
>>> policy = mixed_precision.create_policy(params=jnp.float32, compute=jnp.bfloat16,
...                                        output=jnp.float32)
>>> model = axon.model.input("x", shape=(None, 4)).dense(8).relu().dense(2)
>>> model = mixed_precision.apply_policy(model, policy)
>>> state = model.init(0, jnp.ones((1, 4)))
>>> state.params["dense_0"]["kernel"].dtype, model.apply(state, jnp.ones((3, 4)))[0].dtype
(dtype('float32'), dtype('float32'))
"""

from ._compiler.precision import Policy, cast, create_policy
from ._graph.precision import apply_policy

__all__ = ["Policy", "apply_policy", "cast", "create_policy"]
