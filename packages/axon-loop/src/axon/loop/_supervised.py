"""Supervised steps and loops: ``train_step``, ``eval_step``, ``trainer``, ``evaluator``.

A model state is either an object with ``params`` and ``state`` attributes and a
``replace(params=..., state=...)`` method, any pytree of parameters (all of them
trained), or, like ``axon.model.ModelState``, one that also has
``trainable_parameters`` and ``update(params=, state=)``: then only the trainable
parameters are differentiated and get optimizer state, and frozen ones stay as
they are.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ._loop import Loop
from ._resolve import (
    resolve_loss,
    resolve_loss_scale,
    resolve_model,
    resolve_optimizer,
    resolve_penalized_model,
)

StepPair = tuple[Callable[[Any, Any], Any], Callable[[Any, Any], Any]]


def split_batch(batch: Any) -> tuple[Any, Any]:
    """``(inputs, targets)`` from a batch given as a pair or a dict with those keys."""
    if isinstance(batch, dict) and "inputs" in batch and "targets" in batch:
        return batch["inputs"], batch["targets"]
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        return batch[0], batch[1]
    received = type(batch).__name__
    if isinstance(batch, (tuple, list)):
        received += f" of length {len(batch)}"
    elif hasattr(batch, "shape"):
        received += f" of shape {tuple(batch.shape)}"
    raise TypeError(
        f"Supervised loops expect each batch as (inputs, targets) or "
        f"{{'inputs': ..., 'targets': ...}}; got {received}. To batch whole arrays x and y, "
        f"pass axon.loop.batches(x, y, batch_size=32) as the data."
    )


def _trains_subset(model_state: Any) -> bool:
    # axon.model.ModelState can freeze parameters: only the trainable ones are
    # differentiated and get optimizer state; update() writes them back.
    return hasattr(model_state, "trainable_parameters") and hasattr(model_state, "update")


def _params(model_state: Any) -> Any:
    if _trains_subset(model_state):
        return model_state.trainable_parameters
    return model_state.params if hasattr(model_state, "params") else model_state


def _with(model_state: Any, params: Any, layer_state: Any) -> Any:
    if _trains_subset(model_state):
        return model_state.update(params=params, state=layer_state)
    if hasattr(model_state, "params"):
        return model_state.replace(params=params, state=layer_state)
    return params


def _layer_state(model_state: Any) -> Any:
    return getattr(model_state, "state", None)


def train_step(
    model: Any,
    loss: Any,
    optimizer: Any,
    *,
    seed: int = 0,
    accumulate_gradients: int = 1,
    gradient_norm: bool = False,
    loss_scale: Any = None,
    remat: Any = None,
) -> StepPair:
    """``(init_fn, step_fn)`` for supervised training with gradients from ``loss``.

    ``init_fn(batch, init_state)`` initializes the model (or keeps a given model
    state) and the optimizer; ``step_fn(batch, step_state)`` runs one update.
    The step state holds ``model_state``, ``optimizer_state``, ``key`` (the base
    PRNG key; step ``n`` uses ``fold_in(key, n)``), ``step``, ``loss``,
    ``y_true``, ``y_pred`` and, with ``gradient_norm=True``, ``gradient_norm``
    (the global norm of this step's gradients).

    A loss given by name (from ``axon.functional``) needs targets shaped as its
    docstring says, e.g. like the predictions; a loss *function* gets its targets
    aligned the way Keras aligns them for custom losses when that is unambiguous:
    ``(n,)`` targets against ``(n, 1)`` predictions (or the other way round) reach it
    reshaped to the predictions' shape. Other shapes reach it as they are (integer
    class ids against class scores), except pairs that would broadcast to a larger
    shape (``(n, 1, 1)`` against ``(n, 1)``), which are refused. Either way a mismatch
    is reported from the first batch, before training starts.

    A model with regularizers (an ``axon.model`` graph whose layers have
    ``kernel_regularizer=`` etc., see :func:`axon.model.penalty`) is trained on
    ``loss + penalty``: its penalty (of trainable parameters only, plus the activity
    penalties of the forward pass) is added to the data loss before differentiating,
    and the step state holds it as ``penalty``, while ``loss`` stays the data loss.

    ``accumulate_gradients=k`` averages the gradients of k consecutive batches and
    updates the parameters once per k batches (``optax.MultiSteps``), for an
    effective batch k times larger in the same memory.

    ``loss_scale`` (mixed precision: ``"static"``, ``"dynamic"`` with axon-optim,
    or an ``(init, scale, unscale)`` triple) scales the loss before
    differentiating and unscales the gradients; a step whose gradients are not
    finite is skipped (parameters and optimizer state unchanged). Its state is
    ``step_state["loss_scale_state"]``.

    ``remat`` (an ``axon.model`` graph only) rematerializes the model's whole forward
    pass in the gradient: ``True``, a policy name such as ``"dots_saveable"`` or a
    ``jax.checkpoint_policies`` function, passed to the model's
    ``as_functions(remat=...)`` (see :func:`axon.model.build`). Per-layer and per-block
    remat are options of the model's layers (``remat=`` of each builder, of
    ``axon.model.block``) and need nothing here.

    >>> import jax.numpy as jnp, optax
    >>> init = lambda key, x: {"w": jnp.zeros((x.shape[-1], 1))}
    >>> apply = lambda p, x, *, mode, key: (x @ p["w"], None)
    >>> init_fn, step_fn = train_step((init, apply), "mean_squared_error", optax.sgd(0.1))
    >>> batch = (jnp.ones((4, 2)), jnp.full((4, 1), 2.0))
    >>> state = step_fn(batch, init_fn(batch, None))
    >>> state["model_state"]["w"].ravel().tolist(), float(state["loss"])
    ([0.4000000059604645, 0.4000000059604645], 4.0)
    """
    penalized = resolve_penalized_model(model, remat=remat)
    init_model, apply_model = penalized or resolve_model(model, remat=remat)
    loss_fn = resolve_loss(loss)
    optimizer = resolve_optimizer(optimizer)
    if not isinstance(accumulate_gradients, int) or accumulate_gradients < 1:
        raise ValueError(
            f"accumulate_gradients must be a positive int, got {accumulate_gradients!r}."
        )
    if accumulate_gradients > 1:
        optimizer = optax.MultiSteps(optimizer, accumulate_gradients).gradient_transformation()
    scaling = resolve_loss_scale(loss_scale)

    def init_fn(batch: Any, init_state: Any, seed: int | None = seed) -> dict[str, Any]:
        # The loop copies what this returns once (its compiled step donates its inputs).
        # Eagerly: JAX compiles each small operation once per shape and process, so a
        # new configuration (another learning rate, a sweep, a notebook cell run again)
        # initializes without compiling; one jitted init would compile per configuration.
        if isinstance(init_state, dict) and "model_state" in init_state:
            return init_state  # a full step state, e.g. from a checkpoint
        if init_state is None and init_model is None:
            raise ValueError("This model has no init_fn: pass its model state to run().")
        inputs, targets = split_batch(batch)
        init_key, step_key = jax.random.split(jax.random.key(seed))
        # else a trained or partly trained model state
        model_state = init_model(init_key, inputs) if init_state is None else init_state
        y_pred = jax.eval_shape(
            lambda ms, x: apply_model(ms, x, mode="train", key=step_key)[0], model_state, inputs
        )
        _check_loss_fits(loss, loss_fn, targets, y_pred)
        step_state = {
            "model_state": model_state,
            "optimizer_state": optimizer.init(_params(model_state)),
            # per-step keys are fold_in(key, step): computed only if the model uses them
            "key": jax.random.key_data(step_key),
            "step": jnp.zeros((), jnp.uint32),
            "loss": jnp.zeros((), jnp.float32),
            "y_true": jax.tree_util.tree_map(jnp.zeros_like, targets),
            "y_pred": jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), y_pred),
        }
        if gradient_norm:
            step_state["gradient_norm"] = jnp.zeros((), jnp.float32)
        if penalized:
            step_state["penalty"] = jnp.zeros((), jnp.float32)
        if scaling is not None:
            step_state["loss_scale_state"] = scaling[0]()
        return step_state

    def step_fn(batch: Any, step_state: dict[str, Any]) -> dict[str, Any]:
        inputs, targets = split_batch(batch)
        model_state = step_state["model_state"]
        # A key derived inside the step costs nothing when the model ignores it (XLA
        # drops the computation); a key split carried in the state would not.
        forward_key = jax.random.fold_in(
            jax.random.wrap_key_data(step_state["key"]), step_state["step"]
        )

        def objective(params: Any) -> tuple[Any, tuple[Any, Any, Any, Any]]:
            current = _with(model_state, params, _layer_state(model_state))
            y_pred, layer_state, *penalty = apply_model(
                current, inputs, mode="train", key=forward_key
            )
            loss_value = loss_fn(targets, y_pred)
            total = loss_value + penalty[0] if penalized else loss_value
            scaled = scaling[1](total, step_state["loss_scale_state"]) if scaling else total
            return scaled, (loss_value, penalty, y_pred, layer_state)

        params = _params(model_state)
        grads, (loss_value, penalty, y_pred, layer_state) = jax.grad(objective, has_aux=True)(
            params
        )
        if scaling is not None:
            grads, scale_state = scaling[2](grads, step_state["loss_scale_state"])
        old_optimizer_state = step_state["optimizer_state"]
        updates, optimizer_state = optimizer.update(grads, old_optimizer_state, params)
        new_params = optax.apply_updates(params, updates)
        if scaling is not None:  # an overflowed step is skipped, not applied
            finite = _all_finite(grads)
            new_params = _where(finite, new_params, params)
            optimizer_state = _where(finite, optimizer_state, old_optimizer_state)
        new_state = {
            "model_state": _with(model_state, new_params, layer_state),
            "optimizer_state": optimizer_state,
            "key": step_state["key"],
            "step": step_state["step"] + 1,
            "loss": loss_value.astype(jnp.float32),
            "y_true": targets,
            "y_pred": y_pred,
        }
        if gradient_norm:
            new_state["gradient_norm"] = optax.global_norm(grads).astype(jnp.float32)
        if penalized:
            new_state["penalty"] = penalty[0].astype(jnp.float32)
        if scaling is not None:
            new_state["loss_scale_state"] = scale_state
        return new_state

    return init_fn, step_fn


def eval_step(model: Any) -> StepPair:
    """``(init_fn, step_fn)`` running ``model`` in inference mode on each batch.

    ``init_fn(batch, model_state)`` requires the model state to evaluate; a model
    pair may be ``(None, apply_fn)``.

    >>> import jax.numpy as jnp
    >>> init_fn, step_fn = eval_step((None, lambda w, x, *, mode, key: (x * w, None)))
    >>> batch = (jnp.ones((2, 1)), jnp.zeros((2, 1)))
    >>> step_fn(batch, init_fn(batch, 3.0))["y_pred"].ravel().tolist()
    [3.0, 3.0]
    """
    _, apply_model = resolve_model(model)

    def predict(model_state: Any, inputs: Any) -> Any:
        return apply_model(model_state, inputs, mode="inference", key=None)[0]

    def init_fn(batch: Any, model_state: Any) -> dict[str, Any]:
        if model_state is None:
            raise ValueError(
                "An evaluator needs the model state to evaluate: run(data, model_state)."
            )
        inputs, targets = split_batch(batch)
        y_pred = jax.eval_shape(predict, model_state, inputs)
        return {
            "model_state": model_state,
            "y_true": jax.tree_util.tree_map(jnp.zeros_like, targets),
            "y_pred": jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), y_pred),
        }

    def step_fn(batch: Any, step_state: dict[str, Any]) -> dict[str, Any]:
        inputs, targets = split_batch(batch)
        y_pred = predict(step_state["model_state"], inputs)
        return {"model_state": step_state["model_state"], "y_true": targets, "y_pred": y_pred}

    return init_fn, step_fn


def trainer(
    model: Any,
    loss: Any,
    optimizer: Any,
    *,
    seed: int = 0,
    log: int = 50,
    accumulate_gradients: int = 1,
    gradient_norm: bool = False,
    loss_scale: Any = None,
    halt_on_nonfinite: bool = True,
    remat: Any = None,
) -> Loop:
    """A supervised training loop (``Axon.Loop.trainer``).

    Args:
        model: an ``axon.model`` graph or an ``(init_fn, apply_fn)`` pair.
        loss: a loss name (from axon-functional or a plugin), ``fn(y_true, y_pred)``,
            a list of ``(loss, weight)`` for a model with tuple outputs, or a dict
            ``{output: loss or (loss, weight)}`` for dict outputs.
        optimizer: a name (needs axon-optim) or any ``optax.GradientTransformation``.
        seed: seeds parameter initialization and the per-step PRNG keys.
        log: show progress: on a terminal or in Jupyter a live display from the start
            of ``run`` (compiling, then each epoch's bar, ETA, steps/s, metrics and
            learning rate, refreshed by time); elsewhere a line every ``log``
            iterations and at the end of each epoch
            (:func:`axon.loop.handlers.log_progress`). ``0`` is silent.
        accumulate_gradients: update once per this many batches, averaging their
            gradients (see :func:`train_step`).
        gradient_norm: also track the global gradient norm as metric
            ``"gradient_norm"`` (its running mean over the epoch).
        loss_scale: loss scaling for mixed precision (see :func:`train_step`).
        halt_on_nonfinite: halt the run (status ``"halted"``) once the loss becomes
            NaN or infinite, naming the epoch, batch and iteration where it first did
            (:func:`axon.loop.handlers.halt_on_nonfinite`). The check runs on the
            device every step; the host looks only where it already waits, at the
            ``log`` points and at the end of each epoch, so it costs no extra sync
            and cuts no fused block. ``False`` trains on whatever happens.
        remat: rematerialize the model's forward pass in the gradient (an
            ``axon.model`` graph: ``True``, a ``jax.checkpoint_policies`` name such as
            ``"dots_saveable"``, or a policy function; see :func:`train_step`). Same
            results, less activation memory, more compute.

    The loop tracks the running mean of the loss as metric ``"loss"`` and
    ``run`` returns the trained model state. For a model with regularizers
    (``kernel_regularizer=`` etc. on its layers, :func:`axon.model.penalty`) the
    objective is ``loss + penalty``: ``"loss"`` stays the *data* loss (comparable with
    validation's, which measures the data loss only, and with an evaluator's), and
    metric ``"penalty"`` is the running mean of the penalty (training only). Keras's
    ``loss`` is their sum. Frozen parameters add no penalty. How targets reach a loss
    name or a loss function (shapes, aligned ranks) is described in :func:`train_step`.

    >>> import jax, jax.numpy as jnp, optax
    >>> def init(key, x): return {"w": jnp.zeros((x.shape[-1], 1))}
    >>> def apply(params, x, *, mode, key): return x @ params["w"], None
    >>> x = jnp.ones((8, 3)); batches = [(x, 3 * x[:, :1])] * 20
    >>> params = trainer((init, apply), "mean_squared_error", optax.sgd(0.1), log=0).run(batches)
    >>> params["w"].sum().round(2)
    Array(3., dtype=float32)
    """
    init_fn, step_fn = train_step(
        model, loss, optimizer, seed=seed, accumulate_gradients=accumulate_gradients,
        gradient_norm=gradient_norm, loss_scale=loss_scale, remat=remat,
    )  # fmt: skip
    loop = Loop(step_fn, init_fn, output_transform=lambda state: state.step_state["model_state"])
    loop = loop.metric(resolve_loss(loss), "loss")
    if gradient_norm:  # of the training step only: validation computes no gradients
        loop = _training_only_metric(loop, "gradient_norm")
    if resolve_penalized_model(model) is not None:  # validation reports the data loss
        loop = _training_only_metric(loop, "penalty")
    if halt_on_nonfinite:  # looks where the log reads the device anyway: no extra block cut
        loop = loop.attach("halt_on_nonfinite", every=("epoch", log) if log > 0 else None)
    return loop.attach("log_progress", every=log) if log > 0 else loop


def evaluator(model: Any, *, log: int = 0) -> Loop:
    """An evaluation loop: ``run(data, model_state)`` returns ``{epoch: {metric: value}}``.

    ``log=n`` shows progress as a trainer does (a live display on a terminal, else a
    line every ``n`` batches); by default it is silent.

    >>> import jax.numpy as jnp
    >>> apply = lambda p, x, *, mode, key: (x * p, None)
    >>> data = [(jnp.ones((4, 1)), jnp.ones((4, 1)))]
    >>> result = evaluator((None, apply)).metric("mean_absolute_error").run(data, 3.0)
    >>> {epoch: {k: float(v) for k, v in m.items()} for epoch, m in result.items()}
    {0: {'mean_absolute_error': 2.0}}
    """
    init_fn, step_fn = eval_step(model)
    loop = Loop(step_fn, init_fn, output_transform=lambda state: state.history)
    return loop.attach("log_progress", every=log) if log > 0 else loop


def _training_only_metric(loop: Loop, entry: str) -> Loop:
    """``loop`` tracking the running mean of ``step_state[entry]`` as metric ``entry``,
    which ``validate`` leaves out (its step state has no such entry)."""
    loop = loop.metric(_identity, entry, transform=functools.partial(_entry, entry))
    *others, added = loop.metrics
    return loop.replace(metrics=(*others, dataclasses.replace(added, validated=False)))


def _identity(value: Any) -> Any:
    return value


def _entry(entry: str, step_state: dict[str, Any]) -> tuple[Any]:
    return (step_state[entry],)


def _all_finite(tree: Any) -> Any:
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree_util.tree_leaves(tree)]))


def _where(condition: Any, new: Any, old: Any) -> Any:
    return jax.tree_util.tree_map(lambda n, o: jnp.where(condition, n, o), new, old)


def _check_loss_fits(loss: Any, loss_fn: Any, targets: Any, y_pred: Any) -> None:
    """Trace the loss once on the first batch's shapes: a loss that refuses them (a named
    loss's same-shape check, a function loss's refused broadcast) is reported now, with
    both shapes, rather than from inside the compiled step."""
    try:
        jax.eval_shape(loss_fn, targets, y_pred)
    except (ValueError, TypeError) as error:  # shape checks; JAX's incompatible shapes
        target_shapes = [np.shape(t) for t in jax.tree_util.tree_leaves(targets)]
        predicted_shapes = [tuple(p.shape) for p in jax.tree_util.tree_leaves(y_pred)]
        described, reason = _describe(loss), str(error)
        if reason.startswith(described):  # a loss function's refusal names it too
            reason = "It" + reason.removeprefix(described)
        raise type(error)(
            f"{described} does not fit the data: the targets have shape(s) {target_shapes} "
            f"but the model predicts {predicted_shapes}. {reason}"
        ) from None


def _describe(loss: Any) -> str:
    if isinstance(loss, str):
        return f"The loss {loss!r}"
    if isinstance(loss, dict):
        return "The dict of losses"
    if isinstance(loss, (list, tuple)):
        return "The list of (loss, weight) pairs"
    return f"The loss function {getattr(loss, '__name__', type(loss).__name__)!r}"
