"""Convolutions: conv, conv_transpose, depthwise_conv, separable_conv2d/3d.

Everything is one N-d implementation on :func:`jax.lax.conv_general_dilated`.

Layouts (``channels``):

* ``"last"`` (default, JAX/flax): input ``(batch, *spatial, in)``, kernel
  ``(*kernel_spatial, in // groups, out)`` (HWIO), output ``(batch, *spatial, out)``.
* ``"first"`` (PyTorch): input ``(batch, in, *spatial)``, kernel
  ``(out, in // groups, *kernel_spatial)`` (OIHW), output ``(batch, out, *spatial)``.

Padding is ``"valid"`` (none), ``"same"`` or explicit ``[(low, high), ...]`` per spatial
axis. ``"same"`` pads ``k_eff - 1`` in total per axis, where
``k_eff = (kernel_size - 1) * kernel_dilation + 1``, with ``(k_eff - 1) // 2`` before and the
rest after, whatever the stride (Nx/Axon's rule; PyTorch's ``padding="same"`` at stride 1).
The output size is then ``ceil(in / stride)``, as with JAX's ``"SAME"``, but at stride > 1 JAX
aligns windows differently.

>>> import jax.numpy as jnp
>>> conv(jnp.ones((1, 5, 5, 3)), jnp.ones((3, 3, 3, 8)), padding="same").shape
(1, 5, 5, 8)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from ._spatial import (
    channel_axis,
    check_channels,
    check_rank,
    effective_window,
    int_tuple,
    padding_pairs,
    window_padding,
)

Array = jax.Array
Padding = str | Sequence[tuple[int, int]]

__all__ = [
    "conv",
    "conv_transpose",
    "conv_transpose_padding",
    "depthwise_conv",
    "separable_conv2d",
    "separable_conv3d",
]

# --- convolutions --------------------------------------------------------------------------------


def _dimension_numbers(rank: int, channels: str) -> lax.ConvDimensionNumbers:
    spatial = tuple(range(1, rank - 1))
    if channels == "last":
        io = (0, rank - 1, *spatial)
        return lax.ConvDimensionNumbers(io, (rank - 1, rank - 2, *range(rank - 2)), io)
    first = tuple(range(rank))
    return lax.ConvDimensionNumbers(first, first, first)


def _kernel_spatial(kernel: Array, channels: str) -> tuple[int, ...]:
    return tuple(kernel.shape[:-2]) if channels == "last" else tuple(kernel.shape[2:])


def _kernel_io(kernel: Array, channels: str) -> tuple[int, int]:
    """``(in_per_group, out)`` channel counts of a kernel in the given layout."""
    if channels == "last":
        return kernel.shape[-2], kernel.shape[-1]
    return kernel.shape[1], kernel.shape[0]


def _add_bias(fn: str, y: Array, bias: Array | None, channels: str) -> Array:
    if bias is None:
        return y
    bias = jnp.asarray(bias)
    out = y.shape[channel_axis(y.ndim, channels)]
    if bias.ndim == 0:
        return y + bias
    if bias.shape != (out,):
        raise ValueError(
            f"{fn}: argument 'bias' must be a scalar or have shape ({out},) (the output "
            f"channels); received shape {bias.shape}."
        )
    if channels == "first":
        bias = bias.reshape((out,) + (1,) * (y.ndim - 2))
    return y + bias


def _conv(
    fn: str,
    x: Array,
    kernel: Array,
    bias: Array | None,
    *,
    strides: Any,
    padding: Any,
    input_dilation: Any,
    kernel_dilation: Any,
    feature_group_size: int,
    batch_group_size: int,
    channels: str,
) -> Array:
    check_channels(fn, channels)
    check_rank(fn, "x", x, min_rank=3)
    x, kernel = jnp.asarray(x), jnp.asarray(kernel)
    if kernel.ndim != x.ndim:
        raise ValueError(
            f"{fn}: argument 'kernel' must have the same rank as 'x' ({jnp.ndim(x)}); received "
            f"kernel shape {jnp.shape(kernel)} for input shape {jnp.shape(x)}."
        )
    n = x.ndim - 2
    strides = int_tuple(fn, "strides", strides, n)
    input_dilation = int_tuple(fn, "input_dilation", input_dilation, n)
    kernel_dilation = int_tuple(fn, "kernel_dilation", kernel_dilation, n)
    for arg, groups in (
        ("feature_group_size", feature_group_size),
        ("batch_group_size", batch_group_size),
    ):
        if not isinstance(groups, int) or groups < 1:
            raise ValueError(f"{fn}: argument '{arg}' must be a positive int; received {groups!r}.")
    in_channels = x.shape[channel_axis(x.ndim, channels)]
    kernel_in, kernel_out = _kernel_io(kernel, channels)
    if kernel_in * feature_group_size != in_channels or kernel_out % feature_group_size:
        layout = (
            "(*kernel_spatial, in // groups, out)"
            if channels == "last"
            else "(out, in // groups, *kernel_spatial)"
        )
        raise ValueError(
            f"{fn}: mismatched channels: input has {in_channels} channels (channels={channels!r}) "
            f"and feature_group_size={feature_group_size}, so the kernel {layout} needs "
            f"in // groups = {in_channels // feature_group_size} and out divisible by "
            f"{feature_group_size}; received kernel shape {kernel.shape}."
        )
    pads = window_padding(fn, padding, _kernel_spatial(kernel, channels), kernel_dilation)
    dtype = jnp.result_type(x, kernel)  # lax.conv needs one dtype; promote like `x @ kernel`
    y = lax.conv_general_dilated(
        x.astype(dtype),
        kernel.astype(dtype),
        window_strides=strides,
        padding=pads,
        lhs_dilation=input_dilation,
        rhs_dilation=kernel_dilation,
        dimension_numbers=_dimension_numbers(x.ndim, channels),
        feature_group_count=feature_group_size,
        batch_group_count=batch_group_size,
    )
    return _add_bias(fn, y, bias, channels)


def conv(
    x: Array,
    kernel: Array,
    bias: Array | None = None,
    *,
    strides: int | Sequence[int] = 1,
    padding: Padding = "valid",
    input_dilation: int | Sequence[int] = 1,
    kernel_dilation: int | Sequence[int] = 1,
    feature_group_size: int = 1,
    batch_group_size: int = 1,
    channels: str = "last",
) -> Array:
    """N-d convolution (1-D, 2-D, 3-D, ...) with optional bias (``Axon.Layers.conv``).

    Args:
        x: input ``(batch, *spatial, in)`` (``channels="last"``) or ``(batch, in, *spatial)``.
        kernel: ``(*kernel_spatial, in // feature_group_size, out)`` for ``"last"``,
            ``(out, in // feature_group_size, *kernel_spatial)`` for ``"first"``.
        bias: ``(out,)``, a scalar, or ``None``.
        strides: window strides, an int or one per spatial axis.
        padding: ``"valid"``, ``"same"`` (see the module docs) or ``[(low, high), ...]``.
        input_dilation: dilation of the input (``d - 1`` zeros between input elements).
        kernel_dilation: dilation of the kernel (atrous convolution).
        feature_group_size: number of feature groups (``in`` channels for depthwise).
        batch_group_size: number of batch groups (used by some gradient computations).
        channels: ``"last"`` or ``"first"``.

    Returns:
        The output; spatial size per axis is
        ``(in_dilated + low + high - k_eff) // stride + 1`` with
        ``in_dilated = (in - 1) * input_dilation + 1``.

    >>> import jax.numpy as jnp
    >>> conv(jnp.ones((1, 4, 1)), jnp.ones((2, 1, 1)), jnp.array([0.5])).ravel().tolist()
    [2.5, 2.5, 2.5]
    """
    return _conv(
        "conv",
        x,
        kernel,
        bias,
        strides=strides,
        padding=padding,
        input_dilation=input_dilation,
        kernel_dilation=kernel_dilation,
        feature_group_size=feature_group_size,
        batch_group_size=batch_group_size,
        channels=channels,
    )


def conv_transpose_padding(
    kernel_size: Sequence[int],
    strides: Sequence[int],
    padding: Padding,
    kernel_dilation: Sequence[int] | None = None,
) -> list[tuple[int, int]]:
    """The explicit padding :func:`conv_transpose` applies for ``"valid"``/``"same"``.

    This is Axon's (and :func:`jax.lax.conv_transpose`'s) rule, with ``k`` the dilated kernel
    size and ``s`` the stride: ``"valid"`` pads ``(k - 1, s - 1 + max(k - s, 0))``, giving
    ``in * s + max(k - s, 0)`` outputs; ``"same"`` pads ``k + s - 2`` in total, ``k - 1`` first
    when ``s > k - 1`` else ``ceil((k + s - 2) / 2)``, giving ``in * s`` outputs. Explicit
    pairs are returned unchanged.

    >>> conv_transpose_padding([3], [2], "valid"), conv_transpose_padding([3], [2], "same")
    ([(2, 2)], [(2, 1)])
    """
    n = len(kernel_size)
    dilation = kernel_dilation if kernel_dilation is not None else (1,) * n
    effective = effective_window(kernel_size, dilation)
    if padding == "valid":
        return [(k - 1, s - 1 + max(k - s, 0)) for k, s in zip(effective, strides, strict=True)]
    if padding == "same":
        pairs = []
        for k, s in zip(effective, strides, strict=True):
            total = k + s - 2
            low = k - 1 if s > k - 1 else -(-total // 2)
            pairs.append((low, total - low))
        return pairs
    return padding_pairs("conv_transpose", padding, effective)


def conv_transpose(
    x: Array,
    kernel: Array,
    bias: Array | None = None,
    *,
    strides: int | Sequence[int] = 1,
    padding: Padding = "valid",
    kernel_dilation: int | Sequence[int] = 1,
    channels: str = "last",
) -> Array:
    """Transposed ("fractionally strided") convolution, as in Axon and ``jax.lax.conv_transpose``.

    It is :func:`conv` with ``input_dilation=strides``, stride 1 and the padding of
    :func:`conv_transpose_padding`; the kernel is used as given (not flipped), in the same
    layout as :func:`conv` (``(*k, in, out)`` for ``"last"``, ``(out, in, *k)`` for ``"first"``).

    Relation to PyTorch: ``torch.nn.functional.conv_transpose{n}d(x, w, stride=s, padding=p,
    output_padding=op, dilation=d)`` with ``w`` of shape ``(in, out, *k)`` equals
    ``conv_transpose(x, kernel, strides=s, padding=[(d*(k-1) - p, d*(k-1) - p + op)] * n,
    kernel_dilation=d, channels="first")`` with ``kernel = flip(w.swapaxes(0, 1), spatial
    axes)``. So ``"valid"`` is PyTorch's ``padding=0, output_padding=max(s - k_eff, 0)``
    (output ``(in - 1) * s + k_eff`` when ``k_eff >= s``), and ``"same"`` gives ``in * s``
    outputs (PyTorch's ``p = k_eff - 1 - low``, ``op = high - low`` when that is >= 0).

    Args:
        x: input, layout as in :func:`conv`.
        kernel: kernel, layout as in :func:`conv` (no feature groups).
        bias: ``(out,)``, a scalar, or ``None``.
        strides: the upsampling factor, an int or one per spatial axis.
        padding: ``"valid"``, ``"same"`` or explicit ``[(low, high), ...]`` applied to the
            stride-dilated input.
        kernel_dilation: kernel dilation.
        channels: ``"last"`` or ``"first"``.

    >>> import jax.numpy as jnp
    >>> conv_transpose(jnp.ones((1, 3, 1)), jnp.ones((2, 1, 1)), strides=2).ravel().tolist()
    [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    """
    fn = "conv_transpose"
    check_channels(fn, channels)
    check_rank(fn, "x", x, min_rank=3)
    check_rank(fn, "kernel", kernel, rank=jnp.ndim(x))
    x, kernel = jnp.asarray(x), jnp.asarray(kernel)
    n = x.ndim - 2
    strides = int_tuple(fn, "strides", strides, n)
    kernel_dilation = int_tuple(fn, "kernel_dilation", kernel_dilation, n)
    if isinstance(padding, str) and padding not in ("valid", "same"):
        padding_pairs(fn, padding, [1] * n)  # raises the standard message
    pads = conv_transpose_padding(
        _kernel_spatial(kernel, channels), strides, padding, kernel_dilation
    )
    return _conv(
        fn,
        x,
        kernel,
        bias,
        strides=1,
        padding=pads,
        input_dilation=strides,
        kernel_dilation=kernel_dilation,
        feature_group_size=1,
        batch_group_size=1,
        channels=channels,
    )


def depthwise_conv(
    x: Array,
    kernel: Array,
    bias: Array | None = None,
    *,
    strides: int | Sequence[int] = 1,
    padding: Padding = "valid",
    input_dilation: int | Sequence[int] = 1,
    kernel_dilation: int | Sequence[int] = 1,
    channels: str = "last",
) -> Array:
    """Depthwise convolution: each input channel convolved with its own ``multiplier`` filters.

    The kernel is ``(*kernel_spatial, 1, in * multiplier)`` for ``"last"`` and
    ``(in * multiplier, 1, *kernel_spatial)`` for ``"first"``; output channel
    ``c * multiplier + m`` comes from input channel ``c``. Options as in :func:`conv`.

    >>> import jax.numpy as jnp
    >>> depthwise_conv(jnp.ones((1, 5, 5, 3)), jnp.ones((3, 3, 1, 6))).shape
    (1, 3, 3, 6)
    """
    fn = "depthwise_conv"
    check_channels(fn, channels)
    check_rank(fn, "x", x, min_rank=3)
    check_rank(fn, "kernel", kernel, rank=jnp.ndim(x))
    x, kernel = jnp.asarray(x), jnp.asarray(kernel)
    in_channels = x.shape[channel_axis(x.ndim, channels)]
    kernel_in, kernel_out = _kernel_io(kernel, channels)
    if kernel_in != 1 or kernel_out % in_channels:
        layout = (
            "(*kernel_spatial, 1, in * multiplier)"
            if channels == "last"
            else "(in * multiplier, 1, *kernel_spatial)"
        )
        raise ValueError(
            f"{fn}: argument 'kernel' must be {layout} with in = {in_channels} (the input's "
            f"channels); received kernel shape {kernel.shape}."
        )
    return _conv(
        fn,
        x,
        kernel,
        bias,
        strides=strides,
        padding=padding,
        input_dilation=input_dilation,
        kernel_dilation=kernel_dilation,
        feature_group_size=in_channels,
        batch_group_size=1,
        channels=channels,
    )


def _separable(
    fn: str,
    x: Array,
    kernels: Sequence[Array],
    biases: Sequence[Array | None],
    *,
    strides: Any,
    padding: Any,
    input_dilation: Any,
    kernel_dilation: Any,
    channels: str,
) -> Array:
    n = len(kernels)
    check_channels(fn, channels)
    check_rank(fn, "x", x, rank=n + 2)
    strides = int_tuple(fn, "strides", strides, n)
    input_dilation = int_tuple(fn, "input_dilation", input_dilation, n)
    kernel_dilation = int_tuple(fn, "kernel_dilation", kernel_dilation, n)
    explicit = None if isinstance(padding, str) else padding_pairs(fn, padding, [1] * n)
    for axis, (kernel, bias) in enumerate(zip(kernels, biases, strict=True)):
        check_rank(fn, f"kernel_{axis + 1}", kernel, rank=n + 2)
        spatial = _kernel_spatial(kernel, channels)
        if any(size != 1 for i, size in enumerate(spatial) if i != axis):
            raise ValueError(
                f"{fn}: argument 'kernel_{axis + 1}' must filter spatial axis {axis} only (size 1 "
                f"on the other spatial axes); received kernel shape {kernel.shape}."
            )

        def only(values: tuple[int, ...], axis: int = axis) -> tuple[int, ...]:
            return tuple(v if i == axis else 1 for i, v in enumerate(values))

        pads = (
            padding
            if explicit is None
            else [p if i == axis else (0, 0) for i, p in enumerate(explicit)]
        )
        x = depthwise_conv(
            x,
            kernel,
            bias,
            strides=only(strides),
            padding=pads,
            input_dilation=only(input_dilation),
            kernel_dilation=only(kernel_dilation),
            channels=channels,
        )
    return x


def separable_conv2d(
    x: Array,
    kernel_1: Array,
    bias_1: Array | None,
    kernel_2: Array,
    bias_2: Array | None,
    *,
    strides: int | Sequence[int] = 1,
    padding: Padding = "valid",
    input_dilation: int | Sequence[int] = 1,
    kernel_dilation: int | Sequence[int] = 1,
    channels: str = "last",
) -> Array:
    """Spatially separable depthwise 2-D convolution: a depthwise conv per spatial axis.

    ``kernel_1`` filters the first spatial axis (``(kh, 1, 1, in * m)`` for ``"last"``) and
    carries the channel multiplier; ``kernel_2`` filters the second (``(1, kw, 1, in * m)``).
    Each option applies to its own axis only (stride, dilation and padding of axis 0 in the
    first conv, of axis 1 in the second); Axon passes the full options to both convs, which
    applies a stride twice.

    >>> import jax.numpy as jnp
    >>> k1, k2 = jnp.ones((3, 1, 1, 4)), jnp.ones((1, 3, 1, 4))
    >>> separable_conv2d(jnp.ones((1, 6, 6, 2)), k1, None, k2, None, padding="same").shape
    (1, 6, 6, 4)
    """
    return _separable(
        "separable_conv2d",
        x,
        (kernel_1, kernel_2),
        (bias_1, bias_2),
        strides=strides,
        padding=padding,
        input_dilation=input_dilation,
        kernel_dilation=kernel_dilation,
        channels=channels,
    )


def separable_conv3d(
    x: Array,
    kernel_1: Array,
    bias_1: Array | None,
    kernel_2: Array,
    bias_2: Array | None,
    kernel_3: Array,
    bias_3: Array | None,
    *,
    strides: int | Sequence[int] = 1,
    padding: Padding = "valid",
    input_dilation: int | Sequence[int] = 1,
    kernel_dilation: int | Sequence[int] = 1,
    channels: str = "last",
) -> Array:
    """Spatially separable depthwise 3-D convolution (one depthwise conv per spatial axis).

    Kernels as in :func:`separable_conv2d`: ``kernel_i`` filters spatial axis ``i`` only.

    >>> import jax.numpy as jnp
    >>> ks = [jnp.ones(s) for s in [(2, 1, 1, 1, 2), (1, 2, 1, 1, 2), (1, 1, 2, 1, 2)]]
    >>> separable_conv3d(jnp.ones((1, 4, 4, 4, 1)), ks[0], None, ks[1], None, ks[2], None).shape
    (1, 3, 3, 3, 2)
    """
    return _separable(
        "separable_conv3d",
        x,
        (kernel_1, kernel_2, kernel_3),
        (bias_1, bias_2, bias_3),
        strides=strides,
        padding=padding,
        input_dilation=input_dilation,
        kernel_dilation=kernel_dilation,
        channels=channels,
    )
