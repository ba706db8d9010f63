"""Turn what the user passed (names, objects) into the JAX contracts the loop runs on.

Names are looked up in the registry of the package that owns them; if that
package is not installed, the error says which one to install. Objects are
accepted by contract, never by class: a model is an ``(init_fn, apply_fn)`` pair
(or has ``as_functions()``), an optimizer is any ``optax.GradientTransformation``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import jax.numpy as jnp
import optax

from axon.functional import losses as functional_losses
from axon.functional import metrics as functional_metrics

from ._targets import with_aligned_targets

ModelFunctions = tuple[Callable[..., Any], Callable[..., Any]]


def needs(package: str, module: str, what: str, alternative: str) -> Any:
    """The module ``module``, or an ImportError saying that ``what`` needs ``package``."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(
            f"{what} needs the {package} package, which is not installed: "
            f"pip install {package}. Or {alternative}."
        ) from None


def resolve_model(model: Any, *, remat: Any = None) -> ModelFunctions:
    """``(init_fn, apply_fn)`` from an axon.model graph or any such pair; ``remat`` (if
    given) is passed to the graph's ``as_functions``."""
    as_functions = getattr(model, "as_functions", None)
    if remat is not None and remat is not False:
        if not callable(as_functions):
            raise TypeError(
                f"remat= needs an axon.model graph (it rematerializes through the model's "
                f"as_functions(remat=...)); got {type(model).__name__}. For an (init_fn, "
                f"apply_fn) pair, wrap apply_fn in jax.checkpoint yourself."
            )
        return as_functions(remat=remat)
    if callable(as_functions):
        return as_functions()
    pair = isinstance(model, tuple) and len(model) == 2 and callable(model[1])
    if pair and (model[0] is None or callable(model[0])):  # None: apply-only, for evaluation
        return model
    raise TypeError(
        f"A model must be an axon.model graph or a pair (init_fn, apply_fn) with "
        f"init_fn(key, inputs) -> model_state and apply_fn(model_state, inputs, *, mode, key) "
        f"-> (prediction, new_state); got {type(model).__name__}."
    )


def resolve_penalized_model(model: Any, *, remat: Any = None) -> ModelFunctions | None:
    """``(init_fn, apply_fn)`` whose apply returns ``(prediction, new_state, penalty)``, for
    a model that has penalties (``has_penalties`` true and ``as_functions(with_penalty=True)``,
    as an axon.model graph with regularizers has); ``None`` for any other model."""
    if getattr(model, "has_penalties", False) is True and callable(
        getattr(model, "as_functions", None)
    ):
        if remat is not None and remat is not False:
            return model.as_functions(with_penalty=True, remat=remat)
        return model.as_functions(with_penalty=True)
    return None


def resolve_loss(loss: Any) -> Callable[[Any, Any], Any]:
    """A scalar loss ``fn(y_true, y_pred)`` for the trainer.

    ``loss`` is a name, a function, a list of ``(loss, weight)`` (one per output of
    a model with tuple outputs) or a dict ``{output: loss or (loss, weight)}`` (for
    dict outputs, matched by key). Named losses are called with
    ``reduction="mean"``; a function returning per-example values is averaged, and
    gets its targets aligned to the predictions' rank where that is unambiguous
    (``axon.loop._targets``).
    """
    if isinstance(loss, str):
        fn = functional_losses.get(loss)
        return lambda y_true, y_pred: fn(y_true, y_pred, reduction="mean")
    if isinstance(loss, dict):
        by_key = {
            key: (resolve_loss(item[0]), float(item[1]))
            if isinstance(item, tuple)
            else (resolve_loss(item), 1.0)
            for key, item in loss.items()
        }

        def combined_by_key(y_true: Any, y_pred: Any) -> Any:
            if not isinstance(y_pred, dict) or set(y_pred) != set(by_key):
                got = sorted(y_pred) if isinstance(y_pred, dict) else type(y_pred).__name__
                raise ValueError(
                    f"The losses are given for outputs {sorted(by_key)}, but the model's "
                    f"outputs are {got}."
                )
            return sum(w * fn(y_true[k], y_pred[k]) for k, (fn, w) in by_key.items())

        return combined_by_key
    if isinstance(loss, (list, tuple)):
        weighted = [(resolve_loss(item), float(weight)) for item, weight in loss]

        def combined(y_true: Any, y_pred: Any) -> Any:
            if isinstance(y_pred, dict):
                raise ValueError(
                    f"A list of (loss, weight) pairs matches tuple outputs by position; this "
                    f"model's outputs are a dict with keys {sorted(y_pred)}. Pass a dict "
                    f"{{output_name: (loss, weight)}} instead."
                )
            if len(y_true) != len(weighted) or len(y_pred) != len(weighted):
                raise ValueError(
                    f"{len(weighted)} (loss, weight) pairs were given, but the targets have "
                    f"{len(y_true)} and the predictions {len(y_pred)} entries."
                )
            return sum(w * fn(t, p) for (fn, w), t, p in zip(weighted, y_true, y_pred, strict=True))

        return combined
    if callable(loss):
        who = f"The loss function {getattr(loss, '__name__', type(loss).__name__)!r}"
        aligned = with_aligned_targets(loss, who)
        return lambda y_true, y_pred: jnp.mean(aligned(y_true, y_pred))
    raise TypeError(
        f"A loss is a name such as 'categorical_cross_entropy', a function "
        f"fn(y_true, y_pred), or a list of (loss, weight); got {type(loss).__name__}."
    )


