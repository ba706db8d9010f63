"""Fused mode (lax.scan over K iterations) and data parallelism over a device mesh."""

import jax
import numpy as np
import optax
import pytest

import axon.loop


def batches(epoch):
    x = np.random.default_rng(epoch).normal(size=(96, 3)).astype(np.float32)
    y = x @ np.array([[1.0], [-2.0], [0.5]], np.float32) + 0.3
    return [(x[i : i + 8], y[i : i + 8]) for i in range(0, 96, 8)]  # 12 per epoch


def run(linear, *, log_every=None, **options):
    seen = []
    loop = (
        axon.loop.trainer(linear, "mean_squared_error", optax.adam(1e-2), log=0)
        .metric("mean_absolute_error")
        .replace(output_transform=None)
    )
    if log_every:
        loop = loop.handle_event(
            "iteration_completed",
            lambda s: seen.append((s.iteration, s.metric_values())),
            {"every": log_every},
        )
    return loop.run(batches, epochs=2, **options), seen


@pytest.mark.parametrize("k", [2, 5, 12, 100])
def test_fused_mode_equals_single_steps(linear, k):
    single, seen_single = run(linear, log_every=5)
    fused, seen_fused = run(linear, log_every=5, steps_per_dispatch=k)
    np.testing.assert_allclose(
        fused.step_state["model_state"]["w"], single.step_state["model_state"]["w"], rtol=1e-6
    )
    assert [i for i, _ in seen_fused] == [i for i, _ in seen_single] == [5, 10, 15, 20]
    for (_, a), (_, b) in zip(seen_fused, seen_single, strict=True):
        assert a == pytest.approx(b, rel=1e-6)
    assert fused.event_counts == single.event_counts


def test_fused_blocks_stop_where_handlers_fire(linear):
    traces = []
    loop = axon.loop.trainer(linear, "mean_squared_error", optax.sgd(0.01), log=0)
    loop = loop.handle_event(
        "iteration_started", lambda s: traces.append(s.iteration), {"every": 7}
    )
    loop.run(batches, steps_per_dispatch=12)
    assert traces == [6]  # the 7th iteration started after exactly 6 completed


def test_an_opaque_filter_disables_fusion_around_it(linear):
    seen = []
    loop = axon.loop.trainer(linear, "mean_squared_error", optax.sgd(0.01), log=0).handle_event(
        "iteration_completed",
        lambda s: seen.append(s.iteration),
        lambda state, event: state.metrics is not None and state.iteration % 4 == 0,
    )
    loop.run(batches, steps_per_dispatch=6)
    assert seen == [4, 8, 12]


needs_four_devices = pytest.mark.skipif(
    len(jax.devices()) < 4, reason="needs XLA_FLAGS=--xla_force_host_platform_device_count=4"
)


@needs_four_devices
@pytest.mark.parametrize("k", [1, 3])
def test_data_parallel_on_four_devices_equals_one_device(linear, k):
    mesh = jax.make_mesh((4,), ("data",))
    single, _ = run(linear, steps_per_dispatch=k)
    parallel, _ = run(linear, steps_per_dispatch=k, mesh=mesh)
    weights = parallel.step_state["model_state"]["w"]
    assert len(weights.sharding.device_set) == 4
    np.testing.assert_allclose(weights, single.step_state["model_state"]["w"], rtol=1e-5)
    np.testing.assert_allclose(
        parallel.history[1]["mean_absolute_error"],
        single.history[1]["mean_absolute_error"],
        rtol=1e-5,
    )


@needs_four_devices
def test_a_batch_that_does_not_split_over_the_mesh_is_explained(linear):
    mesh = jax.make_mesh((4,), ("data",))
    odd = [(np.ones((6, 3), np.float32), np.ones((6, 1), np.float32))]
    loop = axon.loop.trainer(linear, "mean_squared_error", optax.sgd(0.1), log=0)
    with pytest.raises(ValueError, match="multiple of 4"):
        loop.run(odd, mesh=mesh)
    with pytest.raises(ValueError, match="batch_axis='batch'"):
        loop.run(odd, mesh=mesh, batch_axis="batch")
