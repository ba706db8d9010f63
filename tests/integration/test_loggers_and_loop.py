"""log_to with named loggers: each run writes its own log, and a resumed or restarted run
continues its own with every step exactly once (axon-loop and axon-loggers together).

A run resumed from a checkpoint cuts its logs back to the marks the checkpoint recorded,
so they end up byte for byte (TensorBoard: event for event, in the run's train and
validation splits) those of the uninterrupted run, wherever it was killed."""

from __future__ import annotations

import csv
import json
import warnings

import jax.numpy as jnp
import numpy as np
import optax
import pytest
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import axon.loop
from axon.loggers import LogExistsError, LoggerBase, PlotLogger
from axon.loggers.plugins import hookimpl, system
from axon.loop.checkpoint import OrbaxBackend

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


def trainer():
    return axon.loop.trainer(linear(), "mean_squared_error", optax.sgd(0.05), log=0).replace(
        output_transform=None
    )


def crash_at(iteration):
    def crash(state):
        if state.iteration == iteration:
            raise KeyboardInterrupt(f"killed at iteration {iteration}")

    return crash


def adopt_run_id(run_id):
    """What run(..., resume="auto") does for a run that died before its first checkpoint:
    it starts from scratch (resumed_from None) under the id recorded before."""

    def adopt(state):
        state.run_id = run_id

    return adopt


def read_events(run_dir):
    """TensorBoard's own reader of one run directory, keeping every point."""
    events = EventAccumulator(str(run_dir), size_guidance={"scalars": 0, "histograms": 0})
    events.Reload()
    return events


def tensorboard_steps(run_dir):
    return [point.step for point in read_events(run_dir / "train").Scalars("train/loss")]


def jsonl_steps(path):
    header, *records = [json.loads(line) for line in path.read_text().splitlines()]
    return header["axon_run"], [r["step"] for r in records if "train/loss" in r]


def csv_steps(path):
    marker = json.loads(path.with_name(path.name + ".axon-run.json").read_text())
    with open(path, newline="") as file:
        rows = [int(row["step"]) for row in csv.DictReader(file) if row["train/loss"]]
    return marker["axon_run"], rows


def logging_everything(loop, tmp_path):
    return (
        loop.log_to("tensorboard", logdir=tmp_path / "runs", every=1, histograms=1)
        .log_to("jsonl", path=tmp_path / "metrics.jsonl", every=1)
        .log_to("csv", path=tmp_path / "metrics.csv", every=1)
    )


# -- what log_to tells a named logger -------------------------------------------------------


#: The options of every OptionsLogger created, in order.
CREATED: list[dict] = []


class OptionsLogger(LoggerBase):
    """Records the options it was created with."""

    def __init__(self, **options):
        super().__init__()
        CREATED.append(options)


def knows_runs(*, run_id=None, purge_step=None, label=None):
    return OptionsLogger(run_id=run_id, purge_step=purge_step, label=label)


def purges_only(*, purge_step=None):
    return OptionsLogger(purge_step=purge_step)


class MarkingLogger(OptionsLogger):
    """Also has marks: the mark says which logger took it."""

    def mark(self):
        return {"logger": self.created}

    def __init__(self, **options):
        super().__init__(**options)
        self.created = len(CREATED) - 1


def marks(*, run_id=None, purge_step=None, resume_mark=None, label=None):
    return MarkingLogger(run_id=run_id, purge_step=purge_step, resume_mark=resume_mark, label=label)


class OptionsPlugin:
    @hookimpl
    def axon_loggers(self):
        return {"knows-runs": knows_runs, "purges-only": purges_only, "marks": marks}


@pytest.fixture
def options_loggers():
    CREATED.clear()
    with system.temporary(OptionsPlugin(), name="options-plugin"):
        yield CREATED


def test_a_named_logger_is_told_the_run_and_the_first_step_it_logs(tmp_path, options_loggers):
    loop = (
        trainer()
        .log_to("knows-runs", label="a")
        .log_to("purges-only")
        .checkpoint(tmp_path / "ck", event="iteration_completed", filter={"every": 2})
    )
    fresh = loop.handle_event(
        "iteration_completed", lambda s: "halt_loop" if s.iteration == 3 else None
    ).run(batches, epochs=2)
    resumed = loop.run(batches, epochs=2, resume_from=tmp_path / "ck")
    assert (resumed.run_id, resumed.resumed_from) == (fresh.run_id, 2)
    assert options_loggers == [
        {"run_id": fresh.run_id, "purge_step": 1, "label": "a"},  # a fresh run: from step 1
        {"purge_step": None},  # no run identity: purged only on resume, as before run ids
        {"run_id": fresh.run_id, "purge_step": 3, "label": "a"},
        {"purge_step": 3},
    ]


