"""Sharded training on eight CPU devices; run by ``test_loop_sharding.py`` in a process of its
own (``XLA_FLAGS=--xla_force_host_platform_device_count=8`` must be set before JAX starts)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.sharding import PartitionSpec as P

import axon.loop

FSDP = axon.loop.FSDP(min_size=0)  # shard even these tiny kernels


def init(key, x):
    k0, k1 = jax.random.split(key)
    return {
        "dense_0": {"kernel": jax.random.normal(k0, (16, 64)) * 0.3, "bias": jnp.zeros(64)},
        "dense_1": {"kernel": jax.random.normal(k1, (64, 8)) * 0.3, "bias": jnp.zeros(8)},
    }


def apply(params, x, *, mode, key):
    hidden = jnp.tanh(x @ params["dense_0"]["kernel"] + params["dense_0"]["bias"])
    return hidden @ params["dense_1"]["kernel"] + params["dense_1"]["bias"], None


@pytest.fixture(scope="module")
def data():
    x = np.random.default_rng(0).normal(size=(256, 16)).astype(np.float32) * 30.0  # far from 1
    y = np.sin(x[:, :8] / 30.0).astype(np.float32) * 100.0
    return [(x[i : i + 32], y[i : i + 32]) for i in range(0, 256, 32)]


def trainer():
    loop = axon.loop.trainer((init, apply), "mean_squared_error", optax.adam(1e-3), log=0)
    return loop.replace(output_transform=None)


def mesh(n, *axes, shape=None):
    devices = np.array(jax.devices()[:n]).reshape(shape or (n,))
    return jax.sharding.Mesh(devices, axes or ("data",))


@pytest.fixture(scope="module")
def replicated(data):
    return trainer().run(data, epochs=3, mesh=mesh(8))


def test_eight_devices():
    assert jax.device_count() == 8


def test_fsdp_trains_like_replicated_with_every_parameter_split(data, replicated):
    state = trainer().run(data, epochs=3, mesh=mesh(8), sharding=FSDP)
    np.testing.assert_allclose(state.metrics["loss"], replicated.metrics["loss"], rtol=1e-5)
    params, adam = state.step_state["model_state"], state.step_state["optimizer_state"][0]
    kernel = params["dense_0"]["kernel"]
    assert kernel.sharding.spec == P(None, "data")  # 64 is the largest axis 8 divides
    assert {s.data.shape for s in kernel.addressable_shards} == {(16, 8)}
    assert {s.data.shape for s in params["dense_1"]["kernel"].addressable_shards} == {(8, 8)}
    for moment in (adam.mu, adam.nu):  # optimizer state follows its parameter
        assert moment["dense_0"]["kernel"].sharding.spec == kernel.sharding.spec
    assert state.step_state["optimizer_state"][0].count.sharding.is_fully_replicated
    assert all(v.sharding.is_fully_replicated for v in state.metric_state["values"].values())
    for ours, theirs in zip(
        *map(jax.tree_util.tree_leaves, (params, replicated.step_state["model_state"])), strict=True
    ):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)


def test_tensor_parallel_kernels_over_a_model_axis(data, replicated):
    rules = {"dense_0/kernel": P(None, "model"), "dense_1/kernel": P("model", None), "*": None}
    state = trainer().run(
        data, epochs=3, mesh=mesh(8, "data", "model", shape=(2, 4)), sharding=rules
    )
    np.testing.assert_allclose(state.metrics["loss"], replicated.metrics["loss"], rtol=1e-5)
    params = state.step_state["model_state"]
    assert {s.data.shape for s in params["dense_0"]["kernel"].addressable_shards} == {(16, 16)}
    assert {s.data.shape for s in params["dense_1"]["kernel"].addressable_shards} == {(16, 8)}
    assert params["dense_0"]["bias"].sharding.is_fully_replicated


def test_resume_onto_another_mesh_8_to_4_to_1(data, tmp_path):
    """Saved as FSDP over 8 devices, resumed over 4, then on 1 device without rules.

    The restored state is the saved one bit for bit; the steps after it sum the
    per-device partial gradients in another order on another mesh, so the run is close
    to the uninterrupted one, not identical (bound: rtol 1e-5 on parameters)."""
    uninterrupted = trainer().run(data, epochs=3, mesh=mesh(8), sharding=FSDP)
    eight, four = tmp_path / "eight", tmp_path / "four"
    saved = trainer().checkpoint(eight).run(data, epochs=1, mesh=mesh(8), sharding=FSDP)
    state = (
        trainer()
        .checkpoint(four)
        .run(data, epochs=2, mesh=mesh(4), sharding=FSDP, resume_from=eight)
    )
    assert state.resumed_from == saved.iteration
    assert {
        s.data.shape
        for s in state.step_state["model_state"]["dense_0"]["kernel"].addressable_shards
    } == {(16, 16)}
    final = trainer().run(data, epochs=3, resume_from=four)
    assert final.iteration == uninterrupted.iteration
    for ours, theirs in zip(
        *(jax.tree_util.tree_leaves(s.step_state["model_state"]) for s in (final, uninterrupted)),
        strict=True,
    ):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_resume_on_the_same_mesh_is_bitwise(data, tmp_path):
    uninterrupted = trainer().run(data, epochs=2, mesh=mesh(8), sharding=FSDP)
    trainer().checkpoint(tmp_path).run(data, epochs=1, mesh=mesh(8), sharding=FSDP)
    resumed = trainer().run(data, epochs=2, mesh=mesh(8), sharding=FSDP, resume_from=tmp_path)
    jax.tree_util.tree_map(
        np.testing.assert_array_equal, resumed.step_state, uninterrupted.step_state
    )
