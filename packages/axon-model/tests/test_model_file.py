"""Model files (save_model/load_model): graphs that rebuild without the code that made them."""

import json
import os
import subprocess
import sys
import textwrap
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import safetensors.numpy
from safetensors import safe_open

import axon.model
from axon.functional import activations, initializers, penalties
from axon.model import mixed_precision as mp
from axon.model import plugins

# -- the models of the example programs, and the features a graph can carry --------------------


def residual_cnn():
    x = axon.model.input("image", shape=(None, 8, 8, 3))
    stem = x.conv(8, kernel_size=3, padding="same").batch_norm().relu()
    block = stem.conv(8, kernel_size=3, padding="same", use_bias=False).batch_norm(momentum=0.2)
    out = axon.model.add(stem, block).relu().max_pool(kernel_size=2).global_avg_pool()
    return out.dense(10, activation="softmax"), np.random.default_rng(0).normal(
        3.0, 5.0, (2, 8, 8, 3)
    )


def char_lstm():
    chars = axon.model.input("chars", shape=(None, 6))
    _, (_, h) = chars.embedding(20, 8).lstm(16, recurrent_initializer="glorot_uniform")
    return h.dropout(rate=0.1).dense(20), np.arange(12).reshape(2, 6) % 20


def transformer():
    x = axon.model.input("tokens", shape=(None, 5)).embedding(30, 8)
    for i in range(2):
        x = x.transformer_encoder(num_heads=2, hidden_size=16, name=f"block_{i}")
    return x.global_avg_pool().dense(1, activation="sigmoid"), np.arange(10).reshape(2, 5)


def generator():
    noise = axon.model.input("noise", shape=(None, 4))
    model = noise.dense(16, activation=activations.relu).dense(16).leaky_relu(alpha=0.2).dense(2)
    return model, np.random.default_rng(1).normal(0, 10, (3, 4))


def discriminator():
    model = axon.model.input("point", shape=(None, 2)).dense(8).tanh().dense(1, name="logit")
    return model, np.random.default_rng(2).normal(0, 10, (3, 2))


def multi_input_output():
    a, b = axon.model.input("a", shape=(None, 2)), axon.model.input("b", shape=(None, 3))
    trunk = axon.model.concatenate([a, b]).dense(8, activation="tanh")
    first, second = trunk.split([3, 5])
    return axon.model.container({"square": first.dense(1, name="square"), "rest": (second, b)}), {
        "a": np.ones((2, 2)) * 4.0,
        "b": np.arange(6.0).reshape(2, 3),
    }


def optional_mask():
    x = axon.model.input("x", shape=(None, 3))
    mask = axon.model.input("mask", shape=(None, 3), optional=True)
    fallback = axon.model.constant(np.array([1.0, 0.5, 2.0], np.float32))
    return axon.model.multiply(x, mask.optional().or_else(fallback)).dense(2), {
        "x": np.full((2, 3), 3.0)
    }


def mixed_precision():
    model, data = residual_cnn()
    policy = mp.create_policy(params="f32", compute="bf16", output="f32")
    return mp.apply_policy(model, policy, except_=["batch_norm"]), data


# -- shared weights: blocks, free-standing parameters --------------------------------------------


def siamese():
    encoder = axon.model.block(lambda x: x.dense(8, activation="relu").dense(4), name="encoder")
    a, b = axon.model.input("a", shape=(None, 3)), axon.model.input("b", shape=(None, 3))
    return axon.model.subtract(encoder(a), encoder(b)), {
        "a": np.linspace(-20.0, 20.0, 6).reshape(2, 3),
        "b": np.full((2, 3), 0.5),
    }


def nested_blocks():
    inner = axon.model.block(lambda x: x.dense(3, use_bias=False))  # numbered: block_0
    outer = axon.model.block(lambda x: inner(inner(x).tanh()).dense(3), name="outer")
    a, b = axon.model.input("a", shape=(None, 3)), axon.model.input("b", shape=(None, 3))
    return axon.model.concatenate([outer(a), outer(b), inner(a)]), {
        "a": np.arange(6.0).reshape(2, 3) * 3.0,
        "b": -np.ones((2, 3)),
    }


