"""Console progress: a live display (rich) on a terminal or in Jupyter, Axon's lines elsewhere.

The display (``_live_progress``) opens as the run starts and refreshes by time,
through a ``{"seconds": ...}`` filter that never ends a fused block. Elsewhere (CI
logs, files) Axon's line ``Epoch: 0, Batch: 50, loss: 0.1234567 ...`` is printed
every ``every`` iterations and once per epoch. Either way, metrics are read from
the device only when something is shown.
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TextIO

import numpy as np

from .._events import handler_specs

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
    loop: Loop,
    every: int = 50,
    stream: Any = None,
    *,
    bar: bool | None = None,
    refresh: float = 0.25,
) -> Loop:
    """Show progress: a live display on a terminal or in Jupyter, Axon's lines elsewhere.

    The live display (rich) starts with ``run``: ``initializing…`` while the model is
    initialized, ``compiling…`` while XLA compiles, then a row per epoch with its bar,
    batches done of the total (``len()`` of the data, else the previous epoch's
    count), elapsed time, ETA, steps/s, the running metrics at four significant
    digits and the learning rate (from an ``optax.inject_hyperparams`` state, as every
    ``axon.optim`` optimizer has), plus a row while validation runs. It refreshes
    every ``refresh`` seconds, reading the metrics from the device only then, and
    never ends a fused block to do so: a block's iterations show when it returns.
    Finished epochs stay on screen as one row each.

    Elsewhere (CI logs, files) Axon's line ``Epoch: 0, Batch: 50, loss: 0.1234567``
    is printed every ``every`` iterations and at the end of each epoch, with its time.

    Args:
        every: iterations between two lines (off a terminal).
        stream: where to write: stdout by default, a text stream, or a
            ``rich.console.Console`` (e.g. one that records).
        bar: ``True`` for the live display, ``False`` for lines, ``None`` (default):
            the display on a terminal and in Jupyter (with ipywidgets), lines elsewhere.
        refresh: seconds between two refreshes of the live display.

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
    if isinstance(refresh, bool) or not isinstance(refresh, int | float) or refresh <= 0:
        raise ValueError(f"refresh must be a positive number of seconds, got {refresh!r}.")
    key = f"log_progress:{id(loop)}:{every}"

    def open_display() -> dict[str, Any]:
        return {key: _open(stream, bar, refresh)}

    def start(state: State) -> None:
        if key not in state.resources:  # a run that did not open it early
            state.resources.update(open_display())

    def on_epoch_start(state: State) -> None:
        state.resources[key].start_epoch(state)

    def on_every(state: State) -> None:
        state.resources[key].update(state)

    def on_tick(state: State) -> None:
        state.resources[key].tick(state)

    def on_epoch(state: State) -> None:
        state.resources[key].finish_epoch(state)

    def on_epoch_halted(state: State) -> None:
        state.resources[key].finish_epoch(state, complete=False)

    def close(state: State) -> None:
        display = state.resources.pop(key)
        display.finish_run(state)
        display.close()

    # the display opens as the run starts, before the model is initialized
    opening = handler_specs("started", start, opens=open_display)
    return (
        loop.replace(handlers=loop.handlers + opening)
        .handle_event("epoch_started", on_epoch_start)
        .handle_event("iteration_completed", on_every, {"every": ("epoch", every)})
        .handle_event("iteration_completed", on_tick, {"seconds": refresh})
        .handle_event("epoch_completed", on_epoch)
        .handle_event("epoch_halted", on_epoch_halted)
        .handle_event(["completed", "halted"], close)
    )


def _open(stream: Any, bar: bool | None, refresh: float) -> Any:
    """The live display or the lines, as ``bar`` says or ``stream`` suits."""
    console = stream if hasattr(stream, "is_terminal") and hasattr(stream, "file") else None
    out = console.file if console is not None else stream or sys.stdout
    if bar is None:
        bar = (
            console.is_terminal or console.is_jupyter
            if console is not None
            else _is_terminal(out) or _in_notebook(out)
        )
    if not bar:
        return _Lines(out)
    # rich takes ~40 ms to import: paid only when a display is shown
    from rich.console import Console

    from ._live_progress import LiveProgress

    return LiveProgress(console or Console(file=out), refresh)


def _is_terminal(out: TextIO) -> bool:
    isatty = getattr(out, "isatty", None)
    return bool(isatty and isatty())


def _in_notebook(out: TextIO) -> bool:
    """Jupyter's stdout, where rich shows a live display through ipywidgets (without them
    it would show nothing at all: lines are better)."""
    if out is not sys.stdout or "ipykernel" not in sys.modules:
        return False
    from rich.console import Console

    return Console(file=out).is_jupyter and importlib.util.find_spec("ipywidgets") is not None


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

    def finish_epoch(self, state: State, complete: bool = True) -> None:
        if not complete:
            return
        seconds = state.times.get(state.epoch, 0.0)
        print(f"{_line(state)} ({seconds:.2f}s)", file=self.stream, flush=True)

    # lines are printed every ``every`` iterations and at the end of each epoch only
    def start_epoch(self, state: State) -> None: ...

    def tick(self, state: State) -> None: ...

    def finish_run(self, state: State) -> None: ...

    def close(self) -> None:
        self.stream.flush()


class NestedProgress:
    """Shows a loop that a handler runs (validation's evaluator) as a row of the live
    display of the run that called it, while it runs.

    ``attach`` adds its handlers to that loop, once (they do nothing outside
    ``shown_in``); within ``shown_in(state)`` they report to the live display of
    ``state``'s run, if it has one.
    """

    def __init__(self, description: str, refresh: float = 0.25):
        self.description, self.refresh = description, refresh
        self.display: Any = None  # a LiveProgress, while shown
        self.row: Any = None

    def attach(self, loop: Loop) -> Loop:
        return loop.handle_event("epoch_started", self._start).handle_event(
            "iteration_completed", self._show, {"seconds": self.refresh}
        )

    @contextlib.contextmanager
    def shown_in(self, state: State) -> Iterator[None]:
        display = next((r for r in state.resources.values() if getattr(r, "nests", False)), None)
        if display is None:
            yield
            return
        display.show(state)  # the epoch's row as it is while the nested run goes on
        self.display, self.row = display, display.open_nested(self.description)
        try:
            yield
        finally:
            display.close_nested(self.row)
            self.display = self.row = None

    def _start(self, state: State) -> None:
        if self.row is not None:
            self.display.start_nested(self.row, state)

    def _show(self, state: State) -> None:
        if self.row is not None:
            self.display.show(state, self.row)
