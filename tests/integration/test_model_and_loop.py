"""axon.model features through axon.loop: frozen layers, mixed precision, save/load, export,
shared weights."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import axon.loop
import axon.model
import axon.optim


def mlp():
    return (
        axon.model.input("input", shape=(None, 64))
        .dense(32, activation="relu")
        .dense(10, activation="softmax")
    )


def test_frozen_layers_keep_their_values_and_get_no_optimizer_state(digit_batches):
    model = mlp()
    start = model.init(0, digit_batches[0][0]).freeze("dense_0/*")
    state = (
        axon.loop.trainer(model, "categorical_cross_entropy", axon.optim.adam(1e-2), log=0)
        .replace(output_transform=None)
        .run(digit_batches, start, epochs=2)
    )
    trained = state.step_state["model_state"]
    for name in ("kernel", "bias"):
        np.testing.assert_array_equal(
            trained.params["dense_0"][name], start.params["dense_0"][name]
        )
    assert not np.array_equal(
        trained.params["dense_1"]["kernel"], start.params["dense_1"]["kernel"]
    )
    optimizer_leaves = jax.tree_util.tree_leaves(state.step_state["optimizer_state"])
    assert sum(leaf.size for leaf in optimizer_leaves) < 3 * 10 * 33  # adam moments of dense_1 only


def test_a_bfloat16_compute_policy_trains(digit_batches):
    policy = axon.model.mixed_precision.create_policy(compute="bfloat16", output="float32")
    model = axon.model.mixed_precision.apply_policy(mlp(), policy)
    state = (
        axon.loop.trainer(model, "categorical_cross_entropy", axon.optim.adam(1e-2), log=0)
        .metric("accuracy")
        .replace(output_transform=None)
        .run(digit_batches, epochs=3)
    )
    assert state.step_state["model_state"].params["dense_0"]["kernel"].dtype == jnp.float32
    assert float(state.history[2]["loss"]) < 0.5 * float(state.history[0]["loss"])


def test_a_trained_state_saves_loads_and_exports(digit_batches, tmp_path):
    model = mlp()
    trained = axon.loop.trainer(model, "categorical_cross_entropy", "adam", log=0).run(
        digit_batches
    )
    x = digit_batches[0][0]
    expected = axon.model.predict(model, trained, x)
    axon.model.save(tmp_path / "digits.safetensors", trained)
    loaded = axon.model.load(tmp_path / "digits.safetensors", model=model)
    np.testing.assert_array_equal(axon.model.predict(model, loaded, x), expected)
    exported = axon.model.load_exported(axon.model.export(model, trained, x))
    np.testing.assert_allclose(exported(x), expected, rtol=1e-6)
    with pytest.raises(axon.model.SerializationError):
        axon.model.load(tmp_path / "digits.safetensors", model=mlp().dense(3))


def test_out_of_range_token_ids_stop_a_run_without_jit_and_are_clamped_with_it():
    # a vocabulary of 50 tokens, and a batch with the id 50: a tokenizer one too large
    model = (
        axon.model.input("tokens", shape=(None, 6))
        .embedding(50, 8, name="tokens_embedded")
        .flatten()
        .dense(2, activation="softmax")
    )
    ids = np.random.default_rng(0).integers(0, 50, size=(4, 16, 6)).astype(np.int32)
    ids[2, 3, 1] = 50
    labels = np.eye(2, dtype=np.float32)[np.arange(16) % 2]
    batches = [(batch, labels) for batch in ids]
    loop = axon.loop.trainer(model, "categorical_cross_entropy", "adam", log=0)
    with pytest.raises(axon.model.InputError, match=r"'tokens_embedded'.*from 0 to 50"):
        loop.run(batches, jit=False)
    assert loop.run(batches).params["tokens_embedded"]["kernel"].shape == (50, 8)  # clamped


def test_a_siamese_network_trains_with_the_trainer():
    encoder = axon.model.block(lambda x: x.dense(16, activation="relu").dense(8), name="encoder")
    a, b = axon.model.input("a", shape=(None, 6)), axon.model.input("b", shape=(None, 6))
    distance = axon.model.layer(
        lambda u, v: jnp.sum((u - v) ** 2, axis=-1, keepdims=True),
        [encoder(a), encoder(b)],
        op_name="squared_distance",
    )
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(4, 6)) * 3

    def batch():
        ca, cb = rng.integers(0, 4, 64), rng.integers(0, 4, 64)
        same = rng.random(64) < 0.5
        cb = np.where(same, ca, cb)
        xa = centers[ca] + rng.normal(size=(64, 6)) * 0.3
        xb = centers[cb] + rng.normal(size=(64, 6)) * 0.3
        return {"a": xa.astype(np.float32), "b": xb.astype(np.float32)}, (ca == cb)[:, None].astype(
            np.float32
        )

    def contrastive(y_true, d2):  # pull pairs of one class together, push others past a margin
        d = jnp.sqrt(d2 + 1e-9)
        return jnp.mean(y_true * d2 + (1 - y_true) * jax.nn.relu(2.0 - d) ** 2)

    data = [batch() for _ in range(20)]
    loop = axon.loop.trainer(distance, contrastive, axon.optim.adam(1e-2), log=0)
    result = loop.replace(output_transform=None).run(data, epochs=6)
    losses = [float(result.history[e]["loss"]) for e in sorted(result.history)]
    assert losses[-1] < losses[0] / 3, losses
    assert sorted(result.step_state["model_state"].params) == ["encoder/dense_0", "encoder/dense_1"]


def test_the_tied_language_model_example_trains_saves_and_loads_in_a_fresh_process(
    tmp_path, monkeypatch
):
    # the model of examples/char_lm_tied.py, trained a little, comes back from its model file
    # in a process that never imports the example: predictions bitwise, one embedding table
    examples = Path(__file__).resolve().parents[2] / "examples"
    monkeypatch.syspath_prepend(str(examples))  # where its shared _cli.py lives
    spec = importlib.util.spec_from_file_location("char_lm_tied", examples / "char_lm_tied.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    vocab, length = 20, 12
    model = example.build_model(vocab, length, hidden=16)
    rng = np.random.default_rng(0)
    chars = rng.integers(0, vocab, (64, length)).astype(np.int32)
    targets = np.eye(vocab, dtype=np.float32)[chars[:, -1]]  # predict the last character
    data = axon.loop.batches(chars, targets, batch_size=16)
    state = axon.loop.trainer(model, "categorical_cross_entropy", axon.optim.adam(1e-2), log=0).run(
        data, epochs=2
    )
    assert "logits" in state.params and "kernel" not in state.params["logits"]  # tied: no own
    axon.model.save_model(tmp_path / "lm.axon", model, state)
    np.save(tmp_path / "chars.npy", chars)
    np.save(tmp_path / "expected.npy", np.asarray(axon.model.predict(model, state, chars)))
    script = f"""
