"""axon-model: an immutable model graph that only knows how to initialize and apply itself.

>>> import jax, jax.numpy as jnp, axon.model
>>> model = axon.model.input("x", shape=(None, 4)).dense(8, activation="relu").dense(2)
>>> init_fn, predict_fn = axon.model.build(model)
>>> state = init_fn(jax.random.key(0), jnp.zeros((1, 4)))
>>> predict_fn(state, jnp.ones((3, 4))).shape
(3, 2)
"""

import importlib.metadata

from . import display, mixed_precision, plugins, quantization
from ._builders.activations import activation_layer as activation
from ._builders.linear import dense
from ._builders.shape import flatten
from ._compiler.build import build, get_output_shape, penalty, predict
from ._compiler.state import ModelState
from ._compiler.trace import trace_backward, trace_forward, trace_init
from ._errors import InputError, LayerError, ModelError
from ._files.export import ExportedModel, export, load_exported
from ._files.model_file import load_model, save_model
from ._files.parameters import SerializationError, load, save
from ._files.torch_weights import (
    TorchStateDictError,
    TorchStateDictReport,
    from_torch_state_dict,
)
from ._graph.blocks import Block, block
from ._graph.constructors import input, layer, param, parameter
from ._graph.inspection import (
    get_inputs,
    get_op_counts,
    get_options,
    get_parameters,
    properties,
    reduce_nodes,
)
from ._graph.model import Model, attach_hook
from ._graph.node import Parameter
from ._graph.rewrite import map_nodes, pop_node, rewrite_nodes, set_options, set_parameters
from ._onnx.export import to_onnx
from ._onnx.importer import from_onnx
from .plugins import layers

__version__ = importlib.metadata.version("axon-model")

__all__ = [
    # graph construction
    "Model", "input", "layer", "param", "Parameter", "parameter", "block", "Block",
    "dense", "flatten", "activation", "attach_hook",
    # execution
    "build", "predict", "get_output_shape", "penalty", "ModelState", "mixed_precision",
    # debugging: what JAX sees of a model
    "trace_init", "trace_forward", "trace_backward",
    # inspection and rewriting
    "display", "get_inputs", "get_op_counts", "get_options", "get_parameters", "map_nodes",
    "pop_node", "properties", "reduce_nodes", "rewrite_nodes", "set_options", "set_parameters",
    # saving, exporting, quantizing
    "save", "load", "save_model", "load_model", "SerializationError", "export",
    "load_exported", "ExportedModel",
    # ONNX (the onnx extra)
    "to_onnx", "from_onnx",
    "quantization",
    # PyTorch / Hugging Face checkpoints (safetensors)
    "from_torch_state_dict", "TorchStateDictReport", "TorchStateDictError",
    # extension
    "layers", "plugins",
    # errors
    "ModelError", "LayerError", "InputError",
]  # fmt: skip


def __getattr__(name: str):
    """Module-level access to every registered layer builder (activations, plugins)."""
    if name.startswith("_"):
        raise AttributeError(name)
    if name in layers:
        return layers.get(name)
    raise AttributeError(
        f"module 'axon.model' has no attribute {name!r}. {layers.unknown_message(name)}"
    )