def block_with_several_inputs_and_outputs():
    pair = axon.model.block(
        lambda x, y: {"sum": x.dense(2).add(y.dense(2)), "both": (x.dense(2, name="left"), y)}
    )
    a, b = axon.model.input("a", shape=(None, 2)), axon.model.input("b", shape=(None, 2))
    return axon.model.container({"ab": pair(a, b), "ba": pair(b, a)}), {
        "a": np.array([[1.0, -7.0], [30.0, 2.0]]),
        "b": np.array([[0.5, 0.25], [-4.0, 9.0]]),
    }


def block_capturing_a_layer():
    context = axon.model.input("context", shape=(None, 4)).dense(4, name="context_proj")
    attend = axon.model.block(lambda x: x.dense(4).multiply(context).dense(1), name="attend")
    a, b = axon.model.input("a", shape=(None, 4)), axon.model.input("b", shape=(None, 4))
    return axon.model.concatenate([attend(a), attend(b)]), {
        "context": np.full((2, 4), 2.0),
        "a": np.arange(8.0).reshape(2, 4),
        "b": np.arange(8.0).reshape(2, 4) - 10.0,
    }


def block_with_batch_norm_and_rnn():
    def encode(seq):
        _, (_, h) = seq.batch_norm(momentum=0.3).lstm(5)
        return h

    encoder = axon.model.block(encode, name="seq_encoder")
    x = axon.model.input("x", shape=(None, 4, 3))
    return axon.model.add(encoder(x), encoder(x.dense(3))), np.random.default_rng(3).normal(
        5.0, 4.0, (2, 4, 3)
    )


def tied_char_lm():
    """The model of examples/char_lm_tied.py, small (the example imports axon.loop, which
    this package's tests do not install)."""
    table = axon.model.parameter("embedding", (20, 6), initializer="normal")
    _, (_, h) = axon.model.input("chars", shape=(None, 5)).embedding(20, 6, kernel=table).lstm(8)
    features = h.dropout(rate=0.1).dense(6, activation="tanh", name="to_features")
    return features.dense(20, kernel=table.transpose(), name="logits"), np.arange(10).reshape(2, 5)


MODELS = {
    f.__name__: f
    for f in (residual_cnn, char_lstm, transformer, generator, discriminator, multi_input_output,
              optional_mask, mixed_precision, siamese, nested_blocks,
              block_with_several_inputs_and_outputs, block_capturing_a_layer,
              block_with_batch_norm_and_rnn, tied_char_lm)
}  # fmt: skip


def _inputs(data):
    def as_array(v):
        return jnp.asarray(v, jnp.int32 if v.dtype.kind == "i" else jnp.float32)

    return {k: as_array(v) for k, v in data.items()} if isinstance(data, dict) else as_array(data)


def _graph_json(path):
    with safe_open(path, "np") as file:
        return file.metadata()["axon.graph"]


def _trained_state(model, inputs):
    """A state far from init: every entry perturbed, batch-norm statistics updated, some frozen."""
    state = model.init(jax.random.key(3), inputs)
    keys = iter(jax.random.split(jax.random.key(4), 1000))
    params = jax.tree.map(
        lambda p: p + jax.random.normal(next(keys), p.shape, p.dtype), state.params
    )
    state = state.replace(params=params)
    _, new_state = model.apply(state, inputs, mode="train", key=jax.random.key(5))
    first_layer = sorted(state.params)[0]
    return state.update(state=new_state).freeze(f"{first_layer}/*")


# -- rebuilt in a fresh process that never imports this file -----------------------------------

