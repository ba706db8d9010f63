"""Console progress: a live bar (rich) on a terminal, Axon's log lines elsewhere.

On a terminal each epoch gets a progress bar with the batch count, elapsed
time, ETA and the running metrics. Elsewhere (CI logs, files, notebooks' captured
output) Axon's line ``Epoch: 0, Batch: 50, loss: 0.1234567 ...`` is printed every
``every`` iterations and once per epoch. Either way, metrics are read from the
device only on those iterations.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, TextIO

import numpy as np

if TYPE_CHECKING:
    from .._loop import Loop
    from .._state import State


def format_metrics(values: dict[str, Any]) -> str:
    def show(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.7f}"
        return np.array2string(value, precision=4, threshold=8, separator=", ")

    return " ".join(f"{name}: {show(value)}" for name, value in values.items())


def log_progress(
    loop: Loop, every: int = 50, stream: TextIO | None = None, *, bar: bool | None = None
) -> Loop:
    """Show training progress every ``every`` iterations and at the end of each epoch.

    Args:
        every: how often (in iterations) the display is refreshed with new metrics.
        stream: where to write (stdout by default).
        bar: ``True`` for rich's live progress bar, ``False`` for plain lines,
            ``None`` (default) for a bar exactly when ``stream`` is a terminal.

    >>> import jax.numpy as jnp, optax, axon.loop
    >>> init = lambda key, x: {"w": jnp.zeros((x.shape[-1], 1))}
    >>> apply = lambda p, x, *, mode, key: (x @ p["w"], None)
    >>> data = [(jnp.ones((4, 2)), jnp.full((4, 1), 2.0))] * 3
    >>> trainer = axon.loop.trainer((init, apply), "mean_squared_error", optax.sgd(0.1), log=0)
    >>> _ = log_progress(trainer, every=2, bar=False).run(data)
    Epoch: 0, Batch: 2, loss: 2.7200000
    Epoch: 0, Batch: 3, loss: 1.9861333 (...s)
    """
    if not isinstance(every, int) or every < 1:
        raise ValueError(f"every must be a positive int, got {every!r}.")
    key = f"log_progress:{id(loop)}:{every}"

    def start(state: State) -> None:
        out = stream or sys.stdout
        live = bar if bar is not None else getattr(out, "isatty", lambda: False)()
        state.resources[key] = _Bar(out) if live else _Lines(out)

    def on_iteration(state: State) -> None:
        state.resources[key].update(state)

    def on_epoch(state: State) -> None:
        state.resources[key].finish_epoch(state)

    def close(state: State) -> None:
        state.resources.pop(key).close()

    return (
        loop.handle_event("started", start)
        .handle_event("iteration_completed", on_iteration, {"every": ("epoch", every)})
        .handle_event("epoch_completed", on_epoch)
        .handle_event(["completed", "halted"], close)
    )


def _line(state: State) -> str:
    return (
        f"Epoch: {state.epoch}, Batch: {state.count_in_epoch()}, "
        f"{format_metrics(state.metric_values())}"
    )


class _Lines:
    """Axon's plain progress lines."""

    def __init__(self, stream: TextIO):
        self.stream = stream

    def update(self, state: State) -> None:
        if state.epoch_length == state.count_in_epoch():
            return  # the epoch's last batch: the epoch line follows with the same values
        print(_line(state), file=self.stream, flush=True)

    def finish_epoch(self, state: State) -> None:
        seconds = state.times.get(state.epoch, 0.0)
        print(f"{_line(state)} ({seconds:.2f}s)", file=self.stream, flush=True)

    def close(self) -> None:
        self.stream.flush()


class _Bar:
    """One rich progress bar per epoch, with ETA and live metrics."""

    def __init__(self, stream: TextIO):
        # rich.progress takes ~40 ms to import: paid only when a bar is shown
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[metrics]}"),
            console=Console(file=stream),
        )
        self.progress.start()
        self.task: Any = None
        self.epoch: int | None = None

    def _task_for(self, state: State) -> Any:
        if self.epoch != state.epoch:
            self.epoch = state.epoch
            self.task = self.progress.add_task(
                f"Epoch {state.epoch + 1}/{state.max_epoch}",
                total=state.epoch_length,
                metrics="",
            )
        return self.task

    def update(self, state: State) -> None:
        metrics = format_metrics(state.metric_values())
        self.progress.update(
            self._task_for(state), completed=state.count_in_epoch(), metrics=metrics
        )

    def finish_epoch(self, state: State) -> None:
        task = self._task_for(state)
        done = state.count_in_epoch()
        self.progress.update(
            task, completed=done, total=done, metrics=format_metrics(state.metric_values())
        )

    def close(self) -> None:
        self.progress.stop()
