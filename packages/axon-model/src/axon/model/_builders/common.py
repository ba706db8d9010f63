"""Building blocks the layer families share."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .._graph.constructors import Initializer, layer, param
from .._graph.model import Model
from .activations import Activation, with_activation


def kernel_layer(
    op: Callable[..., Any],
    op_name: str,
    inputs: Sequence[Model],
    kernel_shape: Any,
    bias_shape: Any,
    *,
    use_bias: bool,
    kernel_initializer: Initializer,
    bias_initializer: Initializer,
    activation: Activation | None,
    name: str | None,
    config: dict[str, Any],
    kernel: Model | None = None,
    **options: Any,
) -> Model:
    """A layer ``op(*inputs, kernel, bias?)``, then its activation (dense, bilinear, convs).

    ``kernel_shape`` and ``bias_shape`` are shapes or functions of the input shapes;
    ``use_bias`` joins ``config``, and ``options`` go to ``op``. A ``kernel`` model
    (e.g. an ``axon.model.parameter`` shared with another layer) replaces the
    layer's own kernel parameter.
    """
    own = param("kernel", kernel_shape, initializer=kernel_initializer)
    args: list[Any] = [*inputs, own if kernel is None else check_kernel(kernel, op_name)]
    if use_bias:
        args.append(param("bias", bias_shape, initializer=bias_initializer))
    out = layer(
        op, args, name=name, op_name=op_name, config={**config, "use_bias": use_bias}, **options
    )
    return with_activation(out, activation)


def check_kernel(kernel: Any, builder: str) -> Model:
    """``kernel``, or a ``TypeError`` saying what ``kernel=`` of ``builder`` takes."""
    if not isinstance(kernel, Model):
        raise TypeError(
            f"{builder}(kernel=...) takes a model whose value is the kernel, such as "
            f"axon.model.parameter(name, shape) (shared with other layers), got "
            f"{type(kernel).__name__}. To set how the kernel is initialized, use "
            f"kernel_initializer=."
        )
    return kernel


def sub_name(name: str | None, suffix: str) -> str | None:
    """The name of a block's sub-layer, ``<name>_<suffix>``; ``None`` (numbered) if unnamed."""
    return None if name is None else f"{name}_{suffix}"