import numpy as np, axon.model
model, state = axon.model.load_model({str(tmp_path / "lm.axon")!r})
chars = np.load({str(tmp_path / "chars.npy")!r})
np.testing.assert_array_equal(
    np.asarray(axon.model.predict(model, state, chars)), np.load({str(tmp_path / "expected.npy")!r})
)
assert sorted(state.params["embedding"]) == ["value"], sorted(state.params)
print("same")
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert result.returncode == 0 and result.stdout.strip() == "same", result.stderr


@pytest.mark.parametrize("shuffle", [False, True])
def test_fused_blocks_train_bitwise_like_single_steps(shuffle):
    """The benchmark's trainer (softmax MLP, cross entropy, adam, accuracy) over
    batches(x, y): blocks stacked by the data itself and read ahead of a log every 7
    iterations give the parameters and metrics of one step per dispatch, bit for bit."""
    rng = np.random.default_rng(0)
    x = rng.normal(loc=3.0, scale=4.0, size=(600, 32)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 600)]
    data = axon.loop.batches(x, y, batch_size=16, shuffle=shuffle)  # 37 full + 1 of 8
    model = axon.model.input("x", shape=(None, 32)).dense(64, activation="relu")
    model = model.dense(10, activation="softmax")
    seen = {}

    def trained(steps_per_dispatch):
        log = seen.setdefault(steps_per_dispatch, [])
        loop = axon.loop.trainer(model, "categorical_cross_entropy", "adam", log=0)
        loop = loop.metric("accuracy").handle_event(
            "iteration_completed", lambda s: log.append(s.metric_values()), {"every": 7}
        )
        return loop.run(data, epochs=2, steps_per_dispatch=steps_per_dispatch)

    single, fused = trained(1), trained("auto")
    jax.tree_util.tree_map(np.testing.assert_array_equal, fused.params, single.params)
    assert len(seen["auto"]) == 76 // 7 and seen["auto"] == seen[1]
