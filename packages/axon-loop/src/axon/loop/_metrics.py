"""Metrics attached to a loop: what to compute from the step state and how to accumulate it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from axon.functional import metrics as functional_metrics

from ._resolve import resolve_metric
from ._targets import with_aligned_targets

#: ``fn(acc, inputs, i) -> acc`` as made by ``axon.functional.metrics.running_average``.
Accumulator = Callable[[Any, Any, Any], Any]

ACCUMULATORS = {
    "running_average": functional_metrics.running_average,
    "running_sum": functional_metrics.running_sum,
}


def default_transform(step_state: Any) -> tuple[Any, Any]:
    """The metric arguments of supervised loops: ``(y_true, y_pred)`` from the step state."""
    try:
        return step_state["y_true"], step_state["y_pred"]
    except (KeyError, TypeError):
        raise KeyError(
            "This metric reads step_state['y_true'] and step_state['y_pred'], which this "
            "loop's step state does not have. Pass transform=fn(step_state) -> args."
        ) from None


@dataclass(frozen=True)
class MetricSpec:
    """One attached metric, folded into its accumulator on the device every step."""

    name: str
    metric: Callable[..., Any]
    accumulator: Accumulator
    transform: Callable[[Any], tuple[Any, ...]]
    visible: bool = True  # internal accumulators (e.g. halt_on_nonfinite's) stay out of logs
    # measured by validate() too; not a training-only one (gradient_norm reads the gradients)
    validated: bool = True

    def value(self, step_state: Any) -> Any:
        return self.metric(*self.transform(step_state))

    def update(self, acc: Any, step_state: Any, i: Any) -> Any:
        return self.accumulator(acc, self.transform(step_state), i).astype(acc.dtype)


def make_metric(
    metric: str | Callable[..., Any],
    name: str | None,
    accumulate: str | Callable[[Any, Any, Any], Any],
    transform: Callable[[Any], tuple[Any, ...]] | None,
) -> MetricSpec:
    fn = resolve_metric(metric)
    if name is None:
        name = metric if isinstance(metric, str) else getattr(metric, "__name__", None)
        if not name or name == "<lambda>":
            raise ValueError(
                "Give a name= to a metric passed as a function without a usable __name__ "
                "(a lambda or functools.partial)."
            )
    if transform is None and not isinstance(metric, str):
        # a function of (y_true, y_pred) the user wrote: aligned as the trainer's loss is
        fn = with_aligned_targets(fn, f"The metric {name!r}")
    if isinstance(accumulate, str):
        if accumulate not in ACCUMULATORS:
            raise ValueError(
                f"accumulate must be one of {sorted(ACCUMULATORS)} or fn(acc, value, i); "
                f"got {accumulate!r}."
            )
        accumulator = ACCUMULATORS[accumulate](fn)
    elif callable(accumulate):
        custom = accumulate

        def accumulator(acc: Any, inputs: Any, i: Any) -> Any:
            return custom(acc, fn(*inputs), i)

    else:
        raise TypeError(
            f"accumulate must be a name or a function, got {type(accumulate).__name__}."
        )
    return MetricSpec(name, fn, accumulator, transform or default_transform)
