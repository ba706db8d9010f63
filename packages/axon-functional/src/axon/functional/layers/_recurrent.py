"""Recurrent cells (lstm, gru, conv_lstm) and unrolls (lax.scan and static).

A **cell** is ``cell_fn(x_t, carry, mask_t, *params) -> (output_t, new_carry)``:
``x_t`` is one time step ``(batch, ...)``, ``carry`` a pytree of ``(batch, ...)``
arrays, ``mask_t`` a boolean ``(batch,)`` array (True where the step is padding)
or ``None``.

An **unroll** runs a cell over ``inputs`` of shape ``(batch, seq, ...)``:
``dynamic_unroll`` with one ``jax.lax.scan`` (compiles once, whatever the length),
``static_unroll`` with a Python loop (one copy of the cell per step). Both call
the same step function, so their outputs and gradients agree.

Masks follow Axon: ``mask`` is ``(batch, seq)`` and a nonzero entry marks a
**padding** step. At a padding step the carry is left unchanged (the unroll
enforces this for any cell), and the built-in cells output the carried hidden
state, that is the output of the last real step (or the initial hidden state if
no real step came before). So for right-padded sequences ``output_seq[:, -1]``
is the last real output, and the final carry is the state after the last real
step. Reversed unrolls (``reverse=True``) see padding first and keep the initial
carry until the real steps start, which is what a bidirectional layer needs.

>>> import jax.numpy as jnp
>>> x = jnp.ones((2, 5, 3))
>>> wi = {k: jnp.full((3, 4), 0.1) for k in ("wii", "wif", "wig", "wio")}
>>> wh = {k: jnp.full((4, 4), 0.1) for k in ("whi", "whf", "whg", "who")}
>>> seq, (c, h) = lstm(x, None, None, wi, wh)
>>> seq.shape, h.shape
((2, 5, 4), (2, 4))
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from .. import activations as _activations

Array = jax.Array
Carry = Any
CellFn = Callable[..., tuple[Array, Carry]]

__all__ = [
    "lstm_cell",
    "gru_cell",
    "conv_lstm_cell",
    "dynamic_unroll",
    "static_unroll",
    "lstm",
    "gru",
    "conv_lstm",
]

LSTM_INPUT_KEYS = ("wii", "wif", "wig", "wio")
LSTM_HIDDEN_KEYS = ("whi", "whf", "whg", "who")
LSTM_BIAS_KEYS = ("bi", "bf", "bg", "bo")
GRU_INPUT_KEYS = ("wir", "wiz", "win")
GRU_HIDDEN_KEYS = ("whr", "whz", "whn")
GRU_BIAS_KEYS = ("br", "bz", "bin", "bhn")
#: Axon's parameter layout of each gated cell: (input kernel, hidden kernel, bias) keys.
GATE_KEYS = {
    "lstm": (LSTM_INPUT_KEYS, LSTM_HIDDEN_KEYS, LSTM_BIAS_KEYS),
    "gru": (GRU_INPUT_KEYS, GRU_HIDDEN_KEYS, GRU_BIAS_KEYS),
}
IN = "(features, units)"  # features from the inputs' last axis, units from the hidden kernel
HID = "(units, units)"


# --- checks shared by the cells -------------------------------------------------------------


def _resolve_activation(fn_name: str, arg: str, value: str | Callable[[Array], Array]):
    if callable(value):
        return value
    if isinstance(value, str):
        return _activations.get(value)
    raise TypeError(
        f"{fn_name}: {arg} must be an activation name such as 'sigmoid' or a function, "
        f"got {type(value).__name__}."
    )


def _gate_params(
    fn_name: str,
    arg: str,
    params: Any,
    keys: Sequence[str],
    shape: tuple[int, ...],
    layout: str = "",
) -> list[Array]:
    """The arrays of ``params`` under ``keys``, each checked to have ``shape`` (``layout``)."""
    if not isinstance(params, Mapping):
        raise TypeError(
            f"{fn_name}: {arg} must be a dict with keys {list(keys)} (Axon's layout), "
            f"got {type(params).__name__}."
        )
    missing = [k for k in keys if k not in params]
    if missing:
        raise ValueError(
            f"{fn_name}: {arg} must have keys {list(keys)}, but {missing} are missing "
            f"(got keys {sorted(params)})."
        )
    arrays = [jnp.asarray(params[k]) for k in keys]
    for key, array in zip(keys, arrays, strict=True):
        if array.shape != shape:
            raise ValueError(
                f"{fn_name}: {arg}[{key!r}] must have shape {layout}{' = ' if layout else ''}"
                f"{shape}, got {array.shape}."
            )
    return arrays


def _check_rank(fn_name: str, arg: str, x: Array, rank: int, layout: str) -> None:
    if x.ndim != rank:
        raise ValueError(
            f"{fn_name}: {arg} must have rank {rank} {layout}, got shape {x.shape} (rank {x.ndim})."
        )


def _check_carry(fn_name: str, carry: Any, size: int, shape: tuple[int, ...]) -> list[Array]:
    names = "(c, h)" if size == 2 else "(h,)"
    if not isinstance(carry, (tuple, list)) or len(carry) != size:
        raise TypeError(
            f"{fn_name}: carry must be a tuple {names} of arrays of shape {shape}, got "
            f"{type(carry).__name__}"
            + (f" of length {len(carry)}" if isinstance(carry, (tuple, list)) else "")
            + "."
        )
    arrays = [jnp.asarray(c) for c in carry]
    for name, array in zip(names.strip("(),").split(", "), arrays, strict=False):
        if array.shape != shape:
            raise ValueError(f"{fn_name}: carry {name} must have shape {shape}, got {array.shape}.")
    return arrays


def _keep_padded(mask_t: Array | None, old: Carry, new: Carry) -> Carry:
    """``new``, except ``old`` in the batch rows where ``mask_t`` marks padding."""
    if mask_t is None:
        return new

    def select(o: Array, n: Array) -> Array:
        padded = mask_t.reshape(mask_t.shape + (1,) * (n.ndim - 1))
        return jnp.where(padded, o, n)

    return jax.tree.map(select, old, new)


# --- cells -----------------------------------------------------------------------------------


def lstm_cell(
    inputs: Array,
    carry: tuple[Array, Array],
    mask: Array | None,
    input_kernel: Mapping[str, Array],
    hidden_kernel: Mapping[str, Array],
    bias: Mapping[str, Array] | None = None,
    *,
    gate: str | Callable[[Array], Array] = "sigmoid",
    activation: str | Callable[[Array], Array] = "tanh",
) -> tuple[Array, tuple[Array, Array]]:
    """One LSTM step (PyTorch's equations, Axon's parameter layout).

    ``i, f, o = gate(x @ wi* + h @ wh* + b*)``, ``g = activation(x @ wig + h @ whg + bg)``,
    ``c' = f * c + i * g``, ``h' = o * activation(c')``.

    Args:
        inputs: ``(batch, features)``.
        carry: ``(c, h)``, each ``(batch, units)``.
        mask: ``(batch,)`` booleans, True where this step is padding (the carry is
            kept and the output is the previous ``h``), or ``None``.
        input_kernel: ``{"wii", "wif", "wig", "wio"}``, each ``(features, units)``.
        hidden_kernel: ``{"whi", "whf", "whg", "who"}``, each ``(units, units)``.
        bias: ``{"bi", "bf", "bg", "bo"}``, each ``(units,)``, or ``None`` for no
            bias. (PyTorch's ``b_ih + b_hh`` for each gate.)
        gate: the gate activation (name or function).
        activation: the cell activation (name or function).

    Returns:
        ``(h', (c', h'))``.

    >>> import jax.numpy as jnp
    >>> wi = {k: jnp.zeros((3, 2)) for k in ("wii", "wif", "wig", "wio")}
    >>> wh = {k: jnp.zeros((2, 2)) for k in ("whi", "whf", "whg", "who")}
    >>> out, (c, h) = lstm_cell(jnp.ones((1, 3)), (jnp.ones((1, 2)), jnp.zeros((1, 2))),
    ...                         None, wi, wh)
    >>> c.tolist()  # forget gate sigmoid(0) = 0.5 halves the cell
    [[0.5, 0.5]]
    """
    name = "lstm_cell"
    _check_rank(name, "inputs", inputs, 2, "(batch, features)")
    batch, features = inputs.shape
    units = _hidden_units(name, hidden_kernel, LSTM_HIDDEN_KEYS)
    c, h = _check_carry(name, carry, 2, (batch, units))
    wi = _gate_params(name, "input_kernel", input_kernel, LSTM_INPUT_KEYS, (features, units), IN)
    wh = _gate_params(name, "hidden_kernel", hidden_kernel, LSTM_HIDDEN_KEYS, (units, units), HID)
    gate_fn = _resolve_activation(name, "gate", gate)
    act_fn = _resolve_activation(name, "activation", activation)

    # One matmul per operand for all four gates (the split is free).
    z = inputs @ jnp.concatenate(wi, axis=1) + h @ jnp.concatenate(wh, axis=1)
    if bias is not None:
        z = z + jnp.concatenate(
            _gate_params(name, "bias", bias, LSTM_BIAS_KEYS, (units,), "(units,)")
        )
    zi, zf, zg, zo = jnp.split(z, 4, axis=-1)
    new_c = gate_fn(zf) * c + gate_fn(zi) * act_fn(zg)
    new_h = gate_fn(zo) * act_fn(new_c)
    new_c, new_h = _keep_padded(_step_mask(name, mask, batch), (c, h), (new_c, new_h))
    return new_h, (new_c, new_h)


def gru_cell(
    inputs: Array,
    carry: tuple[Array],
    mask: Array | None,
    input_kernel: Mapping[str, Array],
    hidden_kernel: Mapping[str, Array],
    bias: Mapping[str, Array] | None = None,
    *,
    gate: str | Callable[[Array], Array] = "sigmoid",
    activation: str | Callable[[Array], Array] = "tanh",
) -> tuple[Array, tuple[Array]]:
    """One GRU step (PyTorch's equations, Axon's parameter layout).

    ``r = gate(x @ wir + br + h @ whr)``, ``z = gate(x @ wiz + bz + h @ whz)``,
    ``n = activation(x @ win + bin + r * (h @ whn + bhn))``, ``h' = (1 - z) * n + z * h``.

    Args:
        inputs: ``(batch, features)``.
        carry: ``(h,)`` with ``h`` of shape ``(batch, units)`` (a 1-tuple, as Axon's ``{h}``).
        mask: ``(batch,)`` booleans, True where this step is padding, or ``None``.
        input_kernel: ``{"wir", "wiz", "win"}``, each ``(features, units)``.
        hidden_kernel: ``{"whr", "whz", "whn"}``, each ``(units, units)``.
        bias: ``{"br", "bz", "bin", "bhn"}``, each ``(units,)``, or ``None``. ``br``
            and ``bz`` are PyTorch's ``b_i* + b_h*``; ``bin`` and ``bhn`` stay
            separate because ``bhn`` is inside ``r * (...)``.
        gate: the gate activation (name or function).
        activation: the candidate activation (name or function).

    Returns:
        ``(h', (h',))``.

    >>> import jax.numpy as jnp
    >>> wi = {k: jnp.zeros((3, 2)) for k in ("wir", "wiz", "win")}
    >>> wh = {k: jnp.zeros((2, 2)) for k in ("whr", "whz", "whn")}
    >>> out, (h,) = gru_cell(jnp.ones((1, 3)), (jnp.ones((1, 2)),), None, wi, wh)
    >>> h.tolist()  # z = 0.5, n = 0: half of the old state
    [[0.5, 0.5]]
    """
    name = "gru_cell"
    _check_rank(name, "inputs", inputs, 2, "(batch, features)")
    batch, features = inputs.shape
    units = _hidden_units(name, hidden_kernel, GRU_HIDDEN_KEYS)
    (h,) = _check_carry(name, carry, 1, (batch, units))
    wir, wiz, win = _gate_params(
        name, "input_kernel", input_kernel, GRU_INPUT_KEYS, (features, units), IN
    )
    whr, whz, whn = _gate_params(
        name, "hidden_kernel", hidden_kernel, GRU_HIDDEN_KEYS, (units, units), HID
    )
    gate_fn = _resolve_activation(name, "gate", gate)
    act_fn = _resolve_activation(name, "activation", activation)

    xr, xz, xn = jnp.split(inputs @ jnp.concatenate([wir, wiz, win], axis=1), 3, axis=-1)
    hr, hz, hn = jnp.split(h @ jnp.concatenate([whr, whz, whn], axis=1), 3, axis=-1)
    if bias is not None:
        br, bz, bin_, bhn = _gate_params(name, "bias", bias, GRU_BIAS_KEYS, (units,), "(units,)")
        xr, xz, xn, hn = xr + br, xz + bz, xn + bin_, hn + bhn
    r = gate_fn(xr + hr)
    z = gate_fn(xz + hz)
    n = act_fn(xn + r * hn)
    new_h = (1.0 - z) * n + z * h
    new_h = _keep_padded(_step_mask(name, mask, batch), h, new_h)
    return new_h, (new_h,)


def conv_lstm_cell(
    inputs: Array,
    carry: tuple[Array, Array],
    mask: Array | None,
    input_kernel: Array,
    hidden_kernel: Array,
    bias: Array | None = None,
    *,
    strides: int | Sequence[int] = 1,
    padding: str | Sequence[tuple[int, int]] = "same",
    gate: str | Callable[[Array], Array] = "sigmoid",
    activation: str | Callable[[Array], Array] = "tanh",
) -> tuple[Array, tuple[Array, Array]]:
    """One ConvLSTM step (Shi et al. 2015; Axon's single-kernel layout), channels last.

    ``gates = conv(x, input_kernel) + bias + conv(h, hidden_kernel)`` has ``4 * units``
    channels, split in Axon's order ``i, g, f, o``; then ``f = gate(f + 1)`` (the
    forget bias of +1 Axon adds), ``c' = f * c + gate(i) * activation(g)``,
    ``h' = gate(o) * activation(c')``.

    Args:
        inputs: ``(batch, *spatial, in_channels)``.
        carry: ``(c, h)``, each ``(batch, *out_spatial, units)`` where ``out_spatial``
            is the input convolution's output size.
        mask: ``(batch,)`` booleans, True where this step is padding, or ``None``.
            (Axon ignores the mask here; this cell honours it like the others.)
        input_kernel: ``(*kernel_size, in_channels, 4 * units)`` (HWIO).
        hidden_kernel: ``(*kernel_size, units, 4 * units)``; always applied with
            stride 1 and ``"same"`` padding so the state keeps its shape.
        bias: ``(4 * units,)`` or ``None``.
        strides: strides of the input convolution.
        padding: ``"same"``, ``"valid"`` or one ``(low, high)`` pair per spatial axis,
            for the input convolution.
        gate: the gate activation (name or function).
        activation: the cell activation (name or function).

    Returns:
        ``(h', (c', h'))``.

    >>> import jax.numpy as jnp
    >>> x, state = jnp.ones((1, 4, 4, 3)), (jnp.zeros((1, 4, 4, 2)), jnp.zeros((1, 4, 4, 2)))
    >>> out, (c, h) = conv_lstm_cell(x, state, None, jnp.zeros((3, 3, 3, 8)),
    ...                              jnp.zeros((3, 3, 2, 8)))
    >>> out.shape
    (1, 4, 4, 2)
    """
    name = "conv_lstm_cell"
    if inputs.ndim < 3:
        raise ValueError(
            f"{name}: inputs must have rank >= 3 (batch, *spatial, channels), got shape "
            f"{inputs.shape}."
        )
    spatial = inputs.ndim - 2
    input_kernel, hidden_kernel = jnp.asarray(input_kernel), jnp.asarray(hidden_kernel)
    _check_rank(name, "input_kernel", input_kernel, spatial + 2, "(*kernel_size, in, 4 * units)")
    _check_rank(name, "hidden_kernel", hidden_kernel, spatial + 2, "(*kernel_size, units, 4*units)")
    if input_kernel.shape[-1] % 4:
        raise ValueError(
            f"{name}: input_kernel's last axis must be 4 * units (gates i, g, f, o), got "
            f"{input_kernel.shape[-1]}."
        )
    units = input_kernel.shape[-1] // 4
    if input_kernel.shape[-2] != inputs.shape[-1]:
        raise ValueError(
            f"{name}: input_kernel's input channels ({input_kernel.shape[-2]}) must match "
            f"the inputs' last axis ({inputs.shape[-1]}); input_kernel shape "
            f"{input_kernel.shape}, inputs shape {inputs.shape}."
        )
    if hidden_kernel.shape[-2:] != (units, 4 * units):
        raise ValueError(
            f"{name}: hidden_kernel must end with (units, 4 * units) = {(units, 4 * units)}, "
            f"got shape {hidden_kernel.shape}."
        )
    x_gates = _conv(name, inputs, input_kernel, strides, padding)
    c, h = _check_carry(name, carry, 2, (*x_gates.shape[:-1], units))
    gates = x_gates + _conv(name, h, hidden_kernel, 1, "same")
    if bias is not None:
        bias = jnp.asarray(bias)
        if bias.shape != (4 * units,):
            raise ValueError(f"{name}: bias must have shape {(4 * units,)}, got {bias.shape}.")
        gates = gates + bias
    gate_fn = _resolve_activation(name, "gate", gate)
    act_fn = _resolve_activation(name, "activation", activation)
    zi, zg, zf, zo = jnp.split(gates, 4, axis=-1)
    new_c = gate_fn(zf + 1.0) * c + gate_fn(zi) * act_fn(zg)
    new_h = gate_fn(zo) * act_fn(new_c)
    new_c, new_h = _keep_padded(_step_mask(name, mask, inputs.shape[0]), (c, h), (new_c, new_h))
    return new_h, (new_c, new_h)


def _hidden_units(fn_name: str, hidden_kernel: Any, keys: Sequence[str]) -> int:
    """``units``, read from the first hidden kernel (the others are checked against it)."""
    if not isinstance(hidden_kernel, Mapping) or keys[0] not in hidden_kernel:
        _gate_params(fn_name, "hidden_kernel", hidden_kernel, keys, ())  # raises, explaining
    shape = jnp.shape(hidden_kernel[keys[0]])
    if len(shape) != 2 or shape[0] != shape[1]:
        raise ValueError(
            f"{fn_name}: hidden_kernel[{keys[0]!r}] must be a square (units, units) matrix, "
            f"got shape {shape}."
        )
    return int(shape[0])


def _step_mask(fn_name: str, mask: Array | None, batch: int) -> Array | None:
    if mask is None:
        return None
    mask = jnp.asarray(mask)
    if mask.shape not in ((batch,), (batch, 1)):
        raise ValueError(
            f"{fn_name}: mask must have shape ({batch},) (True where the step is padding), "
            f"got {mask.shape}."
        )
    return mask.reshape(batch).astype(bool)


def _conv(fn_name: str, x: Array, kernel: Array, strides: Any, padding: Any) -> Array:
    """The ConvLSTM cell's channels-last convolution (JAX's ``"SAME"``/``"VALID"`` padding)."""
    spatial = x.ndim - 2
    strides = (strides,) * spatial if isinstance(strides, int) else tuple(strides)
    if len(strides) != spatial:
        raise ValueError(f"{fn_name}: strides must be an int or {spatial} ints, got {strides}.")
    if isinstance(padding, str):
        if padding.lower() not in ("same", "valid"):
            raise ValueError(
                f"{fn_name}: padding must be 'same', 'valid' or (low, high) pairs, got {padding!r}."
            )
        padding = padding.upper()
    # Channels last: lhs (N, *S, C), rhs (*K, I, O), out (N, *S, C).
    lhs_spec = (0, x.ndim - 1, *range(1, x.ndim - 1))
    rhs_spec = (kernel.ndim - 1, kernel.ndim - 2, *range(kernel.ndim - 2))
    numbers = jax.lax.ConvDimensionNumbers(lhs_spec, rhs_spec, lhs_spec)
    return jax.lax.conv_general_dilated(x, kernel, strides, padding, dimension_numbers=numbers)


# --- unrolls ---------------------------------------------------------------------------------


def _sequence_mask(fn_name: str, mask: Any, inputs: Array) -> Array | None:
    if mask is None:
        return None
    mask = jnp.asarray(mask)
    expected = inputs.shape[:2]
    if mask.shape == (*expected, 1):
        mask = mask[..., 0]
    if mask.shape != expected:
        raise ValueError(
            f"{fn_name}: mask must have shape (batch, seq) = {expected} (nonzero marks a "
            f"padding step), got {mask.shape}."
        )
    return mask.astype(bool)


def _check_unroll(fn_name: str, cell_fn: Any, inputs: Array) -> None:
    if not callable(cell_fn):
        raise TypeError(
            f"{fn_name}: cell_fn must be a function cell_fn(x_t, carry, mask_t, *params) -> "
            f"(output, new_carry), got {type(cell_fn).__name__}."
        )
    if jnp.ndim(inputs) < 3:
        raise ValueError(
            f"{fn_name}: inputs must have rank >= 3 (batch, seq, features...), got shape "
            f"{jnp.shape(inputs)}."
        )


def _step(cell_fn: CellFn, x_t: Array, carry: Carry, mask_t: Array | None, params) -> Any:
    output, new_carry = cell_fn(x_t, carry, mask_t, *params)
    # Enforced here too, so a custom cell that ignores the mask still keeps its state.
    new_carry = _keep_padded(mask_t, carry, new_carry)
    # The initial carry fixes the carry's dtypes (lax.scan needs them constant), e.g. a
    # bfloat16 state with float32 kernels stays bfloat16 in both unrolls.
    return output, jax.tree.map(lambda old, new: new.astype(old.dtype), carry, new_carry)


def dynamic_unroll(
    cell_fn: CellFn,
    inputs: Array,
    initial_carry: Carry,
    mask: Array | None,
    *params: Any,
    reverse: bool = False,
) -> tuple[Array, Carry]:
    """Run ``cell_fn`` over the sequence axis with one ``jax.lax.scan``.

    Args:
        cell_fn: ``cell_fn(x_t, carry, mask_t, *params) -> (output_t, new_carry)``,
            e.g. :func:`lstm_cell` (use ``functools.partial`` for its options).
        inputs: ``(batch, seq, ...)``.
        initial_carry: the cell's carry before the first step; its dtypes are kept.
        mask: ``(batch, seq)``, nonzero where a step is padding (the carry is kept),
            or ``None``.
        *params: passed to every ``cell_fn`` call (kernels, biases).
        reverse: run from the last step to the first; outputs stay aligned with
            the inputs' positions.

    Returns:
        ``(output_seq, final_carry)``, ``output_seq`` of shape ``(batch, seq, ...)``.

    >>> import jax.numpy as jnp
    >>> def running_sum(x, carry, mask, scale):
    ...     total = carry + scale * x
    ...     return total, total
    >>> out, total = dynamic_unroll(running_sum, jnp.ones((1, 3, 1)), jnp.zeros((1, 1)),
    ...                             jnp.array([[0, 0, 1]]), 2.0)
    >>> out[0, :, 0].tolist(), total.tolist()  # the padded last step keeps the carry
    ([2.0, 4.0, 6.0], [[4.0]])
    """
    name = "dynamic_unroll"
    _check_unroll(name, cell_fn, inputs)
    mask = _sequence_mask(name, mask, inputs)
    xs = (jnp.swapaxes(inputs, 0, 1), None if mask is None else mask.T)

    def body(carry: Carry, x_and_mask: tuple[Array, Array | None]) -> tuple[Carry, Array]:
        output, carry = _step(cell_fn, x_and_mask[0], carry, x_and_mask[1], params)
        return carry, output

    final_carry, outputs = jax.lax.scan(body, initial_carry, xs, reverse=reverse)
    return jax.tree.map(lambda o: jnp.swapaxes(o, 0, 1), outputs), final_carry


def static_unroll(
    cell_fn: CellFn,
    inputs: Array,
    initial_carry: Carry,
    mask: Array | None,
    *params: Any,
    reverse: bool = False,
) -> tuple[Array, Carry]:
    """Run ``cell_fn`` over the sequence axis with a Python loop (one cell per step).

    Same arguments and results as :func:`dynamic_unroll`; the traced program grows
    with the sequence length, so prefer the dynamic unroll except for short sequences.

    >>> import jax.numpy as jnp
    >>> def running_sum(x, carry, mask):
    ...     return carry + x, carry + x
    >>> out, total = static_unroll(running_sum, jnp.ones((1, 3, 1)), jnp.zeros((1, 1)), None)
    >>> out[0, :, 0].tolist(), total.tolist()
    ([1.0, 2.0, 3.0], [[3.0]])
    """
    name = "static_unroll"
    _check_unroll(name, cell_fn, inputs)
    mask = _sequence_mask(name, mask, inputs)
    steps = range(inputs.shape[1])
    carry, outputs = initial_carry, {}
    for t in reversed(steps) if reverse else steps:
        mask_t = None if mask is None else mask[:, t]
        outputs[t], carry = _step(cell_fn, inputs[:, t], carry, mask_t, params)
    ordered = [outputs[t] for t in steps]
    return jax.tree.map(lambda *o: jnp.stack(o, axis=1), *ordered), carry


# --- whole layers ----------------------------------------------------------------------------

_UNROLLS = {"dynamic": dynamic_unroll, "static": static_unroll}


def _unroll_fn(fn_name: str, unroll: str) -> Callable[..., tuple[Array, Carry]]:
    if unroll not in _UNROLLS:
        raise ValueError(f"{fn_name}: unroll must be 'dynamic' or 'static', got {unroll!r}.")
    return _UNROLLS[unroll]


def _bound(
    name: str,
    cell_fn: CellFn,
    gate: str | Callable[[Array], Array],
    activation: str | Callable[[Array], Array],
    **options: Any,
) -> CellFn:
    """``cell_fn`` with its activations and ``options`` bound, ready for an unroll."""
    # Resolved once here, not at every step of a static unroll.
    gate_fn = _resolve_activation(name, "gate", gate)
    act_fn = _resolve_activation(name, "activation", activation)
    return functools.partial(cell_fn, gate=gate_fn, activation=act_fn, **options)


def lstm(
    inputs: Array,
    initial_carry: tuple[Array, Array] | None,
    mask: Array | None,
    input_kernel: Mapping[str, Array],
    hidden_kernel: Mapping[str, Array],
    bias: Mapping[str, Array] | None = None,
    *,
    gate: str | Callable[[Array], Array] = "sigmoid",
    activation: str | Callable[[Array], Array] = "tanh",
    unroll: str = "dynamic",
    reverse: bool = False,
) -> tuple[Array, tuple[Array, Array]]:
    """An LSTM layer over ``inputs`` ``(batch, seq, features)``: :func:`lstm_cell`, unrolled.

    Args:
        inputs: ``(batch, seq, features)``.
        initial_carry: ``(c, h)``, each ``(batch, units)``, or ``None`` for zeros.
        mask: ``(batch, seq)``, nonzero at padding steps, or ``None``.
        input_kernel: as in :func:`lstm_cell`.
        hidden_kernel: as in :func:`lstm_cell`.
        bias: as in :func:`lstm_cell`.
        gate: as in :func:`lstm_cell`.
        activation: as in :func:`lstm_cell`.
        unroll: ``"dynamic"`` (``lax.scan``; Axon's model-level default) or ``"static"``.
        reverse: process the sequence backwards (for bidirectional layers).

    Returns:
        ``(output_seq (batch, seq, units), (c, h))``.

    >>> import jax.numpy as jnp
    >>> wi = {k: jnp.zeros((3, 2)) for k in ("wii", "wif", "wig", "wio")}
    >>> wh = {k: jnp.zeros((2, 2)) for k in ("whi", "whf", "whg", "who")}
    >>> seq, (c, h) = lstm(jnp.ones((4, 7, 3)), None, None, wi, wh, unroll="static")
    >>> seq.shape, c.shape
    ((4, 7, 2), (4, 2))
    """
    return _gated_layer(
        "lstm", lstm_cell, 2, inputs, initial_carry, mask, input_kernel,
        hidden_kernel, bias, gate=gate, activation=activation, unroll=unroll, reverse=reverse,
    )  # fmt: skip


def gru(
    inputs: Array,
    initial_carry: tuple[Array] | None,
    mask: Array | None,
    input_kernel: Mapping[str, Array],
    hidden_kernel: Mapping[str, Array],
    bias: Mapping[str, Array] | None = None,
    *,
    gate: str | Callable[[Array], Array] = "sigmoid",
    activation: str | Callable[[Array], Array] = "tanh",
    unroll: str = "dynamic",
    reverse: bool = False,
) -> tuple[Array, tuple[Array]]:
    """A GRU layer over ``inputs`` ``(batch, seq, features)``: :func:`gru_cell`, unrolled.

    Args:
        inputs: ``(batch, seq, features)``.
        initial_carry: ``(h,)`` with ``h`` ``(batch, units)``, or ``None`` for zeros.
        mask: ``(batch, seq)``, nonzero at padding steps, or ``None``.
        input_kernel: as in :func:`gru_cell`.
        hidden_kernel: as in :func:`gru_cell`.
        bias: as in :func:`gru_cell`.
        gate: as in :func:`gru_cell`.
        activation: as in :func:`gru_cell`.
        unroll: ``"dynamic"`` (``lax.scan``) or ``"static"``.
        reverse: process the sequence backwards (for bidirectional layers).

    Returns:
        ``(output_seq (batch, seq, units), (h,))``.

    >>> import jax.numpy as jnp
    >>> wi = {k: jnp.zeros((3, 2)) for k in ("wir", "wiz", "win")}
    >>> wh = {k: jnp.zeros((2, 2)) for k in ("whr", "whz", "whn")}
    >>> seq, (h,) = gru(jnp.ones((4, 7, 3)), None, None, wi, wh)
    >>> seq.shape, h.shape
    ((4, 7, 2), (4, 2))
    """
    return _gated_layer(
        "gru", gru_cell, 1, inputs, initial_carry, mask, input_kernel,
        hidden_kernel, bias, gate=gate, activation=activation, unroll=unroll, reverse=reverse,
    )  # fmt: skip


def _gated_layer(
    name: str,
    cell_fn: Callable[..., Any],
    carry_size: int,
    inputs: Array,
    initial_carry: tuple[Array, ...] | None,
    mask: Array | None,
    input_kernel: Mapping[str, Array],
    hidden_kernel: Mapping[str, Array],
    bias: Mapping[str, Array] | None,
    *,
    gate: str | Callable[[Array], Array],
    activation: str | Callable[[Array], Array],
    unroll: str,
    reverse: bool,
) -> tuple[Array, tuple[Array, ...]]:
    """:func:`lstm` and :func:`gru`: ``cell_fn`` unrolled over the sequence (zero carry default)."""
    _check_rank(name, "inputs", inputs, 3, "(batch, seq, features)")
    units = _hidden_units(name, hidden_kernel, GATE_KEYS[name][1])
    if initial_carry is None:
        initial_carry = (jnp.zeros((inputs.shape[0], units), inputs.dtype),) * carry_size
    cell = _bound(name, cell_fn, gate, activation)
    params = (input_kernel, hidden_kernel, bias)
    run = _unroll_fn(name, unroll)
    return run(cell, inputs, tuple(initial_carry), mask, *params, reverse=reverse)


def conv_lstm(
    inputs: Array,
    initial_carry: tuple[Array, Array] | None,
    mask: Array | None,
    input_kernel: Array,
    hidden_kernel: Array,
    bias: Array | None = None,
    *,
    strides: int | Sequence[int] = 1,
    padding: str | Sequence[tuple[int, int]] = "same",
    gate: str | Callable[[Array], Array] = "sigmoid",
    activation: str | Callable[[Array], Array] = "tanh",
    unroll: str = "dynamic",
    reverse: bool = False,
) -> tuple[Array, tuple[Array, Array]]:
    """A ConvLSTM layer over ``(batch, seq, *spatial, channels)``: :func:`conv_lstm_cell`, unrolled.

    ``initial_carry=None`` starts from zeros shaped like the input convolution's
    output. Other arguments as in :func:`conv_lstm_cell` and :func:`lstm`.

    Returns:
        ``(output_seq (batch, seq, *out_spatial, units), (c, h))``.

    >>> import jax.numpy as jnp
    >>> seq, (c, h) = conv_lstm(jnp.ones((2, 5, 6, 6, 3)), None, None,
    ...                         jnp.zeros((3, 3, 3, 8)), jnp.zeros((3, 3, 2, 8)))
    >>> seq.shape, h.shape
    ((2, 5, 6, 6, 2), (2, 6, 6, 2))
    """
    if jnp.ndim(inputs) < 4:
        raise ValueError(
            f"conv_lstm: inputs must have rank >= 4 (batch, seq, *spatial, channels), got "
            f"shape {jnp.shape(inputs)}."
        )
    input_kernel, hidden_kernel = jnp.asarray(input_kernel), jnp.asarray(hidden_kernel)
    if initial_carry is None:
        x0 = inputs[:, 0]
        gates = jax.eval_shape(lambda x: _conv("conv_lstm", x, input_kernel, strides, padding), x0)
        zeros = jnp.zeros((*gates.shape[:-1], gates.shape[-1] // 4), inputs.dtype)
        initial_carry = (zeros, zeros)

    cell = _bound("conv_lstm", conv_lstm_cell, gate, activation, strides=strides, padding=padding)
    params = (input_kernel, hidden_kernel, bias)
    run = _unroll_fn("conv_lstm", unroll)
    return run(cell, inputs, tuple(initial_carry), mask, *params, reverse=reverse)
