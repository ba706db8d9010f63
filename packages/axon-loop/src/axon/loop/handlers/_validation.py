"""``validate``: evaluate on held-out data each epoch, adding ``validation_<metric>`` metrics."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._events import FilterSpec
from .._supervised import evaluator

if TYPE_CHECKING:
    from .._loop import Loop
    from .._state import State


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

    >>> import jax.numpy as jnp, optax, axon.loop
    >>> init = lambda key, x: {"w": jnp.zeros((x.shape[-1], 1))}
    >>> apply = lambda p, x, *, mode, key: (x @ p["w"], None)
    >>> data = [(jnp.ones((4, 2)), jnp.full((4, 1), 2.0))] * 3
    >>> trainer = axon.loop.trainer((init, apply), "mean_squared_error", optax.sgd(0.1), log=0)
    >>> state = trainer.validate((init, apply), data).replace(output_transform=None).run(data)
    >>> sorted(state.history[0])
    ['loss', 'validation_loss']
    """
    validation = evaluator(model).replace(metrics=loop.metrics)

    def run_validation(state: State) -> None:
        try:
            model_state = state.step_state["model_state"]
        except (KeyError, TypeError):
            raise KeyError(
                "validate() reads the model state from step_state['model_state'], which this "
                "loop does not have."
            ) from None
        (results,) = validation.run(data, model_state).values()
        state.metrics.update({f"validation_{name}": value for name, value in results.items()})

    return loop.handle_event(event, run_validation, filter, first=True)
