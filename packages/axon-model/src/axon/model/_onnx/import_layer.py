"""The ``onnx_node`` layer: one imported ONNX operator, with the shape computations it reads.

An imported graph is made of ``onnx_node`` layers, one per ONNX node that computes on
tensors (a convolution, a matmul, an add). Its inputs that are shapes or indices
derived only from static shapes (``Shape`` -> ``Gather`` -> ``Concat`` for a
``Reshape``) are not layers: the ops computing them travel in the same layer's
``program`` and run in NumPy while JAX traces it, where every shape, the batch axis's
included, is known. So the batch and sequence axes stay dynamic, and the compiled
program holds no shape arithmetic. The program is data (op names, attributes and
constant arrays), so a model file stores the layer as this builder's call, and
loading runs only the ops of :data:`import_ops.OPS`.
"""

from __future__ import annotations

from typing import Any

from .._graph.constructors import layer
from .._graph.model import Model
from .._graph.recording import records
from .import_control import evaluate
from .import_ops import FUNCTIONS


def run_program(*values: Any, program: dict[str, Any]) -> Any:
    """Evaluate ``program`` (ONNX nodes in order) on the layer's input values.

    ``program["inputs"]`` names each value ``[onnx_name, index]`` (``index`` picks one
    output of a layer with several, e.g. an LSTM's ``Y``); ``constants`` are arrays.
    """
    env: dict[str, Any] = dict(program["constants"])
    for (name, index), value in zip(program["inputs"], values, strict=True):
        env[name] = value if index is None else value[index]
    evaluate(program["nodes"], env, FUNCTIONS)
    outputs = [env[name] for name in program["outputs"]]
    return outputs[0] if len(outputs) == 1 else tuple(outputs)


@records("onnx_node")  # a model file stores the layer as this call
def onnx_node(*inputs: Model, program: dict[str, Any], name: str | None = None) -> Model:
    """An imported ONNX operator as a layer (made by :func:`axon.model.from_onnx`).

    ``program`` holds ``nodes`` (each ``op``, ``inputs``, ``outputs``, ``attrs``), the
    ``inputs`` it reads from ``inputs`` (``[onnx_name, output_index_or_None]``), its
    ``constants`` and its ``outputs`` (ONNX value names). The last node is the
    operator the layer stands for; those before it compute its shape inputs.

    >>> import numpy as np, jax.numpy as jnp, axon.model
    >>> x = axon.model.input("x", shape=(None, 2, 3))
    >>> program = {
    ...     "inputs": [["x", None]],
    ...     "constants": {"perm": np.array([0, 2, 1])},
    ...     "nodes": [
    ...         {"op": "Shape", "inputs": ["x"], "outputs": ["s"], "attrs": {}},
    ...         {"op": "Gather", "inputs": ["s", "perm"], "outputs": ["t"], "attrs": {}},
    ...         {"op": "Reshape", "inputs": ["x", "t"], "outputs": ["y"], "attrs": {}},
    ...     ],
    ...     "outputs": ["y"],
    ... }
    >>> y = axon.model.onnx_node(x, program=program, name="reshape")
    >>> y.apply(y.init(0, jnp.ones((4, 2, 3))), jnp.ones((5, 2, 3)))[0].shape
    (5, 3, 2)
    """
    op_type = program["nodes"][-1]["op"]
    config = {"onnx_op": op_type}
    return layer(
        run_program,
        list(inputs),
        name=name,
        op_name=f"onnx_{op_type}",
        config=config,
        program=program,
    )


BUILDERS = {"onnx_node": onnx_node}
