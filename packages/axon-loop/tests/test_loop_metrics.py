"""Metrics accumulate on the device, per epoch, as running averages or sums."""

import jax.numpy as jnp
import numpy as np
import pytest

import axon.loop


def metric_loop():
    # step state = (y_true, y_pred) straight from the batch
    return axon.loop.loop(
        lambda batch, s: {"y_true": batch[0], "y_pred": batch[1]},
        lambda batch, init: {
            "y_true": jnp.zeros_like(batch[0]),
            "y_pred": jnp.zeros_like(batch[1]),
        },
    )


RNG = np.random.default_rng(1)
DATA = [(RNG.normal(size=(4, 2)).astype(np.float32), RNG.normal(size=(4, 2)).astype(np.float32))
        for _ in range(5)]  # fmt: skip
MAES = [np.abs(t - p).mean() for t, p in DATA]


def test_running_average_and_sum_by_name_and_function():
    state = (
        metric_loop()
        .metric("mean_absolute_error", "mae")
        .metric("mean_absolute_error", "mae_sum", accumulate="running_sum")
        .metric(
            lambda t, p: jnp.max(jnp.abs(t - p)),
            "max_error",
            accumulate=lambda a, v, i: jnp.maximum(a, v),
        )
        .run(DATA)
    )
    values = state.metric_values()
    assert list(values) == ["mae", "mae_sum", "max_error"]
    assert values["mae"] == pytest.approx(np.mean(MAES), rel=1e-5)
    assert values["mae_sum"] == pytest.approx(np.sum(MAES), rel=1e-5)
    assert values["max_error"] == pytest.approx(max(np.abs(t - p).max() for t, p in DATA), rel=1e-6)


def test_metrics_reset_every_epoch_and_history_keeps_each_epoch():
    data = DATA[:2]
    state = metric_loop().metric("mean_absolute_error").run(data, epochs=3)
    assert sorted(state.history) == [0, 1, 2]
    for epoch_metrics in state.history.values():
        assert float(epoch_metrics["mean_absolute_error"]) == pytest.approx(
            np.mean(MAES[:2]), rel=1e-5
        )


def test_custom_transform_selects_metric_arguments():
    state = (
        metric_loop()
        .metric(lambda p: jnp.mean(p), "mean_prediction", transform=lambda s: (s["y_pred"],))
        .run(DATA[:1])
    )
    assert state.metric_values()["mean_prediction"] == pytest.approx(DATA[0][1].mean(), rel=1e-5)


def test_metric_errors():
    with pytest.raises(LookupError, match="Did you mean 'accuracy'"):
        metric_loop().metric("acuracy")
    with pytest.raises(ValueError, match="name="):
        metric_loop().metric(lambda t, p: t)
    with pytest.raises(ValueError, match="accumulate"):
        metric_loop().metric("accuracy", accumulate="median")
    with pytest.warns(UserWarning, match="attached twice"):
        metric_loop().metric("accuracy").metric("accuracy")
    loop = axon.loop.loop(lambda b, s: s, lambda b, i: jnp.float32(0)).metric("accuracy")
    with pytest.raises(KeyError, match="transform="):
        loop.run(DATA[:1])


def test_non_scalar_metrics_are_shown_but_not_logged_as_scalars(recording_logger):
    import io

    from axon.loop.handlers import log_progress

    loop = metric_loop().metric(lambda t, p: jnp.abs(t - p).mean(0), "per_column_error")
    out = io.StringIO()
    state = log_progress(
        loop.log_to(recording_logger, every=1), every=1, stream=out, bar=False
    ).run(DATA)
    assert state.metric_values()["per_column_error"].shape == (2,)
    assert "per_column_error: [" in out.getvalue()
    assert all("per_column_error" not in str(tags) for _, tags in recording_logger.scalars)