def resolve_metric(metric: Any) -> Callable[..., Any]:
    if isinstance(metric, str):
        return functional_metrics.get(metric)
    if callable(metric):
        return metric
    raise TypeError(
        f"A metric is a name such as 'accuracy' or a function fn(y_true, y_pred); got "
        f"{type(metric).__name__}."
    )


def resolve_optimizer(optimizer: Any) -> optax.GradientTransformation:
    if isinstance(optimizer, optax.GradientTransformation):
        return optimizer
    if isinstance(optimizer, str):
        optim = needs(
            "axon-optim",
            "axon.optim",
            f"The optimizer name {optimizer!r}",
            "pass an optax.GradientTransformation such as optax.adam(1e-3)",
        )
        return optim.get(optimizer)
    raise TypeError(
        f"An optimizer is a name such as 'adam' or an optax.GradientTransformation; got "
        f"{type(optimizer).__name__}."
    )


def resolve_logger(
    logger: Any, options: dict[str, Any]
) -> Callable[[str, int | None, dict[str, Any] | None], Any]:
    """``open(run_id, resumed_from, mark)``: creates a named backend, or returns the caller's
    logger object as it is.

    A backend that accepts ``run_id`` is told the run on every start, and where to
    continue its log. Resumed from a checkpoint that recorded the logger's ``mark``
    (see :mod:`axon.loggers`), a backend that accepts ``resume_mark`` gets it, and
    cuts its log back to exactly what it held at the checkpoint. Otherwise it gets
    ``purge_step``, the first step the run logs (steps count completed iterations,
    so ``resumed_from + 1``, or ``1`` for a run starting at iteration 0), and drops
    the steps the run logs again, whether the run resumes or starts over under the
    same id. A backend that takes ``purge_step`` but no ``run_id`` gets it only
    when a run resumes. The options the user gave win over these: a ``purge_step``
    or ``resume_mark`` given there replaces both of the loop's.
    """
    if isinstance(logger, str):
        loggers = needs(
            "axon-loggers",
            "axon.loggers",
            f"The logger name {logger!r}",
            "pass an object with log_scalars(scalars, step), flush() and close()",
        )
        knows_runs = loggers.accepts_option(logger, "run_id")  # unknown names fail now
        purges = loggers.accepts_option(logger, "purge_step")
        cuts = loggers.accepts_option(logger, "resume_mark")
        placed_by_user = bool({"purge_step", "resume_mark"} & set(options))

        def open_logger(run_id: str, resumed_from: int | None, mark: Any) -> Any:
            if placed_by_user:
                position = {}
            elif cuts and mark is not None:
                position = {"resume_mark": mark}
            else:
                position = {"purge_step": (resumed_from or 0) + 1} if purges else {}
            if knows_runs:
                run = {"run_id": run_id, **position}
            else:
                run = position if resumed_from is not None else {}
            return loggers.create(logger, **{**run, **options})

        return open_logger
    if options:
        raise TypeError(f"Options {sorted(options)} apply only when the logger is given by name.")
    missing = [
        m for m in ("log_scalars", "flush", "close") if not callable(getattr(logger, m, None))
    ]
    if missing:
        raise TypeError(
            f"{type(logger).__name__} is not a logger: it lacks {missing}. A logger has "
            f"log_scalars(scalars, step), flush() and close() (see axon.loggers.Logger)."
        )
    return lambda run_id, resumed_from, mark: logger


def resolve_loss_scale(loss_scale: Any) -> tuple[Callable[..., Any], ...] | None:
    """``(init, scale, unscale)`` from a name (needs axon-optim), such a triple, or None."""
    if loss_scale is None:
        return None
    if isinstance(loss_scale, str):
        optim = needs(
            "axon-optim",
            "axon.optim",
            f"The loss scale name {loss_scale!r}",
            "pass a triple (init, scale, unscale) of functions",
        )
        return tuple(optim.loss_scale.get(loss_scale))
    if isinstance(loss_scale, tuple) and len(loss_scale) == 3 and all(map(callable, loss_scale)):
        return loss_scale
    raise TypeError(
        f"loss_scale is 'identity', 'static', 'dynamic' (with axon-optim) or a triple "
        f"(init() -> state, scale(loss, state), unscale(grads, state) -> (grads, state)); "
        f"got {type(loss_scale).__name__}."
    )
