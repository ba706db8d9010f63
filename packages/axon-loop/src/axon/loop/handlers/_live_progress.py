"""The live progress display (rich), on a terminal or in Jupyter.

It opens when ``run`` starts: a row that says ``initializing…`` while the initial state
is built and ``compiling…`` while XLA compiles (JAX reports each program it lowers; the
label stays until the host gets a step back), then one row per epoch with its bar,
``done/total`` (the total from ``len()`` of the data, else the previous epoch's
count), elapsed time, ETA, steps/s, the running metrics at four significant digits
and the learning rate. A loop run inside a handler (validation) gets a row of its
own while it runs (:class:`NestedProgress`). A finished epoch's row is printed above
the live area, which therefore never outgrows the screen; a notebook keeps every row.

Metrics are read from the device only when a row is refreshed, a few times a second
at most (``{"seconds": ...}`` filters, which never end a fused block).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import jax
import numpy as np

from ._monitoring import _learning_rates

if TYPE_CHECKING:
    from .._loop import Loop
    from .._state import State

# what a row shows before it has steps to count
INITIALIZING, STARTING = "[yellow]initializing…", "[yellow]starting…"
COMPILING = "[yellow]compiling…"
#: what JAX reports once a program is lowered, as XLA starts compiling it
LOWERED = "/jax/core/compile/jaxpr_to_mlir_module_duration"


class LiveProgress:
    """rich's live display of one run: the epoch in progress, and nested runs' rows."""

    nests = True  # shows the rows of loops run inside its handlers (validation)

    def __init__(self, console: Any, refresh: float):
        # rich.progress takes ~40 ms to import: paid only when the display is shown
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
        from rich.table import Column

        def fixed(width: int | None = None) -> Column:  # a column that does not wrap
            return Column(no_wrap=True, min_width=width)

        self.progress = Progress(
            TextColumn("[bold]{task.description}", table_column=fixed()),
            BarColumn(bar_width=24, table_column=fixed(24)),
            TextColumn("{task.fields[count]}", table_column=fixed()),
            TimeElapsedColumn(table_column=fixed()),
            TextColumn("{task.fields[eta]}", table_column=fixed()),
            TextColumn("{task.fields[rate]}", table_column=fixed()),
            TextColumn(  # the column that wraps when a row is too long
                "{task.fields[metrics]}", markup=False, table_column=Column(overflow="fold")
            ),
            console=console,
            auto_refresh=False,  # redrawn by self.redraw, between prints of finished rows
        )
        self.keep_rows = console.is_jupyter  # a terminal's live area must fit its screen
        self.rows = [self._add_row("Starting", None, 0, INITIALIZING)]  # the epoch's, nested
        self.progress.update(self.rows[0].task, count="")  # no batch count yet
        self.epoch: int | None = None  # the epoch of the first row (None: not started)
        self.last_length: int | None = None  # the previous complete epoch's batch count
        self.closed = False
        self.drawing = threading.Lock()  # one thread at a time writes to the console
        self.stopped = threading.Event()
        self.progress.start()
        # the clock and labels stay live while the main thread is busy (compiling)
        self.redraw = threading.Thread(
            target=self._redraw_every, args=(min(max(refresh, 0.1), 0.5),), daemon=True
        )
        self.redraw.start()
        jax.monitoring.register_event_duration_secs_listener(self._compiling)

    def _redraw_every(self, seconds: float) -> None:
        while not self.stopped.wait(seconds):
            with self.drawing:
                self.progress.refresh()

    def _add_row(self, description: str, total: int | None, done: int, rate: str) -> _Row:
        count = _count(done, total)
        task = self.progress.add_task(
            description, total=total, completed=done, count=count, eta="", rate=rate, metrics=""
        )
        return _Row(task, total)

    def _compiling(self, event: str, duration: float, **metadata: Any) -> None:
        # XLA compiles after lowering; the first refresh once the host has a step back
        # clears the label. (Tracing alone, as in eval_shape, compiles nothing.)
        if event == LOWERED:
            with contextlib.suppress(Exception):  # never let the display fail a compile
                row = self.rows[-1]
                row.since = None  # the rate leaves the compilation out
                if not row.printed:
                    self.progress.update(row.task, rate=COMPILING)

    def epoch_row(self, state: State) -> _Row:
        """The row of ``state``'s epoch: the run's first epoch takes over the starting row."""
        if self.epoch != state.epoch:
            description = f"Epoch {state.epoch + 1}/{state.max_epoch}"
            total = state.epoch_length if state.epoch_length is not None else self.last_length
            done = state.count_in_epoch()
            if self.epoch is None:  # the run's first epoch: its first step compiles
                row = self.rows[0]
                row.total = total
                self.progress.update(
                    row.task, description=description, total=total, completed=done,
                    count=_count(done, total), rate=STARTING,
                )  # fmt: skip
            else:
                self.rows[0] = self._add_row(description, total, done, "")
                self.rows[0].since = (done, time.monotonic())
            self.epoch = state.epoch
        return self.rows[0]

    def show(self, state: State, row: _Row | None = None) -> None:
        """Refresh a row (the epoch's by default) from ``state``: reads the device."""
        row = row or self.epoch_row(state)
        metrics = metric_text(state)  # waits for the steps so far: then the time is theirs
        done, now = state.count_in_epoch(), time.monotonic()
        if row.total is not None and done > row.total:
            row.total = None  # more batches than the previous epoch had: total unknown
        if row.since is None:
            row.since = (done, now)  # the rate counts from here, after any compilation
        if done != row.latest[0]:
            row.latest = (done, now)
        steps, seconds = done - row.since[0], row.latest[1] - row.since[1]
        rate = steps / seconds if steps and seconds > 0 else None
        self.progress.update(
            row.task, completed=done, total=row.total if row.total is not None else done,
            count=_count(done, row.total), eta=_eta(done, row.total, rate),
            rate=_rate(rate) if rate else "", metrics=metrics,
        )  # fmt: skip

    # -- events -----------------------------------------------------------------------------

    def start_epoch(self, state: State) -> None:
        self.epoch_row(state)

    def update(self, state: State) -> None:
        """Every ``every`` iterations: nothing to do, the display refreshes by time."""

    def tick(self, state: State) -> None:
        self.show(state)

    def finish_epoch(self, state: State, complete: bool = True) -> None:
        row = self.epoch_row(state)
        row.total = state.count_in_epoch()  # the epoch is over: its bar is full
        self.show(state, row)
        self.progress.update(row.task, eta="")
        if complete:
            self.last_length = row.total
        if not self.keep_rows:  # printed above the live area, where it stays
            task = next(task for task in self.progress.tasks if task.id == row.task)
            with self.drawing:  # a redraw racing a print could erase the printed row
                self.progress.console.print(self.progress.make_tasks_table([task]))
                self.progress.remove_task(row.task)
            row.printed = True

    def finish_run(self, state: State) -> None:
        """The run ends: if it halted inside an epoch, show where."""
        if self.epoch == state.epoch and not self.rows[0].printed:
            self.show(state)
            self.progress.update(self.rows[0].task, eta="")

    def open_nested(self, description: str) -> _Row:
        row = self._add_row(description, None, 0, STARTING)
        self.rows.append(row)
        return row

    def start_nested(self, row: _Row, state: State) -> None:
        row.total = state.epoch_length
        done = state.count_in_epoch()
        count = _count(done, row.total)
        self.progress.update(row.task, total=row.total, completed=done, count=count)

    def close_nested(self, row: _Row) -> None:
        self.rows.remove(row)
        self.progress.remove_task(row.task)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        jax.monitoring.unregister_event_duration_listener(self._compiling)
        if self.epoch is None:  # the run failed before it started: leave nothing behind
            for task in self.progress.task_ids:
                self.progress.remove_task(task)
        self.stopped.set()
        self.redraw.join()
        self.progress.refresh()  # a notebook's display is not refreshed by stop()
        self.progress.stop()


class _Row:
    """One row of the display: its rich task, its total, where its rate counts from."""

    def __init__(self, task: Any, total: int | None):
        self.task, self.total = task, total
        self.since: tuple[int, float] | None = None  # (done, time): None until first shown
        self.latest: tuple[int, float] = (-1, 0.0)  # when the count last moved
        self.printed = False  # printed above the live area and removed from it


class NestedProgress:
    """Shows a loop that a handler runs (validation's evaluator) as a row of the live
    display of the run that called it, while it runs.

    ``attach`` adds its handlers to that loop, once (they do nothing outside
    ``shown_in``); within ``shown_in(state)`` they report to the live display of
    ``state``'s run, if it has one.
    """

    def __init__(self, description: str, refresh: float = 0.25):
        self.description, self.refresh = description, refresh
        self.display: Any = None
        self.row: _Row | None = None

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


def metric_text(state: State) -> str:
    """``name: value`` for each metric at four significant digits, then the learning rate."""
    parts = [f"{name}: {significant(value)}" for name, value in state.metric_values().items()]
    rates = learning_rates(state)
    if rates:
        parts.append("lr: " + ", ".join(significant(rate) for rate in dict.fromkeys(rates)))
    return "  ".join(parts)


def learning_rates(state: State) -> list[float]:
    """The learning rates in a trainer's optimizer state (``optax.inject_hyperparams``)."""
    step_state = state.step_state
    if not isinstance(step_state, Mapping) or "optimizer_state" not in step_state:
        return []
    return _learning_rates(step_state["optimizer_state"])


def significant(value: Any) -> str:
    """A float at four significant digits (``0.1235``, ``1.000``, ``1235``, ``1.235e-05``),
    an array with each element so."""
    if isinstance(value, float | np.floating):
        return f"{value:#.4g}".rstrip(".")  # '#' keeps trailing zeros, and a '.' alone
    return np.array2string(
        np.asarray(value), threshold=8, separator=", ", formatter={"float_kind": significant}
    )


def _rate(steps_per_second: float) -> str:
    if steps_per_second >= 1000:
        return f"{steps_per_second:,.0f} steps/s"
    if steps_per_second >= 1:
        return f"{significant(steps_per_second)} steps/s"
    return f"{significant(1 / steps_per_second)} s/step"


def _count(done: int, total: int | None) -> str:
    return f"{done}" if total is None else f"{done}/{total}"


def _eta(done: int, total: int | None, rate: float | None) -> str:
    if total is None or rate is None or done >= total:
        return ""
    seconds = round((total - done) / rate)
    return f"ETA {seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
