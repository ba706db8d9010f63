"""Sharded parameters: ``run(sharding=...)``'s rules on the conftest's four devices, and the
eight-device cases (``sharded_cases.py``) in a process of their own."""

import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import optax
import pytest
from jax.sharding import PartitionSpec as P

import axon.loop


def test_eight_device_cases_pass_in_their_own_process():
    cases = Path(__file__).with_name("sharded_cases.py")
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=8"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--no-header", str(cases)],
        env=env, capture_output=True, text=True, timeout=600, cwd=cases.parent.parent,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert " passed" in result.stdout and "skipped" not in result.stdout


def run(linear, regression_batches, **options):
    trainer = axon.loop.trainer(linear, "mean_squared_error", optax.sgd(0.1), log=0)
    return trainer.replace(output_transform=None).run(regression_batches, **options)


def test_rules_name_parameters_by_path_and_the_first_match_wins(linear, regression_batches):
    mesh = jax.make_mesh((4,), ("data",))
    rules = {"w": P(None, None), "*": axon.loop.FSDP(min_size=0)}
    params = run(linear, regression_batches, mesh=mesh, sharding=rules).step_state["model_state"]
    assert params["w"].sharding.is_fully_replicated
    assert params["b"].sharding.is_fully_replicated  # shape (1,): no axis 4 divides


@pytest.mark.parametrize(
    ("sharding", "error", "match"),
    [
        ({"dense/*": P("data")}, ValueError, "'dense/\\*' matches no parameter path.*b, w"),
        ({"w": P("model")}, ValueError, "mesh axis 'model'.*axes \\('data',\\)"),
        (
            {"w": P("data")},
            ValueError,
            "'w' of shape \\(3, 1\\).*3 entries, not a multiple of the 4",
        ),
        ({"w": "tp"}, TypeError, "expected a PartitionSpec"),
        ("zero3", ValueError, "'replicated', 'fsdp'"),
    ],
)
def test_wrong_rules_are_explained(linear, regression_batches, sharding, error, match):
    with pytest.raises(error, match=match):
        run(linear, regression_batches, mesh=jax.make_mesh((4,), ("data",)), sharding=sharding)


def test_rules_need_a_mesh(linear, regression_batches):
    with pytest.raises(ValueError, match="pass mesh="):
        run(linear, regression_batches, sharding="fsdp")


def test_fsdp_shards_along_the_largest_divisible_axis():
    fsdp = axon.loop.FSDP("data", min_size=0)
    assert fsdp.spec((12, 8, 16), 4) == P(None, None, "data")
    assert fsdp.spec((8, 8), 4) == P("data", None)  # ties: the first
    assert fsdp.spec((6, 3), 4) == P()  # none divisible: replicated
    assert axon.loop.FSDP("data").spec((64, 64), 4) == P()  # below min_size: replicated
    assert np.prod((128, 128)) >= axon.loop.FSDP().min_size
