"""The plot logger: charts of chosen metrics in a PNG or SVG file and live in Jupyter, drawn
from a JSON Lines log of the points that follows the run rules of every file log."""

from __future__ import annotations

import json
import subprocess
import sys
import types
import xml.etree.ElementTree as ElementTree

import numpy as np
import pytest
from PIL import Image

import axon.loggers
import axon.loggers._backends as backends
from axon.loggers import LogExistsError, LogMarkError, PlotLogger
from axon.loggers._backends import charts as charts_module
from axon.loggers._backends import figures

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SVG = "{http://www.w3.org/2000/svg}"


class Killed(Exception):
    pass


def sidecar(path):
    """``(run id, [record, ...])`` of the points' log beside the image ``path``."""
    header, *records = [json.loads(line) for line in path.with_name(path.name + ".jsonl").open()]
    return header["axon_run"], records


def png_size(path):
    assert path.read_bytes().startswith(PNG_SIGNATURE)
    with Image.open(path) as image:
        image.verify()  # a whole, valid PNG
    with Image.open(path) as image:
        return image.size


def epochs(logger, first, last, loss=lambda step: 1.0 / step):
    """What axon-loop logs for epochs of 2 iterations from ``first`` to ``last``, inclusive."""
    for step in range(first, last + 1):
        logger.log_scalars({"train/loss": loss(step), "train/accuracy": 0.5}, step)
        if step % 2 == 0:
            logger.log_scalars({"epoch/loss": loss(step), "epoch/accuracy": 0.5}, step)
            logger.log_scalars({"epoch/validation_loss": 2 * loss(step)}, step)


# -- what it draws ----------------------------------------------------------------------------


def test_a_png_shows_training_and_validation_of_a_metric_on_one_chart(tmp_path):
    path = tmp_path / "plots" / "loss.png"
    with PlotLogger(path, metrics=["loss", "validation_loss"], run_id="run-a") as logger:
        epochs(logger, 1, 4)
    assert png_size(path) == (600, 400)  # one chart of 6 x 4 inches at 100 dpi
    losses = [1.0, 0.5, 1 / 3, 0.25]
    assert logger.plotted == {
        "loss": {
            "train/loss": list(zip(range(1, 5), losses, strict=True)),
            "epoch/loss": [(2, 0.5), (4, 0.25)],
            "epoch/validation_loss": [(2, 1.0), (4, 0.5)],
        }
    }
    run, records = sidecar(path)  # every scalar is kept, also those not drawn
    assert run == "run-a"
    assert records[1] == {
        "step": 2,
        "train/loss": 0.5,
        "train/accuracy": 0.5,
        "epoch/loss": 0.5,
        "epoch/accuracy": 0.5,
        "epoch/validation_loss": 1.0,
    }


def test_the_figure_holds_the_series_of_each_chart(tmp_path):
    points = {
        "train/loss": ([1, 2], [1.0, 0.5]),
        "train/accuracy": ([1, 2], [0.25, 0.5]),
        "epoch/val_loss": ([2], [0.75]),
        "train/lr": ([1, 2], [0.1, 0.1]),
    }
    figure = figures.draw(
        charts_module.charts(points, ("loss", "accuracy", "f1")), size=(4.0, 3.0), dpi=50
    )
    assert (figure.get_figwidth(), figure.get_figheight()) == (8.0, 6.0)  # 2 x 2 charts
    loss, accuracy, f1, unused = figure.axes
    assert [axes.get_title() for axes in (loss, accuracy, f1)] == ["loss", "accuracy", "f1"]
    lines = {line.get_label(): line for line in loss.get_lines()}
    assert list(lines) == ["train/loss", "epoch/val_loss"]
    assert list(lines["train/loss"].get_xdata()) == [1, 2]
    assert list(lines["epoch/val_loss"].get_ydata()) == [0.75]
    assert (lines["train/loss"].get_linestyle(), lines["epoch/val_loss"].get_linestyle()) == (
        "-",
        "--",
    )
    assert [line.get_label() for line in accuracy.get_lines()] == ["train/accuracy"]
    assert [text.get_text() for text in f1.texts] == ["no f1 logged yet"]
    assert not unused.axison