def test_a_named_logger_with_marks_resumes_from_the_mark_of_its_checkpoint(
    tmp_path, options_loggers
):
    def make_loop():  # built again for the resumed run, as a restarted process does
        return (
            trainer()
            .log_to("marks", label="a")
            .log_to("marks", label="a")  # the same logger twice: a key of its own each
            .checkpoint(tmp_path / "ck", event="iteration_completed", filter={"every": 2})
        )

    fresh = (
        make_loop()
        .handle_event("iteration_completed", lambda s: "halt_loop" if s.iteration == 3 else None)
        .run(batches, epochs=2)
    )
    resumed = make_loop().run(batches, epochs=2, resume_from=tmp_path / "ck")
    assert resumed.resumed_from == 2
    run = {"run_id": fresh.run_id, "label": "a"}
    assert options_loggers == [
        {**run, "purge_step": 1, "resume_mark": None},  # a fresh run: from step 1
        {**run, "purge_step": 1, "resume_mark": None},
        {**run, "purge_step": None, "resume_mark": {"logger": 0}},  # its own, not purge_step
        {**run, "purge_step": None, "resume_mark": {"logger": 1}},
    ]
    backend = OrbaxBackend(tmp_path / "ck")
    assert backend.metadata(2)["handler_metadata"]["log_marks"] == {
        'log_to:marks:{"label": "a"}': {"logger": 0},
        'log_to:marks:{"label": "a"}#2': {"logger": 1},
    }
    backend.close()

    options_loggers.clear()  # options given to log_to win: no mark, no purge_step
    trainer().log_to("marks", label="a", resume_mark=None).log_to("marks", label="a").checkpoint(
        tmp_path / "ck", event="iteration_completed", filter={"every": 2}
    ).run(batches, epochs=3, resume_from=tmp_path / "ck")
    assert options_loggers[0] == {**run, "purge_step": None, "resume_mark": None}


def test_options_given_to_log_to_win_over_the_loops(options_loggers):
    trainer().log_to("knows-runs", run_id="mine", purge_step=7).run(batches)
    assert options_loggers == [{"run_id": "mine", "purge_step": 7, "label": None}]


# -- the built-in loggers --------------------------------------------------------------------


def test_two_runs_into_one_logdir_get_a_version_directory_each(tmp_path):
    loop = trainer().log_to("tensorboard", logdir=tmp_path / "runs", every=1)
    first, second = loop.run(batches), loop.run(batches)
    versions = sorted(path.name for path in (tmp_path / "runs").iterdir())
    assert versions == ["version_0", "version_1"]
    for version, state in zip(versions, (first, second), strict=True):
        marker = json.loads((tmp_path / "runs" / version / "axon-run.json").read_text())
        assert marker == {"axon_run": state.run_id}
        assert tensorboard_steps(tmp_path / "runs" / version) == [1, 2, 3, 4]


def test_a_resumed_run_continues_its_own_logs_with_each_step_once(tmp_path):
    loop = logging_everything(trainer(), tmp_path).checkpoint(
        tmp_path / "ck", event="iteration_completed", filter={"every": 2}
    )
    with pytest.raises(KeyboardInterrupt):
        loop.handle_event("iteration_completed", crash_at(7)).run(batches, epochs=3)
    # the crashed run logged steps 1..7; its last checkpoint is at iteration 6
    resumed = loop.run(batches, epochs=3, resume_from=tmp_path / "ck")
    assert resumed.resumed_from == 6
    every_step = list(range(1, 3 * BATCHES_PER_EPOCH + 1))
    assert [path.name for path in (tmp_path / "runs").iterdir()] == ["version_0"]
    assert tensorboard_steps(tmp_path / "runs" / "version_0") == every_step
    assert jsonl_steps(tmp_path / "metrics.jsonl") == (resumed.run_id, every_step)
    assert csv_steps(tmp_path / "metrics.csv") == (resumed.run_id, every_step)


def test_a_restart_from_scratch_under_the_same_run_id_redoes_its_logs(tmp_path):
    loop = logging_everything(trainer(), tmp_path).handle_event(
        "started", adopt_run_id("run-a"), first=True
    )
    with pytest.raises(KeyboardInterrupt):  # dies before any checkpoint
        loop.handle_event("iteration_completed", crash_at(5)).run(batches, epochs=2)
    restarted = loop.run(batches, epochs=2)
    assert (restarted.run_id, restarted.resumed_from) == ("run-a", None)
    every_step = list(range(1, 2 * BATCHES_PER_EPOCH + 1))
    assert [path.name for path in (tmp_path / "runs").iterdir()] == ["version_0"]
    assert tensorboard_steps(tmp_path / "runs" / "version_0") == every_step
    assert jsonl_steps(tmp_path / "metrics.jsonl") == ("run-a", every_step)
    assert csv_steps(tmp_path / "metrics.csv") == ("run-a", every_step)


