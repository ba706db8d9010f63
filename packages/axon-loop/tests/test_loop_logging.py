"""What log_to sends: the learning rate with the training metrics, training and validation
metrics to the splits of a logger that has them (flat names to one that has not),
histograms of the parameters; and reduce_lr_on_plateau's report of each change."""

import jax.numpy as jnp
import numpy as np
import optax
import pytest

import axon.loop


class Recorder:
    """A logger object: keeps ``(step, scalars)`` and ``(step, histogram tag)``."""

    def __init__(self):
        self.scalars, self.histograms = [], []

    def log_scalars(self, scalars, step):
        self.scalars.append((step, dict(scalars)))

    def log_histogram(self, tag, values, step):
        self.histograms.append((step, tag))

    def flush(self):
        pass

    def close(self):
        pass

    def tags(self):
        return {tag for _, scalars in self.scalars for tag in scalars}


class SplitRecorder(Recorder):
    """A logger object with splits, as the TensorBoard logger has them."""

    def __init__(self):
        super().__init__()
        self.splits = {}

    def split(self, name):
        return self.splits.setdefault(name, Recorder())


def injected_sgd(learning_rate=0.1):
    return optax.inject_hyperparams(optax.sgd)(learning_rate=learning_rate)


def flat_metric(loop):
    """``loop`` with a metric that never improves after its first epoch."""
    return loop.metric(lambda y_true, y_pred: jnp.float32(1.0), "flat")


def test_the_learning_rate_is_logged_with_the_training_metrics(linear, regression_batches):
    logger = Recorder()
    loop = axon.loop.trainer(linear, "mean_squared_error", injected_sgd(), log=0)
    loop = flat_metric(loop).reduce_lr_on_plateau("flat", patience=1, factor=0.5, verbose=False)
    loop.log_to(logger, every=2).run(regression_batches, epochs=3)
    rates = {(step, tag): scalars[tag] for step, scalars in logger.scalars for tag in scalars}
    assert logger.tags() == {
        "train/loss", "train/flat", "train/learning_rate",
        "epoch/loss", "epoch/flat", "epoch/learning_rate",
    }  # fmt: skip
    # epoch 0 at 0.1; each later epoch end halves it, after that epoch's records were logged
    lr = {step: rates[step, "train/learning_rate"] for step in (2, 4, 6, 8, 10, 12)}
    assert lr == pytest.approx({2: 0.1, 4: 0.1, 6: 0.1, 8: 0.1, 10: 0.05, 12: 0.05})
    epoch_lr = [rates[step, "epoch/learning_rate"] for step in (4, 8, 12)]
    assert epoch_lr == pytest.approx([0.1, 0.1, 0.05])


def test_several_learning_rates_are_numbered(linear, regression_batches):
    two_groups = optax.multi_transform(
        {"w": injected_sgd(0.1), "b": injected_sgd(0.01)}, {"w": "w", "b": "b"}
    )
    logger = Recorder()
    axon.loop.trainer(linear, "mean_squared_error", two_groups, log=0).log_to(logger, every=0).run(
        regression_batches
    )
    ((step, scalars),) = logger.scalars
    assert step == 4
    assert scalars["epoch/learning_rate_0"] == pytest.approx(0.01)  # "b", in tree order
    assert scalars["epoch/learning_rate_1"] == pytest.approx(0.1)


def test_an_optimizer_without_an_injected_learning_rate_logs_none(linear, regression_batches):
    logger = Recorder()
    axon.loop.trainer(linear, "mean_squared_error", optax.sgd(0.1), log=0).log_to(
        logger, every=1
    ).run(regression_batches)
    assert logger.tags() == {"train/loss", "epoch/loss"}


def test_a_logger_with_splits_gets_training_and_validation_under_the_same_tags(
    linear, regression_batches
):
    split, flat = SplitRecorder(), Recorder()
    (
        axon.loop.trainer(linear, "mean_squared_error", injected_sgd(), log=0)
        .metric("mean_absolute_error", "mae")
        .validate(linear, regression_batches[:1])
        .log_to(split, every=2)
        .log_to(flat, every=2)
        .run(regression_batches, epochs=2)
    )
    train, validation = split.splits["train"], split.splits["validation"]
    assert split.scalars == []  # everything went to the splits
    assert [step for step, _ in train.scalars] == [2, 4, 4, 6, 8, 8]
    assert train.tags() == {
        "train/loss", "train/mae", "train/learning_rate",
        "epoch/loss", "epoch/mae", "epoch/learning_rate",
    }  # fmt: skip
    assert validation.scalars == [
        (4, {"epoch/loss": pytest.approx(flat.scalars[2][1]["epoch/validation_loss"]),
             "epoch/mae": pytest.approx(flat.scalars[2][1]["epoch/validation_mae"])}),
        (8, {"epoch/loss": pytest.approx(flat.scalars[5][1]["epoch/validation_loss"]),
             "epoch/mae": pytest.approx(flat.scalars[5][1]["epoch/validation_mae"])}),
    ]  # fmt: skip
    # a logger without splits: one stream, the validation metrics under their own names
    assert flat.scalars[2][1].keys() == {
        "epoch/loss", "epoch/mae", "epoch/learning_rate",
        "epoch/validation_loss", "epoch/validation_mae",
    }  # fmt: skip


def test_histograms_of_the_parameters_every_n_epochs(linear, regression_batches):
    pytest.importorskip("axon.loggers")  # log_histograms walks the parameters
    split, flat = SplitRecorder(), Recorder()
    (
        axon.loop.trainer(linear, "mean_squared_error", optax.sgd(0.01), log=0)
        .log_to(split, every=0, histograms=2)
        .log_to(flat, every=0, histograms=1)
        .run(regression_batches, epochs=4)
    )
    assert split.splits["train"].histograms == [
        (8, "params/b"), (8, "params/w"), (16, "params/b"), (16, "params/w"),
    ]  # fmt: skip
    assert [step for step, _ in flat.histograms] == [4, 4, 8, 8, 12, 12, 16, 16]


@pytest.mark.parametrize("histograms", [-1, 1.5, True])
def test_histograms_must_be_a_count_of_epochs(histograms):
    with pytest.raises(ValueError, match="histograms must be"):
        axon.loop.loop(lambda batch, state: state).log_to(Recorder(), histograms=histograms)


def test_reduce_lr_on_plateau_reports_each_change(linear, regression_batches, capsys):
    loop = axon.loop.trainer(linear, "mean_squared_error", injected_sgd(), log=0)
    reducing = flat_metric(loop).reduce_lr_on_plateau(
        "flat", patience=2, factor=0.5, min_learning_rate=0.04
    )
    state = reducing.replace(output_transform=None).run(regression_batches, epochs=7)
    assert capsys.readouterr().out.splitlines() == [
        "Epoch 2: reduce_lr_on_plateau: learning rate 0.1 -> 0.05 (flat stalled for 2 epochs).",
        "Epoch 4: reduce_lr_on_plateau: learning rate 0.05 -> 0.04 (flat stalled for 2 epochs).",
    ]  # at epoch 6 it is at min_learning_rate already: no change, nothing said
    reductions = state.handler_metadata["learning_rate_reductions"]
    assert [r["iteration"] for r in reductions] == [12, 20, 28]
    assert np.allclose([r["learning_rate"][0] for r in reductions], [0.05, 0.04, 0.04])

    flat_metric(loop).reduce_lr_on_plateau("flat", patience=1, verbose=False).run(
        regression_batches, epochs=3
    )
    assert capsys.readouterr().out == ""
