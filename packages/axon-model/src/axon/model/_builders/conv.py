"""Convolution builders: ``conv``, ``conv_transpose``, ``depthwise_conv``, ``separable_conv2d/3d``.

Layouts follow ``axon.functional.layers``: ``channels="last"`` (default) takes
``(batch, *spatial, channels)`` with kernels ``(*kernel_size, in // groups, out)``;
``channels="first"`` takes ``(batch, channels, *spatial)`` with kernels
``(out, in // groups, *kernel_size)``. The number of spatial axes comes from the input,
so one builder covers 1-D, 2-D and 3-D convolutions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax

from axon.functional import layers as F

from .._graph.constructors import Initializer, layer, param
from .._graph.model import Model
from .._graph.penalties import Regularizer
from .activations import Activation, with_activation
from .common import kernel_layer, layer_penalties, with_activity_regularizer
from .options import (
    channel_count,
    check_channels,
    check_int_or_tuple,
    check_padding,
    check_positive_int,
    spatial_tuple,
)

IntOrTuple = int | Sequence[int]


def _kernel_shape(
    kernel_size: tuple[int, ...], in_per_group: int, out: int, channels: str
) -> tuple[int, ...]:
    if channels == "last":
        return (*kernel_size, in_per_group, out)
    return (out, in_per_group, *kernel_size)


def _window(fn: str, **options: Any) -> dict[str, Any]:
    """The window options of a convolution, checked, in the order given: ``padding``,
    ``channels``, and ints or tuples (``kernel_size``, ``strides``, dilations)."""
    checked = {}
    for option, value in options.items():
        if option == "padding":
            checked[option] = check_padding(fn, value)
        elif option == "channels":
            checked[option] = check_channels(fn, value)
        else:
            checked[option] = check_int_or_tuple(fn, option, value)
    return checked


def _split(head: dict[str, Any], window: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(config, options)``: what ``display`` shows, and what the op receives (all but the
    kernel size, which the op reads from the kernel)."""
    shown = ("kernel_size", "strides", "padding", "channels")
    config = {**head, **{k: window[k] for k in shown}}
    return config, {k: v for k, v in window.items() if k != "kernel_size"}


def _depthwise_bias(
    fn: str, channels: str, multiplier: int
) -> Callable[[Sequence[int]], tuple[int]]:
    """The bias shape of a depthwise convolution, ``(in_channels * multiplier,)``, as a
    function of its input shape; its kernels end in the same number of channels."""

    def bias_shape(shape: Sequence[int]) -> tuple[int]:
        return (channel_count(fn, shape, channels) * multiplier,)

    return bias_shape


def _spatial_size(fn: str, kernel_size: Any, shape: Sequence[int]) -> tuple[int, ...]:
    return spatial_tuple(fn, "kernel_size", kernel_size, len(shape) - 2)