def test_every_metric_is_drawn_when_none_are_chosen(tmp_path):
    path = tmp_path / "all.png"
    with PlotLogger(path) as logger:
        epochs(logger, 1, 2)
        logger.log_scalars({"train/learning_rate": 0.1}, step=2)
    assert list(logger.plotted) == ["loss", "accuracy", "learning_rate"]
    assert png_size(path) == (1200, 800)  # two rows of two charts


def test_an_svg_is_valid_names_its_curves_and_is_reproducible(tmp_path):
    path = tmp_path / "curves.svg"
    with PlotLogger(path, metrics="loss", size=(5, 3), run_id="run-a") as logger:
        epochs(logger, 1, 4)
    root = ElementTree.parse(path).getroot()
    assert root.tag == f"{SVG}svg"
    assert (root.get("width"), root.get("height")) == ("360pt", "216pt")  # 5 x 3 inches
    groups = {element.get("id") for element in root.iter(f"{SVG}g")}
    assert {"train/loss", "epoch/loss", "epoch/validation_loss"} <= groups
    drawn = path.read_bytes()
    PlotLogger(path, metrics="loss", size=(5, 3), run_id="run-a").close()  # drawn again
    assert path.read_bytes() == drawn


def test_a_chart_of_a_metric_never_logged_is_empty_with_a_warning(tmp_path):
    logger = PlotLogger(tmp_path / "plot.png", metrics=["loss", "acuracy"])
    logger.log_scalars({"train/loss": 0.5, "train/accuracy": 0.5}, step=1)
    with pytest.warns(RuntimeWarning, match=r"nothing was logged for the metrics \['acuracy'\]"):
        logger.close()
    assert logger.plotted["acuracy"] == {}
    assert png_size(tmp_path / "plot.png") == (1200, 400)


def test_an_image_is_written_when_the_run_fails(tmp_path):
    path = tmp_path / "loss.png"
    with pytest.raises(Killed), PlotLogger(path, refresh_secs=3600) as logger:
        logger.log_scalars({"loss": 0.5}, step=1)
        logger.log_scalars({"loss": 0.25}, step=2)
        drawn = path.read_bytes()  # the first point is drawn at once
        raise Killed
    assert path.read_bytes() != drawn  # close() drew both points
    assert logger.plotted == {"loss": {"loss": [(1, 0.5), (2, 0.25)]}}


def test_non_finite_values_are_kept_and_read_back(tmp_path):
    path = tmp_path / "loss.png"
    with pytest.warns(RuntimeWarning) as warned, PlotLogger(path, run_id="a") as logger:
        logger.log_scalars({"loss": float("nan")}, step=1)
        logger.log_scalars({"loss": 0.5}, step=2)
    assert [str(w.message).split(" This")[0] for w in warned] == [
        "PlotLogger: Scalar 'loss' is nan at step 1; it is logged as it is."
    ]  # once, under its own name
    with PlotLogger(path, run_id="a") as again:
        (nan, half) = again.plotted["loss"]["loss"]
    assert np.isnan(nan[1]) and half == (2, 0.5)


# -- live in Jupyter ----------------------------------------------------------------------------


class FakeDisplay:
    """The parts of IPython.display the logger uses: what it shows and updates."""

    def __init__(self):
        self.shown = []  # ("display" | "update", png bytes)

    def Image(self, data, format):  # IPython's name
        assert format == "png" and data.startswith(PNG_SIGNATURE)
        return data

    def display(self, image, display_id):
        assert display_id is True
        self.shown.append(("display", image))
        return types.SimpleNamespace(update=lambda image: self.shown.append(("update", image)))


@pytest.fixture
def jupyter(monkeypatch):
    """A Jupyter kernel, as far as the logger can tell; yields what it displays."""
    fake = FakeDisplay()
    shell = types.SimpleNamespace(kernel=object())
    ipython = types.ModuleType("IPython")
    ipython.get_ipython = lambda: shell
    display = types.ModuleType("IPython.display")
    display.Image, display.display = fake.Image, fake.display
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", display)
    return fake


