"""``axon.model.from_torch_state_dict`` against PyTorch's own outputs.

The fixtures (state dicts as safetensors, a Hugging Face BERT checkpoint directory, inputs
and torch's outputs as npz) are made by ``fixtures/make_torch_weights.py`` with torch; these
tests need neither torch nor onnx.
"""

import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import axon.model

FIXTURES = pathlib.Path(__file__).parent / "fixtures"


def fixture(name):
    """The checkpoint path and the ``{input_*, output_*}`` arrays of a fixture."""
    arrays = dict(np.load(FIXTURES / f"torch_{name}.npz"))
    path = FIXTURES / f"torch_{name}"
    return (path if path.is_dir() else path.with_suffix(".safetensors")), arrays


def assert_close(actual, expected):
    """float32 agreement: within 1e-5 relative to the output's scale."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape
    scale = max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5 * scale)


def mlp_model():
    x = axon.model.input("x", shape=(None, 5))
    return x.dense(16, activation="relu").dense(8, activation="tanh").dense(3)


def test_mlp_matches_torch_by_order():
    path, arrays = fixture("mlp")
    model = mlp_model()
    report = axon.model.from_torch_state_dict(model, path, dry_run=True)
    assert report.ok and report.matched_by == "order"
    assert report.layers == {"dense_0": "0", "dense_1": "2", "dense_2": "4"}
    state = axon.model.from_torch_state_dict(model, path)
    assert_close(model.apply(state, arrays["input_x"])[0], arrays["output_y"])


def cnn_model():
    x = axon.model.input("x", shape=(None, 6, 6, 3))  # channels last: torch's NCHW transposed
    x = x.conv(8, kernel_size=3, padding="same", name="conv").batch_norm(name="bn1").relu()
    x = x.depthwise_conv(2, kernel_size=3, padding="same", name="depthwise")
    x = x.batch_norm(name="bn2").relu()
    x = x.conv_transpose(4, kernel_size=2, strides=2, name="up")
    return x.global_avg_pool().dense(3, name="head")


def test_cnn_with_batch_norm_matches_torch_by_name():
    path, arrays = fixture("cnn")
    model = cnn_model()
    state = axon.model.from_torch_state_dict(model, path)
    assert sorted(state.state["bn1"]) == ["mean", "var"]
    x = arrays["input_x"].transpose(0, 2, 3, 1)
    assert_close(model.apply(state, x)[0], arrays["output_y"])


def test_channels_first_conv1d_and_transposed_conv_match_torch():
    path, arrays = fixture("conv1d")
    x = axon.model.input("x", shape=(None, 4, 7))
    x = x.conv(6, kernel_size=3, padding="same", channels="first", name="conv").tanh()
    # torch's padding=1, output_padding=1 is axon's [(k - 1 - 1, k - 1 - 1 + 1)]
    model = x.conv_transpose(2, kernel_size=3, strides=2, padding=[(1, 2)], channels="first",
                             name="up")  # fmt: skip
    state = axon.model.from_torch_state_dict(model, path)
    assert_close(model.apply(state, arrays["input_x"])[0], arrays["output_y"])


def test_two_layer_lstm_tagger_matches_torch():
    path, arrays = fixture("lstm")
    ids = axon.model.input("ids", shape=(None, 9))
    h = ids.embedding(20, 6, name="embed").nx(lambda e: e * 4.0)
    h, _ = h.lstm(8, name="lstm_first")
    h, _ = h.lstm(8, name="lstm_second")
    model = h.dense(5, name="head")
    mapping = {"lstm_first": "lstm.l0", "lstm_second": "lstm.l1"}
    inputs = jnp.zeros((1, 9), jnp.int32)
    state = axon.model.from_torch_state_dict(model, path, inputs=inputs, mapping=mapping)
    assert_close(model.apply(state, arrays["input_ids"].astype(np.int32))[0], arrays["output_y"])


def test_bidirectional_gru_matches_torch():
    path, arrays = fixture("gru")
    x = axon.model.input("x", shape=(None, 7, 4))
    seq, _ = axon.model.bidirectional(x, lambda s: s.gru(6), axon.model.concatenate)
    model = seq.dense(3, name="head")
    mapping = {"gru_0": "gru.l0", "gru_1": "gru.l0_reverse"}
    state = axon.model.from_torch_state_dict(model, path, mapping=mapping)
    assert_close(model.apply(state, arrays["input_x"])[0], arrays["output_y"])


def test_transformer_encoder_layer_matches_torch():
    path, arrays = fixture("transformer")
    x = axon.model.input("x", shape=(None, 5, 16))
    valid = axon.model.input("valid", shape=(None, 5))
    model = x.transformer_encoder(num_heads=4, hidden_size=32, mask=valid, norm_first=False,
                                  activation="gelu", name="enc")  # fmt: skip
    mapping = {"enc_attention": "layer.self_attn", "enc_norm_1": "layer.norm1",
               "enc_ffn_1": "layer.linear1", "enc_ffn_2": "layer.linear2",
               "enc_norm_2": "layer.norm2"}  # fmt: skip
    state = axon.model.from_torch_state_dict(model, path, mapping=mapping)
    valid_steps = ~arrays["input_padding"]
    y = model.apply(state, {"x": arrays["input_x"], "valid": valid_steps})[0]
    assert_close(np.where(valid_steps[..., None], y, 0.0), arrays["output_y"])


BERT_MAPPING = {
    "layer_*_attention": "encoder.layer.{0}.attention",
    "layer_*_norm_1": "encoder.layer.{0}.attention.output.LayerNorm",
    "layer_*_ffn_1": "encoder.layer.{0}.intermediate.dense",
    "layer_*_ffn_2": "encoder.layer.{0}.output.dense",
    "layer_*_norm_2": "encoder.layer.{0}.output.LayerNorm",
}


def bert_model():
    """BERT (post-norm encoder, exact gelu, eps 1e-12) from the builders, named like HF's
    modules where they are one axon layer; the rest goes through BERT_MAPPING."""
    ids = axon.model.input("input_ids", shape=(None, None))
    types = axon.model.input("token_type_ids", shape=(None, None))
    positions = axon.model.input("position_ids", shape=(None, None))
    mask = axon.model.input("attention_mask", shape=(None, None))
    h = axon.model.add([
        ids.embedding(50, 16, name="embeddings.word_embeddings"),
        positions.embedding(16, 16, name="embeddings.position_embeddings"),
        types.embedding(2, 16, name="embeddings.token_type_embeddings"),
    ])  # fmt: skip
    h = h.layer_norm(epsilon=1e-12, name="embeddings.LayerNorm")
    for i in range(2):
        h = h.transformer_encoder(num_heads=4, hidden_size=32, mask=mask, norm_first=False,
                                  activation="gelu", epsilon=1e-12, name=f"layer_{i}")  # fmt: skip
    pooled = h.nx(lambda t: t[:, 0]).dense(16, activation="tanh", name="pooler.dense")
    return axon.model.container((h, pooled))


def bert_inputs(arrays):
    ids = arrays["input_input_ids"].astype(np.int32)
    return {
        "input_ids": ids,
        "token_type_ids": arrays["input_token_type_ids"].astype(np.int32),
        "position_ids": np.broadcast_to(np.arange(ids.shape[1], dtype=np.int32), ids.shape),
        "attention_mask": arrays["input_attention_mask"].astype(np.int32),
    }


def test_hugging_face_bert_checkpoint_directory_matches_transformers():
    path, arrays = fixture("bert")
    model, inputs = bert_model(), bert_inputs(arrays)
    report = axon.model.from_torch_state_dict(
        model, path, inputs=inputs, mapping=BERT_MAPPING, dry_run=True
    )
    assert report.ok, str(report)
    assert report.loaded["params/layer_1_attention/query_kernel"] == (
        "encoder.layer.1.attention.self.query.weight",
    )
    state = axon.model.from_torch_state_dict(model, path, inputs=inputs, mapping=BERT_MAPPING)
    hidden, pooled = model.apply(state, inputs)[0]
    assert_close(hidden, arrays["output_last_hidden_state"])
    assert_close(pooled, arrays["output_pooler_output"])


def test_in_memory_state_dict_and_torch_like_tensors():
    path, arrays = fixture("mlp")
    from safetensors.numpy import load_file

    class FakeTensor:  # what a torch tensor offers: detach().cpu().numpy()
        def __init__(self, array):
            self.array, self.shape = array, array.shape

        def detach(self):
            return self

        def cpu(self):
            return self

        def numpy(self):
            return self.array

        dtype = "torch.float32"

    tensors = {key: FakeTensor(value) for key, value in load_file(path).items()}
    model = mlp_model()
    state = axon.model.from_torch_state_dict(model, tensors)
    assert_close(model.apply(state, arrays["input_x"])[0], arrays["output_y"])


def test_dry_run_lists_unmatched_and_mis_shaped_keys():
    path, _ = fixture("mlp")
    x = axon.model.input("x", shape=(None, 5))
    model = x.dense(16, name="first").dense(7, name="second").dense(3, name="third")
    mapping = {"first": "0", "second": "2", "third": None, "fourth": "4"}
    report = axon.model.from_torch_state_dict(model, path, mapping=mapping, dry_run=True)
    assert not report.ok and report.matched_by == "mapping"
    assert report.mis_shaped == (
        ("2.weight", (8, 16), (7, 16), ("params/second/kernel",)),
        ("2.bias", (8,), (7,), ("params/second/bias",)),
    )
    assert sorted(report.kept) == ["params/third/bias", "params/third/kernel"]
    assert report.unmatched_torch == {"4.bias": (3,), "4.weight": (3, 8)}
    assert report.unused_mapping == ("fourth",)
    with pytest.raises(axon.model.TorchStateDictError) as error:
        axon.model.from_torch_state_dict(model, path, mapping=mapping)
    message = str(error.value)
    assert "2.weight: received (8, 16), expected (7, 16)" in message
    assert "'fourth'" in message and "4.weight (3, 8)" in message


def test_missing_keys_name_what_was_looked_for():
    model = axon.model.input("x", shape=(None, 7, 3)).lstm(4, name="rnn")[0]
    state_dict = {"rnn.weight_ih_l0": np.zeros((16, 3)), "rnn.weight_hh_l0": np.zeros((16, 4))}
    report = axon.model.from_torch_state_dict(model, state_dict, dry_run=True)
    assert {m.path for m in report.unmatched_axon} == {f"params/rnn/b{g}" for g in "ifgo"}
    assert report.unmatched_axon[0].looked_for == ("rnn.bias_ih_l0", "rnn.bias_hh_l0")
    assert "looked for rnn.bias_ih_l0, rnn.bias_hh_l0" in str(report)


def test_non_strict_keeps_the_given_state_and_ignore_allows_unused_keys():
    path, arrays = fixture("mlp")
    x = axon.model.input("x", shape=(None, 5))
    model = x.dense(16, activation="relu").dense(8, activation="tanh").dense(2, name="new_head")
    start = model.init(jax.random.key(0), arrays["input_x"]).freeze("dense_0/*")
    mapping = {"dense_0": "0", "dense_1": "2", "new_head": None}
    with pytest.raises(axon.model.TorchStateDictError, match="used by no layer"):
        axon.model.from_torch_state_dict(model, path, state=start, mapping=mapping)
    state = axon.model.from_torch_state_dict(
        model, path, state=start, mapping=mapping, ignore=["4.*"]
    )
    assert state.frozen == start.frozen
    np.testing.assert_array_equal(state.params["new_head"]["kernel"],
                                  start.params["new_head"]["kernel"])  # fmt: skip
    loose = axon.model.from_torch_state_dict(model, path, state=start, strict=False,
                                             mapping={"dense_0": "0", "dense_1": "2"})  # fmt: skip
    np.testing.assert_array_equal(loose.params["dense_1"]["bias"], state.params["dense_1"]["bias"])


def test_training_after_loading_lowers_the_loss_and_updates_batch_norm():
    path, arrays = fixture("cnn")
    model = cnn_model()
    state = axon.model.from_torch_state_dict(model, path)
    x = jnp.asarray(arrays["input_x"].transpose(0, 2, 3, 1))
    y = jnp.asarray(arrays["output_y"]) + 1.0

    def loss(params, state):
        y_pred, new_state = model.apply(state.update(params=params), x, mode="train")
        return jnp.mean((y_pred - y) ** 2), new_state

    grad_fn = jax.jit(jax.value_and_grad(loss, has_aux=True))
    params, losses = state.trainable_parameters, []
    for _ in range(3):
        (value, new_state), grads = grad_fn(params, state)
        assert all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree.leaves(grads))
        params = jax.tree.map(lambda p, g: p - 1e-3 * g, params, grads)
        losses.append(float(value))
    assert losses[-1] < losses[0]
    assert not np.allclose(new_state["bn1"]["mean"], state.state["bn1"]["mean"])


def test_pickle_checkpoints_and_other_sources_are_refused(tmp_path):
    checkpoint = tmp_path / "pytorch_model.bin"
    checkpoint.write_bytes(b"\x80\x04not safetensors")
    with pytest.raises(axon.model.SerializationError, match="not a readable safetensors"):
        axon.model.from_torch_state_dict(mlp_model(), checkpoint, dry_run=True)
    with pytest.raises(TypeError, match="convert it once with safetensors"):
        axon.model.from_torch_state_dict(mlp_model(), 42, dry_run=True)
    with pytest.raises(axon.model.SerializationError, match=r"holds no model\.safetensors"):
        axon.model.from_torch_state_dict(mlp_model(), tmp_path, dry_run=True)


def test_conv3d_kernels_match_a_hand_written_jax_reference():
    rng = np.random.default_rng(3)
    weight = rng.normal(size=(5, 2, 3, 2, 3)).astype(np.float32)  # torch's (out, in, d, h, w)
    bias = rng.normal(size=5).astype(np.float32)
    x = (rng.normal(size=(2, 2, 4, 5, 6)) * 10).astype(np.float32)  # NCDHW
    expected = jax.lax.conv_general_dilated(
        x, weight, (1, 1, 1), "SAME", dimension_numbers=("NCDHW", "OIDHW", "NCDHW")
    ) + bias.reshape(1, 5, 1, 1, 1)
    model = axon.model.input("x", shape=(None, 4, 5, 6, 2)).conv(
        5, kernel_size=(3, 2, 3), padding="same", name="c"
    )
    state = axon.model.from_torch_state_dict(model, {"c.weight": weight, "c.bias": bias})
    y = model.apply(state, x.transpose(0, 2, 3, 4, 1))[0]
    assert_close(y, np.asarray(expected).transpose(0, 2, 3, 4, 1))


def test_bfloat16_checkpoint_loads_cast_to_the_models_dtype(tmp_path):
    import ml_dtypes
    from safetensors.numpy import save_file

    weight = np.arange(6, dtype=np.float32).reshape(2, 3)
    save_file({"fc.weight": weight.astype(ml_dtypes.bfloat16)}, tmp_path / "bf16.safetensors")
    model = axon.model.input("x", shape=(None, 3)).dense(2, use_bias=False, name="fc")
    state = axon.model.from_torch_state_dict(model, tmp_path / "bf16.safetensors")
    kernel = state.params["fc"]["kernel"]
    assert kernel.dtype == jnp.float32
    np.testing.assert_array_equal(kernel, weight.T)


def test_token_inputs_without_templates_ask_for_inputs():
    model = axon.model.input("ids", shape=(None, 4)).embedding(10, 3, name="e")
    state_dict = {"e.weight": np.ones((10, 3), np.float32)}
    with pytest.raises(ValueError, match="Pass inputs="):
        axon.model.from_torch_state_dict(model, state_dict)
    ids = jax.ShapeDtypeStruct((1, 4), jnp.int32)
    state = axon.model.from_torch_state_dict(model, state_dict, inputs=ids)
    assert state.params["e"]["kernel"].shape == (10, 3)