def test_tensorboard_shows_training_and_validation_on_one_chart_with_the_learning_rate(
    tmp_path, capsys
):
    sgd = optax.inject_hyperparams(optax.sgd)(learning_rate=0.05)
    (
        axon.loop.trainer(linear(), "mean_squared_error", sgd, log=0)
        .metric(lambda y_true, y_pred: jnp.float32(1.0), "flat")
        .validate(linear(), batches(7)[:2])
        .reduce_lr_on_plateau("flat", patience=1, factor=0.5)
        .log_to("tensorboard", logdir=tmp_path / "runs", every=2, histograms=2)
        .run(batches, epochs=3)
    )
    run_dir = tmp_path / "runs" / "version_0"
    assert sorted(path.name for path in run_dir.iterdir() if path.is_dir()) == [
        "train",
        "validation",
    ]
    assert read_events(run_dir).Tags()["scalars"] == []  # the run's own events: none of these
    train, validation = read_events(run_dir / "train"), read_events(run_dir / "validation")
    assert sorted(train.Tags()["scalars"]) == [
        "epoch/flat", "epoch/learning_rate", "epoch/loss",
        "train/flat", "train/learning_rate", "train/loss",
    ]  # fmt: skip
    assert sorted(validation.Tags()["scalars"]) == ["epoch/flat", "epoch/loss"]
    for events in (train, validation):
        assert [point.step for point in events.Scalars("epoch/loss")] == [4, 8, 12]
    # a point per log step; halved at the ends of epochs 1 and 2, after their records
    learning_rate = {p.step: p.value for p in train.Scalars("train/learning_rate")}
    expected = {2: 0.05, 4: 0.05, 6: 0.05, 8: 0.05, 10: 0.025, 12: 0.025}
    assert learning_rate == pytest.approx(expected)
    assert "learning rate 0.05 -> 0.025" in capsys.readouterr().out
    assert [point.step for point in train.Histograms("params/w")] == [8]
    assert validation.Tags()["histograms"] == []


@pytest.mark.parametrize("name", ["jsonl", "csv"])
def test_a_new_run_into_another_runs_file_log_fails_before_training(tmp_path, name):
    path = tmp_path / f"metrics.{name}"
    iterations = []
    loop = (
        trainer()
        .log_to(name, path=path, every=1)
        .handle_event("iteration_completed", lambda s: iterations.append(s.iteration))
    )
    first = loop.run(batches)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(LogExistsError, match=rf"holds the log of run '{first.run_id}'"):
        loop.run(batches)
    assert iterations == [1, 2, 3, 4]  # the second run never trained
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before

    second = trainer().log_to(name, path=path, every=1, overwrite=True).run(batches)
    steps = jsonl_steps(path) if name == "jsonl" else csv_steps(path)
    assert steps == (second.run_id, [1, 2, 3, 4])


def test_a_users_data_file_is_never_a_log(tmp_path):
    data = tmp_path / "data.jsonl"
    data.write_text('{"x": [1, 2], "y": 0}\n')
    loop = trainer().log_to("jsonl", path=data, overwrite=True)
    with pytest.raises(LogExistsError, match="is not a log of axon-loggers"):
        loop.run(batches)
    assert data.read_text() == '{"x": [1, 2], "y": 0}\n'


# -- a resumed run restores its logs to what they were at its checkpoint -------------------


class Killed(Exception):
    pass


def killed(state):
    raise Killed


def logs_of(folder):
    """``(JSON Lines text, CSV text, {(split, tag): [(step, value), ...]} of TensorBoard,
    {(split, tag): [(step, number of values), ...]} of its histograms)`` in ``folder``."""
    (run_dir,) = (folder / "runs").iterdir()
    scalars, histograms = {}, {}
    for split in sorted(path for path in run_dir.iterdir() if path.is_dir()):
        events = read_events(split)
        for tag in events.Tags()["scalars"]:
            scalars[split.name, tag] = [(e.step, e.value) for e in events.Scalars(tag)]
        for tag in events.Tags()["histograms"]:
            histograms[split.name, tag] = [
                (e.step, e.histogram_value.num) for e in events.Histograms(tag)
            ]
    jsonl = (folder / "metrics.jsonl").read_text().splitlines()[1:]  # less the run's header
    return jsonl, (folder / "metrics.csv").read_text(), scalars, histograms