FRESH = textwrap.dedent(
    """
    import json, sys
    import jax, jax.numpy as jnp, numpy as np
    import axon.model
    from safetensors import safe_open
    directory, names = sys.argv[1], sys.argv[2].split(",")
    assert not any("test_model_file" in m for m in sys.modules), "the test module was imported"
    for name in names:
        model, state = axon.model.load_model(f"{directory}/{name}.axon")
        data = dict(np.load(f"{directory}/{name}.inputs.npz"))
        inputs = data.get("__single__", data)
        def as_array(v):
            return jnp.asarray(v, jnp.int32 if v.dtype.kind == "i" else jnp.float32)
        if isinstance(inputs, dict):
            inputs = {k: as_array(v) for k, v in inputs.items()}
        else:
            inputs = as_array(inputs)
        prediction, _ = model.apply(state, inputs)
        leaves = jax.tree.leaves(prediction)
        np.savez(f"{directory}/{name}.fresh.npz", *[np.asarray(v) for v in leaves])
        axon.model.display.as_table(model, inputs)
        axon.model.save_model(f"{directory}/{name}.again.axon", model, state)
    print("ok")
    """
)


def test_every_example_model_rebuilds_in_a_fresh_process_bitwise(tmp_path):
    for name, make in MODELS.items():
        model, data = make()
        inputs = _inputs(data)
        state = _trained_state(model, inputs)
        axon.model.save_model(tmp_path / f"{name}.axon", model, state)
        saved = {"__single__": data} if not isinstance(data, dict) else data
        np.savez(tmp_path / f"{name}.inputs.npz", **saved)
        expected = jax.tree.leaves(model.apply(state, inputs)[0])
        np.savez(tmp_path / f"{name}.expected.npz", *[np.asarray(v) for v in expected])
    result = subprocess.run(
        [sys.executable, "-c", FRESH, str(tmp_path), ",".join(MODELS)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    for name in MODELS:
        expected = np.load(tmp_path / f"{name}.expected.npz")
        fresh = np.load(tmp_path / f"{name}.fresh.npz")
        assert len(expected.files) == len(fresh.files), name
        for key in expected.files:
            assert expected[key].dtype == fresh[key].dtype, name
            assert expected[key].tobytes() == fresh[key].tobytes(), name
        # save -> load -> save: the same graph, the same tensors bit for bit
        assert _graph_json(tmp_path / f"{name}.axon") == _graph_json(
            tmp_path / f"{name}.again.axon"
        )
        first = safetensors.numpy.load_file(tmp_path / f"{name}.axon")
        again = safetensors.numpy.load_file(tmp_path / f"{name}.again.axon")
        assert sorted(first) == sorted(again)
        assert all(first[k].tobytes() == again[k].tobytes() for k in first), name


def test_a_loaded_model_keeps_state_policy_and_frozen_paths_and_trains(tmp_path):
    model = axon.model.input("x", shape=(None, 3)).dense(4).batch_norm().relu().dense(2)
    policy = mp.create_policy(params="f32", compute="bf16", output="f32")
    model = mp.apply_policy(model, policy, except_=["batch_norm"])
    inputs = jnp.arange(-6.0, 6.0).reshape(4, 3) * 7.0
    state = _trained_state(model, inputs)
    axon.model.save_model(tmp_path / "m.axon", model, state)
    rebuilt, restored = axon.model.load_model(tmp_path / "m.axon")
    assert restored.frozen == state.frozen == {"batch_norm_0/beta", "batch_norm_0/gamma",
                                               "batch_norm_0/mean", "batch_norm_0/var"}  # fmt: skip
    assert set(restored.state) == {"batch_norm_0"}
    names = rebuilt.program.names
    policies = {names[n.id]: n.policy for n in rebuilt.program.order if n.op is not None}
    assert policies == {
        "dense_0": policy,
        "batch_norm_0": None,
        "relu_0": policy,
        "dense_1": policy,
    }

    def loss(params, m, s):
        prediction, _ = m.apply(s.replace(params=params), inputs, mode="train")
        return jnp.sum(prediction * jnp.array([1.0, -3.0]))

    grads = jax.grad(loss)(restored.params, rebuilt, restored)
    expected = jax.grad(loss)(state.params, model, state)
    assert jax.tree.all(jax.tree.map(lambda a, b: bool(jnp.array_equal(a, b)), grads, expected))
    assert jnp.any(grads["dense_0"]["kernel"] != 0)


def test_a_graph_without_state_loads_with_none_and_initializes_like_the_original(tmp_path):
    model, data = char_lstm()
    axon.model.save_model(tmp_path / "graph.axon", model)
    rebuilt, state = axon.model.load_model(tmp_path / "graph.axon")
    assert state is None
    inputs = _inputs(data)
    a, b = model.init(7, inputs), rebuilt.init(7, inputs)
    assert jax.tree.all(jax.tree.map(lambda x, y: bool(jnp.array_equal(x, y)), a.params, b.params))
    # a parameter file reads the model file's (empty) state, and load reads model files
    assert axon.model.load(tmp_path / "graph.axon").params == {}


def test_plugin_layers_are_stored_by_name_and_missing_plugins_are_named(tmp_path):
    def scale(x, factor, *, name=None):
        s = axon.model.param("s", (), initializer="ones")
        return axon.model.layer(lambda v, s: v * s * factor, [x, s], name=name, op_name="scale")

    class ScalePlugin:
        @plugins.hookimpl
        def axon_layers(self):
            return {"scale": scale}

    x = jnp.arange(3.0)[None]
    with plugins.system.temporary(ScalePlugin(), name="scale-plugin"):
        model = axon.model.input("x", shape=(None, 3)).scale(2.5).dense(2)
        state = model.init(0, x)
        axon.model.save_model(tmp_path / "plugin.axon", model, state)
        rebuilt, restored = axon.model.load_model(tmp_path / "plugin.axon")
        assert jnp.array_equal(rebuilt.apply(restored, x)[0], model.apply(state, x)[0])
    with pytest.raises(axon.model.SerializationError) as error:
        axon.model.load_model(tmp_path / "plugin.axon")
    message = str(error.value)
    assert "plugin.axon" in message
    assert "layer 'scale_0' uses builder 'scale' - install plugin 'scale-plugin'" in message


def test_shared_weights_are_stored_once_under_their_model_state_keys(tmp_path):
    for make in (siamese, nested_blocks, tied_char_lm):
        model, data = make()
        state = model.init(0, _inputs(data))
        axon.model.save_model(tmp_path / "m.axon", model, state)
        stored = safetensors.numpy.load_file(tmp_path / "m.axon")
        expected = {f"params/{layer}/{name}" for layer, group in state.params.items()
                    for name in group}  # fmt: skip
        assert {k for k in stored if k.startswith("params/")} == expected, make.__name__
    assert "params/logits/kernel" not in stored and "params/embedding/value" in stored
    assert sorted(axon.model.load_model(tmp_path / "m.axon")[1].params) == [
        "embedding", "logits", "lstm_0", "to_features"
    ]  # fmt: skip


def test_a_loaded_block_trains_one_set_of_weights_with_the_sum_of_gradients(tmp_path):
    model, data = siamese()
    inputs = _inputs(data)
    state = _trained_state(model, inputs).replace(frozen=frozenset())
    axon.model.save_model(tmp_path / "siamese.axon", model, state)
    rebuilt, restored = axon.model.load_model(tmp_path / "siamese.axon")
    weights = jnp.array([[1.0, 2.0, 0.5, 3.0]])

    def loss(params):
        prediction, _ = rebuilt.apply(restored.replace(params=params), inputs)
        return jnp.sum(prediction**2 * weights)

    def by_hand(params):  # the encoder written out, applied to both inputs with one set
        def encode(x):
            h = jax.nn.relu(x @ params["encoder/dense_0"]["kernel"]
                            + params["encoder/dense_0"]["bias"])  # fmt: skip
            return h @ params["encoder/dense_1"]["kernel"] + params["encoder/dense_1"]["bias"]

        return jnp.sum((encode(inputs["a"]) - encode(inputs["b"])) ** 2 * weights)

    grads, expected = jax.grad(loss)(restored.params), jax.grad(by_hand)(restored.params)
    assert sorted(grads) == ["encoder/dense_0", "encoder/dense_1"]
    for layer in grads:
        for name in grads[layer]:
            np.testing.assert_allclose(grads[layer][name], expected[layer][name], rtol=2e-5,
                                       atol=1e-4)  # fmt: skip
    # fine-tuning the loaded model lowers the loss, and both calls keep using one encoder
    params, before = restored.params, float(loss(restored.params))
    for _ in range(20):
        params = jax.tree.map(lambda p, g: p - 1e-4 * g, params, jax.grad(loss)(params))
    assert float(loss(params)) < 0.5 * before, (float(loss(params)), before)
    same, _ = rebuilt.apply(restored.replace(params=params), {"a": inputs["a"], "b": inputs["a"]})
    assert float(jnp.abs(same).max()) == 0.0


def test_an_rnn_sharing_a_parameter_round_trips_through_its_registered_builder(tmp_path):
    def tied_rnn(x, weight, *, name=None):  # a cell is code: a plugin's builder makes it
        def cell(x_t, h, p):
            h = jnp.tanh(x_t @ p["w"] + h @ p["w"].T @ p["w"])
            return h, h

        zeros = axon.model.constant(np.zeros((1, 3), np.float32))
        return axon.model.rnn(x, cell, carry_init=zeros, params={"w": weight}, name=name)[1]

    class TiedRNN:
        @plugins.hookimpl
        def axon_layers(self):
            return {"tied_rnn": tied_rnn}

    x = jnp.asarray(np.random.default_rng(0).normal(2.0, 3.0, (1, 4, 3)), jnp.float32)
    with plugins.system.temporary(TiedRNN(), name="tied-rnn-plugin"):
        w = axon.model.parameter("w", (3, 3), initializer="orthogonal")
        model = axon.model.input("x", shape=(None, 4, 3)).tied_rnn(w).dense(3, kernel=w)
        state = _trained_state(model, x)
        axon.model.save_model(tmp_path / "rnn.axon", model, state)
        rebuilt, restored = axon.model.load_model(tmp_path / "rnn.axon")
        assert jnp.array_equal(rebuilt.apply(restored, x)[0], model.apply(state, x)[0])
        assert sorted(restored.params) == ["dense_0", "w"]

        def loss(params, m):
            return jnp.sum(m.apply(restored.replace(params=params), x)[0])

        grads = jax.grad(loss)(restored.params, rebuilt)
        expected = jax.grad(loss)(state.params, model)
        assert jnp.array_equal(grads["w"]["value"], expected["w"]["value"])
    assert "'call 0 of" not in _graph_json(tmp_path / "rnn.axon")


# -- what cannot be stored is refused when saving ----------------------------------------------


def test_a_layer_with_an_anonymous_op_is_refused_naming_layer_site_and_registration(tmp_path):
    x = axon.model.input("x", shape=(None, 3))
    model = axon.model.layer(lambda v: v * 2, [x.dense(3)], name="doubled").dense(1)
    with pytest.raises(axon.model.SerializationError) as error:
        axon.model.save_model(tmp_path / "m.axon", model)
    message = str(error.value)
    assert "'doubled'" in message and "test_model_file.py:" in message
    assert "axon_layers hook" in message and "Writing a plugin" in message
    assert not os.listdir(tmp_path)  # nothing written, no temporary file left


def test_a_block_whose_layers_cannot_be_stored_is_refused_naming_block_and_layer(tmp_path):
    doubled = axon.model.block(
        lambda x: axon.model.layer(lambda v: v * 2, [x.dense(3)], name="doubled"), name="twice"
    )
    x = axon.model.input("x", shape=(None, 3))
    with pytest.raises(axon.model.SerializationError) as error:
        axon.model.save_model(tmp_path / "m.axon", doubled(doubled(x)))
    message = str(error.value)
    assert "layer 'doubled' of block twice (defined at " in message
    assert "axon.model.layer(...) directly" in message and "test_model_file.py:" in message

    def outer_fn(v):
        hidden = v.dense(3)
        return axon.model.block(lambda y: y.add(hidden))(v)  # captures the outer body's layer

    with pytest.raises(axon.model.SerializationError, match="made inside another block"):
        axon.model.save_model(tmp_path / "m.axon", axon.model.block(outer_fn)(x))
    assert not os.listdir(tmp_path)


def test_function_options_are_stored_by_registered_name_or_refused(tmp_path):
    x = axon.model.input("x", shape=(None, 3))
    named = x.dense(2, activation=activations.gelu)
    axon.model.save_model(tmp_path / "named.axon", named)
    assert '{"$activation": "gelu"}' in _graph_json(tmp_path / "named.axon")
    for model, option in [
        (x.nx(lambda v: v + 1), "fn"),
        (x.dense(2, kernel_initializer=initializers.normal(scale=0.5)), "kernel_initializer"),
    ]:
        with pytest.raises(axon.model.SerializationError, match=rf"{option} = .*registered name"):
            axon.model.save_model(tmp_path / "bad.axon", model)
    assert not (tmp_path / "bad.axon").exists()


def test_regularizers_are_stored_by_registered_name_with_their_factors(tmp_path):
    x = axon.model.input("x", shape=(None, 4, 3))
    hidden = x.dense(4, activation="tanh", kernel_regularizer=penalties.L2(1e-3),
                     activity_regularizer="l1")  # fmt: skip
    model = hidden.lstm(5, recurrent_regularizer=penalties.L1L2(0.25, 4.0))[0].dense(
        2, bias_regularizer=penalties.L1(0.5)
    )
    inputs = jnp.arange(24.0).reshape(2, 4, 3) * 7.0
    state = model.init(0, inputs)
    axon.model.save_model(tmp_path / "m.axon", model, state)
    loaded, loaded_state = axon.model.load_model(tmp_path / "m.axon")
    for args in [(), (inputs,)]:  # parameter penalties; with the activity ones
        expected = axon.model.penalty(model, state, *args)
        assert axon.model.penalty(loaded, loaded_state, *args) == expected and expected > 0
    assert '{"$penalty": {"config": {"l1": 0.25, "l2": 4.0}, "name": "l1_l2"}}' in _graph_json(
        tmp_path / "m.axon"
    )

    class Unregistered(penalties.L2):
        pass

    with pytest.raises(
        axon.model.SerializationError,
        match=r"kernel_regularizer = .*Register the penalty class .*Unregistered",
    ):
        axon.model.save_model(tmp_path / "bad.axon", x.dense(2, kernel_regularizer=Unregistered()))


def test_a_bad_save_leaves_an_existing_file_as_it_was(tmp_path):
    path = tmp_path / "m.axon"
    x = axon.model.input("x", shape=(None, 3))
    axon.model.save_model(path, x.dense(2))
    before = path.read_bytes()
    with pytest.raises(axon.model.SerializationError):
        axon.model.save_model(path, x.nx(lambda v: v))
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["m.axon"]


def test_layers_changed_after_their_builder_are_refused(tmp_path):
    model = axon.model.input("x", shape=(None, 3)).leaky_relu(alpha=0.2)
    changed = axon.model.set_options(model, alpha=0.5)
    with pytest.raises(axon.model.SerializationError, match=r"'leaky_relu_0'.*options"):
        axon.model.save_model(tmp_path / "m.axon", changed)


def test_hooks_are_left_out_with_a_warning_naming_each_hooked_layer(tmp_path):
    x = axon.model.input("x", shape=(None, 3))
    model = x.dense(2, name="hidden").attach_hook(print).dense(1).attach_hook(print, on="backward")
    with pytest.warns(UserWarning, match=r"\['hidden', 'dense_0'\] lose their hooks"):
        axon.model.save_model(tmp_path / "m.axon", model)
    rebuilt, _ = axon.model.load_model(tmp_path / "m.axon")
    assert not any(node.hooks for node in rebuilt.program.order)


# -- files that cannot be loaded -----------------------------------------------------------------


def _rewrite_graph(path, change):
    tensors = safetensors.numpy.load_file(path)
    with safe_open(path, "np") as file:
        metadata = file.metadata()
    graph = json.loads(metadata["axon.graph"])
    change(graph)
    metadata["axon.graph"] = json.dumps(graph)
    path.write_bytes(safetensors.numpy.save(tensors, metadata=metadata))


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "m.axon"
    model = axon.model.input("x", shape=(None, 3)).dense(2, activation="relu")
    axon.model.save_model(path, model, model.init(0, jnp.ones((1, 3))))
    return path


def test_a_newer_format_version_asks_for_an_upgrade(saved):
    _rewrite_graph(saved, lambda graph: graph.update(version=2))
    with pytest.raises(axon.model.SerializationError, match=r"m.axon.*version 2.*Upgrade"):
        axon.model.load_model(saved)


def test_every_unknown_name_is_listed_in_one_error(saved):
    def change(graph):
        graph["calls"][0]["builder"] = "fancy_dense"
        graph["calls"][0]["provider"] = "axon-fancy 1.0 (axon_fancy)"
        graph["calls"][0]["kwargs"]["activation"] = {"$activation": "swishy"}
        graph["calls"][0]["kwargs"]["kernel_regularizer"] = {"$penalty": {"name": "l3"}}
        graph["calls"].append({"kind": "block", "builder": "b"})

    _rewrite_graph(saved, change)
    with pytest.raises(axon.model.SerializationError) as error:
        axon.model.load_model(saved)
    lines = str(error.value).splitlines()
    assert "m.axon" in lines[0]
    assert lines[1:] == [
        "  layer 'dense_0' uses builder 'fancy_dense' - install axon-fancy 1.0 (axon_fancy)",
        "  layer 'dense_0' uses activation 'swishy'",
        "  layer 'dense_0' uses penalty 'l3'",
        "  layer 'call 1' is a 'block' (a newer kind of layer)",
    ]


def test_a_file_whose_graph_was_edited_is_refused_not_trusted(saved):
    _rewrite_graph(saved, lambda graph: graph["calls"][0]["args"].__setitem__(1, 5))
    with pytest.raises(axon.model.SerializationError, match=r"(?s)differs.*'dense_0'.*config"):
        axon.model.load_model(saved)
    _rewrite_graph(saved, lambda graph: graph["calls"][0]["args"].__setitem__(0, {"$eval": "1"}))
    with pytest.raises(axon.model.SerializationError, match=r"unknown or malformed value"):
        axon.model.load_model(saved)


@pytest.mark.parametrize("cut", [0, 5, 100, -10])
def test_truncated_or_corrupted_files_name_the_path(saved, cut):
    data = saved.read_bytes()
    saved.write_bytes(data[:cut] if cut else b"\x00" * 8 + data[8:])
    with pytest.raises(axon.model.SerializationError, match=r"m\.axon"):
        axon.model.load_model(saved)


def test_a_parameter_file_is_not_a_model_file(tmp_path):
    model = axon.model.input("x", shape=(None, 3)).dense(2)
    axon.model.save(tmp_path / "p.safetensors", model.init(0, jnp.ones((1, 3))))
    with pytest.raises(axon.model.SerializationError, match=r"parameter file.*save_model"):
        axon.model.load_model(tmp_path / "p.safetensors")


def test_loading_never_warns_or_imports(saved):
    before = set(sys.modules)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        axon.model.load_model(saved)
    assert set(sys.modules) == before
