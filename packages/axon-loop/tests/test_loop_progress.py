"""The progress display, as a person sees it: a terminal's screen, a notebook, a log.

A terminal is rich's console writing to a string (``force_terminal``) or a real
pseudo-terminal; what is on screen is worked out from the bytes written, cursor
movements included (``screen``).
"""

import builtins
import io
import os
import pty
import re
import select
import subprocess
import sys
import textwrap
import types

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from rich.console import Console

import axon.loop
from axon.loop.handlers import log_progress
from axon.loop.handlers._live_progress import LOWERED, significant

_CONTROL = re.compile(r"\x1b\[(\??)(\d*)([A-Za-z])|\r|\n|[^\x1b\r\n]+")


def screen(output: str) -> list[str]:
    """The lines a terminal shows after ``output``: text, newlines, carriage returns,
    cursor up (``ESC[nA``) and erase line (``ESC[2K``), as rich's live display writes
    them; colours and cursor visibility change nothing here, a no-break space shows as
    a space."""
    lines, row, col = [""], 0, 0
    for match in _CONTROL.finditer(output.replace("\u00a0", " ")):
        text = match.group(0)
        if text == "\n":
            row, col = row + 1, 0
            lines += [""] * (row + 1 - len(lines))
        elif text == "\r":
            col = 0
        elif text.startswith("\x1b["):
            private, n, op = match.groups()
            if op == "A" and not private:
                row = max(0, row - int(n or 1))
            elif op == "K" and n == "2":
                lines[row] = ""
        else:
            line = lines[row].ljust(col)
            lines[row] = line[:col] + text + line[col + len(text) :]
            col += len(text)
    return [line.rstrip() for line in lines if line.strip()]


def init(key, x):
    return {"w": jnp.zeros((x.shape[-1], 1))}


def apply(params, x, *, mode, key):
    return x @ params["w"], None


def regression(n=256, seed=0):
    x = np.random.default_rng(seed).normal(size=(n, 3)).astype(np.float32)
    return x, x @ np.array([[1.0], [-2.0], [0.5]], np.float32)


def trainer():
    sgd = optax.inject_hyperparams(optax.sgd)(learning_rate=0.05)
    loop = axon.loop.trainer((init, apply), "mean_squared_error", sgd, log=0)
    return loop.metric("mean_absolute_error", "mae").replace(output_transform=None)


def live_display(state):
    return next(r for r in state.resources.values() if hasattr(r, "progress"))


def snapshot(out, state):
    """The screen now: the display redrawn at this very moment."""
    live_display(state).progress.refresh()
    return screen(out.getvalue())


def test_the_terminal_shows_epochs_rate_metrics_learning_rate_and_validation():
    x, y = regression()
    x_val, y_val = regression(64, seed=1)
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=200)
    seen = {}

    def look(state):  # iteration 10 of each epoch: the live row
        seen[state.epoch] = snapshot(out, state)[-1]

    def one_epoch(epoch):  # data given as a function, with no len(): 32 batches
        return (batch for batch in axon.loop.batches(x, y, batch_size=8))

    loop = (
        log_progress(trainer(), stream=console, refresh=1e-6)
        .handle_event("iteration_completed", look, {"once": ("epoch", 10)})
        .validate((init, apply), axon.loop.batches(x_val, y_val, batch_size=16))
    )
    state = loop.run(one_epoch, epochs=3, steps_per_dispatch=1)

    # epoch 1 has no total (a generator has no len()); later epochs take epoch 1's count
    assert re.search(r"Epoch 1/3 \S+ 10 ", seen[0]) and "ETA" not in seen[0]
    assert re.search(r"Epoch 2/3 \S+ 10/32 .*ETA 0:00:\d\d .*steps/s", seen[1]), seen[1]
    rows = screen(out.getvalue())
    assert [row.split(" ")[:2] for row in rows] == [["Epoch", f"{e}/3"] for e in (1, 2, 3)]
    for epoch, row in enumerate(rows):
        metrics = {name: float(value) for name, value in state.history[epoch].items()}
        assert " 32/32 0:00:0" in row
        for name in ("loss", "mae", "validation_loss", "validation_mae"):
            shown = re.search(rf"(?<!\S){name}: (\S+)", row).group(1)
            assert shown == significant(metrics[name])  # four significant digits
            assert len(shown.replace(".", "").split("e")[0].lstrip("0")) == 4
        assert row.endswith("lr: 0.05000")
    assert re.search(r"[\d,.]+ steps/s", rows[1])


