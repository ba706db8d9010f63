"""save/load of a ModelState as safetensors: round trips, validation, atomic writes, bad files."""

import json
import os
import struct

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import safetensors.numpy

import axon.model
from axon.model import ModelState
from axon.model._files.parameters import (
    SerializationError,
    check_against,
    from_bytes,
    load,
    save,
    to_bytes,
)

X = jnp.ones((2, 4))


def mlp():
    return axon.model.input("x", shape=(None, 4)).dense(8, activation="relu").dense(3)


def stateful():
    mean = axon.model.param("mean", lambda s: (s[-1],), initializer="zeros", kind="state")
    x = axon.model.input("x", shape=(None, 4)).dense(4)
    return axon.model.layer(lambda v, m: v - m, [x, mean], op_name="center")


def assert_same(a: ModelState, b: ModelState):
    assert jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b)
    for u, v in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True):
        assert u.dtype == v.dtype and u.shape == v.shape
        np.testing.assert_array_equal(u, v)
    assert a.frozen == b.frozen


def test_round_trip_keeps_params_state_dtypes_and_frozen(tmp_path):
    model = stateful()
    state = model.init(0, X).freeze("dense_0/*")
    path = tmp_path / "model.safetensors"
    assert save(path, state) == str(path)
    restored = load(path, model, X)
    assert_same(state, restored)
    np.testing.assert_array_equal(model.apply(restored, X)[0], model.apply(state, X)[0])


def test_file_layout_is_plain_safetensors(tmp_path):
    path = tmp_path / "model.safetensors"
    save(path, stateful().init(0, X).freeze("center_0/mean"))
    tensors = safetensors.numpy.load_file(path)
    assert sorted(tensors) == [
        "params/dense_0/bias",
        "params/dense_0/kernel",
        "state/center_0/mean",
    ]
    with safetensors.safe_open(path, "np") as f:
        info = json.loads(f.metadata()["axon"])
    assert info["format"] == "axon.model.ModelState" and info["version"] == 1
    assert info["frozen"] == ["center_0/mean"]
    assert info["index"]["params/dense_0/kernel"] == ["params", "dense_0", "kernel"]


def test_unusual_dtypes_names_and_prng_keys_round_trip():
    state = ModelState(
        {"a/b": {"w": jnp.arange(6, dtype=jnp.bfloat16).reshape(2, 3)},
         "q": {"kernel": jnp.array([[-127, 5]], jnp.int8), "s": jnp.float16(2.0)}},
        {"dropout_0": {"key": jax.random.key(7)}, "c": {"n": jnp.array(3, jnp.uint32)}},
    )  # fmt: skip
    restored = from_bytes(to_bytes(state))
    assert restored.params["a/b"]["w"].dtype == jnp.bfloat16
    np.testing.assert_array_equal(restored.params["a/b"]["w"], state.params["a/b"]["w"])
    assert restored.params["q"]["kernel"].dtype == jnp.int8
    key = restored.state["dropout_0"]["key"]
    assert jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key)
    np.testing.assert_array_equal(jax.random.key_data(key), jax.random.key_data(jax.random.key(7)))
    np.testing.assert_array_equal(
        jax.random.normal(key, (3,)), jax.random.normal(jax.random.key(7), (3,))
    )


def test_load_validates_against_the_model_and_names_every_mismatch(tmp_path):
    path = tmp_path / "model.safetensors"
    save(path, mlp().init(0, X))
    load(path, mlp())  # inputs may be left out: the input declares (None, 4)
    other = axon.model.input("x", shape=(None, 4)).dense(8, activation="relu").dense(5).dense(1)
    with pytest.raises(SerializationError) as error:
        load(path, other, X)
    message = str(error.value)
    assert repr(str(path)) in message
    assert "missing: params/dense_2/bias (f32[1]), params/dense_2/kernel (f32[5,1])" in message
    assert "params/dense_1/kernel is f32[8,3], the model needs f32[8,5]" in message
    wider = axon.model.input("x", shape=(None, 4)).dense(8, activation="relu")
    with pytest.raises(
        SerializationError,
        match=r"unexpected: params/dense_1/bias \(f32\[3\]\), params/dense_1/kernel",
    ):
        load(path, wider)


def test_dtype_mismatches_are_reported():
    state = mlp().init(0, X)
    cast = state.replace(
        params={**state.params, "dense_1": {k: v.astype(jnp.float16) for k, v in
                                            state.params["dense_1"].items()}}
    )  # fmt: skip
    with pytest.raises(
        SerializationError, match=r"dense_1/bias is f16\[3\], the model needs f32\[3\]"
    ):
        check_against(cast, mlp())


