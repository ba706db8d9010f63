"""``Model``: an immutable handle on a graph's output, with chained builders."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from .._compiler.program import Program
from .._compiler.state import ModelState
from .node import Node


class Model:
    """A model graph, identified by its output layer. Immutable: builders return new models.

    Every registered layer builder is also a chained method, so
    ``axon.model.dense(x, 10)`` and ``x.dense(10)`` build the same layer; plugin
    layers become methods too.

    >>> import axon.model
    >>> x = axon.model.input("features", shape=(None, 4))
    >>> model = x.dense(8, activation="relu").dense(1)
    >>> model
    <Model inputs={'features': (None, 4)} output='dense_1' layers=4>
    """

    __slots__ = ("__dict__", "node")

    def __init__(self, node: Node):
        self.node = node

    @functools.cached_property
    def program(self) -> Program:
        """The compiled view of this graph (created once per model).

        It holds the layers in execution order (``order``) and their unique names
        (``names``, by node id); :meth:`init` and :meth:`apply` run it.

        >>> import axon.model
        >>> model = axon.model.input("x", shape=(None, 3)).dense(4, name="hidden").dense(1)
        >>> [model.program.names[node.id] for node in model.program.order]
        ['x', 'hidden', 'dense_0']
        >>> model.program is model.program
        True
        """
        return Program(self.node)

    # -- the model contract: init and apply ------------------------------------------------

    def init(self, key: Any, inputs: Any, model_state: ModelState | None = None) -> ModelState:
        """Initialize parameters for ``inputs`` (arrays or ``jax.ShapeDtypeStruct`` templates).

        ``key`` is a PRNG key or an int seed. Parameters depend on the key and the
        layer's name only, so adding a layer leaves the others' values unchanged.
        Entries of a given (partial) ``model_state`` are kept, e.g. for fine-tuning.

        >>> import jax, jax.numpy as jnp, axon.model
        >>> base = axon.model.input("x", shape=(None, 3)).dense(4, name="hidden")
        >>> state = base.init(jax.random.key(0), jnp.ones((1, 3)))
        >>> state.params["hidden"]["kernel"].shape
        (3, 4)
        >>> bigger = base.dense(2, name="head")
        >>> template = jax.ShapeDtypeStruct((1, 3), jnp.float32)
        >>> tuned = bigger.init(1, template, model_state=state)
        >>> sorted(tuned.params)
        ['head', 'hidden']
        >>> kept = tuned.params["hidden"]["kernel"]
        >>> bool(jnp.array_equal(kept, state.params["hidden"]["kernel"]))
        True
        """
        return self.program.init(key, inputs, model_state)

    def apply(
        self, model_state: ModelState, inputs: Any, *, mode: str = "inference", key: Any = None
    ) -> tuple[Any, dict[str, Any]]:
        """Run the model: ``(prediction, new_layer_state)``. ``mode`` is "inference" or "train".

        ``key`` (a PRNG key) drives random layers such as dropout in train mode.

        >>> import jax, jax.numpy as jnp, axon.model
        >>> model = axon.model.input("x", shape=(None, 3)).dense(8).dropout(rate=0.5).dense(1)
        >>> state = model.init(0, jnp.ones((1, 3)))
        >>> prediction, layer_state = model.apply(state, jnp.ones((2, 3)))
        >>> prediction.shape, layer_state
        ((2, 1), {})
        >>> trained, _ = model.apply(state, jnp.ones((2, 3)), mode="train", key=jax.random.key(1))
        >>> bool(jnp.array_equal(prediction, trained))
        False
        """
        return self.program.apply(model_state, inputs, mode=mode, key=key)

    def as_functions(self) -> tuple[Callable[..., ModelState], Callable[..., Any]]:
        """The ``(init_fn, apply_fn)`` pair that axon-loop and other JAX code consume.

        >>> import jax, jax.numpy as jnp, axon.model
        >>> model = axon.model.input("x", shape=(None, 3)).dense(1)
        >>> init_fn, apply_fn = model.as_functions()
        >>> state = init_fn(0, jnp.ones((1, 3)))
        >>> prediction, _ = jax.jit(apply_fn)(state, jnp.ones((5, 3)))
        >>> prediction.shape
        (5, 1)
        """
        return self.init, self.apply

    # -- hooks ---------------------------------------------------------------------------

    def attach_hook(
        self, fn: Callable[[Any], Any], on: str = "forward", mode: str = "both"
    ) -> Model:
        """A new model whose output layer calls ``fn`` on ``on`` events (``Axon.attach_hook``).

        Same as :func:`axon.model.attach_hook`: ``on`` is ``"initialize"``,
        ``"pre_forward"``, ``"forward"`` (default), ``"backward"`` or ``"all"``;
        ``mode`` is ``"both"``, ``"train"`` or ``"inference"``.

        >>> import jax, jax.numpy as jnp, axon.model
        >>> seen = []
        >>> model = axon.model.input("x", shape=(None, 2)).dense(3).attach_hook(
        ...     lambda params: seen.append(sorted(params)), on="initialize")
        >>> _ = model.init(0, jnp.ones((1, 2)))
        >>> seen
        [['bias', 'kernel']]
        """
        from .hooks import attach_hook

        return attach_hook(self, fn, on=on, mode=mode)

    # -- chained builders ------------------------------------------------------------------

    def __getattr__(self, name: str) -> Callable[..., Model]:
        if name.startswith("_"):
            raise AttributeError(name)
        from ..plugins import layers

        if name not in layers:
            raise AttributeError(
                f"'Model' object has no attribute {name!r}. {layers.unknown_message(name)}"
            )
        return functools.partial(layers.get(name), self)

    def __dir__(self) -> list[str]:
        from ..plugins import layers

        return sorted(set(super().__dir__()) | set(layers.names()))

    def __repr__(self) -> str:
        program = self.program
        inputs = {program.names[n.id]: n.config.get("shape") for n in program.inputs}
        return (
            f"<Model inputs={inputs} output={program.names[self.node.id]!r} "
            f"layers={len(program.order)}>"
        )