def test_the_display_is_live_before_the_first_step_and_says_when_jax_compiles():
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    seen = []

    def look(label):
        def handler(state):
            seen.append((label, snapshot(out, state)[-1]))

        return handler

    def compile_now(state):  # what JAX reports once it has lowered a program
        jax.monitoring.record_event_duration_secs(LOWERED, 0.01)
        look("compiling")(state)

    x, y = regression(64)
    loop = (
        log_progress(trainer(), stream=console, refresh=1e-6)
        .handle_event("started", look("started"))
        .handle_event("iteration_completed", compile_now, {"once": 3})
        .handle_event("iteration_completed", look("after"), {"once": 4})
    )
    loop.run(axon.loop.batches(x, y, batch_size=8), steps_per_dispatch=1)
    labels = dict(seen)
    # opened when run() started, before the model was initialized (which compiles too)
    assert re.match(r"Starting .* 0:00:0\d\s+(initializing|compiling)…$", labels["started"])
    assert labels["compiling"].startswith("Epoch 1/1") and "compiling…" in labels["compiling"]
    assert "compiling…" not in labels["after"] and "loss: " in labels["after"]


def test_a_run_that_fails_before_it_starts_leaves_nothing_on_screen():
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    with pytest.raises(TypeError, match=r"axon\.loop\.batches"):
        log_progress(trainer(), stream=console).run(np.ones((8, 3)))
    assert screen(out.getvalue()) == []


def test_a_halted_run_shows_where_it_stopped(capsys):
    x, y = regression(64)
    y[20] = np.nan  # batch 3
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    loop = trainer().halt_on_nonfinite(every=1)
    state = log_progress(loop, stream=console).run(axon.loop.batches(x, y, batch_size=8))
    assert state.status == "halted"
    message, *_, row = screen(out.getvalue())  # stderr shows above the live display
    assert message.startswith("The loss became non-finite at epoch 0, batch 3")
    assert row.startswith("Epoch 1/1") and " 3/8 " in row and "loss: nan" in row
    assert "ETA" not in row