def test_in_jupyter_the_plot_is_shown_once_and_updated_in_place(jupyter):
    with PlotLogger(metrics=["loss"], refresh_secs=0) as logger:  # no path: shown only
        for step in (1, 2, 3):
            logger.log_scalars({"train/loss": 1 / step}, step)
    assert [kind for kind, _ in jupyter.shown] == ["display", "update", "update"]
    assert len({png for _, png in jupyter.shown}) == 3  # each a new drawing; none on close
    assert logger.mark() == {"run_id": logger.run_id}  # nothing to cut
    assert logger.path is None and logger.data_path is None


def test_redraws_are_throttled_by_time_and_the_last_comes_on_close(jupyter, tmp_path):
    path = tmp_path / "loss.png"
    logger = PlotLogger(path, refresh_secs=3600)
    for step in range(1, 20):
        logger.log_scalars({"loss": 1 / step}, step)
        logger.flush()
    assert [kind for kind, _ in jupyter.shown] == ["display"]  # the first point, at once
    assert jupyter.shown[0][1] == path.read_bytes()  # the file is the same drawing
    logger.close()
    assert [kind for kind, _ in jupyter.shown] == ["display", "update"]
    assert jupyter.shown[1][1] == path.read_bytes()


def test_live_false_in_jupyter_only_writes_the_file(jupyter, tmp_path):
    with PlotLogger(tmp_path / "loss.png", live=False) as logger:
        logger.log_scalars({"loss": 0.5}, step=1)
    assert jupyter.shown == []
    assert png_size(tmp_path / "loss.png") == (600, 400)


def test_outside_jupyter_a_path_is_needed():
    with pytest.raises(ValueError, match="PlotLogger needs path="):
        PlotLogger(metrics=["loss"])


def test_live_without_ipython_names_what_is_missing(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "IPython.display", None)
    with pytest.raises(ImportError, match="live=True shows the plot in a Jupyter notebook"):
        PlotLogger(tmp_path / "loss.png", live=True)


# -- matplotlib is optional -----------------------------------------------------------------


def test_import_axon_loggers_does_not_import_matplotlib():
    check = (
        "import sys, axon.loggers\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'IPython')))"
    )
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_without_matplotlib_the_error_names_the_extra(monkeypatch, tmp_path):
    for name in [n for n in sys.modules if n.partition(".")[0] == "matplotlib"] + ["matplotlib"]:
        monkeypatch.setitem(sys.modules, name, None)  # as if it were not installed
    monkeypatch.delitem(sys.modules, "axon.loggers._backends.figures", raising=False)
    monkeypatch.delattr(backends, "figures", raising=False)
    with pytest.raises(ImportError, match=r"pip install 'axon-loggers\[plot\]'"):
        axon.loggers.create("plot", path=tmp_path / "loss.png")
    assert list(tmp_path.iterdir()) == []


# -- one plot, one run ------------------------------------------------------------------------


def test_a_resumed_run_plots_each_step_once(tmp_path):
    path = tmp_path / "loss.png"
    with PlotLogger(path, metrics=["loss"], run_id="run-a") as killed:
        epochs(killed, 1, 4, loss=lambda step: -step)
        mark = killed.mark()  # the checkpoint of iteration 4, after its epoch's records
        epochs(killed, 5, 5, loss=lambda step: -step)
    with PlotLogger(path, metrics=["loss"], run_id="run-a", resume_mark=mark) as resumed:
        assert resumed.plotted["loss"]["train/loss"] == [(s, -s) for s in range(1, 5)]
        epochs(resumed, 5, 6, loss=float)
    plotted = resumed.plotted["loss"]
    assert plotted["train/loss"] == [(1, -1), (2, -2), (3, -3), (4, -4), (5, 5.0), (6, 6.0)]
    assert plotted["epoch/validation_loss"] == [(2, -4), (4, -8), (6, 12.0)]
    _, records = sidecar(path)
    assert [record["step"] for record in records] == list(range(1, 7))


