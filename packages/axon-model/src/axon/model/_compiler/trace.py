"""``trace_init``, ``trace_forward``, ``trace_backward``: what JAX sees of a model.

Axon's debugging workflow returns the Nx expression of init, the forward pass and the
backward pass; the JAX counterparts are the jaxpr (``jax.make_jaxpr``) or the lowered
StableHLO/HLO text of the same functions ``build`` compiles. Inputs may be arrays or
``jax.ShapeDtypeStruct`` templates: nothing runs, only tracing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp

from axon.functional import losses as functional_losses

from .options import BuildOptions
from .state import ModelState

if TYPE_CHECKING:
    from .._graph.model import Model

OUTPUTS = ("jaxpr", "stablehlo", "hlo")


def trace_init(
    model: Model,
    template: Any,
    model_state: ModelState | None = None,
    *,
    key: Any = 0,
    output: str = "jaxpr",
    **build_options: Any,
) -> Any:
    """The jaxpr (or lowered text) of the model's ``init_fn`` for inputs like ``template``.

    Args:
        model: the model graph.
        template: inputs (arrays or ``jax.ShapeDtypeStruct``; a dict for several inputs).
        model_state: a partial state ``init`` keeps (it appears as constants).
        key: the PRNG key or int seed; traced as the function's argument.
        output: ``"jaxpr"`` (a ``jax.core.ClosedJaxpr``), ``"stablehlo"`` or ``"hlo"``
            (the text of ``jax.jit(...).lower(...)`` in that dialect).
        build_options: ``global_layer_options`` and ``debug``, as in :func:`build`.

    >>> import jax, jax.numpy as jnp, axon.model
    >>> model = axon.model.input("x", shape=(None, 3)).dense(2, kernel_initializer="normal")
    >>> jaxpr = axon.model.trace_init(model, jax.ShapeDtypeStruct((1, 3), jnp.float32))
    >>> "random_bits" in str(jaxpr)
    True
    """
    options = BuildOptions.create(model.program.order, **build_options)
    key = jax.random.key(key) if isinstance(key, int) else key

    def init(key: Any) -> ModelState:
        return model.program.init(key, template, model_state, options)

    return _traced(init, (key,), output)


def trace_forward(
    model: Model,
    inputs: Any,
    model_state: ModelState,
    *,
    mode: str = "inference",
    key: Any = None,
    output: str = "jaxpr",
    **build_options: Any,
) -> Any:
    """The jaxpr (or lowered text) of the model's forward pass, as ``build``'s ``predict_fn``.

    The function traced is ``(model_state, inputs[, key]) -> prediction`` in inference
    mode and ``-> (prediction, new_layer_state)`` in train mode, where ``key`` (default
    ``jax.random.key(0)``) drives dropout.

    Args:
        model: the model graph.
        inputs: arrays or ``jax.ShapeDtypeStruct`` templates.
        model_state: from ``init`` (or ``jax.eval_shape`` of it).
        mode: ``"inference"`` or ``"train"``.
        key: the PRNG key of train mode.
        output: ``"jaxpr"``, ``"stablehlo"`` or ``"hlo"`` (see :func:`trace_init`).
        build_options: ``global_layer_options``, ``print_values`` (each print is a
            ``debug_print`` equation) and ``debug``, as in :func:`build`.

    >>> import jax, jax.numpy as jnp, axon.model
    >>> model = axon.model.input("x", shape=(None, 3)).dense(2).tanh()
    >>> state = model.init(0, jnp.ones((1, 3)))
    >>> jaxpr = axon.model.trace_forward(model, jnp.ones((4, 3)), state)
    >>> [eqn.primitive.name for eqn in jaxpr.eqns]
    ['dot_general', 'broadcast_in_dim', 'add', 'tanh']
    >>> jaxpr.out_avals
    [ShapedArray(float32[4,2])]

    ``output="stablehlo"`` gives what XLA compiles:

    >>> text = axon.model.trace_forward(model, jnp.ones((4, 3)), state, output="stablehlo")
    >>> "stablehlo.dot_general" in text and "stablehlo.tanh" in text
    True
    """
    options = BuildOptions.create(model.program.order, **build_options)
    if mode == "train" and key is None:
        key = jax.random.key(0)

    def forward(model_state: ModelState, inputs: Any, key: Any) -> Any:
        prediction, new_state, *_ = model.program._apply(
            model_state, inputs, mode=mode, key=key, options=options
        )
        return (prediction, new_state) if mode == "train" else prediction

    return _traced(forward, (model_state, inputs, key), output)


def trace_backward(
    model: Model,
    inputs: Any,
    model_state: ModelState,
    loss: str | Callable[[Any, Any], Any],
    *,
    targets: Any = None,
    key: Any = None,
    output: str = "jaxpr",
    **build_options: Any,
) -> Any:
    """The jaxpr (or lowered text) of the gradient of ``loss`` with respect to the trainable
    parameters, through the train-mode forward pass (what a training step differentiates).

    The function traced is ``(model_state, inputs, targets, key) -> grads``, ``grads``
    shaped like ``model_state.trainable_parameters``; the loss is averaged to a scalar and,
    for a model with regularizers, their penalty is added (as ``axon.loop.trainer`` does).

    Args:
        model: the model graph.
        inputs: arrays or ``jax.ShapeDtypeStruct`` templates.
        model_state: from ``init``.
        loss: a registered loss name (``"mean_squared_error"``) or ``fn(y_true, y_pred)``.
        targets: ``y_true``; default: templates shaped like the prediction (tracing needs
            only their shapes).
        key: the PRNG key of train mode (default ``jax.random.key(0)``).
        output: ``"jaxpr"``, ``"stablehlo"`` or ``"hlo"`` (see :func:`trace_init`).
        build_options: ``global_layer_options``, ``print_values`` and ``debug``, as in
            :func:`build`.

    >>> import jax.numpy as jnp, axon.model
    >>> model = axon.model.input("x", shape=(None, 3)).dense(2).tanh()
    >>> state = model.init(0, jnp.ones((1, 3)))
    >>> jaxpr = axon.model.trace_backward(model, jnp.ones((4, 3)), state, "mean_squared_error")
    >>> [str(aval) for aval in jaxpr.out_avals]  # d(loss)/d(bias), d(loss)/d(kernel)
    ['float32[2]', 'float32[3,2]']
    """
    options = BuildOptions.create(model.program.order, **build_options)
    loss_fn = functional_losses.get(loss) if isinstance(loss, str) else loss
    key = jax.random.key(0) if key is None else key

    penalize = model.program.has_penalties

    def predict(model_state: ModelState, inputs: Any, key: Any) -> Any:
        return model.program._apply(
            model_state, inputs, mode="train", key=key, options=options, penalize=penalize
        )

    if targets is None:
        targets = jax.eval_shape(predict, model_state, inputs, key)[0]

    def backward(model_state: ModelState, inputs: Any, targets: Any, key: Any) -> Any:
        def objective(trainable: Any) -> jax.Array:
            prediction, _, _, penalty = predict(model_state.update(params=trainable), inputs, key)
            data_loss = jnp.mean(loss_fn(targets, prediction))
            return data_loss + penalty if penalize else data_loss

        return jax.grad(objective)(model_state.trainable_parameters)

    return _traced(backward, (model_state, inputs, targets, key), output)


def _traced(fn: Callable[..., Any], args: tuple[Any, ...], output: str) -> Any:
    if output == "jaxpr":
        return jax.make_jaxpr(fn)(*args)
    if output in ("stablehlo", "hlo"):
        return jax.jit(fn).lower(*args).as_text(dialect=output)
    raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}.")