def test_off_a_terminal_the_trainer_prints_axons_lines(capsys):
    x, y = regression(64)
    axon.loop.trainer((init, apply), "mean_squared_error", optax.sgd(0.05), log=3).run(
        axon.loop.batches(x, y, batch_size=8), epochs=2
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Epoch: 0, Batch: 3, loss: ")
    assert re.fullmatch(r"Epoch: 1, Batch: 8, loss: \d\.\d{7} \(\d+\.\d\ds\)", lines[-1])
    assert len(lines) == 6  # batches 3 and 6, then the epoch's line, in each epoch


PTY_PROGRAM = textwrap.dedent(
    """
    import numpy as np, optax, axon.loop
    x = np.random.default_rng(0).normal(size=(256, 3)).astype(np.float32)
    y = x @ np.array([[1.0], [-2.0], [0.5]], np.float32)
    init = lambda key, x: {"w": np.zeros((x.shape[-1], 1), np.float32)}
    apply = lambda p, x, *, mode, key: (x @ p["w"], None)
    axon.loop.trainer((init, apply), "mean_squared_error", optax.adam(0.01)).run(
        axon.loop.batches(x, y, batch_size=16), epochs=2
    )
    print("done")
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_in_a_real_terminal_the_trainer_shows_its_live_display():
    """A trainer as a person runs it, in a terminal (a pty): no argument asks for the
    display, the terminal does."""
    controller, terminal = pty.openpty()
    env = {**os.environ, "COLUMNS": "120", "LINES": "30", "TERM": "xterm-256color"}
    child = subprocess.Popen(
        [sys.executable, "-c", PTY_PROGRAM], stdin=terminal, stdout=terminal, stderr=terminal,
        env=env, close_fds=True,
    )  # fmt: skip
    os.close(terminal)
    output = b""
    while True:
        ready, _, _ = select.select([controller], [], [], 60)
        try:
            chunk = os.read(controller, 65536) if ready else b""
        except OSError:  # the child closed the terminal
            chunk = b""
        if not chunk:
            break
        output += chunk
    os.close(controller)
    assert child.wait(timeout=60) == 0, output.decode(errors="replace")[-3000:]
    text = output.decode()
    shown = screen(text)
    assert shown[-1] == "done" and "Epoch:" not in text
    rows = shown[:-1]
    assert [row.split(" ")[:2] for row in rows] == [["Epoch", "1/2"], ["Epoch", "2/2"]]
    assert all(" 16/16 0:00:" in row and re.search(r"loss: \d\.\d{3}\b", row) for row in rows)
    assert re.search(r"[\d,.]+ steps/s", rows[1])
    assert "initializing…" in text or "compiling…" in text  # live before the first step


class _Shell:
    """What rich looks for to know it runs in a Jupyter kernel."""


_Shell.__name__ = "ZMQInteractiveShell"


def test_in_jupyter_the_display_is_live_in_its_output_widget(monkeypatch):
    """No notebook here: IPython's ``display`` and ipywidgets' ``Output`` are stand-ins
    that keep what rich shows in the cell, and rich is told it runs in a kernel as it
    finds out in a real one."""
    shown = []

    class Output:  # the cell's live area
        def __init__(self):
            self.items = []

        def __enter__(self):
            shown.append(self)

        def __exit__(self, *exc):
            shown.pop()

        def clear_output(self, wait=False):
            self.items.clear()

    widgets = []

    def display(item):
        (shown[-1].items if shown else widgets).append(item)

    ipython = types.ModuleType("IPython")
    ipython.display = types.ModuleType("IPython.display")
    ipython.display.display = display
    ipywidgets = types.ModuleType("ipywidgets")
    ipywidgets.Output = Output
    ipywidgets.__spec__ = types.SimpleNamespace(name="ipywidgets")
    for name, module in [
        ("IPython", ipython), ("IPython.display", ipython.display), ("ipywidgets", ipywidgets),
        ("ipykernel", types.ModuleType("ipykernel")),
    ]:  # fmt: skip
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(builtins, "get_ipython", _Shell, raising=False)
    monkeypatch.setattr(sys, "stdout", io.StringIO())  # a kernel's stdout is no terminal
    monkeypatch.setattr("importlib.util.find_spec", lambda name: name == "ipywidgets" or None)

    x, y = regression(64)
    log_progress(trainer()).run(axon.loop.batches(x, y, batch_size=8), epochs=2)
    (widget,) = [item for item in widgets if isinstance(item, Output)]
    assert all(item.text == "" for item in widgets if item is not widget)  # rich's own
    (last,) = widget.items  # what the cell shows at the end: every epoch's row
    rows = screen(last.text)  # the plain text beside the HTML, colours left out
    assert [row.split(" ")[:2] for row in rows] == [["Epoch", "1/2"], ["Epoch", "2/2"]]
    assert all(" 8/8 " in row and "loss: " in row and "lr: 0.05000" in row for row in rows)
    assert sys.stdout.getvalue() == ""  # no Axon lines besides


@pytest.mark.parametrize(
    "value, text",
    [(0.97, "0.9700"), (1.0, "1.000"), (0.123456, "0.1235"), (1234.5, "1234"),
     (12345.0, "1.234e+04"), (1.5e-05, "1.500e-05"), (float("nan"), "nan")],
)  # fmt: skip
def test_metrics_show_four_significant_digits(value, text):
    assert significant(value) == text
    assert significant(np.array([value, 2.0])) == f"[{text}, 2.000]"
