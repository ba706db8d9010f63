"""The live progress display (rich), on a terminal or in Jupyter.

It opens when ``run`` starts: a row that says ``initializing…`` while the initial state
is built and ``compiling…`` while XLA compiles (JAX reports each program it lowers; the
label stays until the host gets a step back), then one row per epoch with its bar,
``done/total`` (the total from ``len()`` of the data, else the previous epoch's
count), elapsed time, ETA, steps/s, the running metrics at four significant digits
and the learning rate. A loop run inside a handler (validation) gets a row of its
own while it runs (``NestedProgress``). A finished epoch's row is printed above the
live rows, which therefore never outgrow the screen; a notebook's cell keeps them.

The training thread only changes the rows' values. Drawing, rich's work, happens in
a thread of its own a few times a second; so does reading the metrics from the
device, at most as often (``{"seconds": ...}`` filters, which never end a fused
block). rich takes ~40 ms to import: this module is imported only to be shown.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import jax
import numpy as np
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderableType
from rich.measure import Measurement
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TextColumn
from rich.segment import Segments
from rich.table import Column
from rich.text import Text

from ._learning_rates import learning_rate_metrics

if TYPE_CHECKING:
    from .._state import State

# what a row shows before it has steps to count
INITIALIZING, STARTING = "[yellow]initializing…", "[yellow]starting…"
COMPILING = "[yellow]compiling…"
#: what JAX reports once a program is lowered, as XLA starts compiling it
LOWERED = "/jax/core/compile/jaxpr_to_mlir_module_duration"


class LiveProgress:
    """rich's live display of one run: the epoch in progress, and a nested run's row."""

    nests = True  # shows the row of a loop run inside its handlers (validation)

    def __init__(self, console: Console, refresh: float):
        self.progress = _Progress(console)
        self.keep_rows = console.is_jupyter  # a terminal's live rows must fit its screen
        # two rich tasks serve every row: adding one would make rich draw at once
        started = {**_FIELDS, "rate": INITIALIZING, "started": time.monotonic()}
        epoch = self.progress.add_task("Starting", **started)
        nested = self.progress.add_task("", visible=False, **_FIELDS)
        self.epoch_row, self.nested_row = _Row(epoch), _Row(nested)
        self.rows = [self.epoch_row]  # the row compiling shows on is the last
        self.epoch: int | None = None  # the epoch of the epoch row (None: not started)
        self.last_length: int | None = None  # the previous complete epoch's batch count
        self.finished: list[RenderableType] = []  # rows to print above the live ones
        self.drawing = threading.Lock()
        self.stopped = threading.Event()
        self.closed = False
        self.progress.live.start()  # drawn first by the drawing thread, as always after
        self.drawer = threading.Thread(
            target=self._draw_every, args=(min(max(refresh, 0.1), 0.5),), daemon=True
        )
        self.drawer.start()
        jax.monitoring.register_event_duration_secs_listener(self._compiling)

    # -- drawing (its own thread) ---------------------------------------------------------

    def _draw_every(self, seconds: float) -> None:
        while not self.stopped.wait(seconds):
            self._draw()

    def _draw(self, refresh: bool = True) -> None:
        with self.drawing:
            finished, self.finished = self.finished, []
            console = self.progress.console
            if finished and self.keep_rows:  # drawn once, kept as they are
                self.progress.kept.append(Segments(list(console.render(Group(*finished)))))
            elif finished:  # above the live rows, where they stay
                console.print(Group(*finished))
            if refresh:
                self.progress.refresh()

    def _set(self, row: _Row, **fields: Any) -> None:
        self.progress.update(row.task, **fields)  # rich draws nothing here

    def _compiling(self, event: str, duration: float, **metadata: Any) -> None:
        # XLA compiles after lowering; the first refresh once the host has a step back
        # clears the label. (Tracing alone, as in eval_shape, compiles nothing.)
        if event == LOWERED:
            with contextlib.suppress(Exception):  # never let the display fail a compile
                row = self.rows[-1]
                row.since = None  # the rate leaves the compilation out
                self._set(row, rate=COMPILING)

    # -- rows -----------------------------------------------------------------------------

    def _restart(self, row: _Row, description: str, total: int | None, done: int, **fields: Any):
        row.total, row.since, row.latest = total, None, (-1, 0.0)
        self._set(
            row, description=description, total=total, completed=done, visible=True,
            count=_count(done, total), eta="", metrics=[], ended=None, **fields,
        )  # fmt: skip

    def row_of(self, state: State) -> _Row:
        """The epoch row, for ``state``'s epoch (the run's first takes over ``Starting``)."""
        if self.epoch != state.epoch:
            description = f"Epoch {state.epoch + 1}/{state.max_epoch}"
            total = state.epoch_length if state.epoch_length is not None else self.last_length
            done = state.count_in_epoch()
            if self.epoch is None:  # the run's first epoch: its first step compiles
                self._restart(self.epoch_row, description, total, done, rate=STARTING)
            else:
                now = time.monotonic()
                self._restart(self.epoch_row, description, total, done, rate="", started=now)
                self.epoch_row.since = (done, now)
            self.epoch = state.epoch
        return self.epoch_row

    def show(self, state: State, row: _Row | None = None) -> None:
        """Refresh a row (the epoch's by default) from ``state``: reads the device."""
        row = row or self.row_of(state)
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
        self._set(
            row, completed=done, total=row.total if row.total is not None else done,
            count=_count(done, row.total), eta=_eta(done, row.total, rate),
            rate=_rate(rate) if rate else "", metrics=metrics,
        )  # fmt: skip

    def _end(self, row: _Row) -> None:
        self._set(row, eta="", ended=time.monotonic())

    # -- events ---------------------------------------------------------------------------

    def start_epoch(self, state: State) -> None:
        self.row_of(state)

    def update(self, state: State) -> None:
        """Every ``every`` iterations: nothing to do, the display refreshes by time."""

    def tick(self, state: State) -> None:
        self.show(state)

    def finish_epoch(self, state: State, complete: bool = True) -> None:
        row = self.row_of(state)
        row.total = state.count_in_epoch()  # the epoch is over: its bar is full
        self.show(state, row)
        self._end(row)
        if complete:
            self.last_length = row.total
        task = next(task for task in self.progress.tasks if task.id == row.task)
        self.finished.append(self.progress.make_tasks_table([task]))  # the row as it is now
        self._set(row, visible=False)  # until the next epoch starts

    def finish_run(self, state: State) -> None:
        """The run ends: if it halted inside an epoch, show where."""
        if self.epoch == state.epoch and self.epoch_row.task in self._visible():
            self.show(state)
            self._end(self.epoch_row)

    def _visible(self) -> set[Any]:
        return {task.id for task in self.progress.tasks if task.visible}

    def open_nested(self, description: str) -> _Row:
        now = time.monotonic()
        self._restart(self.nested_row, description, None, 0, rate=STARTING, started=now)
        self.rows.append(self.nested_row)
        return self.nested_row

    def start_nested(self, row: _Row, state: State) -> None:
        row.total, done = state.epoch_length, state.count_in_epoch()
        self._set(row, total=row.total, completed=done, count=_count(done, row.total))

    def close_nested(self, row: _Row) -> None:
        self.rows.remove(row)
        self._set(row, visible=False)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        jax.monitoring.unregister_event_duration_listener(self._compiling)
        self.stopped.set()
        self.drawer.join()
        if self.epoch is None:  # the run failed before it started: leave nothing behind
            self._set(self.epoch_row, visible=False)
        self._draw(refresh=self.keep_rows)  # stop() redraws a terminal, not a notebook
        self.progress.stop()


_FIELDS = {"count": "", "eta": "", "rate": "", "metrics": [], "started": 0.0, "ended": None}


class _Progress(Progress):
    """rich's progress display, drawn only when asked, with the rows it keeps (a
    notebook's finished epochs) above the live ones."""

    def __init__(self, console: Console):
        def fixed(width: int | None = None) -> Column:  # a column that does not wrap
            return Column(no_wrap=True, min_width=width)

        self.kept: list[RenderableType] = []  # rich asks for the renderables at once
        super().__init__(
            TextColumn("[bold]{task.description}", table_column=fixed()),
            BarColumn(bar_width=24, table_column=fixed(24)),
            TextColumn("{task.fields[count]}", table_column=fixed()),
            _Elapsed(table_column=fixed()),
            TextColumn("{task.fields[eta]}", table_column=fixed()),
            TextColumn("{task.fields[rate]}", table_column=fixed()),
            _Metrics(table_column=Column(overflow="fold")),
            console=console,
            auto_refresh=False,  # drawn by LiveProgress's own thread, between printed rows
        )

    def get_renderables(self) -> Iterable[RenderableType]:
        yield from self.kept
        yield self.make_tasks_table(self.tasks)


class _Elapsed(ProgressColumn):
    """The time since the row started (the run, for the first epoch), until it ended."""

    def render(self, task: Task) -> Text:
        started, ended = task.fields["started"], task.fields["ended"]
        seconds = (ended if ended is not None else time.monotonic()) - started
        return Text(_clock(seconds), style="progress.elapsed")


class _Metrics(ProgressColumn):
    """A row's metrics: ``name: value`` pairs that wrap like words, each kept whole."""

    def render(self, task: Task) -> _Pairs:
        return _Pairs(task.fields["metrics"])


class _Pairs:
    """Texts laid out like words (two spaces apart), wrapped only between them."""

    def __init__(self, pairs: list[str]):
        self.pairs = pairs

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        widest = max(map(cell_len, self.pairs), default=0)
        return Measurement(widest, cell_len("  ".join(self.pairs)))

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[Text]:
        lines: list[str] = []
        for pair in self.pairs:
            if lines and cell_len(lines[-1]) + 2 + cell_len(pair) <= options.max_width:
                lines[-1] += "  " + pair
            else:
                lines.append(pair)
        yield Text("\n".join(lines))


class _Row:
    """One row of the display: its rich task, its total, and where its rate counts from."""

    def __init__(self, task: Any):
        self.task = task
        self.total: int | None = None
        self.since: tuple[int, float] | None = None  # (done, time): None until first shown
        self.latest: tuple[int, float] = (-1, 0.0)  # when the count last moved


def metric_text(state: State) -> list[str]:
    """``name: value`` for each metric at four significant digits, then the learning rate."""
    values = {name: significant(value) for name, value in state.metric_values().items()}
    rates = learning_rate_metrics(state.step_state).values()
    if rates:
        values["lr"] = ", ".join(significant(rate) for rate in dict.fromkeys(rates))
    return [f"{name}: {value}" for name, value in values.items()]


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
    return f"ETA {_clock((total - done) / rate)}"


def _clock(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"
