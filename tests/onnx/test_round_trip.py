"""axon -> ONNX -> axon: every example model exported with ``to_onnx`` and imported with
``from_onnx`` predicts what the original predicts (within 1e-5, at another batch size)."""

from __future__ import annotations

import sys
from pathlib import Path

import jax
import numpy as np
import pytest

import axon.model as am

sys.path.insert(0, str(Path(__file__).parent))  # the shared model list beside this file
from example_models import EXAMPLES, example, inputs_like, resnet, shared_block


def round_trip(model, templates, *, batch=5):
    state = model.init(0, templates)
    imported, imported_state = am.from_onnx(am.to_onnx(model, state, templates, None))
    inputs = inputs_like(templates, batch)
    feed = inputs if isinstance(inputs, dict) else {am.get_inputs(imported).popitem()[0]: inputs}
    want = jax.tree_util.tree_leaves(am.predict(model, state, inputs))
    got = jax.tree_util.tree_leaves(am.predict(imported, imported_state, feed))
    assert len(got) == len(want)
    for w, g in zip(want, got, strict=True):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-5, atol=1e-5)
    return imported, imported_state


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_example_model_survives_the_round_trip(name, monkeypatch):
    build, templates = EXAMPLES[name]
    round_trip(build(example(name, monkeypatch)), templates)


def test_resnet_and_shared_blocks_survive_the_round_trip():
    round_trip(resnet(), np.zeros((2, 8, 8, 3), np.float32), batch=3)
    _, state = round_trip(shared_block(), np.zeros((2, 4), np.float32))
    # the shared weights are one trainable parameter after the round trip too
    assert sum("shared/dense_0/kernel" in name for name in state.params) == 1


def test_an_imported_scan_is_stored_by_the_model_file(tmp_path, monkeypatch):
    build, templates = EXAMPLES["char_lstm"]
    imported, state = round_trip(build(example("char_lstm", monkeypatch)), templates)
    assert "Scan" in {n.config.get("onnx_op") for n in imported.program.order}
    am.save_model(tmp_path / "lstm.axon", imported, state)
    loaded, loaded_state = am.load_model(tmp_path / "lstm.axon")
    inputs = inputs_like(templates, 3)
    np.testing.assert_array_equal(
        am.predict(loaded, loaded_state, inputs), am.predict(imported, state, inputs)
    )
