"""from_onnx, operator by operator, on graphs made with onnx.helper, against onnxruntime.

Covers what the torch fixtures do not emit (GRU, bidirectional LSTM, Resize, pools
with ceil_mode, Erf, Gemm's transposes) and the unsupported-operator error.
"""

import numpy as np
import pytest

import axon.model

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from axon.model._onnx.importer import OnnxImportError  # noqa: E402

RNG = np.random.default_rng(0)


def graph_bytes(nodes, inputs, output, initializers=(), opset=20) -> bytes:
    """A one-output model: ``inputs`` {name: shape with None for dynamic axes}."""
    graph = helper.make_graph(
        nodes,
        "g",
        [
            helper.make_tensor_value_info(name, TensorProto.FLOAT, [d or "n" for d in shape])
            for name, shape in inputs.items()
        ],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, None)],
        initializer=[numpy_helper.from_array(v.astype(np.float32), k) for k, v in initializers],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    return model.SerializeToString()


def assert_matches_onnxruntime(data: bytes, feed: dict[str, np.ndarray]) -> None:
    model, state = axon.model.from_onnx(data)
    expected = ort.InferenceSession(data).run(None, feed)[0]
    ours = np.asarray(axon.model.predict(model, state, feed))
    np.testing.assert_allclose(ours, expected, atol=1e-4, rtol=1e-4)


def normal(*shape, scale=3.0):
    return (RNG.normal(size=shape) * scale + 0.5).astype(np.float32)


@pytest.mark.parametrize(
    "op, attrs, weights",
    [
        ("GRU", {"direction": "bidirectional", "linear_before_reset": 1}, 3),
        ("GRU", {"direction": "reverse"}, 3),
        ("LSTM", {"direction": "bidirectional"}, 4),
        ("LSTM", {"direction": "reverse"}, 4),
    ],
)
def test_recurrent(op, attrs, weights):
    hidden, features = 5, 3
    directions = 2 if attrs.get("direction") == "bidirectional" else 1
    w = normal(directions, weights * hidden, features, scale=0.5)
    r = normal(directions, weights * hidden, hidden, scale=0.5)
    b = normal(directions, 2 * weights * hidden, scale=0.5)
    node = helper.make_node(op, ["x", "w", "r", "b"], ["y"], hidden_size=hidden, **attrs)
    data = graph_bytes([node], {"x": (None, None, features)}, "y", [("w", w), ("r", r), ("b", b)])
    assert_matches_onnxruntime(data, {"x": normal(6, 2, features)})


