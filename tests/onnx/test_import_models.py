"""from_onnx on what torch.onnx.export emits (fixtures made by fixtures/make_onnx_fixtures.py).

Each imported model must agree with onnxruntime on the same file and with torch's own
outputs (stored in the fixture), at a second batch size too (the batch, and the
sequence of the text models, are dynamic axes of the files).
"""

from pathlib import Path

import jax
import numpy as np
import pytest

import axon.model

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

FIXTURES = Path(__file__).parent / "fixtures"
MODELS = ["resnet", "resnet_unfused", "lstm_tagger", "bert"]


def feeds(name: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The fixture's two input sets (by input name) and torch's outputs for them."""
    data = np.load(FIXTURES / f"{name}.npz")
    names = [k for k in data.files if not k.startswith("output") and not k.endswith("_2")]
    first = {k: data[k] for k in names}
    second = {k: data[f"{k}_2"] for k in names}
    return first, second, {"": data["output"], "_2": data["output_2"]}


@pytest.fixture(scope="module", params=MODELS)
def imported(request):
    model, state = axon.model.from_onnx(FIXTURES / f"{request.param}.onnx")
    return request.param, model, state


def test_outputs_equal_onnxruntime_and_torch_at_two_batch_sizes(imported):
    name, model, state = imported
    first, second, torch_outputs = feeds(name)
    session = ort.InferenceSession(str(FIXTURES / f"{name}.onnx"))
    for suffix, feed in (("", first), ("_2", second)):
        ours = np.asarray(axon.model.predict(model, state, feed))
        reference = session.run(None, feed)[0]
        assert ours.shape == reference.shape == torch_outputs[suffix].shape
        np.testing.assert_allclose(ours, reference, atol=1e-4, rtol=1e-4)
        np.testing.assert_allclose(ours, torch_outputs[suffix], atol=1e-4, rtol=1e-4)
    assert len({feed_value.shape[0] for feed_value in (*first.values(), *second.values())}) == 2


def test_dynamic_axes_of_the_file_are_dynamic_inputs(imported):
    name, model, _ = imported
    declared = axon.model.get_inputs(model)
    assert all(shape[0] is None for shape in declared.values())
    if name in ("lstm_tagger", "bert"):  # (batch, sequence) token ids
        assert all(shape == (None, None) for shape in declared.values())


def test_int64_inputs_are_accepted_in_32_bit_mode(imported):
    name, model, state = imported
    first, _, torch_outputs = feeds(name)
    if not any(v.dtype == np.int64 for v in first.values()):
        pytest.skip("float inputs")
    assert not jax.config.jax_enable_x64
    np.testing.assert_allclose(
        np.asarray(axon.model.predict(model, state, first)), torch_outputs[""], atol=1e-4
    )


def test_initializers_are_named_trainable_parameters():
    _model, state = axon.model.from_onnx(FIXTURES / "bert.onnx")
    table = state.params["bert.bert.embeddings.word_embeddings.weight"]["value"]
    assert table.shape == (100, 32)
    # integer initializers (position ids, shape constants) are not parameters
    assert "bert.bert.embeddings.position_ids" not in state.params
    values = [entry["value"] for entry in state.params.values()]
    assert all(np.issubdtype(v.dtype, np.floating) and v.ndim for v in values)


def test_as_table_lists_the_imported_layers():
    model, _ = axon.model.from_onnx(FIXTURES / "lstm_tagger.onnx")
    first, _, _ = feeds("lstm_tagger")
    table = axon.model.display.as_table(model, first)
    assert "onnx_LSTM" in table and "embedding.weight" in table


def test_save_model_round_trip_predicts_identically(imported, tmp_path):
    name, model, state = imported
    first, _, _ = feeds(name)
    path = axon.model.save_model(tmp_path / name, model, state)
    loaded, loaded_state = axon.model.load_model(path)
    np.testing.assert_array_equal(
        np.asarray(axon.model.predict(loaded, loaded_state, first)),
        np.asarray(axon.model.predict(model, state, first)),
    )


@pytest.mark.parametrize("name", ["resnet", "bert"])
def test_a_few_steps_of_fine_tuning_lower_the_loss(name):
    axon_loop = pytest.importorskip("axon.loop")
    model, state = axon.model.from_onnx(FIXTURES / f"{name}.onnx")
    _first, second, torch_outputs = feeds(name)
    rng = np.random.default_rng(0)
    targets = rng.normal(size=torch_outputs["_2"].shape).astype(np.float32)

    def loss(model_state):
        prediction = np.asarray(axon.model.predict(model, model_state, second))
        return float(np.mean((prediction - targets) ** 2))

    before = loss(state)
    trainer = axon_loop.trainer(model, "mean_squared_error", "adam", log=0)
    trained = trainer.run([(second, targets)] * 8, state, epochs=1)
    assert loss(trained) < 0.9 * before
