"""The walking skeleton: one path through all five packages, with the public API shape."""

import importlib.util
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import axon.loop
import axon.model
import axon.optim

ROOT = Path(__file__).resolve().parents[2]


def load_example(name, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "examples"))  # where its shared _cli.py lives
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_digits_example_reaches_95_percent_and_writes_logs_and_checkpoints(
    tmp_path, capsys, monkeypatch
):
    logdir, checkpoints = tmp_path / "runs", tmp_path / "checkpoints"
    accuracy = load_example("digits", monkeypatch).main(
        ["--logdir", str(logdir), "--checkpoints", str(checkpoints)]
    )
    output = capsys.readouterr().out
    assert accuracy >= 0.95
    assert "Epoch: 19, Batch: 45, loss:" in output and "validation_accuracy" in output
    assert "Total parameters: 9610" in output and f"Test accuracy: {accuracy:.4f}" in output

    train, validation = (
        EventAccumulator(str(logdir / "version_0" / split), size_guidance={"scalars": 0})
        for split in ("train", "validation")
    )
    train.Reload()
    validation.Reload()
    tags = {"train/loss", "train/accuracy", "train/learning_rate", "epoch/accuracy"}
    assert tags <= set(train.Tags()["scalars"])
    assert {"epoch/loss", "epoch/accuracy"} == set(validation.Tags()["scalars"])  # beside train's
    epoch_points = validation.Scalars("epoch/accuracy")
    assert [p.step for p in epoch_points] == [45 * (epoch + 1) for epoch in range(20)]
    assert epoch_points[-1].value >= 0.95

    steps = sorted(int(p.name) for p in checkpoints.iterdir() if p.name.isdigit())
    assert steps == [45 * 18, 45 * 19, 45 * 20]
    metadata = json.loads((checkpoints / "900" / "metadata" / "metadata").read_text())
    assert metadata["epoch"] == 19 and metadata["metrics"]["validation_accuracy"] >= 0.95


def test_the_issue_api_shape(digit_batches, tmp_path, capsys):
    model = (
        axon.model.input("input", shape=(None, 64))
        .dense(128, activation="relu")
        .dense(10, activation="softmax")
    )
    table = axon.model.display.as_table(model, jax.ShapeDtypeStruct((1, 64), jnp.float32))
    assert "softmax_0 (softmax)" in table
    _, predict_fn = axon.model.build(model)
    _, train_fn = axon.model.build(model, mode="train")
    state = (
        axon.loop.trainer(model, "categorical_cross_entropy", axon.optim.adam(1e-3))
        .metric("accuracy")
        .validate(model, digit_batches[:2])
        .log_to("tensorboard", logdir=tmp_path / "runs")
        .checkpoint(path=tmp_path / "checkpoints")
        .run(digit_batches, epochs=2)
    )
    assert isinstance(state, axon.model.ModelState)
    x = digit_batches[0][0]
    np.testing.assert_allclose(predict_fn(state, x), train_fn(state, x)[0], rtol=1e-6)
    assert "Epoch: 1, Batch: 8" in capsys.readouterr().out


def test_every_name_resolves_through_its_package(digit_batches, tmp_path):
    model = axon.model.input("input", shape=(None, 64)).dense(10, activation="softmax")
    state = (
        axon.loop.trainer(model, "categorical_cross_entropy", "adamw", log=0)
        .metric("accuracy")
        .log_to("jsonl", path=tmp_path / "metrics.jsonl", every=4)
        .checkpoint(path=tmp_path / "ck", backend="orbax")
        .replace(output_transform=None)
        .run(digit_batches, epochs=2)
    )
    header, *rows = [
        json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()
    ]
    assert header == {"axon_run": state.run_id}
    assert [row["step"] for row in rows] == [4, 8, 12, 16]
    assert rows[1]["epoch/accuracy"] == pytest.approx(float(state.history[0]["accuracy"]))


def test_a_loop_with_a_named_logger_runs_twice(digit_batches, tmp_path):
    model = axon.model.input("input", shape=(None, 64)).dense(10, activation="softmax")
    logdir = tmp_path / "runs"
    loop = axon.loop.trainer(model, "categorical_cross_entropy", "adam", log=0).log_to(
        "tensorboard", logdir=logdir, every=0
    )
    assert not logdir.exists()  # attaching a logger writes nothing; a run opens it
    loop.run(digit_batches)
    loop.run(digit_batches)
    # each run opened a logger of its own, which wrote a run directory of its own
    assert sorted(path.name for path in logdir.iterdir()) == ["version_0", "version_1"]


class TestBadInputIsExplained:
    def model(self):
        return axon.model.input("input", shape=(None, 64)).dense(10, activation="softmax")

    def test_unknown_names(self):
        model = self.model()
        with pytest.raises(LookupError, match="Did you mean 'categorical_cross_entropy'"):
            axon.loop.trainer(model, "categorical_crossentropy", "adam")
        with pytest.raises(LookupError, match="Did you mean 'adam'"):
            axon.loop.trainer(model, "categorical_cross_entropy", "adma")
        loop = axon.loop.trainer(model, "categorical_cross_entropy", "adam")
        with pytest.raises(LookupError, match="Did you mean 'accuracy'"):
            loop.metric("acurracy")
        with pytest.raises(LookupError, match="Did you mean 'tensorboard'"):
            loop.log_to("tensorbord", logdir="unused")

    def test_wrong_input_shape_during_training(self, digit_batches):
        loop = axon.loop.trainer(self.model(), "categorical_cross_entropy", "adam", log=0)
        bad = [(x[:, :63], y) for x, y in digit_batches]
        with pytest.raises(axon.model.InputError) as error:
            loop.run(bad)
        message = str(error.value)
        assert "Input 'input'" in message and "(None, 64)" in message and "(64, 63)" in message
        assert "Traced" not in message

    def test_empty_dataset(self):
        loop = axon.loop.trainer(self.model(), "categorical_cross_entropy", "adam", log=0)
        with pytest.raises(axon.loop.EmptyDataError, match="no batches"):
            loop.run([])
