"""``build``, ``predict`` and ``get_output_shape``: running a graph."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import jax

from .._errors import ModelError
from .options import BuildOptions
from .penalties import parameter_penalty
from .state import ModelState

if TYPE_CHECKING:
    from .._graph.model import Model


def build(
    model: Model,
    mode: str = "inference",
    *,
    global_layer_options: Mapping[str, Any] | None = None,
    print_values: bool = False,
    debug: bool = False,
    raise_on_none: bool = True,
    remat: Any = None,
) -> tuple[Callable[..., ModelState], Callable[..., Any]]:
    """Compile ``model`` into ``(init_fn, predict_fn)``.

    - ``init_fn(key, inputs, model_state=None) -> ModelState``: ``key`` is a PRNG
      key or int seed; ``inputs`` are arrays or ``jax.ShapeDtypeStruct`` templates
      (a dict by input name for several inputs); a partial ``model_state`` is kept.
    - ``predict_fn(model_state, inputs)``: in ``"inference"`` mode returns the
      prediction; in ``"train"`` mode ``predict_fn(model_state, inputs, key=None)``
      returns ``(prediction, new_layer_state)`` (dropout active, statistics updated).

    ``predict_fn`` is jitted and compiles once per input shape.

    Args:
        model: the model graph.
        mode: ``"inference"`` or ``"train"``.
        global_layer_options: options given to every layer whose op declares a keyword
            parameter of that name (keyword-only, or positional after the layer's
            inputs and parameters; ``**kwargs`` does not count). The value replaces
            the layer's own option, in ``init_fn`` (shapes) and ``predict_fn``;
            layers whose op does not declare it are left alone. An option no layer
            accepts is an error (a misspelling would change nothing), and so are
            ``mode`` and ``key``, which the compiler passes itself.
        print_values: print every layer's output as ``name: value`` on each call,
            in layer order, also under ``jax.jit`` and ``jax.grad``
            (``jax.debug.print``).
        debug: log to the ``"axon.model"`` logger (level ``DEBUG``) how long
            ``init_fn`` took for shape inference and for each layer's parameters,
            and how long tracing ``predict_fn`` took (once per input signature);
            compilations are logged by JAX (``jax.log_compiles``). Where each layer
            was defined is always recorded and shown in errors.
        raise_on_none: ``predict_fn`` raises a :class:`~axon.model.ModelError` when the
            whole prediction is missing (an optional input left out and no
            ``or_else`` handles it); with ``False`` it returns ``None``.
        remat: rematerialize the whole forward pass: ``predict_fn`` runs under
            ``jax.checkpoint``, so a gradient through it keeps only what the policy
            saves and recomputes the rest in the backward pass. ``True`` saves nothing
            but the inputs (``"nothing_saveable"``); a name such as ``"dots_saveable"``
            (keep matrix products, recompute elementwise work) or
            ``"dots_with_no_batch_dims_saveable"`` picks a ``jax.checkpoint_policies``
            policy; a policy function (``save_only_these_names(...)``) is used as it
            is. Results are equal to a build without it; only memory and compute move.
            The whole forward as one segment mostly helps with a policy; to keep
            less, rematerialize per layer or per block instead: every registered builder
            takes ``remat=`` for the layers it makes (``x.transformer_encoder(...,
            remat=True)``), as do :func:`axon.model.block` (each call one segment) and
            :func:`axon.model.layer`. A rematerialized layer's hooks and
            ``print_values`` fire again when the backward pass recomputes it.

    >>> import jax.numpy as jnp, axon.model
    >>> model = axon.model.input("x", shape=(None, 3)).dense(2)
    >>> init_fn, predict_fn = axon.model.build(model)
    >>> state = init_fn(0, jax.ShapeDtypeStruct((1, 3), jnp.float32))
    >>> predict_fn(state, jnp.ones((5, 3))).shape
    (5, 2)

    A global option reaches every layer whose op takes it:

    >>> x = axon.model.input("x", shape=(None, 2))
    >>> def scaled(v, *, factor=1.0):
    ...     return v * factor
    >>> model = axon.model.layer(scaled, [x], name="scaled").relu()
    >>> state = model.init(0, jnp.ones((1, 2)))
    >>> _, predict_fn = axon.model.build(model, global_layer_options={"factor": 3.0})
    >>> predict_fn(state, jnp.ones((1, 2)))
    Array([[3., 3.]], dtype=float32)

    ``print_values`` shows each layer's output:

    >>> _, predict_fn = axon.model.build(model, print_values=True)
    >>> _ = predict_fn(state, -jnp.ones((1, 2)))
    scaled: [[-1. -1.]]
    relu_0: [[0. 0.]]

    ``remat`` recomputes the forward pass inside the gradient, with the same results:

    >>> mlp = axon.model.input("x", shape=(None, 4)).dense(8, activation="relu").dense(1)
    >>> mlp_state = mlp.init(0, jnp.ones((1, 4)))
    >>> _, plain_fn = axon.model.build(mlp)
    >>> _, remat_fn = axon.model.build(mlp, remat="dots_saveable")
    >>> def loss(fn):
    ...     return lambda params: fn(mlp_state.replace(params=params), jnp.ones((3, 4))).sum()
    >>> plain, remat = (jax.grad(loss(fn))(mlp_state.params) for fn in (plain_fn, remat_fn))
    >>> jax.tree.all(jax.tree.map(jnp.array_equal, plain, remat))
    True
    >>> "remat" in str(jax.make_jaxpr(jax.grad(loss(remat_fn)))(mlp_state.params))
    True
    """
    options = BuildOptions.create(
        model.program.order,
        global_layer_options=global_layer_options,
        print_values=print_values,
        debug=debug,
        raise_on_none=raise_on_none,
        remat=remat,
    )
    program = model.program

    def init_fn(key: Any, inputs: Any, model_state: ModelState | None = None) -> ModelState:
        with options.timed("init"):
            return program.init(key, inputs, model_state, options)

    if mode == "inference":

        def predict_fn(model_state: ModelState, inputs: Any) -> Any:
            with _compile_log(options):
                prediction = program.apply(model_state, inputs, options=options)[0]
            return _checked_prediction(model, prediction, options)

    elif mode == "train":

        def predict_fn(model_state: ModelState, inputs: Any, key: Any = None) -> Any:
            with _compile_log(options):
                result = program.apply(model_state, inputs, mode="train", key=key, options=options)
            _checked_prediction(model, result[0], options)
            return result[:2]

    else:
        raise ValueError(f"mode must be 'inference' or 'train', got {mode!r}.")
    return init_fn, predict_fn


def predict(
    model: Model,
    model_state: ModelState,
    inputs: Any,
    *,
    global_layer_options: Mapping[str, Any] | None = None,
    print_values: bool = False,
    debug: bool = False,
    raise_on_none: bool = True,
) -> Any:
    """Run ``model`` in inference mode (shorthand for ``build(model, ...)[1](state, inputs)``,
    with :func:`build`'s options).

    >>> import jax.numpy as jnp, axon.model
    >>> model = axon.model.input("x", shape=(None, 2)).dense(1, kernel_initializer="ones")
    >>> axon.model.predict(model, model.init(0, jnp.ones((1, 2))), jnp.ones((3, 2))).ravel()
    Array([2., 2., 2.], dtype=float32)
    """
    _, predict_fn = build(
        model,
        global_layer_options=global_layer_options,
        print_values=print_values,
        debug=debug,
        raise_on_none=raise_on_none,
    )
    return predict_fn(model_state, inputs)


def _compile_log(options: BuildOptions) -> Any:
    """``jax.log_compiles`` while a ``debug`` build runs (Axon forwards ``debug`` to JIT)."""
    return jax.log_compiles(True) if options.debug else contextlib.nullcontext()


def _checked_prediction(model: Model, prediction: Any, options: BuildOptions) -> Any:
    if prediction is None and options.raise_on_none:
        program = model.program
        optional = [program.names[n.id] for n in program.inputs if n.config.get("optional")]
        raise ModelError(
            f"The model's output {program.names[model.node.id]!r} is missing: it depends on "
            f"optional inputs {optional} that were left out, and no layer on the way handles "
            f"the missing value. Pass them, give a fallback with .optional().or_else(...), or "
            f"build with raise_on_none=False to receive None."
        )
    return prediction


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