def test_validation_needs_inputs_when_shapes_are_not_declared(tmp_path):
    model = axon.model.input("x").dense(2)
    path = tmp_path / "m.safetensors"
    save(path, model.init(0, X))
    with pytest.raises(ValueError, match="pass inputs="):
        load(path, model)
    assert load(path, model, jax.ShapeDtypeStruct((1, 4), jnp.float32)).params["dense_0"]


def test_a_failed_save_leaves_the_existing_file_untouched(tmp_path):
    path = tmp_path / "model.safetensors"
    save(path, mlp().init(0, X))
    before = path.read_bytes()
    bad = ModelState({"dense_0": {"kernel": "not an array"}})
    with pytest.raises(SerializationError, match=r"params\['dense_0'\]\['kernel'\] is a str"):
        save(path, bad)
    with pytest.raises(SerializationError, match="dtype complex128"):
        save(path, ModelState({"d": {"z": np.ones(2, np.complex128)}}))
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.safetensors"]  # no temporary files left


def test_save_replaces_atomically(tmp_path, monkeypatch):
    path = tmp_path / "model.safetensors"
    save(path, mlp().init(0, X))
    before = path.read_bytes()

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        save(path, mlp().init(1, X))
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.safetensors"]


def test_save_into_a_missing_directory_is_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"does not exist\. Create it"):
        save(tmp_path / "nope" / "m.safetensors", mlp().init(0, X))


@pytest.mark.parametrize(
    "mangle, message",
    [
        (lambda b: b"", "fewer than the 8-byte header"),
        (lambda b: b[:5], "fewer than the 8-byte header"),
        (lambda b: b[:40], "truncated"),
        (lambda b: b[:-7], "truncated or corrupted"),
        (lambda b: b"PK\x03\x04" + b[4:], "truncated"),
        (lambda b: b[:8] + b"\xff" + b[9:], "not valid JSON"),
    ],
)
def test_bad_files_give_clear_errors(tmp_path, mangle, message):
    data = to_bytes(mlp().init(0, X))
    path = tmp_path / "bad.safetensors"
    path.write_bytes(mangle(data))
    with pytest.raises(SerializationError, match=message):
        load(path)


def test_foreign_metadata_and_newer_versions_are_refused():
    def with_axon(info):
        return safetensors.numpy.save({"params/d/k": np.ones(2, np.float32)}, {"axon": info})

    with pytest.raises(SerializationError, match="another format"):
        from_bytes(with_axon(json.dumps({"format": "keras"})))
    with pytest.raises(SerializationError, match=r"version 2, newer.*Upgrade axon-model"):
        from_bytes(with_axon(json.dumps({"format": "axon.model.ModelState", "version": 2})))
    with pytest.raises(SerializationError, match="corrupted 'axon' metadata"):
        from_bytes(with_axon("{not json"))


def test_plain_safetensors_files_with_the_layout_load_and_others_are_explained():
    plain = safetensors.numpy.save(
        {
            "params/dense_0/kernel": np.ones((4, 2), np.float32),
            "state/bn/mean": np.zeros(2, np.float32),
        }
    )
    state = from_bytes(plain)
    assert state.params["dense_0"]["kernel"].shape == (4, 2) and state.state["bn"][
        "mean"
    ].shape == (2,)
    torch_style = safetensors.numpy.save({"encoder.weight": np.ones(2, np.float32)})
    with pytest.raises(SerializationError, match=r"not model-state entries: \['encoder.weight'\]"):
        from_bytes(torch_style)


def test_to_bytes_needs_a_model_state():
    with pytest.raises(TypeError, match=r"Expected an axon\.model\.ModelState"):
        to_bytes({"dense_0": {"kernel": np.ones(2)}})


def test_header_length_is_checked_before_reading():
    data = struct.pack("<Q", 10**12) + b"{}"
    with pytest.raises(SerializationError, match="announce a 1000000000000-byte header"):
        from_bytes(data)


def test_scalar_parameters_keep_their_shape(tmp_path):
    # np.ascontiguousarray makes 0-d arrays 1-d: a scalar came back with shape (1,)
    state = axon.model.ModelState({"scale": {"s": jnp.float32(2.0)}}, {"bn": {"n": jnp.int32(3)}})
    axon.model.save(tmp_path / "s.safetensors", state)
    restored = axon.model.load(tmp_path / "s.safetensors")
    assert restored.params["scale"]["s"].shape == () and restored.state["bn"]["n"].shape == ()
