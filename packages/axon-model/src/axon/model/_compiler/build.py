"""``build``, ``predict`` and ``get_output_shape``: running a graph."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import jax

from .penalties import parameter_penalty
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


def penalty(
    model: Model, model_state: ModelState, inputs: Any = None, *, key: Any = None
) -> jax.Array:
    """The model's regularization penalty, a float32 scalar to add to the data loss.

    Layers get penalties from their ``kernel_regularizer``, ``bias_regularizer``,
    ``recurrent_regularizer`` (parameters) and ``activity_regularizer`` (outputs)
    options, Keras's names, or :func:`axon.model.param`'s ``regularizer``: each a name
    (``"l1"``, ``"l2"``, ``"l1_l2"``, Keras's factor 0.01) or an object from
    :mod:`axon.functional.penalties` such as ``L2(1e-4)`` (``factor * sum(x**2)``, no
    ``1/2``). Frozen parameters contribute nothing.

    Without ``inputs`` it is the parameters' penalty; with ``inputs`` the model runs in
    train mode (``key`` drives dropout) and the activity penalties of its layer
    outputs are added, each divided by the batch size (as tf.keras does). To get the
    prediction and the penalty of one forward pass, use
    :meth:`Model.apply_with_penalty`; axon.loop's trainer adds this penalty to the loss.

    >>> import jax, jax.numpy as jnp, axon.model
    >>> from axon.functional.penalties import L1, L2
    >>> x = axon.model.input("x", shape=(None, 2))
    >>> model = x.dense(3, kernel_regularizer=L2(0.5), name="hidden").dense(
    ...     1, kernel_regularizer="l1", activity_regularizer=L1(0.1), name="head")
    >>> state = model.init(0, jnp.ones((1, 2)))
    >>> by_hand = (0.5 * jnp.sum(state.params["hidden"]["kernel"] ** 2)
    ...            + 0.01 * jnp.sum(jnp.abs(state.params["head"]["kernel"])))
    >>> bool(jnp.allclose(axon.model.penalty(model, state), by_hand))
    True
    >>> inputs = jnp.ones((4, 2))
    >>> activity = 0.1 * jnp.sum(jnp.abs(axon.model.predict(model, state, inputs))) / 4
    >>> bool(jnp.allclose(axon.model.penalty(model, state, inputs), by_hand + activity))
    True
    >>> frozen = state.freeze("hidden/*")  # frozen parameters contribute nothing
    >>> bool(jnp.allclose(axon.model.penalty(model, frozen), by_hand - 0.5 * jnp.sum(
    ...     state.params["hidden"]["kernel"] ** 2)))
    True
    """
    if inputs is None:
        return parameter_penalty(model.program.layers, model_state)
    return model.apply_with_penalty(model_state, inputs, mode="train", key=key)[2]


def get_output_shape(model: Model, inputs: Any) -> jax.ShapeDtypeStruct:
    """The output shape and dtype for ``inputs`` (arrays or templates), without running.

    >>> import jax.numpy as jnp, axon.model
    >>> model = axon.model.input("x", shape=(None, 3)).dense(7)
    >>> axon.model.get_output_shape(model, jax.ShapeDtypeStruct((4, 3), jnp.float32))
    ShapeDtypeStruct(shape=(4, 7), dtype=float32)
    """
    structs, _ = model.program.infer(inputs)
    return structs[model.node.id]
