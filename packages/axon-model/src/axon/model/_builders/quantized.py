"""Weight-only int8 quantization of dense layers (``Axon.Quantization``), for inference.

A dense kernel ``W (in, out)`` becomes an int8 tensor ``Q`` and a float scale per
output channel, ``scale[j] = max_i |W[i, j]| / 127`` and
``Q = round(W / scale)`` (symmetric, zero point 0), so ``W ≈ Q * scale`` with an
error of at most ``scale / 2`` per entry. Activations stay in floating point:
``y = (x @ Q) * scale + bias``. The kernel takes a quarter of the memory of
float32.

In a ``ModelState`` the quantized layer keeps its name and holds ``kernel``
(int8), ``kernel_scale`` (the kernel's float dtype) and ``bias``; the int8
kernel and its scale are frozen, since they are not trained.

Here: the layer (``weight_only_quantized_dense``, its op and kernel format) and the
conversion of a float model and its state into quantized ones (``quantize``).
``axon.model.quantization`` is the public face.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from .._compiler.state import ModelState
from .._graph.constructors import layer, param
from .._graph.model import Model
from .._graph.node import Node
from .._graph.rewrite import rewrite_nodes

OP_NAME = "weight_only_quantized_dense"
_QMAX = 127


def quantize_kernel(kernel: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Symmetric per-output-channel int8 quantization of a ``(..., out)`` kernel.

    Args:
        kernel: a floating-point kernel; the last axis is the output channel.

    Returns:
        ``(values, scale)``: int8 values of the kernel's shape and a float scale
        of shape ``(out,)``, with ``kernel ≈ values * scale``. An all-zero channel
        gets scale 1.

    >>> import jax.numpy as jnp
    >>> values, scale = quantize_kernel(jnp.array([[1.0, -0.5], [-2.0, 0.25]]))
    >>> values.tolist(), scale.tolist()
    ([[64, -127], [-127, 64]], [0.015748031437397003, 0.003937007859349251])
    """
    kernel = jnp.asarray(kernel)
    if not jnp.issubdtype(kernel.dtype, jnp.floating):
        raise TypeError(
            f"quantize_kernel expects a floating-point kernel, got dtype {kernel.dtype} "
            f"(already quantized?)."
        )
    if kernel.ndim < 1:
        raise ValueError("quantize_kernel expects a kernel with an output-channel axis.")
    amax = jnp.max(jnp.abs(kernel), axis=tuple(range(kernel.ndim - 1)))
    scale = jnp.where(amax > 0, amax / _QMAX, jnp.ones_like(amax)).astype(kernel.dtype)
    values = jnp.clip(jnp.round(kernel / scale), -_QMAX, _QMAX).astype(jnp.int8)
    return values, scale


def dequantize_kernel(values: jax.Array, scale: jax.Array) -> jax.Array:
    """The float kernel ``values * scale`` that :func:`quantize_kernel` approximates.

    Args:
        values: int8 kernel.
        scale: per-output-channel scale.

    Returns:
        The kernel in the scale's dtype.

    >>> import jax.numpy as jnp
    >>> dequantize_kernel(jnp.array([[64, -127]], jnp.int8), jnp.array([0.5, 0.25])).tolist()
    [[32.0, -31.75]]
    """
    return values.astype(scale.dtype) * scale


def quantized_dense(
    x: jax.Array, kernel: jax.Array, kernel_scale: jax.Array, bias: jax.Array | None = None
) -> jax.Array:
    """The functional op: ``(x @ kernel) * kernel_scale + bias`` with an int8 ``kernel``.

    The matrix product runs in ``x``'s dtype (the kernel is cast, not dequantized
    in memory beforehand), then each output channel is scaled.

    Args:
        x: ``(*batch, in)`` floating-point inputs.
        kernel: ``(in, out)`` int8 values.
        kernel_scale: ``(out,)`` scales.
        bias: ``(out,)`` or ``None``.

    Returns:
        ``(*batch, out)`` in ``x``'s dtype.

    >>> import jax.numpy as jnp
    >>> quantized_dense(jnp.ones((1, 2)), jnp.array([[2, 4], [6, 8]], jnp.int8),
    ...                 jnp.array([0.5, 0.25]), jnp.array([1.0, 0.0])).tolist()
    [[5.0, 3.0]]
    """
    if x.shape[-1] != kernel.shape[0]:
        raise ValueError(
            f"quantized_dense expects inputs whose last axis matches the kernel's first axis: "
            f"input shape {x.shape}, kernel shape {kernel.shape}."
        )
    y = jnp.matmul(x, kernel.astype(x.dtype)) * kernel_scale.astype(x.dtype)
    return y if bias is None else y + bias.astype(y.dtype)


