"""``axon.model.to_onnx`` checked against onnxruntime: every built-in layer op and every
example model, at float32 tolerance, on a batch size other than the templates'."""

from __future__ import annotations

import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import onnx
import onnxruntime
import pytest

import axon.model as am

sys.path.insert(0, str(Path(__file__).parent))  # the case list beside this file
from example_models import EXAMPLES, example, inputs_like, resnet, shared_block
from layer_cases import cases

ROOT = Path(__file__).resolve().parents[2]
TABLE = ROOT / "docs" / "reference" / "onnx-export-ops.md"


def check_export(model, templates, tmp_path, *, batch=5, state=None):
    """Export, run with onnxruntime at ``batch``, compare with axon's predictions."""
    state = model.init(0, templates) if state is None else state
    path = tmp_path / "model.onnx"
    proto = am.to_onnx(model, state, templates, path)
    onnx.checker.check_model(onnx.load(path), full_check=True)
    session = onnxruntime.InferenceSession(str(path))
    inputs = inputs_like(templates, batch)
    names = [i.name for i in session.get_inputs()]
    feed = inputs if isinstance(inputs, dict) else {names[0]: inputs}
    got = session.run(None, feed)
    want = jax.tree_util.tree_leaves(am.predict(model, state, inputs))
    assert len(got) == len(want)
    for w, g in zip(want, got, strict=True):
        assert g.shape == np.shape(w) and g.shape[0] == batch
        np.testing.assert_allclose(g, np.asarray(w), rtol=1e-5, atol=1e-5)
    return proto


@pytest.mark.parametrize(("op", "model", "templates"), cases(), ids=[c[0] for c in cases()])
def test_every_builtin_layer_op_matches_onnxruntime(op, model, templates, tmp_path):
    check_export(model, templates, tmp_path)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_models_match_onnxruntime_at_another_batch_size(name, tmp_path, monkeypatch):
    build, templates = EXAMPLES[name]
    check_export(build(example(name, monkeypatch)), templates, tmp_path)


def test_gan_discriminator_resnet_and_shared_blocks(tmp_path, monkeypatch):
    gan = example("gan", monkeypatch)
    check_export(gan.discriminator_model(16), jnp.zeros((2, 2)), tmp_path)
    proto = check_export(resnet(), jnp.zeros((2, 8, 8, 3)), tmp_path, batch=3)
    assert {"Conv", "MaxPool"} <= {n.op_type for n in proto.graph.node}
    proto = check_export(shared_block(), jnp.zeros((2, 4)), tmp_path)
    # one copy of the shared weights, read by both calls of the block
    assert sorted(i.name for i in proto.graph.initializer if "/kernel" in i.name) == [
        "shared/dense_0/kernel",
        "shared/dense_1/kernel",
    ]


def test_a_block_cell_becomes_one_scan_sharing_the_blocks_initializers(tmp_path):
    project = am.block(lambda v: v.dense(5, activation="tanh"), name="project")

    def cell(x_t, h, c):
        h = am.add(project(x_t), h.dense(5, use_bias=False)).tanh()
        return h, (h, am.add(c, h))

    x = am.input("x", shape=(None, 6, 3))
    seq, _ = x.rnn(am.block(cell, name="cell"), carry_init=lambda s: (
        jnp.zeros((s.shape[0], 5)), jnp.ones((s.shape[0], 5))))  # fmt: skip
    model = am.add(seq.global_avg_pool(), project(x.global_avg_pool()))
    proto = check_export(model, jnp.zeros((2, 6, 3)), tmp_path)
    assert [n.op_type for n in proto.graph.node].count("Scan") == 1
    names = [i.name for i in proto.graph.initializer]
    assert names.count("project/dense_0/kernel") == 1  # inside the Scan and outside: one copy


def test_parameters_become_named_initializers_and_batch_is_dynamic(tmp_path):
    model = am.input("x", shape=(None, 3)).dense(4, name="hidden").batch_norm(name="norm")
    state = model.init(0, jnp.ones((2, 3)))
    proto = am.to_onnx(model, state, jnp.ones((2, 3)), None)
    initializers = {i.name: onnx.numpy_helper.to_array(i) for i in proto.graph.initializer}
    np.testing.assert_array_equal(initializers["hidden/kernel"], state.params["hidden"]["kernel"])
    assert "norm/mean" in initializers and "norm/var" in initializers
    (x,) = proto.graph.input
    assert [d.dim_param or d.dim_value for d in x.type.tensor_type.shape.dim] == ["batch", 3]
    fixed = am.to_onnx(model, state, jnp.ones((2, 3)), None, dynamic_batch=False)
    assert [d.dim_value for d in fixed.graph.input[0].type.tensor_type.shape.dim] == [2, 3]
    check_export(model, jnp.ones((2, 3)), tmp_path, batch=1, state=state)