def make_logged_loop(folder, checkpoint_options, checkpoint_first):
    def checkpoint(loop):
        return loop.checkpoint(folder / "ck", **checkpoint_options)

    # validation and a learning rate: records in both splits of the TensorBoard run
    sgd = optax.inject_hyperparams(optax.sgd)(learning_rate=0.05)
    loop = axon.loop.trainer(linear(), "mean_squared_error", sgd, log=0).validate(
        linear(), batches(7)[:2]
    )
    loop = loop.replace(output_transform=None)
    if checkpoint_first:  # then log_to's records at the checkpoint's step are logged after it
        loop = checkpoint(loop)
    loop = logging_everything(loop, folder)
    return loop if checkpoint_first else checkpoint(loop)


def every(iterations):
    return {"event": "iteration_completed", "filter": {"every": iterations}}


@pytest.mark.parametrize(
    ("checkpoint_options", "checkpoint_first", "kill", "resumed_from"),
    [
        # the checkpoint of an epoch's last iteration, then epoch/ logged at that same step
        (every(BATCHES_PER_EPOCH), False, ("epoch_completed", 1), 4),
        (every(BATCHES_PER_EPOCH), True, ("epoch_completed", 1), 4),
        # mid-epoch, right after a checkpoint
        (every(2), False, ("iteration_completed", 6), 6),
        # between two checkpoints
        (every(3), False, ("iteration_completed", 5), 3),
        # epoch checkpoints, log_to attached after them: its epoch/ records come after the save
        ({}, True, ("iteration_completed", 6), 4),
        ({}, True, ("epoch_completed", 2), 8),
    ],
    ids=[
        "epoch-end", "epoch-end-log_to-after", "after-a-checkpoint", "between-checkpoints",
        "log_to-after-epoch-checkpoint", "log_to-after-epoch-checkpoint-at-epoch-end",
    ],
)  # fmt: skip
def test_a_killed_and_resumed_run_logs_exactly_what_the_uninterrupted_run_logs(
    tmp_path, checkpoint_options, checkpoint_first, kill, resumed_from
):
    straight = make_logged_loop(tmp_path / "straight", checkpoint_options, checkpoint_first)
    straight.run(batches, epochs=3)

    folder = tmp_path / "killed"
    make = lambda: make_logged_loop(folder, checkpoint_options, checkpoint_first)  # noqa: E731
    with pytest.raises(Killed):
        make().handle_event(kill[0], killed, {"once": kill[1]}).run(
            batches, epochs=3, resume="auto"
        )
    resumed = make().run(batches, epochs=3, resume="auto")  # the same command again

    assert resumed.resumed_from == resumed_from
    jsonl, csv_text, scalars, histograms = logs_of(folder)
    assert (jsonl, csv_text, scalars, histograms) == logs_of(tmp_path / "straight")
    assert [step for step, _ in scalars["train", "train/loss"]] == list(range(1, 13))  # once each
    assert [step for step, _ in scalars["train", "train/learning_rate"]] == list(range(1, 13))
    for split in ("train", "validation"):
        assert [step for step, _ in scalars[split, "epoch/loss"]] == [4, 8, 12]
    assert [step for step, _ in histograms["train", "params/w"]] == [4, 8, 12]


def test_a_resume_that_falls_back_to_an_older_checkpoint_cuts_back_to_its_marks(tmp_path):
    options = every(2)
    make_logged_loop(tmp_path / "straight", options, False).run(batches, epochs=3)

    folder = tmp_path / "killed"
    with pytest.raises(Killed):
        make_logged_loop(folder, options, False).handle_event(
            "iteration_completed", killed, {"once": 7}
        ).run(batches, epochs=3, resume="auto")
    (folder / "ck" / "6" / "metadata" / "metadata").write_text("{damaged")  # the newest
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        resumed = make_logged_loop(folder, options, False).run(batches, epochs=3, resume="auto")
    assert resumed.resumed_from == 4
    assert any("skipped the damaged ones" in str(warning.message) for warning in caught)
    assert logs_of(folder) == logs_of(tmp_path / "straight")


# -- log_to("plot"): training and validation on one chart, each step once ---------------------


def plotting_trainer(path, **options):
    return (
        trainer()
        .validate(linear(), batches(99))
        .log_to("plot", path=path, metrics=["loss", "validation_loss"], every=1, **options)
    )


def points(path):
    """``(run id, {tag: [(step, value), ...]})`` of a plot's points, read from its log."""
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
