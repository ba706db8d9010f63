"""``Model``: an immutable handle on a graph's output, and the registry of its chained builders.

Every registered layer is a chained method (``x.dense(...)``), so a layer may not be
named like one of ``Model``'s own attributes. Both halves of that rule live here: the
``layers`` registry (``axon.model.plugins.layers``) checks names against ``Model``, and
``Model.__getattr__`` looks builders up in it. ``attach_hook`` is the function form of
``Model.attach_hook``; both rebuild the output node with ``_graph.hooks.with_hook``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from axon.functional.plugins import Registry

from .._compiler.options import BuildOptions
from .._compiler.program import Program
from .._compiler.state import ModelState
from .._plugin_system import system
from .hooks import with_hook
from .node import Node
from .recording import recorded


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

        Inputs and ``model_state`` are checked against the model while the call is
        traced (once per signature, so a compiled step pays nothing afterwards): a
        state of another model, or parameters of another shape or kind of dtype,
        raise an :class:`~axon.model.InputError` listing each entry that does not
        fit. Eager calls also check embedding ids (see ``embedding``).

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
        return self.program.apply(model_state, inputs, mode=mode, key=key)[:2]

    def apply_with_penalty(
        self, model_state: ModelState, inputs: Any, *, mode: str = "inference", key: Any = None
    ) -> tuple[Any, dict[str, Any], Any]:
        """``(prediction, new_layer_state, penalty)``: :meth:`apply` and the model's penalty.

        ``penalty`` (a float32 scalar, differentiable) sums the penalties of every
        trainable parameter with a regularizer (frozen ones contribute nothing) and the
        activity penalties of this forward pass's layer outputs (each divided by the
        batch size); it is ``0.0`` for a model without regularizers. Add it to the data
        loss to train with it, as axon.loop's trainer does.

        >>> import jax.numpy as jnp, axon.model
        >>> model = axon.model.input("x", shape=(None, 2)).dense(
        ...     1, kernel_initializer="ones", kernel_regularizer="l2", activity_regularizer="l1")
        >>> state = model.init(0, jnp.ones((1, 2)))
        >>> prediction, _, penalty = model.apply_with_penalty(state, jnp.ones((4, 2)), mode="train")
        >>> round(float(penalty), 4)  # 0.01 * (1 + 1) + 0.01 * (4 * 2) / 4
        0.04
        """
        return self.program.apply(model_state, inputs, mode=mode, key=key, penalize=True)

    @property
    def has_penalties(self) -> bool:
        """Whether any layer has a regularizer (of a parameter or of its output).

        >>> import axon.model
        >>> x = axon.model.input("x", shape=(None, 2))
        >>> x.dense(1).has_penalties, x.dense(1, bias_regularizer="l1").has_penalties
        (False, True)
        """
        return self.program.has_penalties

    def as_functions(
        self, *, with_penalty: bool = False, remat: Any = None
    ) -> tuple[Callable[..., ModelState], Callable[..., Any]]:
        """The ``(init_fn, apply_fn)`` pair that axon-loop and other JAX code consume.

        With ``with_penalty=True`` the ``apply_fn`` is :meth:`apply_with_penalty`, which
        also returns the model's penalty (axon.loop's trainer asks for it when
        :attr:`has_penalties`). With ``remat`` (``True``, a policy name or a
        ``jax.checkpoint_policies`` function) the whole forward pass runs under
        ``jax.checkpoint``, as with :func:`axon.model.build`'s ``remat`` (axon.loop's
        ``trainer(..., remat=...)`` asks for it).

        >>> import jax, jax.numpy as jnp, axon.model
        >>> model = axon.model.input("x", shape=(None, 3)).dense(1)
        >>> init_fn, apply_fn = model.as_functions()
        >>> state = init_fn(0, jnp.ones((1, 3)))
        >>> prediction, _ = jax.jit(apply_fn)(state, jnp.ones((5, 3)))
        >>> prediction.shape
        (5, 1)
        >>> _, remat_fn = model.as_functions(remat=True)
        >>> bool(jnp.array_equal(remat_fn(state, jnp.ones((5, 3)))[0], prediction))
        True
        """
        if remat is None or remat is False:
            return self.init, self.apply_with_penalty if with_penalty else self.apply
        options = BuildOptions.create(self.program.order, remat=remat)

        def apply_fn(
            model_state: ModelState, inputs: Any, *, mode: str = "inference", key: Any = None
        ) -> Any:
            result = self.program.apply(
                model_state, inputs, mode=mode, key=key, options=options, penalize=with_penalty
            )
            return result if with_penalty else result[:2]

        return self.init, apply_fn

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
        return Model(with_hook(self.node, fn, on, mode))

    # -- chained builders ------------------------------------------------------------------

    def __getattr__(self, name: str) -> Callable[..., Model]:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in layers:
            raise AttributeError(
                f"'Model' object has no attribute {name!r}. {layers.unknown_message(name)}"
            )
        return functools.partial(layers.get(name), self)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(layers.names()))

    def __repr__(self) -> str:
        program = self.program
        inputs = {program.names[n.id]: n.config.get("shape") for n in program.inputs}
        return (
            f"<Model inputs={inputs} output={program.names[self.node.id]!r} "
            f"layers={len(program.order)}>"
        )


def _check_layer(name: str, entry: object) -> None:
    if not callable(entry):
        raise TypeError(f"Layer builder {name!r} must be callable, got {type(entry).__name__}.")
    if name.startswith("_") or hasattr(Model, name):
        raise ValueError(
            f"A layer cannot be named {name!r}: that name is taken by Model.{name}, so "
            f"x.{name}(...) could never reach the layer. Register it under another name."
        )


class LayerRegistry(Registry):
    """The layer registry: its builders record each call, so a model file can rebuild the layers.

    >>> import axon.model
    >>> axon.model.layers.get("dense") is axon.model.layers.get("dense")
    True
    """

    def get(self, name: str) -> Callable[..., Any]:
        """The builder registered as ``name``, recording its calls (see :class:`LayerRegistry`).

        >>> import axon.model
        >>> model = axon.model.layers.get("dense")(axon.model.input("x", shape=(None, 2)), 3)
        >>> model.node.origin[0].builder
        'dense'
        """
        builder = super().get(name)
        key = (name, id(builder))
        if self._wrapped.get(key, (None,))[0] is not builder:
            self._wrapped[key] = (builder, recorded(name, builder))
        return self._wrapped[key][1]

    @functools.cached_property
    def _wrapped(self) -> dict[tuple[str, int], tuple[Any, Callable[..., Any]]]:
        return {}


#: The layer builders by name: built-ins and plugins (``axon.model.plugins.layers``).
layers: Registry = LayerRegistry(system, "axon_layers", "layer", _check_layer)


def attach_hook(
    model: Model, fn: Callable[[Any], Any], on: str = "forward", mode: str = "both"
) -> Model:
    """A new model whose output layer calls ``fn`` on ``on`` events (``Axon.attach_hook``).

    Events (``on``):

    - ``"initialize"``: after init, with the layer's dict ``{name: array}`` of
      parameters and state (after any given model state was merged in);
    - ``"pre_forward"``: before the op, with the tuple of the layer's inputs as the
      op receives them (after a mixed-precision compute cast);
    - ``"forward"``: after the op, with its output;
    - ``"backward"``: when differentiating, with the gradient flowing into the
      layer's output (integer outputs give ``None``);
    - ``"all"``: every one of the above.

    ``mode`` (``"both"``, ``"train"`` or ``"inference"``) restricts the forward and
    backward events to one mode of ``apply``; ``"initialize"`` hooks always fire.
    Several hooks on a layer run in the order they were attached.

    Hooks run through ``jax.debug.callback``: they fire on every call, also inside
    ``jax.jit``, ``jax.grad`` and ``lax.scan``, and receive host NumPy arrays. A
    jitted call may return before its hooks have run; call ``jax.effects_barrier()``
    to wait for them. The order of hooks on *different* layers is not guaranteed.
    An exception raised by a hook surfaces as an error naming the layer and event.

    Args:
        model: the model whose output layer gets the hook.
        fn: called as ``fn(value)``; its return value is ignored.
        on: the event, one of ``"initialize"``, ``"pre_forward"``, ``"forward"``,
            ``"backward"``, ``"all"``.
        mode: ``"both"``, ``"train"`` or ``"inference"``.

    Returns:
        The new model (the original one is unchanged).

    >>> import jax, jax.numpy as jnp, axon.model
    >>> seen = []
    >>> model = axon.model.input("x", shape=(None, 2)).dense(3)
    >>> model = attach_hook(model, lambda y: seen.append(y.shape))
    >>> _ = model.apply(model.init(0, jnp.ones((1, 2))), jnp.ones((4, 2)))
    >>> jax.effects_barrier()
    >>> seen
    [(4, 3)]
    """
    if not isinstance(model, Model):
        raise TypeError(f"attach_hook expects a Model, got {type(model).__name__}.")
    return model.attach_hook(fn, on=on, mode=mode)


def expect_model(model: Any, function: str) -> Model:
    """``model``, or a ``TypeError`` saying that ``function`` expects a ``Model``."""
    if not isinstance(model, Model):
        raise TypeError(
            f"{function} expects an axon.model.Model (e.g. from axon.model.input(...).dense(...)), "
            f"got {type(model).__name__}."
        )
    return model