@pytest.mark.parametrize(
    "attrs",
    [
        {"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "ceil"},
        {"mode": "linear", "coordinate_transformation_mode": "half_pixel"},
        {"mode": "linear", "coordinate_transformation_mode": "align_corners"},
        {"mode": "linear", "coordinate_transformation_mode": "pytorch_half_pixel"},
    ],
)
def test_resize(attrs):
    scales = numpy_helper.from_array(np.array([1, 1, 2, 1.5], np.float32), "scales")
    nodes = [
        helper.make_node("Constant", [], ["s"], value=scales),
        helper.make_node("Resize", ["x", "", "s"], ["y"], **attrs),
    ]
    data = graph_bytes(nodes, {"x": (None, 2, 4, 6)}, "y")
    assert_matches_onnxruntime(data, {"x": normal(2, 2, 4, 6)})


@pytest.mark.parametrize(
    "op, attrs",
    [
        ("MaxPool", {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1}),
        ("MaxPool", {"kernel_shape": [2, 2], "pads": [1, 1, 0, 0], "dilations": [2, 1]}),
        ("AveragePool", {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}),
        (
            "AveragePool",
            {"kernel_shape": [3, 2], "pads": [1, 0, 1, 1], "count_include_pad": 1},
        ),
        ("AveragePool", {"kernel_shape": [3, 3], "strides": [2, 2], "auto_pad": "SAME_UPPER"}),
    ],
)
def test_pools(op, attrs):
    data = graph_bytes([helper.make_node(op, ["x"], ["y"], **attrs)], {"x": (None, 3, 7, 8)}, "y")
    assert_matches_onnxruntime(data, {"x": normal(2, 3, 7, 8)})


@pytest.mark.parametrize(
    "attrs",
    [
        {"group": 2, "dilations": [2, 1], "pads": [2, 0, 1, 1]},
        {"group": 2, "strides": [2, 2], "auto_pad": "SAME_UPPER"},
        {"strides": [2, 1], "auto_pad": "SAME_LOWER"},
    ],
)
def test_conv_then_global_pool(attrs):
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], **attrs),
        helper.make_node("GlobalMaxPool", ["c"], ["y"]),
    ]
    groups = attrs.get("group", 1)
    weights = [("w", normal(6, 4 // groups, 3, 3, scale=0.5)), ("b", normal(6))]
    data = graph_bytes(nodes, {"x": (None, 4, 9, 9)}, "y", weights)
    assert_matches_onnxruntime(data, {"x": normal(3, 4, 9, 9)})


def test_gemm_erf_gelu_and_layer_norm():
    nodes = [
        helper.make_node("Gemm", ["x", "w", "b"], ["h"], transB=1, alpha=0.5, beta=2.0),
        helper.make_node("Erf", ["h"], ["e"]),
        helper.make_node("Gelu", ["h"], ["g"], approximate="tanh"),
        helper.make_node("Add", ["e", "g"], ["s"]),
        helper.make_node("LayerNormalization", ["s", "scale", "shift"], ["y"], epsilon=1e-3),
    ]
    weights = [("w", normal(4, 6)), ("b", normal(4)), ("scale", normal(4)), ("shift", normal(4))]
    data = graph_bytes(nodes, {"x": (None, 6)}, "y", weights)
    assert_matches_onnxruntime(data, {"x": normal(5, 6, scale=0.3)})


def test_unsupported_operators_are_listed_with_node_names_and_opset():
    nodes = [
        helper.make_node("Relu", ["x"], ["a"], name="ok"),
        helper.make_node("NonMaxSuppression", ["a", "a"], ["b"], name="nms_1"),
        helper.make_node("Hardmax", ["a"], ["c"], name="hard_1"),
        helper.make_node("Hardmax", ["c"], ["d"], name="hard_2"),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3])],
        [helper.make_tensor_value_info("d", TensorProto.FLOAT, None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(OnnxImportError) as error:
        axon.model.from_onnx(model.SerializeToString())
    message = str(error.value)
    assert "opset 17" in message
    assert "Hardmax: 2 node(s): hard_1, hard_2" in message
    assert "NonMaxSuppression: 1 node(s): nms_1" in message
    assert "Relu" not in message


def test_loading_runs_no_code_a_file_path_or_bytes_give_the_same_model(tmp_path):
    matmul = helper.make_node("MatMul", ["x", "w"], ["y"])
    data = graph_bytes([matmul], {"x": (None, 2)}, "y", [("w", normal(2, 3))])
    (tmp_path / "m.onnx").write_bytes(data)
    from_path = axon.model.from_onnx(tmp_path / "m.onnx")[1].params["w"]["value"]
    np.testing.assert_array_equal(from_path, axon.model.from_onnx(data)[1].params["w"]["value"])


def test_a_file_that_is_not_onnx_is_named_in_a_clear_error(tmp_path):
    other = tmp_path / "weights.onnx"
    other.write_text("a text file, or a safetensors file given by mistake")
    for source, named in ((other, "weights.onnx"), (b"\x00\x01 garbage", "the given bytes")):
        with pytest.raises(OnnxImportError, match=f"{named}.* is not an ONNX model file"):
            axon.model.from_onnx(source)
    with pytest.raises(FileNotFoundError):
        axon.model.from_onnx(tmp_path / "missing.onnx")


@pytest.mark.parametrize("op, weights", [("LSTM", 4), ("GRU", 3)])
def test_batch_major_layout_equals_the_time_major_one(op, weights):
    # onnxruntime's CPU kernels do not implement layout=1, so compare with layout=0
    hidden, features = 4, 3
    w, r = normal(1, weights * hidden, features, scale=0.5), normal(1, weights * hidden, hidden)
    outputs = {}
    for layout in (0, 1):
        node = helper.make_node(op, ["x", "w", "r"], ["y"], hidden_size=hidden, layout=layout)
        data = graph_bytes([node], {"x": (None, None, features)}, "y", [("w", w), ("r", r * 0.3)])
        model, state = axon.model.from_onnx(data)
        outputs[layout] = (model, state)
    x = normal(5, 2, features)  # time-major
    time_major = axon.model.predict(*outputs[0], x)  # [time, directions, batch, hidden]
    batch_major = axon.model.predict(*outputs[1], np.swapaxes(x, 0, 1))
    np.testing.assert_allclose(
        np.asarray(batch_major), np.transpose(np.asarray(time_major), (2, 0, 1, 3)), atol=1e-6
    )