def conv(
    x: Model,
    units: int,
    *,
    kernel_size: IntOrTuple = 1,
    strides: IntOrTuple = 1,
    padding: str | Sequence[tuple[int, int]] = "valid",
    input_dilation: IntOrTuple = 1,
    kernel_dilation: IntOrTuple = 1,
    feature_group_size: int = 1,
    channels: str = "last",
    activation: Activation | None = None,
    use_bias: bool = True,
    kernel_initializer: Initializer = "glorot_uniform",
    bias_initializer: Initializer = "zeros",
    kernel_regularizer: Regularizer = None,
    bias_regularizer: Regularizer = None,
    activity_regularizer: Regularizer = None,
    name: str | None = None,
) -> Model:
    """N-d convolution (``Axon.conv``) with ``units`` output channels.

    Params: ``kernel`` (see the module docs) and ``bias (units,)``.

    Args:
        x: input ``(batch, *spatial, in)`` (or channels first).
        units: output channels.
        kernel_size: window size, an int or one per spatial axis.
        strides: window strides.
        padding: ``"valid"``, ``"same"`` or ``[(low, high), ...]`` per spatial axis.
        input_dilation: input dilation.
        kernel_dilation: kernel dilation (atrous convolution).
        feature_group_size: feature groups; must divide ``in`` and ``units``.
        channels: ``"last"`` or ``"first"``.
        activation: optional activation (a separate layer, as in Axon).
        use_bias: whether to add ``bias``.
        kernel_initializer: initializer of ``kernel``.
        bias_initializer: initializer of ``bias``.
        kernel_regularizer: penalty of ``kernel`` (a name such as ``"l2"`` or an
            ``axon.functional.penalties`` object; see :func:`axon.model.penalty`).
        bias_regularizer: penalty of ``bias``.
        activity_regularizer: penalty of the output (after the activation).
        name: layer name.

    >>> import jax.numpy as jnp, axon.model
    >>> model = axon.model.input("x", shape=(None, 8, 8, 3)).conv(4, kernel_size=3, padding="same")
    >>> state = model.init(0, jnp.zeros((1, 8, 8, 3)))
    >>> state.params["conv_0"]["kernel"].shape, model.apply(state, jnp.ones((2, 8, 8, 3)))[0].shape
    ((3, 3, 3, 4), (2, 8, 8, 4))
    """
    fn = "conv"
    units = check_positive_int(fn, "units", units)
    window = _window(
        fn, kernel_size=kernel_size, strides=strides, padding=padding,
        input_dilation=input_dilation, kernel_dilation=kernel_dilation, channels=channels,
    )  # fmt: skip
    groups = check_positive_int(fn, "feature_group_size", feature_group_size)
    if units % groups:
        raise ValueError(
            f"{fn}: option 'feature_group_size' ({groups}) must divide 'units' ({units})."
        )

    def kernel_shape(shape: Sequence[int]) -> tuple[int, ...]:
        in_channels = channel_count(fn, shape, channels)
        if in_channels % groups:
            raise ValueError(
                f"{fn}: option 'feature_group_size' ({groups}) must divide the input's "
                f"{in_channels} channels (input shape {tuple(shape)})."
            )
        size = _spatial_size(fn, window["kernel_size"], shape)
        return _kernel_shape(size, in_channels // groups, units, channels)

    config, options = _split({"units": units}, window)
    return kernel_layer(
        F.conv, fn, [x], kernel_shape, (units,), use_bias=use_bias,
        kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
        activation=activation, name=name, config=config, feature_group_size=groups, **options,
        kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
        activity_regularizer=activity_regularizer,
    )  # fmt: skip


def conv_transpose(
    x: Model,
    units: int,
    *,
    kernel_size: IntOrTuple = 1,
    strides: IntOrTuple = 1,
    padding: str | Sequence[tuple[int, int]] = "valid",
    kernel_dilation: IntOrTuple = 1,
    channels: str = "last",
    activation: Activation | None = None,
    use_bias: bool = True,
    kernel_initializer: Initializer = "glorot_uniform",
    bias_initializer: Initializer = "zeros",
    kernel_regularizer: Regularizer = None,
    bias_regularizer: Regularizer = None,
    activity_regularizer: Regularizer = None,
    name: str | None = None,
) -> Model:
    """Transposed convolution (``Axon.conv_transpose``): kernel ``(*kernel_size, in, units)``.

    Options as in :func:`conv` (no ``input_dilation``/``feature_group_size``); the output
    size follows :func:`axon.functional.layers.conv_transpose`.

    >>> import jax.numpy as jnp, axon.model
    >>> model = axon.model.input("x", shape=(None, 4, 4, 2)).conv_transpose(
    ...     3, kernel_size=2, strides=2)
    >>> model.apply(model.init(0, jnp.zeros((1, 4, 4, 2))), jnp.ones((1, 4, 4, 2)))[0].shape
    (1, 8, 8, 3)
    """
    fn = "conv_transpose"
    units = check_positive_int(fn, "units", units)
    window = _window(
        fn, kernel_size=kernel_size, strides=strides, padding=padding,
        kernel_dilation=kernel_dilation, channels=channels,
    )  # fmt: skip

    def kernel_shape(shape: Sequence[int]) -> tuple[int, ...]:
        size = _spatial_size(fn, window["kernel_size"], shape)
        return _kernel_shape(size, channel_count(fn, shape, channels), units, channels)

    config, options = _split({"units": units}, window)
    return kernel_layer(
        F.conv_transpose, fn, [x], kernel_shape, (units,), use_bias=use_bias,
        kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
        activation=activation, name=name, config=config, **options,
        kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
        activity_regularizer=activity_regularizer,
    )  # fmt: skip


def depthwise_conv(
    x: Model,
    channel_multiplier: int,
    *,
    kernel_size: IntOrTuple = 1,
    strides: IntOrTuple = 1,
    padding: str | Sequence[tuple[int, int]] = "valid",
    input_dilation: IntOrTuple = 1,
    kernel_dilation: IntOrTuple = 1,
    channels: str = "last",
    activation: Activation | None = None,
    use_bias: bool = True,
    kernel_initializer: Initializer = "glorot_uniform",
    bias_initializer: Initializer = "zeros",
    kernel_regularizer: Regularizer = None,
    bias_regularizer: Regularizer = None,
    activity_regularizer: Regularizer = None,
    name: str | None = None,
) -> Model:
    """Depthwise convolution (``Axon.depthwise_conv``): ``channel_multiplier`` filters per channel.

    Params: ``kernel (*kernel_size, 1, in * channel_multiplier)`` (channels last) and
    ``bias (in * channel_multiplier,)``.

    >>> import jax.numpy as jnp, axon.model
    >>> model = axon.model.input("x", shape=(None, 6, 6, 3)).depthwise_conv(2, kernel_size=3)
    >>> model.init(0, jnp.zeros((1, 6, 6, 3))).params["depthwise_conv_0"]["kernel"].shape
    (3, 3, 1, 6)
    """
    fn = "depthwise_conv"
    multiplier = check_positive_int(fn, "channel_multiplier", channel_multiplier)
    window = _window(
        fn, kernel_size=kernel_size, strides=strides, padding=padding,
        input_dilation=input_dilation, kernel_dilation=kernel_dilation, channels=channels,
    )  # fmt: skip

    bias_shape = _depthwise_bias(fn, channels, multiplier)

    def kernel_shape(shape: Sequence[int]) -> tuple[int, ...]:
        size = _spatial_size(fn, window["kernel_size"], shape)
        return _kernel_shape(size, 1, *bias_shape(shape), channels)

    config, options = _split({"channel_multiplier": multiplier}, window)
    return kernel_layer(
        F.depthwise_conv, fn, [x], kernel_shape, bias_shape, use_bias=use_bias,
        kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
        activation=activation, name=name, config=config, **options,
        kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
        activity_regularizer=activity_regularizer,
    )  # fmt: skip


def separable_conv2d_op(
    x: jax.Array,
    kernel_1: jax.Array,
    kernel_2: jax.Array,
    bias_1: jax.Array | None = None,
    bias_2: jax.Array | None = None,
    **options: Any,
) -> jax.Array:
    """:func:`axon.functional.layers.separable_conv2d` with the biases last (optional)."""
    return F.separable_conv2d(x, kernel_1, bias_1, kernel_2, bias_2, **options)


def separable_conv3d_op(
    x: jax.Array,
    kernel_1: jax.Array,
    kernel_2: jax.Array,
    kernel_3: jax.Array,
    bias_1: jax.Array | None = None,
    bias_2: jax.Array | None = None,
    bias_3: jax.Array | None = None,
    **options: Any,
) -> jax.Array:
    """:func:`axon.functional.layers.separable_conv3d` with the biases last (optional)."""
    return F.separable_conv3d(x, kernel_1, bias_1, kernel_2, bias_2, kernel_3, bias_3, **options)


def _separable(
    fn: str,
    op: Callable[..., Any],
    n: int,
    x: Model,
    channel_multiplier: int,
    *,
    kernel_size: IntOrTuple,
    strides: IntOrTuple,
    padding: Any,
    input_dilation: IntOrTuple,
    kernel_dilation: IntOrTuple,
    channels: str,
    activation: Activation | None,
    use_bias: bool,
    kernel_initializer: Initializer,
    bias_initializer: Initializer,
    kernel_regularizer: Regularizer,
    bias_regularizer: Regularizer,
    activity_regularizer: Regularizer,
    name: str | None,
) -> Model:
    multiplier = check_positive_int(fn, "channel_multiplier", channel_multiplier)
    kernel_penalty, bias_penalty, activity = layer_penalties(
        fn, name, kernel_regularizer, bias_regularizer, activity_regularizer
    )
    window = _window(
        fn, kernel_size=kernel_size, strides=strides, padding=padding,
        input_dilation=input_dilation, kernel_dilation=kernel_dilation, channels=channels,
    )  # fmt: skip
    kernel_size = window["kernel_size"]
    if isinstance(kernel_size, tuple) and len(kernel_size) != n:
        raise ValueError(
            f"{fn}: option 'kernel_size' must be an int or {n} ints; received {kernel_size!r}."
        )

    bias_shape = _depthwise_bias(fn, channels, multiplier)

    def kernel_shape(axis: int) -> Callable[[Sequence[int]], tuple[int, ...]]:
        def shape_fn(shape: Sequence[int]) -> tuple[int, ...]:
            if len(shape) != n + 2:
                raise ValueError(
                    f"{fn}: the input must have rank {n + 2} (batch, {n} spatial axes, "
                    f"channels); received shape {tuple(shape)}."
                )
            size = spatial_tuple(fn, "kernel_size", kernel_size, n)
            only = tuple(k if i == axis else 1 for i, k in enumerate(size))
            return _kernel_shape(only, 1, *bias_shape(shape), channels)

        return shape_fn

    args: list[Any] = [x]
    args += [
        param(f"kernel_{i + 1}", kernel_shape(i), initializer=kernel_initializer,
              regularizer=kernel_penalty)
        for i in range(n)
    ]  # fmt: skip
    if use_bias:
        args += [
            param(
                f"bias_{i + 1}", bias_shape, initializer=bias_initializer, regularizer=bias_penalty
            )
            for i in range(n)
        ]
    config, options = _split({"channel_multiplier": multiplier}, window)
    out = layer(op, args, name=name, op_name=fn, config={**config, "use_bias": use_bias}, **options)
    return with_activity_regularizer(with_activation(out, activation), activity)


def separable_conv2d(
    x: Model,
    channel_multiplier: int,
    *,
    kernel_size: IntOrTuple = 1,
    strides: IntOrTuple = 1,
    padding: str | Sequence[tuple[int, int]] = "valid",
    input_dilation: IntOrTuple = 1,
    kernel_dilation: IntOrTuple = 1,
    channels: str = "last",
    activation: Activation | None = None,
    use_bias: bool = True,
    kernel_initializer: Initializer = "glorot_uniform",
    bias_initializer: Initializer = "zeros",
    kernel_regularizer: Regularizer = None,
    bias_regularizer: Regularizer = None,
    activity_regularizer: Regularizer = None,
    name: str | None = None,
) -> Model:
    """Spatially separable depthwise 2-D convolution (``Axon.separable_conv2d``).

    Params ``kernel_1 (kh, 1, 1, in * m)``, ``kernel_2 (1, kw, 1, in * m)`` (channels last)
    and ``bias_1``, ``bias_2`` ``(in * m,)``. Each stride/dilation/padding applies to its own
    axis only (Axon applies the full options in both convolutions, i.e. strides twice).
    ``kernel_regularizer`` penalizes every kernel, ``bias_regularizer`` every bias.

    >>> import jax.numpy as jnp, axon.model
    >>> model = axon.model.input("x", shape=(None, 6, 6, 2)).separable_conv2d(
    ...     2, kernel_size=3, padding="same")
    >>> state = model.init(0, jnp.zeros((1, 6, 6, 2)))
    >>> sorted(state.params["separable_conv2d_0"])
    ['bias_1', 'bias_2', 'kernel_1', 'kernel_2']
    >>> model.apply(state, jnp.ones((1, 6, 6, 2)))[0].shape
    (1, 6, 6, 4)
    """
    return _separable(
        "separable_conv2d", separable_conv2d_op, 2, x, channel_multiplier,
        kernel_size=kernel_size, strides=strides, padding=padding, input_dilation=input_dilation,
        kernel_dilation=kernel_dilation, channels=channels, activation=activation,
        use_bias=use_bias, kernel_initializer=kernel_initializer,
        bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
        bias_regularizer=bias_regularizer, activity_regularizer=activity_regularizer, name=name,
    )  # fmt: skip


def separable_conv3d(
    x: Model,
    channel_multiplier: int,
    *,
    kernel_size: IntOrTuple = 1,
    strides: IntOrTuple = 1,
    padding: str | Sequence[tuple[int, int]] = "valid",
    input_dilation: IntOrTuple = 1,
    kernel_dilation: IntOrTuple = 1,
    channels: str = "last",
    activation: Activation | None = None,
    use_bias: bool = True,
    kernel_initializer: Initializer = "glorot_uniform",
    bias_initializer: Initializer = "zeros",
    kernel_regularizer: Regularizer = None,
    bias_regularizer: Regularizer = None,
    activity_regularizer: Regularizer = None,
    name: str | None = None,
) -> Model:
    """Spatially separable depthwise 3-D convolution (``Axon.separable_conv3d``).

    Params ``kernel_1..3`` (each filtering one spatial axis) and ``bias_1..3``; see
    :func:`separable_conv2d`.

    >>> import jax.numpy as jnp, axon.model
    >>> model = axon.model.input("x", shape=(None, 4, 4, 4, 1)).separable_conv3d(2, kernel_size=2)
    >>> model.apply(model.init(0, jnp.zeros((1, 4, 4, 4, 1))), jnp.ones((1, 4, 4, 4, 1)))[0].shape
    (1, 3, 3, 3, 2)
    """
    return _separable(
        "separable_conv3d", separable_conv3d_op, 3, x, channel_multiplier,
        kernel_size=kernel_size, strides=strides, padding=padding, input_dilation=input_dilation,
        kernel_dilation=kernel_dilation, channels=channels, activation=activation,
        use_bias=use_bias, kernel_initializer=kernel_initializer,
        bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
        bias_regularizer=bias_regularizer, activity_regularizer=activity_regularizer, name=name,
    )  # fmt: skip


BUILDERS = {
    "conv": conv,
    "conv_transpose": conv_transpose,
    "depthwise_conv": depthwise_conv,
    "separable_conv2d": separable_conv2d,
    "separable_conv3d": separable_conv3d,
}
