"""export/load_exported: self-contained jax.export artifacts with the parameters baked in."""

import dataclasses
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import axon.model
from axon.model._builders.structured import plain_tree
from axon.model._files.export import export, load_exported

X = jnp.linspace(-1.0, 1.0, 12).reshape(3, 4)


def mlp():
    return axon.model.input("x", shape=(None, 4)).dense(8, activation="relu").dense(3)


def test_exported_bytes_run_in_a_fresh_process_with_only_jax_and_numpy(tmp_path):
    model = mlp()
    state = model.init(0, X)
    artifact = tmp_path / "model.jax"
    artifact.write_bytes(export(model, state, X))
    np.save(tmp_path / "x.npy", np.asarray(X))
    script = textwrap.dedent(
        f"""
        import sys
        import jax, numpy as np
        exported = jax.export.deserialize(bytearray(open({str(artifact)!r}, "rb").read()))
        y = exported.call(np.load({str(tmp_path / "x.npy")!r}))
        np.save({str(tmp_path / "y.npy")!r}, np.asarray(y))
        assert not any(name == "axon" or name.startswith("axon.") for name in sys.modules), sorted(
            name for name in sys.modules if name.startswith("axon")
        )
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr
    expected = axon.model.predict(model, state, X)
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), expected, rtol=1e-6, atol=1e-6)


def test_load_exported_matches_predict_and_checks_shapes():
    model = mlp()
    state = model.init(1, X)
    loaded = load_exported(export(model, state, jax.ShapeDtypeStruct((3, 4), jnp.float32)))
    assert loaded.mode == "inference"
    np.testing.assert_allclose(loaded(X), axon.model.predict(model, state, X), rtol=1e-6)
    assert "ExportedModel mode='inference' inputs=(float32[3,4])" in repr(loaded)
    with pytest.raises(ValueError, match=r"expects inputs \(float32\[3,4\]\)"):
        loaded(jnp.ones((5, 4)))


def test_parameters_are_baked_in():
    model = mlp()
    state = model.init(0, X)
    loaded = load_exported(export(model, state, X))
    changed = state.replace(
        params={**state.params, "dense_1": {**state.params["dense_1"], "bias": jnp.ones(3)}}
    )
    np.testing.assert_allclose(loaded(X), axon.model.predict(model, state, X), rtol=1e-6)
    assert not np.allclose(loaded(X), axon.model.predict(model, changed, X))


def test_dynamic_batch_and_symbolic_shapes():
    model = mlp()
    state = model.init(0, X)
    loaded = load_exported(export(model, state, X, dynamic_batch=True))
    assert str(loaded.in_avals[0]) == "float32[batch,4]"
    for n in (1, 7):
        x = jnp.ones((n, 4))
        np.testing.assert_allclose(loaded(x), axon.model.predict(model, state, x), rtol=1e-6)
    template = jax.ShapeDtypeStruct(jax.export.symbolic_shape("b, 4"), jnp.float32)
    by_symbol = load_exported(export(model, state, template))
    assert by_symbol(jnp.ones((11, 4))).shape == (11, 3)


def test_several_inputs_by_name():
    a, b = axon.model.input("a", shape=(None, 2)), axon.model.input("b", shape=(None, 3))
    model = axon.model.layer(lambda u, v: jnp.concatenate([u, v], -1), [a, b]).dense(1)
    inputs = {"a": jnp.ones((4, 2)), "b": jnp.full((4, 3), 2.0)}
    state = model.init(0, inputs)
    loaded = load_exported(export(model, state, inputs, dynamic_batch=True))
    np.testing.assert_allclose(loaded(inputs), axon.model.predict(model, state, inputs), rtol=1e-6)


def noisy(x, *, key, mode):
    return x if mode == "inference" else x + jax.random.normal(key, x.shape)


def test_train_mode_takes_a_key_and_returns_the_new_state():
    model = axon.model.layer(noisy, [mlp()], op_name="noise")
    state = model.init(0, X)
    loaded = load_exported(export(model, state, X, mode="train"))
    assert loaded.mode == "train"
    key = jax.random.key(3)
    prediction, new_state = loaded(X, key=key)
    expected, _ = model.apply(state, X, mode="train", key=key)
    np.testing.assert_allclose(prediction, expected, rtol=1e-6)
    assert new_state == {}
    assert not np.allclose(loaded(X, key=jax.random.key(4))[0], prediction)
    with pytest.raises(TypeError, match="pass key="):
        loaded(X)


def test_bad_arguments_and_bad_bytes_are_explained():
    model = mlp()
    state = model.init(0, X)
    with pytest.raises(ValueError, match="mode must be"):
        export(model, state, X, mode="eval")
    with pytest.raises(TypeError, match="ModelState"):
        export(model, state.params, X)
    with pytest.raises(axon.model.InputError, match="expects shape"):
        export(model, state, jnp.ones((3, 5)))
    with pytest.raises(ValueError, match=r"not a serialized jax\.export artifact"):
        load_exported(b"definitely not an export")
    data = export(model, state, X)
    with pytest.raises(ValueError, match="truncated or corrupted"):
        load_exported(data[: len(data) // 2])
    with pytest.raises(TypeError, match="bytes returned by export"):
        load_exported("model.jax")
    with pytest.raises(TypeError, match="inference mode; it takes no key"):
        load_exported(data)(X, key=jax.random.key(0))


def test_a_model_with_debugging_hooks_is_refused_naming_them_and_the_fix():
    seen = []
    hidden = mlp().attach_hook(lambda out: seen.append(out.std()))
    model = hidden.dense(2, name="head").attach_hook(lambda grad: seen.append(grad), on="backward")
    state = model.init(0, X)
    with pytest.raises(ValueError) as error:
        export(model, state, X)
    message = str(error.value)
    assert "export cannot save the hooks of layer 'dense_1' (dense, defined at " in message
    assert "test_model_export.py" in message and "'head'" not in message  # backward: no callback
    assert "serialization of host_callbacks" not in message
    unhooked = axon.model.map_nodes(model, lambda node: dataclasses.replace(node, hooks=()))
    loaded = load_exported(export(unhooked, state, X))  # the same model state applies
    np.testing.assert_allclose(loaded(X), axon.model.predict(model, state, X), rtol=1e-6)
    # a hook that runs only in training does not stop an inference export
    training_only = mlp().attach_hook(lambda out: seen.append(out), mode="train")
    assert export(training_only, training_only.init(0, X), X)


def test_a_model_state_of_another_model_is_refused_before_exporting():
    wider = axon.model.input("x", shape=(None, 4)).dense(16).relu().dense(3)
    with pytest.raises(axon.model.InputError, match="does not fit this model"):
        export(mlp(), wider.init(0, X), X)


def test_models_with_several_outputs_export_as_plain_tuples_and_dicts():
    x = axon.model.input("x", shape=(None, 3))
    heads = {"score": x.dense(1), "both": axon.model.container((x.dense(2), x.relu()))}
    model = axon.model.container(heads)
    state = model.init(0, jnp.ones((1, 3)))
    inputs = jax.random.normal(jax.random.key(1), (5, 3))
    loaded = load_exported(export(model, state, jnp.ones((2, 3)), dynamic_batch=True))
    got, expected = loaded(inputs), axon.model.predict(model, state, inputs)
    assert type(got) is dict and type(got["both"]) is tuple  # plain, as jax.export requires
    jax.tree_util.tree_map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6), got, plain_tree(expected)
    )
