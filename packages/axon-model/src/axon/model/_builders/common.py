"""Building blocks the layer families share."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .._graph.constructors import Initializer, layer, param
from .._graph.model import Model
from .._graph.penalties import Penalty, Regularizer
from .activations import Activation, with_activation
from .options import check_penalty


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
    kernel_regularizer: Regularizer = None,
    bias_regularizer: Regularizer = None,
    activity_regularizer: Regularizer = None,
    **options: Any,
) -> Model:
    """A layer ``op(*inputs, kernel, bias?)``, then its activation (dense, bilinear, convs).

    ``kernel_shape`` and ``bias_shape`` are shapes or functions of the input shapes;
    ``use_bias`` joins ``config``, and ``options`` go to ``op``. A ``kernel`` model
    (e.g. an ``axon.model.parameter`` shared with another layer) replaces the
    layer's own kernel parameter. The regularizers are Keras's: the activity one
    penalizes the output after the activation.
    """
    kernel_penalty, bias_penalty, activity = layer_penalties(
        op_name, name, kernel_regularizer, bias_regularizer, activity_regularizer
    )
    if kernel is None:
        kernel = param(
            "kernel", kernel_shape, initializer=kernel_initializer, regularizer=kernel_penalty
        )
    elif kernel_penalty is not None:
        raise ValueError(
            f"{op_name}: kernel_regularizer= penalizes the layer's own kernel, and kernel= "
            f"replaces it with a shared one; penalize the shared parameter once instead "
            f"(e.g. with a layer that uses it and takes a regularizer), not per use."
        )
    else:
        kernel = check_kernel(kernel, op_name)
    args: list[Any] = [*inputs, kernel]
    if use_bias:
        args.append(
            param("bias", bias_shape, initializer=bias_initializer, regularizer=bias_penalty)
        )
    out = layer(
        op, args, name=name, op_name=op_name, config={**config, "use_bias": use_bias}, **options
    )
    return with_activity_regularizer(with_activation(out, activation), activity)


def layer_penalties(
    builder: str, name: str | None, kernel: Any, bias: Any, activity: Any
) -> tuple[Penalty | None, Penalty | None, Penalty | None]:
    """The kernel, bias and activity regularizer options, checked, as penalty objects."""
    return (
        check_penalty(builder, "kernel_regularizer", kernel, name),
        check_penalty(builder, "bias_regularizer", bias, name),
        check_penalty(builder, "activity_regularizer", activity, name),
    )


def with_activity_regularizer(model: Model, penalty: Penalty | None) -> Model:
    """``model`` whose output layer (just built) penalizes its output with ``penalty``."""
    if penalty is None:
        return model
    return Model(model.node.rebuilt(activity_regularizer=penalty))


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