def weight_only_quantized_dense(
    x: Model,
    units: int,
    *,
    use_bias: bool = True,
    scale_dtype: Any = jnp.float32,
    bias_initializer: Any = "zeros",
    name: str | None = None,
) -> Model:
    """A dense layer with an int8 kernel and per-channel scales (inference only).

    Its parameters are ``kernel`` (int8, ``(in, units)``), ``kernel_scale``
    (``(units,)``) and ``bias``. Fresh ones are zeros and ones: the layer is
    meant to receive the weights of a trained dense layer through
    :func:`quantize_model_state` (or :func:`quantize`).

    Args:
        x: the input model.
        units: output features.
        use_bias: whether the layer adds a bias.
        scale_dtype: dtype of the scales (and of the dequantized product).
        bias_initializer: initializer of the bias.
        name: the layer's name.

    Returns:
        The new model.

    >>> import jax.numpy as jnp, axon.model
    >>> model = weight_only_quantized_dense(axon.model.input("x", shape=(None, 3)), 2)
    >>> params = model.init(0, jnp.ones((1, 3))).params["weight_only_quantized_dense_0"]
    >>> {k: v.dtype.name for k, v in params.items()}
    {'kernel': 'int8', 'kernel_scale': 'float32', 'bias': 'float32'}
    """
    if not isinstance(units, int) or units <= 0:
        raise ValueError(
            f"weight_only_quantized_dense units must be a positive int, got {units!r}."
        )
    args: list[Any] = [
        x,
        param("kernel", lambda shape: (shape[-1], units), initializer="zeros", dtype=jnp.int8),
        param("kernel_scale", (units,), initializer="ones", dtype=scale_dtype),
    ]
    if use_bias:
        args.append(param("bias", (units,), initializer=bias_initializer))
    return layer(
        quantized_dense,
        args,
        name=name,
        op_name=OP_NAME,
        config={"units": units, "use_bias": use_bias, "kernel": "int8"},
    )


def _is_dense(node: Node) -> bool:
    return node.op_name == "dense" and "units" in node.config


def quantize_model(model: Model) -> Model:
    """The model with every dense layer replaced by a :func:`weight_only_quantized_dense`.

    Each replacement keeps the dense layer's name (so its entries in a model
    state line up), units, bias, mixed-precision policy and hooks; other layers
    are unchanged. The graph is
    rewritten with :func:`~axon.model.rewrite_nodes`.

    Args:
        model: a model with dense layers.

    Returns:
        The quantized model.

    >>> import axon.model
    >>> q = quantize_model(axon.model.input("x", shape=(None, 4)).dense(8).relu().dense(2))
    >>> [(q.program.names[node.id], node.op_name) for node in q.program.order][:2]
    [('x', 'input'), ('dense_0', 'weight_only_quantized_dense')]
    """
    names = model.program.names

    def rewrite(node: Node) -> Callable[[list[Model], Model], Model] | None:
        if not _is_dense(node):
            return None

        def replace(inputs: list[Model], output: Model) -> Model:
            quantized = weight_only_quantized_dense(
                inputs[0],
                node.config["units"],
                use_bias=bool(node.config.get("use_bias", True)),
                name=names[node.id],
            ).node
            # keep what was attached to the dense layer: precision policy, hooks, source
            carried = {
                f: getattr(node, f) for f in ("policy", "hooks", "defined_at") if hasattr(node, f)
            }
            return Model(dataclasses.replace(quantized, **carried))

        return replace

    return rewrite_nodes(model, rewrite)


def quantize_model_state(model: Model, model_state: ModelState) -> ModelState:
    """Quantize the kernels of ``model``'s dense layers in ``model_state`` to int8.

    ``model`` may be the float model or the output of :func:`quantize_model`.
    For each of its dense (or still-float quantized) layers the kernel becomes
    int8 with a ``kernel_scale`` (see :func:`quantize_kernel`), and both are
    frozen; everything else is kept as it is.

    Args:
        model: the model the state belongs to.
        model_state: its (trained) state.

    Returns:
        The quantized model state.

    >>> import jax.numpy as jnp, axon.model
    >>> model = axon.model.input("x", shape=(None, 4)).dense(2)
    >>> q_state = quantize_model_state(model, model.init(0, jnp.ones((1, 4))))
    >>> q_state.params["dense_0"]["kernel"].dtype, sorted(q_state.frozen)
    (dtype('int8'), ['dense_0/kernel', 'dense_0/kernel_scale'])
    """
    program = model.program
    params = {layer: dict(entries) for layer, entries in model_state.params.items()}
    quantized = []
    for node in program.order:
        if not (_is_dense(node) or node.op_name == OP_NAME):
            continue
        name = program.names[node.id]
        kernel = params.get(name, {}).get("kernel")
        if kernel is None:
            raise KeyError(
                f"The model state has no kernel for dense layer {name!r} (defined at "
                f"{node.defined_at}); it holds layers {sorted(params)}. Pass the state that "
                f"belongs to this model."
            )
        if not jnp.issubdtype(kernel.dtype, jnp.floating):
            continue  # already quantized
        values, scale = quantize_kernel(kernel)
        params[name]["kernel"], params[name]["kernel_scale"] = values, scale
        quantized.append(name)
    result = model_state.replace(params=params)
    paths = [f"{layer}/{entry}" for layer in quantized for entry in ("kernel", "kernel_scale")]
    return result.freeze(paths) if paths else result


def quantize(model: Model, model_state: ModelState) -> tuple[Model, ModelState]:
    """Quantize a model and its state together: ``(quantize_model(m), quantize_model_state(m, s))``.

    Args:
        model: a model with dense layers.
        model_state: its (trained) state.

    Returns:
        ``(q_model, q_state)``, which predict like the float model with int8 kernels.

    >>> import jax.numpy as jnp, axon.model
    >>> model = axon.model.input("x", shape=(None, 4)).dense(8).relu().dense(2)
    >>> x = jnp.linspace(-1, 1, 12).reshape(3, 4)
    >>> state = model.init(0, x)
    >>> q_model, q_state = quantize(model, state)
    >>> error = axon.model.predict(q_model, q_state, x) - axon.model.predict(model, state, x)
    >>> bool(jnp.abs(error).max() < 0.02)
    True
    """
    return quantize_model(model), quantize_model_state(model, model_state)


BUILDERS = {OP_NAME: weight_only_quantized_dense}