def test_purge_step_drops_the_points_the_run_logs_again(tmp_path):
    path = tmp_path / "loss.png"
    with PlotLogger(path, run_id="run-a") as first:
        for step in range(1, 6):
            first.log_scalars({"loss": -step}, step)
    with PlotLogger(path, run_id="run-a", purge_step=3) as resumed:
        for step in range(3, 5):
            resumed.log_scalars({"loss": step}, step)
    assert resumed.plotted == {"loss": {"loss": [(1, -1), (2, -2), (3, 3), (4, 4)]}}


def test_another_runs_plot_is_refused_and_left_as_it_was(tmp_path):
    path = tmp_path / "loss.png"
    with PlotLogger(path, run_id="run-a") as first:
        first.log_scalars({"loss": 0.5}, step=1)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(LogExistsError, match=r"plot data file .* holds the log of run 'run-a'"):
        PlotLogger(path, run_id="run-b")
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before

    with PlotLogger(path, run_id="run-b", overwrite=True) as second:
        second.log_scalars({"loss": 0.25}, step=1)
    assert sidecar(path) == ("run-b", [{"step": 1, "loss": 0.25}])
    assert second.plotted == {"loss": {"loss": [(1, 0.25)]}}


@pytest.mark.parametrize("options", [{}, {"overwrite": True}], ids=str)
def test_an_image_without_its_points_is_no_plot_and_is_never_replaced(tmp_path, options):
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"my own picture")
    with pytest.raises(LogExistsError, match=r"no plot data file 'photo\.png\.jsonl' beside it"):
        PlotLogger(photo, **options)
    assert [p.name for p in tmp_path.iterdir()] == ["photo.png"]
    assert photo.read_bytes() == b"my own picture"


def test_a_mark_that_does_not_fit_is_refused(tmp_path):
    path = tmp_path / "loss.png"
    with PlotLogger(path, run_id="run-a") as first:
        first.log_scalars({"loss": 0.5}, step=1)
        mark = first.mark()
    with pytest.raises(TypeError, match=r"PlotLogger\.mark\(\) returned"):
        PlotLogger(path, run_id="run-a", resume_mark={"run_id": "run-a"})
    with pytest.raises(LogMarkError, match="fewer than the"):
        PlotLogger(path, run_id="run-a", resume_mark={**mark, "size": mark["size"] + 10})


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"path": "loss.jpg"}, ValueError, r"a \.png or \.svg file"),
        ({"metrics": ["train/loss"]}, ValueError, "no '/'"),
        ({"metrics": []}, ValueError, "at least one metric"),
        ({"metrics": ["loss", 1]}, TypeError, "metrics must be strings"),
        ({"refresh_secs": -1}, ValueError, "refresh_secs must be a finite number >= 0"),
        ({"dpi": "high"}, TypeError, "dpi must be a number"),
        ({"size": (6, 0)}, ValueError, "height must be a finite number > 0"),
        ({"live": "yes"}, TypeError, "live must be True, False or None"),
        ({"purge_step": 3}, ValueError, "needs run_id="),
        ({"run_id": 7}, TypeError, "run_id must be a string"),
    ],
)
def test_bad_options_are_rejected_before_anything_is_created(tmp_path, options, error, match):
    options = {"path": "loss.png", **options}
    with pytest.raises(error, match=match):
        PlotLogger(tmp_path / "plots" / options.pop("path"), **options)
    assert list(tmp_path.iterdir()) == []


# -- which tags a chart shows ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "metric"),
    [
        ("train/loss", ("loss", False)),
        ("epoch/validation_loss", ("loss", True)),
        ("val_accuracy", ("accuracy", True)),
        ("validation/loss", ("loss", True)),
        ("loss", ("loss", False)),
        ("validation_", ("validation_", False)),
    ],
)
def test_a_tag_names_its_metric_by_its_last_component(tag, metric):
    assert charts_module.metric_of(tag) == metric


def test_a_metric_and_its_validation_twin_choose_one_chart():
    assert charts_module.as_metrics(["loss", "validation_loss", "accuracy"]) == (
        "loss",
        "accuracy",
    )
    assert charts_module.as_metrics("loss") == ("loss",)
    assert charts_module.as_metrics(None) is None