def test_exporting_again_replaces_the_file_whole_and_a_failed_export_leaves_it(tmp_path):
    path = tmp_path / "model.onnx"
    model = am.input("x", shape=(None, 3)).dense(2)
    for seed in (0, 1):  # the same script run twice into the same folder
        am.to_onnx(model, model.init(seed, jnp.ones((1, 3))), jnp.ones((1, 3)), path)
    kept = path.read_bytes()
    assert onnx.load_model_from_string(kept).graph.initializer
    broken = am.layer(lambda v: jnp.sort(v, axis=-1), [am.input("x", shape=(None, 3))])
    with pytest.raises(am.ModelError):
        am.to_onnx(broken, broken.init(0, jnp.ones((1, 3))), jnp.ones((1, 3)), path)
    assert path.read_bytes() == kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]  # no temporary left


def test_unsupported_layers_are_all_named_in_one_error():
    x = am.input("x", shape=(None, 5))
    ranked = am.layer(lambda v: jnp.sort(v, axis=-1), [x], name="ranked")
    rooted = am.layer(lambda v: jax.lax.cbrt(v), [ranked.dense(3)], name="rooted")
    state = rooted.init(0, jnp.ones((1, 5)))
    with pytest.raises(am.ModelError) as error:
        am.to_onnx(rooted, state, jnp.ones((1, 5)), None)
    message = str(error.value)
    assert "cannot export 2 layer(s)" in message
    assert "'ranked' (<lambda>, defined at" in message and "sort" in message
    assert "'rooted' (<lambda>, defined at" in message and "cbrt" in message


def test_bad_arguments_say_what_is_expected():
    model = am.input("x", shape=(None, 3)).dense(2)
    state = model.init(0, jnp.ones((1, 3)))
    with pytest.raises(ValueError, match="opsets 19 to"):
        am.to_onnx(model, state, jnp.ones((1, 3)), None, opset=13)
    with pytest.raises(TypeError, match="ModelState"):
        am.to_onnx(model, state.params, jnp.ones((1, 3)), None)
    other = am.input("x", shape=(None, 3)).dense(5).init(0, jnp.ones((1, 3)))
    with pytest.raises(am.InputError, match="does not fit"):
        am.to_onnx(model, other, jnp.ones((1, 3)), None)


def render_table() -> str:
    """The markdown table of layer ops -> ONNX operators, from exporting every case."""
    from axon.model._onnx.export_primitives import support_table

    rows: dict[str, set[str]] = {}
    for op, model, templates in cases():
        proto = am.to_onnx(model, model.init(0, templates), templates, None)
        found = {n.op_type for n in proto.graph.node} - {"Identity", "Shape"}
        rows.setdefault(op, set()).update(found)
    lines = [
        "# ONNX export: supported layers",
        "",
        "Generated by `tests/onnx/test_export.py` from the code (`python tests/onnx/"
        "test_export.py` rewrites it). Each built-in layer op, and the ONNX operators its "
        "export uses; then the JAX primitives the exporter converts (custom layers "
        "export when their ops use only these).",
        "",
        "| layer op | ONNX operators |",
        "| --- | --- |",
        *(
            f"| `{op}` | {', '.join(sorted(ops)) or '(identity)'} |"
            for op, ops in sorted(rows.items())
        ),
        "",
        "| JAX primitive | ONNX operators |",
        "| --- | --- |",
        *(f"| `{p}` | {', '.join(ops)} |" for p, ops in support_table()),
    ]
    return "\n".join(lines) + "\n"


def test_committed_table_of_supported_ops_is_current():
    assert TABLE.read_text() == render_table(), "run: python tests/onnx/test_export.py"


if __name__ == "__main__":
    TABLE.parent.mkdir(parents=True, exist_ok=True)
    TABLE.write_text(render_table())
