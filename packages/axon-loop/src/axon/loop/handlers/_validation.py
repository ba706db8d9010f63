"""``validate``: evaluate on held-out data each epoch, adding ``validation_<metric>`` metrics."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import jax

from .._data import DataSource, EmptyDataError
from .._engine.compiled import fused_step, zero_metrics
from .._events import FilterSpec
from .._supervised import evaluator
from ._progress import NestedProgress

if TYPE_CHECKING:
    from .._loop import Loop
    from .._state import State

#: What the names of validation metrics start with: ``validation_loss``.
VALIDATION = "validation_"


def validate(
    loop: Loop,
    model: Any,
    data: Any,
    *,
    event: str = "epoch_completed",
    filter: FilterSpec = "always",
) -> Loop:
    """Evaluate ``model`` on ``data`` with this loop's metrics; add ``validation_<name>``.

    Uses the metrics attached *before* this call and the model state in
    ``step_state["model_state"]``. Validation runs before the other handlers of
    its event, so they (logging, checkpoint criteria, early stopping) see its results.

    ``data`` takes the forms ``run`` takes (arrays through
    ``axon.loop.batches(x_val, y_val, batch_size=...)``). It is checked when the run
    starts, before any training: its first batch must fit the model and the
    metrics, and a one-shot iterator, which could be evaluated only once, is refused.

    >>> import jax.numpy as jnp, optax, axon.loop
    >>> init = lambda key, x: {"w": jnp.zeros((x.shape[-1], 1))}
    >>> apply = lambda p, x, *, mode, key: (x @ p["w"], None)
    >>> data = [(jnp.ones((4, 2)), jnp.full((4, 1), 2.0))] * 3
    >>> trainer = axon.loop.trainer((init, apply), "mean_squared_error", optax.sgd(0.1), log=0)
    >>> state = trainer.validate((init, apply), data).replace(output_transform=None).run(data)
    >>> sorted(state.history[0])
    ['loss', 'validation_loss']
    """
    # hidden accumulators (halt_on_nonfinite's) and training-only metrics (gradient_norm)
    # read the training loop's own step state
    measured = tuple(m for m in loop.metrics if m.visible and m.validated)
    progress = NestedProgress("Validation")  # a row of the run's live display, if it has one
    validation = progress.attach(evaluator(model).replace(metrics=measured))
    source = DataSource(data, who="validate()")  # arrays, (x, y) pairs: refused now

    def model_state_of(state: State) -> Any:
        try:
            return state.step_state["model_state"]
        except (KeyError, TypeError):
            raise KeyError(
                "validate() reads the model state from step_state['model_state'], which this "
                "loop does not have."
            ) from None

    def check_data(state: State) -> None:
        _check_first_batch(validation, source, data, model_state_of(state))

    def run_validation(state: State) -> None:
        with progress.shown_in(state):
            (results,) = validation.run(data, model_state_of(state)).values()
        state.metrics.update({f"{VALIDATION}{name}": value for name, value in results.items()})

    return loop.handle_event("started", check_data, first=True).handle_event(
        event, run_validation, filter, first=True
    )


def _check_first_batch(validation: Loop, source: DataSource, data: Any, model_state: Any) -> None:
    """Fail before training, naming validate(), on data that could not be evaluated."""
    if isinstance(data, Iterator):
        raise TypeError(
            f"validate() got a one-shot iterator ({type(data).__name__}): it would be "
            f"exhausted by the first validation. Pass a list, a re-iterable loader, "
            f"axon.loop.batches(x_val, y_val, batch_size=...), or a function returning "
            f"the batches."
        )
    first = next(source.epoch(0), None)
    if first is None:
        raise EmptyDataError(
            "The data given to validate() produced no batches. Pass a non-empty iterable "
            "of (inputs, targets) batches, e.g. axon.loop.batches(x_val, y_val, batch_size=32)."
        )
    try:
        step_state = validation.init_fn(first, model_state)
        jax.eval_shape(
            fused_step(validation), step_state, zero_metrics(validation, step_state), first
        )
    except Exception as error:
        message = (
            f"validate(): the first batch of the validation data does not fit the model or "
            f"the metrics: {error}"
        )
        try:
            renamed = type(error)(message)
        except Exception:  # an exception type that needs other arguments
            renamed = ValueError(message)
        raise renamed from error
