"""``build``, ``predict`` and ``get_output_shape``: running a graph."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import jax

from .state import ModelState

if TYPE_CHECKING:
    from .._graph.model import Model


def build(
    model: Model, mode: str = "inference"
) -> tuple[Callable[..., ModelState], Callable[..., Any]]:
    """Compile ``model`` into ``(init_fn, predict_fn)``.

    - ``init_fn(key, inputs, model_state=None) -> ModelState``: ``key`` is a PRNG
      key or int seed; ``inputs`` are arrays or ``jax.ShapeDtypeStruct`` templates
      (a dict by input name for several inputs); a partial ``model_state`` is kept.
    - ``predict_fn(model_state, inputs)``: in ``"inference"`` mode returns the
      prediction; in ``"train"`` mode ``predict_fn(model_state, inputs, key=None)``
      returns ``(prediction, new_layer_state)`` (dropout active, statistics updated).

    ``predict_fn`` is jitted and compiles once per input shape.

    >>> import jax.numpy as jnp, axon.model
    >>> model = axon.model.input("x", shape=(None, 3)).dense(2)
    >>> init_fn, predict_fn = axon.model.build(model)
    >>> state = init_fn(0, jax.ShapeDtypeStruct((1, 3), jnp.float32))
    >>> predict_fn(state, jnp.ones((5, 3))).shape
    (5, 2)
    """
    if mode == "inference":

        def predict_fn(model_state: ModelState, inputs: Any) -> Any:
            return model.apply(model_state, inputs, mode="inference")[0]

    elif mode == "train":

        def predict_fn(model_state: ModelState, inputs: Any, key: Any = None) -> Any:
            return model.apply(model_state, inputs, mode="train", key=key)

    else:
        raise ValueError(f"mode must be 'inference' or 'train', got {mode!r}.")
    return model.init, predict_fn


def predict(model: Model, model_state: ModelState, inputs: Any) -> Any:
    """Run ``model`` in inference mode (shorthand for ``build(model)[1](state, inputs)``).

    >>> import jax.numpy as jnp, axon.model
    >>> model = axon.model.input("x", shape=(None, 2)).dense(1, kernel_initializer="ones")
    >>> axon.model.predict(model, model.init(0, jnp.ones((1, 2))), jnp.ones((3, 2))).ravel()
    Array([2., 2., 2.], dtype=float32)
    """
    return model.apply(model_state, inputs, mode="inference")[0]


def get_output_shape(model: Model, inputs: Any) -> jax.ShapeDtypeStruct:
    """The output shape and dtype for ``inputs`` (arrays or templates), without running.

    >>> import jax.numpy as jnp, axon.model
    >>> model = axon.model.input("x", shape=(None, 3)).dense(7)
    >>> axon.model.get_output_shape(model, jax.ShapeDtypeStruct((4, 3), jnp.float32))
    ShapeDtypeStruct(shape=(4, 7), dtype=float32)
    """
    structs, _ = model.program.infer(inputs)
    return structs[model.node.id]
