"""Sharded arrays in orbax checkpoints: stored shard by shard, read back onto any sharding
bit for bit, verified by a checksum that does not depend on the sharding."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from axon.loop.checkpoint import CheckpointCorruptedError, OrbaxBackend
from axon.loop.checkpoint._checksum import checksum, checksum_hex


def on(n, spec):
    mesh = jax.sharding.Mesh(np.array(jax.devices()[:n]), ("data",))
    return NamedSharding(mesh, spec)


def values(dtype=jnp.float32):
    x = np.random.default_rng(0).normal(size=(8, 12)) * 1e4
    return jnp.asarray(x, dtype)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16, jnp.int8, jnp.bool_])
def test_the_checksum_does_not_depend_on_the_sharding(dtype):
    x = values(dtype)
    sums = {
        checksum_hex(checksum(jax.device_put(x, s)))
        for s in (on(4, P("data")), on(2, P(None, "data")), on(1, P()))
    }
    assert len(sums) == 1


def test_the_checksum_sees_one_changed_bit_and_swapped_elements():
    x = values()
    reference = checksum_hex(checksum(x))
    flipped = jax.lax.bitcast_convert_type(x, jnp.uint32).at[3, 5].add(1)
    assert checksum_hex(checksum(jax.lax.bitcast_convert_type(flipped, jnp.float32))) != reference
    assert checksum_hex(checksum(x[::-1])) != reference


def test_a_sharded_array_is_stored_as_shards_and_read_onto_any_sharding(tmp_path):
    x = jax.device_put(values(), on(4, P("data")))
    backend = OrbaxBackend(tmp_path)
    backend.save(1, {"w": x, "step": jnp.int32(3)}, {"epoch": 0})
    backend.close()
    record = json.loads(next(tmp_path.glob("1/integrity/*")).read_text())
    assert set(record["leaves"]["['w']"]) == {"shape", "dtype", "sum64"}  # no host gather
    assert "xxh3_64" in record["leaves"]["['step']"]
    for target in (on(2, P(None, "data")), on(1, P()), on(4, P("data"))):
        tree, _ = OrbaxBackend(tmp_path).restore(
            like={"w": jax.device_put(jnp.zeros((8, 12)), target), "step": jnp.int32(0)}
        )
        assert tree["w"].sharding == target
        np.testing.assert_array_equal(tree["w"], x)


def test_a_sharded_array_that_does_not_match_its_checksum_is_refused(tmp_path):
    backend = OrbaxBackend(tmp_path)
    backend.save(1, {"w": jax.device_put(values(), on(4, P("data")))}, {"epoch": 0})
    backend.close()
    path = next(tmp_path.glob("1/integrity/*"))
    record = json.loads(path.read_text())
    record["leaves"]["['w']"]["sum64"] = "0" * 16  # as if the stored shards had changed
    path.write_text(json.dumps(record))
    with pytest.raises(CheckpointCorruptedError, match=r"data of \['w'\] does not match"):
        OrbaxBackend(tmp_path).restore(
            like={"w": jax.device_put(jnp.zeros((8, 12)), on(2, P("data")))}
        )
