"""Axon's console progress line: ``Epoch: 0, Batch: 50, loss: 0.1234567 accuracy: ...``."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from ._loop import Loop
    from ._state import State


def format_metrics(values: dict[str, float]) -> str:
    return " ".join(f"{name}: {value:.7f}" for name, value in values.items())


def log_progress(loop: Loop, every: int = 50, stream: TextIO | None = None) -> Loop:
    """Print the running metrics every ``every`` iterations and a summary per epoch.

    On a terminal the iteration line is rewritten in place; elsewhere (CI logs,
    files) each line is printed once. Only these prints read metrics from the device.
    """

    def out() -> TextIO:
        return stream or sys.stdout

    def line(state: State) -> str:
        batch = state.count_in_epoch()
        return f"Epoch: {state.epoch}, Batch: {batch}, {format_metrics(state.metric_values())}"

    def on_iteration(state: State) -> None:
        target = out()
        live = getattr(target, "isatty", lambda: False)()
        print(line(state), end="\r" if live else "\n", file=target, flush=True)

    def on_epoch(state: State) -> None:
        seconds = state.times.get(state.epoch, 0.0)
        print(f"{line(state)} ({seconds:.2f}s)", file=out(), flush=True)

    return loop.handle_event(
        "iteration_completed", on_iteration, {"every": ("epoch", every)}
    ).handle_event("epoch_completed", on_epoch)
