"""The built-in layers of axon-model, by name: every family's builders in one table.

``_builtins`` registers this table through the plugin hook, so built-in layers are
looked up like plugin ones (``axon.model.plugins.layers``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._onnx import import_layer
from . import (
    activations,
    attention,
    combinators,
    conv,
    dropout,
    linear,
    normalization,
    pooling,
    quantized,
    recurrent,
    shape,
)

BUILTIN_LAYERS: dict[str, Callable[..., Any]] = {
    **activations.BUILDERS,
    **linear.BUILDERS,
    **conv.BUILDERS,
    **pooling.BUILDERS,
    **normalization.BUILDERS,
    **dropout.BUILDERS,
    **shape.BUILDERS,
    **combinators.BUILDERS,
    **recurrent.BUILDERS,
    **attention.BUILDERS,
    **quantized.BUILDERS,
    **import_layer.BUILDERS,  # what axon.model.from_onnx builds (needs no onnx to run)
}
