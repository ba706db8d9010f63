"""axon-loop: the event-driven training and evaluation loop (``Axon.Loop``) on JAX.

>>> import jax.numpy as jnp, optax, axon.loop
>>> def init(key, x): return {"w": jnp.zeros((x.shape[-1], 1))}
>>> def apply(params, x, *, mode, key): return x @ params["w"], None
>>> x = jnp.ones((8, 2)); data = [(x, 2 * x[:, :1])] * 10
>>> params = axon.loop.trainer((init, apply), "mean_squared_error", optax.sgd(0.1), log=0).run(
...     data, epochs=3
... )
>>> print(f"{params['w'].sum():.3f}")
2.000
"""

import importlib.metadata

from . import checkpoint, handlers, plugins
from ._compilation_cache import compilation_cache
from ._data import Batches, EmptyDataError, batches
from ._events import Event, Halt
from ._loop import Loop
from ._sharding import FSDP
from ._state import State
from ._supervised import eval_step, evaluator, train_step, trainer
from .checkpoint._snapshot import deserialize_state, serialize_state

__version__ = importlib.metadata.version("axon-loop")


def loop(step_fn, init_fn=None, output_transform=None) -> Loop:
    """A loop from ``step_fn(batch, step_state) -> step_state`` (``Axon.Loop.loop``).

    ``init_fn(batch, init_state) -> step_state`` builds the initial step state
    from the first batch; ``output_transform(state)`` shapes what ``run`` returns.

    >>> import jax.numpy as jnp
    >>> counting = loop(lambda batch, count: count + batch.shape[0], lambda batch, init: init)
    >>> int(counting.run([jnp.ones(3), jnp.ones(5)], jnp.int32(0), epochs=2).step_state)
    16
    """
    return Loop(step_fn, init_fn, output_transform)


__all__ = [
    "Loop", "State", "Event", "Halt", "EmptyDataError",
    "loop", "trainer", "evaluator", "train_step", "eval_step", "batches", "Batches",
    "serialize_state", "deserialize_state", "FSDP", "compilation_cache",
    "checkpoint", "handlers", "plugins",
]  # fmt: skip
