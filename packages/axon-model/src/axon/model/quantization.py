"""Weight-only int8 quantization for inference (``Axon.Quantization``).

>>> import jax.numpy as jnp, axon.model
>>> from axon.model import quantization
>>> model = axon.model.input("x", shape=(None, 4)).dense(8).relu().dense(2)
>>> state = model.init(0, jnp.ones((1, 4)))
>>> q_model, q_state = quantization.quantize(model, state)
>>> q_state.params["dense_0"]["kernel"].dtype
dtype('int8')
"""

from ._builders.quantized import (
    dequantize_kernel,
    quantize,
    quantize_kernel,
    quantize_model,
    quantize_model_state,
    quantized_dense,
    weight_only_quantized_dense,
)

__all__ = [
    "dequantize_kernel",
    "quantize",
    "quantize_kernel",
    "quantize_model",
    "quantize_model_state",
    "quantized_dense",
    "weight_only_quantized_dense",
]
