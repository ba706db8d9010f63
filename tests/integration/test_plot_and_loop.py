"""log_to("plot"): a trainer with validation draws its training and validation curves on one
chart, into a PNG written at the end, on halt and on failure; a resumed run plots each step
once (axon-loop and axon-loggers together)."""

from __future__ import annotations

import json

import jax.numpy as jnp
import numpy as np
import optax
import pytest
from PIL import Image

import axon.loop
from axon.loggers import PlotLogger

BATCHES_PER_EPOCH = 4


def linear():
    init = lambda key, x: {"w": jnp.zeros((x.shape[-1], 1))}  # noqa: E731
    apply = lambda params, x, *, mode, key: (x @ params["w"], None)  # noqa: E731
    return init, apply


def batches(epoch=0):
    rng = np.random.default_rng(epoch)
    x = rng.normal(size=(BATCHES_PER_EPOCH * 8, 3)).astype(np.float32)
    y = x @ np.array([[1.0], [-2.0], [0.5]], np.float32)
    return [(x[i : i + 8], y[i : i + 8]) for i in range(0, len(x), 8)]


def plotting_trainer(path, **options):
    trainer = axon.loop.trainer(linear(), "mean_squared_error", optax.sgd(0.05), log=0)
    return (
        trainer.replace(output_transform=None)
        .validate(linear(), batches(99))
        .log_to("plot", path=path, metrics=["loss", "validation_loss"], every=1, **options)
    )


def points(path):
    """``(run id, {tag: [(step, value), ...]})`` of the plot's points, read from its log."""
    header, *records = [json.loads(line) for line in path.with_name(path.name + ".jsonl").open()]
    found: dict[str, list] = {}
    for record in records:
        for tag, value in record.items():
            if tag != "step":
                found.setdefault(tag, []).append((record["step"], value))
    return header["axon_run"], found


def png_size(path):
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        return image.format, image.size


def test_training_and_validation_loss_are_drawn_on_one_chart(tmp_path):
    path = tmp_path / "plots" / "loss.png"
    state = plotting_trainer(path).run(batches, epochs=2)

    assert png_size(path) == ("PNG", (600, 400))  # one chart
    run, found = points(path)
    assert run == state.run_id
    assert [step for step, _ in found["train/loss"]] == list(range(1, 9))
    assert [step for step, _ in found["epoch/loss"]] == [4, 8]
    validation = [value for _, value in found["epoch/validation_loss"]]
    expected = [float(epoch["validation_loss"]) for epoch in state.history.values()]
    assert validation == pytest.approx(expected)

    with PlotLogger(path, metrics=["loss"], run_id=state.run_id) as reopened:
        plotted = reopened.plotted  # what the image shows, drawn again from the log
    assert list(plotted) == ["loss"]
    assert list(plotted["loss"]) == ["train/loss", "epoch/loss", "epoch/validation_loss"]
    assert plotted["loss"]["epoch/validation_loss"] == found["epoch/validation_loss"]


def test_a_halted_run_draws_what_it_logged(tmp_path):
    path = tmp_path / "loss.svg"
    halt = lambda state: "halt_loop" if state.iteration == 3 else None  # noqa: E731
    plotting_trainer(path).handle_event("iteration_completed", halt).run(batches, epochs=2)
    assert path.read_text().lstrip().startswith("<?xml")
    _, found = points(path)
    assert [step for step, _ in found["train/loss"]] == [1, 2, 3]


class Killed(Exception):
    pass


def killed(state):
    raise Killed


def test_a_killed_and_resumed_run_plots_each_step_once(tmp_path):
    def make(folder):  # built again for the resumed run, as a restarted process does
        return plotting_trainer(folder / "loss.png").checkpoint(
            folder / "ck", event="iteration_completed", filter={"every": 2}
        )

    make(tmp_path / "straight").run(batches, epochs=3)
    folder = tmp_path / "killed"
    with pytest.raises(Killed):
        make(folder).handle_event("iteration_completed", killed, {"once": 7}).run(
            batches, epochs=3, resume="auto"
        )
    assert png_size(folder / "loss.png") == ("PNG", (600, 400))  # drawn as the run failed
    resumed = make(folder).run(batches, epochs=3, resume="auto")

    assert resumed.resumed_from == 6
    _, found = points(folder / "loss.png")
    assert found == points(tmp_path / "straight" / "loss.png")[1]
    assert [step for step, _ in found["train/loss"]] == list(range(1, 13))  # once each
    assert [step for step, _ in found["epoch/validation_loss"]] == [4, 8, 12]
