"""display: the table (FLOPs column and totals), Mermaid and DOT graphs, rendering with dot."""

import os
import shutil

import jax
import jax.numpy as jnp
import pytest

import axon.model
from axon.model import display

T = jax.ShapeDtypeStruct((2, 4), jnp.float32)


def mlp():
    return axon.model.input("x", shape=(None, 4)).dense(8, activation="relu").dense(3)


def test_table_has_a_flops_column_and_totals():
    table = display.as_table(mlp(), T)
    lines = table.splitlines()
    assert lines[1].split("|")[-2].strip() == "FLOPs"
    rows = {line.split("|")[1].strip(): line.split("|")[-2].strip() for line in lines[3:7]}
    # XLA counts a dense as 2*batch*in*out multiply-adds plus batch*out bias adds
    assert rows == {
        "x (input)": "",
        "dense_0 (dense)": str(2 * 2 * 4 * 8 + 2 * 8),
        "relu_0 (relu)": "16",
        "dense_1 (dense)": str(2 * 2 * 8 * 3 + 2 * 3),
    }
    assert lines[-2] == f"Total FLOPs: {144 + 16 + 102}"
    assert lines[-1] == "Total parameters: 67 (268 B)"


def test_layer_flops_scale_with_the_batch():
    small = display.layer_flops(mlp(), T)
    large = display.layer_flops(mlp(), jax.ShapeDtypeStruct((20, 4), jnp.float32))
    assert small == {"dense_0": 144, "relu_0": 16, "dense_1": 102}
    assert large == {name: 10 * flops for name, flops in small.items()}


def test_unknown_flops_are_shown_as_question_marks(monkeypatch):
    import axon.model.display as module

    real = module._node_flops

    def flaky(node, structs, params):
        return None if node.op_name == "relu" else real(node, structs, params)

    monkeypatch.setattr(module, "_node_flops", flaky)
    table = display.as_table(mlp(), T)
    assert "| ?     |" in table
    assert "Total FLOPs: 246 (without 1 layer(s) marked ?)" in table


def test_cost_analysis_results_of_every_shape_are_read():
    assert display._flops_of({"flops": 12.0}) == 12
    assert display._flops_of([{"flops": 3.0, "bytes accessed": 4.0}]) == 3
    assert display._flops_of({}) == 0  # nothing to compute (e.g. a reshape)
    assert display._flops_of(None) is None
    assert display._flops_of({"flops": -1.0}) is None
    assert display._flops_of([{}, {}]) is None


def test_table_without_flops_and_with_tuple_outputs():
    x = axon.model.input("x", shape=(None, 4))
    pair = axon.model.layer(lambda v: (v, v * 2), [x], op_name="pair")
    table = display.as_table(pair, T, flops=False)
    assert "FLOPs" not in table and "((2, 4), (2, 4))" in table


def test_mermaid_graph_with_shapes_shared_nodes_and_direction():
    x = axon.model.input("x", shape=(None, 4))
    trunk = x.dense(6, name="trunk")
    model = axon.model.layer(jnp.add, [trunk.relu(), trunk.tanh()])
    text = display.as_graph(model, T, direction="LR")
    assert text.splitlines() == [
        "flowchart LR",
        '    n0[/"x (input)<br/>(2, 4)"/]',
        '    n1["trunk (dense)<br/>(2, 6)"]',
        '    n2["relu_0 (relu)<br/>(2, 6)"]',
        '    n3["tanh_0 (tanh)<br/>(2, 6)"]',
        '    n4["add_0 (add)<br/>(2, 6)"]',
        "    n0 --> n1",
        "    n1 --> n2",
        "    n1 --> n3",
        "    n2 --> n4",
        "    n3 --> n4",
    ]


def test_mermaid_escapes_labels_and_shapes_are_optional():
    model = axon.model.input("x").activation(lambda v: v)  # op name "<lambda>"
    assert display.as_graph(model).splitlines() == [
        "flowchart TB",
        '    n0[/"x (input)"/]',
        '    n1["#lt;lambda#gt;_0 (#lt;lambda#gt;)"]',
        "    n0 --> n1",
    ]
    quoted = axon.model.input('say "hi"', shape=(None, 2))
    assert '[/"say #quot;hi#quot; (input)"/]' in display.as_graph(quoted)
    assert '[label="say \\"hi\\" (input)"' in display.as_graph(quoted, format="dot")


def test_dot_graph():
    text = display.as_graph(mlp(), T, format="dot")
    assert text.startswith("digraph model {\n    rankdir=TB;")
    assert '    n0 [label="x (input)\\n(2, 4)", shape=parallelogram];' in text
    assert '    n1 [label="dense_0 (dense)\\n(2, 8)"];' in text
    assert "    n2 -> n3;" in text and text.endswith("}")


def test_graph_arguments_are_checked():
    with pytest.raises(ValueError, match="format must be 'mermaid' or 'dot'"):
        display.as_graph(mlp(), T, format="png")
    with pytest.raises(ValueError, match="direction must be 'TB'"):
        display.as_graph(mlp(), T, direction="top_down")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' is not installed")
@pytest.mark.parametrize("suffix, magic", [("svg", b"<svg"), ("png", b"\x89PNG")])
def test_render_writes_an_image_with_graphviz(tmp_path, suffix, magic):
    path = tmp_path / f"model.{suffix}"
    assert display.render(mlp(), T, path) == str(path)
    data = path.read_bytes()
    assert magic in data[:400]
    if suffix == "svg":
        assert "dense_0 (dense)" in data.decode()
    assert os.listdir(tmp_path) == [f"model.{suffix}"]  # no temporary file left behind


def test_render_without_graphviz_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match=r"apt-get install graphviz.*as_graph"):
        display.render(mlp(), T, tmp_path / "model.svg")
    assert not os.listdir(tmp_path)


def test_render_needs_a_known_format(tmp_path):
    with pytest.raises(ValueError, match="suffixes"):
        display.render(mlp(), T, tmp_path / "model.bmp")
