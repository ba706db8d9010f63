"""Recurrent builders: ``lstm``, ``gru``, ``conv_lstm``, ``bidirectional``, a custom ``rnn`` from a
cell function, and ``mask`` (padding masks).

Sequences are ``(batch, seq, features...)``. Every recurrent builder returns a tuple of
models like Axon: ``(output_sequence, carry)``, where ``carry`` is a tuple of models for
the built-in layers (``(c, h)`` for LSTMs, ``(h,)`` for GRUs) and one model (whose value is
the carry pytree) for :func:`rnn`. The recurrent layer itself is one node whose value is
``(sequence, carry)``; small ``elem`` nodes select its parts, so the recurrence runs once.

Masks (``mask=``) follow ``axon.functional``: ``(batch, seq)``, **nonzero/True at padding
steps**, as :func:`mask` produces. At a padding step the carry is kept, so the final carry
of a right-padded sequence is the state after its last real step.

Deliberate choices where Axon differs:

* The initial carry is zeros (PyTorch/Keras). Axon draws it from ``recurrent_initializer``
  (code default ``glorot_uniform``, a random initial state); here ``recurrent_initializer``
  initializes the *hidden kernels* (Keras' meaning), default ``"orthogonal"``.
* ``unroll="dynamic"`` (default, Axon's model-level default) is one ``jax.lax.scan`` with
  correct gradients (Axon 0.8.1's dynamic unroll had wrong gradients, fixed upstream later);
  ``"static"`` unrolls in Python and gives the same values and gradients.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from axon.functional import activations
from axon.functional import layers as F
from axon.functional.layers import _recurrent as R

from .._graph.blocks import Block
from .._graph.constructors import Initializer, layer, param
from .._graph.model import Model
from .._graph.node import Parameter
from .._graph.penalties import Penalty, Regularizer
from .block_cells import block_rnn
from .common import layer_penalties, sub_name
from .options import (
    check_callable,
    check_int_or_tuple,
    check_model,
    check_padding,
    check_penalty,
    check_positive_int,
    option_error,
    spatial_tuple,
)
from .scan import scan_cell
from .structured import plain, structured

UNROLLS = ("dynamic", "static")
Activation = str | Callable[..., Any]
#: The flat parameter names of a gated cell: input kernels, hidden kernels, biases.
_GATED_KEYS = {
    "lstm": (R.LSTM_INPUT_KEYS, R.LSTM_HIDDEN_KEYS, R.LSTM_BIAS_KEYS),
    "gru": (R.GRU_INPUT_KEYS, R.GRU_HIDDEN_KEYS, R.GRU_BIAS_KEYS),
}
#: The carry of each built-in recurrent layer, by the names its selections get.
_CARRY = {"lstm": ("c", "h"), "gru": ("h",), "conv_lstm": ("c", "h")}


def _check_unroll(fn: str, unroll: Any) -> str:
    if unroll not in UNROLLS:
        raise option_error(fn, "unroll", "'dynamic' (lax.scan) or 'static'", unroll)
    return unroll


def _check_activation(fn: str, option: str, value: Any) -> Activation:
    if isinstance(value, str):
        activations.get(value)  # an unknown name fails here, suggesting close ones
        return value
    if callable(value):
        return value
    raise option_error(fn, option, "an activation name or function", value)


def elem_op(value: Any, *, path: tuple[int, ...]) -> Any:
    """The part of a structured value at ``path`` (selects an RNN's sequence or carry)."""
    for index in path:
        value = plain(value)[index]
    return structured(value)


def _select(node: Model, path: tuple[int, ...], name: str | None) -> Model:
    return layer(elem_op, [node], name=name, op_name="elem", config={"path": path}, path=path)


def _inputs_and_flags(
    fn: str, x: Model, initial_carry: Any, mask: Any, size: int | None
) -> tuple[list[Model], Any, bool]:
    """``[x, *carry, mask?]``, the carry's tree structure (or None) and whether a mask is given."""
    check_model(fn, "x", x)
    models = [x]
    treedef = None
    if initial_carry is not None:
        leaves, treedef = jax.tree_util.tree_flatten(
            initial_carry, is_leaf=lambda v: isinstance(v, Model)
        )
        if not leaves or not all(isinstance(leaf, Model) for leaf in leaves):
            raise TypeError(
                f"{fn}: argument 'initial_carry' must be a model or a tuple of models (e.g. the "
                f"carry returned by another recurrent layer); received {initial_carry!r}."
            )
        if size is not None and len(leaves) != size:
            expected = "(c, h)" if size == 2 else "(h,)"
            raise ValueError(
                f"{fn}: argument 'initial_carry' must be a tuple {expected} of {size} model(s); "
                f"received {len(leaves)}."
            )
        models += leaves
    if mask is not None:
        models.append(check_model(fn, "mask", mask))
    return models, treedef, mask is not None


def _split_values(values: Sequence[Any], treedef: Any, has_mask: bool) -> tuple[Any, Any, list]:
    n = 0 if treedef is None else treedef.num_leaves
    carry = None if treedef is None else jax.tree_util.tree_unflatten(treedef, values[:n])
    mask = values[n] if has_mask else None
    return carry, mask, list(values[n + int(has_mask) :])


def _x_shape_only(p: Parameter) -> Parameter:
    """The parameter with its shape function applied to the first input (the sequence) only."""
    if not callable(p.shape):
        return p
    fn = p.shape
    return dataclasses.replace(p, shape=lambda x_shape, *_: fn(x_shape))


# -- gated layers (lstm, gru) ------------------------------------------------------------------


def gated_rnn_op(
    x: jax.Array,
    *values: Any,
    kind: str,
    carry_treedef: Any,
    has_mask: bool,
    use_bias: bool,
    **options: Any,
) -> Any:
    """:func:`axon.functional.layers.lstm`/``gru`` with flat parameters; value ``(seq, carry)``."""
    carry, mask, params = _split_values(values, carry_treedef, has_mask)
    groups, i = [], 0
    for names in _GATED_KEYS[kind][: 3 if use_bias else 2]:
        groups.append(dict(zip(names, params[i : i + len(names)], strict=True)))
        i += len(names)
    if not use_bias:
        groups.append(None)
    fn = F.lstm if kind == "lstm" else F.gru
    seq, final = fn(x, None if carry is None else tuple(carry), mask, *groups, **options)
    return structured((seq, tuple(final)))


def _gated(
    kind: str,
    x: Model,
    units: Any,
    *,
    initial_carry: Any,
    mask: Any,
    activation: Any,
    gate: Any,
    unroll: Any,
    reverse: bool,
    use_bias: bool,
    kernel_initializer: Initializer,
    recurrent_initializer: Initializer,
    bias_initializer: Initializer,
    regularizers: tuple[Regularizer, Regularizer, Regularizer, Regularizer],
    name: str | None,
) -> tuple[Model, tuple[Model, ...]]:
    units, cell = _checked_cell(kind, units, activation, gate, unroll)
    kernel, recurrent, bias, activity = _penalties(kind, name, *regularizers)
    input_keys, hidden_keys, bias_keys = _GATED_KEYS[kind]
    params = [
        param(k, lambda s, *_: (s[-1], units), initializer=kernel_initializer, regularizer=kernel)
        for k in input_keys
    ]
    params += [
        param(k, (units, units), initializer=recurrent_initializer, regularizer=recurrent)
        for k in hidden_keys
    ]
    if use_bias:
        params += [
            param(k, (units,), initializer=bias_initializer, regularizer=bias) for k in bias_keys
        ]
    return _built_in_rnn(
        kind, gated_rnn_op, x, params, initial_carry=initial_carry, mask=mask, name=name,
        activity=activity,
        config={"units": units, "unroll": cell["unroll"], "reverse": reverse, "use_bias": use_bias},
        kind=kind, use_bias=use_bias, reverse=reverse, **cell,
    )  # fmt: skip


def _checked_cell(
    fn: str, units: Any, activation: Any, gate: Any, unroll: Any
) -> tuple[int, dict[str, Any]]:
    """``units`` and the cell options of a built-in recurrent layer, checked."""
    units = check_positive_int(fn, "units", units)
    unroll = _check_unroll(fn, unroll)
    activation = _check_activation(fn, "activation", activation)
    gate = _check_activation(fn, "gate", gate)
    return units, {"gate": gate, "activation": activation, "unroll": unroll}


def _penalties(
    fn: str, name: str | None, kernel: Any, recurrent: Any, bias: Any, activity: Any
) -> tuple[Penalty | None, ...]:
    """The kernel, recurrent, bias and activity regularizers of a built-in recurrent layer."""
    kernel, bias, activity = layer_penalties(fn, name, kernel, bias, activity)
    return kernel, check_penalty(fn, "recurrent_regularizer", recurrent, name), bias, activity


def _built_in_rnn(
    fn: str,
    op: Callable[..., Any],
    x: Model,
    params: list[Parameter],
    *,
    initial_carry: Any,
    mask: Any,
    name: str | None,
    config: dict[str, Any],
    activity: Penalty | None,
    **options: Any,
) -> tuple[Model, tuple[Model, ...]]:
    """The recurrent layer node and the selections of its output sequence and carry.

    The ``activity`` penalty applies to the layer's whole value, sequence and final carry
    (Keras's ``return_sequences=True, return_state=True``), so it counts whichever the
    model uses."""
    inputs, treedef, has_mask = _inputs_and_flags(fn, x, initial_carry, mask, len(_CARRY[fn]))
    node = layer(
        op, [*inputs, *params], name=name, op_name=fn, config=config,
        carry_treedef=treedef, has_mask=has_mask, activity_regularizer=activity, **options,
    )  # fmt: skip
    sequence = _select(node, (0,), sub_name(name, "output_sequence"))
    carry = tuple(
        _select(node, (1, i), sub_name(name, f"{part}_hidden_state"))
        for i, part in enumerate(_CARRY[fn])
    )
    return sequence, carry


def lstm(
    x: Model,
    units: int,
    *,
    initial_carry: tuple[Model, Model] | None = None,
    mask: Model | None = None,
    activation: Activation = "tanh",
    gate: Activation = "sigmoid",
    unroll: str = "dynamic",
    reverse: bool = False,
    use_bias: bool = True,
    kernel_initializer: Initializer = "glorot_uniform",
    recurrent_initializer: Initializer = "orthogonal",
    bias_initializer: Initializer = "zeros",
    kernel_regularizer: Regularizer = None,
    recurrent_regularizer: Regularizer = None,
    bias_regularizer: Regularizer = None,
    activity_regularizer: Regularizer = None,
    name: str | None = None,
) -> tuple[Model, tuple[Model, Model]]:
    """An LSTM over ``x`` ``(batch, seq, features)`` (``Axon.lstm``): ``(sequence, (c, h))``.

    Params (Axon's layout, flat): ``wii, wif, wig, wio`` ``(features, units)``,
    ``whi, whf, whg, who`` ``(units, units)``, ``bi, bf, bg, bo`` ``(units,)``.

    Args:
        x: the input sequence.
        units: hidden size.
        initial_carry: ``(c, h)`` models (e.g. another LSTM's carry); default zeros.
        mask: ``(batch, seq)`` model, True at padding steps (see :func:`mask`).
        activation: cell activation.
        gate: gate activation.
        unroll: ``"dynamic"`` (``lax.scan``) or ``"static"``.
        reverse: run from the last step to the first (outputs stay aligned).
        use_bias: whether the gates have biases.
        kernel_initializer: initializer of the input kernels.
        recurrent_initializer: initializer of the hidden kernels (see the module docs).
        bias_initializer: initializer of the biases.
        kernel_regularizer: penalty of each input kernel (a name such as ``"l2"`` or an
            ``axon.functional.penalties`` object; see :func:`axon.model.penalty`).
        recurrent_regularizer: penalty of each hidden kernel.
        bias_regularizer: penalty of each bias.
        activity_regularizer: penalty of the outputs: the sequence and the final carry.
        name: layer name (the selections are ``<name>_output_sequence``,
            ``<name>_c_hidden_state``, ``<name>_h_hidden_state``).

    >>> import jax.numpy as jnp, axon.model
    >>> seq, (c, h) = axon.model.input("x", shape=(None, 7, 3)).lstm(4)
    >>> state = h.init(0, jnp.zeros((1, 7, 3)))
    >>> seq.apply(state, jnp.ones((2, 7, 3)))[0].shape, h.apply(state, jnp.ones((2, 7, 3)))[0].shape
    ((2, 7, 4), (2, 4))
    """
    return _gated(
        "lstm", x, units, initial_carry=initial_carry, mask=mask, activation=activation,
        gate=gate, unroll=unroll, reverse=reverse, use_bias=use_bias,
        kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
        bias_initializer=bias_initializer, name=name, regularizers=(
            kernel_regularizer, recurrent_regularizer, bias_regularizer, activity_regularizer),
    )  # type: ignore[return-value]  # fmt: skip


def gru(
    x: Model,
    units: int,
    *,
    initial_carry: tuple[Model] | None = None,
    mask: Model | None = None,
    activation: Activation = "tanh",
    gate: Activation = "sigmoid",
    unroll: str = "dynamic",
    reverse: bool = False,
    use_bias: bool = True,
    kernel_initializer: Initializer = "glorot_uniform",
    recurrent_initializer: Initializer = "orthogonal",
    bias_initializer: Initializer = "zeros",
    kernel_regularizer: Regularizer = None,
    recurrent_regularizer: Regularizer = None,
    bias_regularizer: Regularizer = None,
    activity_regularizer: Regularizer = None,
    name: str | None = None,
) -> tuple[Model, tuple[Model]]:
    """A GRU over ``x`` ``(batch, seq, features)`` (``Axon.gru``): ``(sequence, (h,))``.

    Params ``wir, wiz, win`` ``(features, units)``, ``whr, whz, whn`` ``(units, units)``,
    ``br, bz, bin, bhn`` ``(units,)`` (PyTorch's separate ``bin``/``bhn``). Options as in
    :func:`lstm`.

    >>> import jax.numpy as jnp, axon.model
    >>> seq, (h,) = axon.model.input("x", shape=(None, 5, 3)).gru(2, unroll="static")
    >>> h.apply(h.init(0, jnp.zeros((1, 5, 3))), jnp.ones((4, 5, 3)))[0].shape
    (4, 2)
    """
    return _gated(
        "gru", x, units, initial_carry=initial_carry, mask=mask, activation=activation,
        gate=gate, unroll=unroll, reverse=reverse, use_bias=use_bias,
        kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
        bias_initializer=bias_initializer, name=name, regularizers=(
            kernel_regularizer, recurrent_regularizer, bias_regularizer, activity_regularizer),
    )  # type: ignore[return-value]  # fmt: skip


def conv_lstm_op(
    x: jax.Array, *values: Any, carry_treedef: Any, has_mask: bool, use_bias: bool, **options: Any
) -> Any:
    """:func:`axon.functional.layers.conv_lstm`; value ``(seq, (c, h))``."""
    carry, mask, params = _split_values(values, carry_treedef, has_mask)
    bias = params[2] if use_bias else None
    seq, final = F.conv_lstm(
        x, None if carry is None else tuple(carry), mask, params[0], params[1], bias, **options
    )
    return structured((seq, tuple(final)))


def conv_lstm(
    x: Model,
    units: int,
    *,
    initial_carry: tuple[Model, Model] | None = None,
    mask: Model | None = None,
    kernel_size: int | Sequence[int] = 1,
    strides: int | Sequence[int] = 1,
    padding: str | Sequence[tuple[int, int]] = "same",
    activation: Activation = "tanh",
    gate: Activation = "sigmoid",
    unroll: str = "dynamic",
    reverse: bool = False,
    use_bias: bool = True,
    kernel_initializer: Initializer = "glorot_uniform",
    recurrent_initializer: Initializer = "glorot_uniform",
    bias_initializer: Initializer = "zeros",
    kernel_regularizer: Regularizer = None,
    recurrent_regularizer: Regularizer = None,
    bias_regularizer: Regularizer = None,
    activity_regularizer: Regularizer = None,
    name: str | None = None,
) -> tuple[Model, tuple[Model, Model]]:
    """A ConvLSTM over ``(batch, seq, *spatial, channels)`` (``Axon.conv_lstm``, channels last).

    Params (Axon's single-kernel layout): ``input_kernel (*kernel_size, in, 4 * units)``,
    ``hidden_kernel (*kernel_size, units, 4 * units)``, ``bias (4 * units,)``. Returns
    ``(sequence, (c, h))``; the hidden convolution keeps the state's spatial size.
    Regularizers as in :func:`lstm` (``kernel_regularizer`` of ``input_kernel``,
    ``recurrent_regularizer`` of ``hidden_kernel``).

    >>> import jax.numpy as jnp, axon.model
    >>> seq, (c, h) = axon.model.input("x", shape=(None, 3, 6, 6, 2)).conv_lstm(4, kernel_size=3)
    >>> seq.apply(seq.init(0, jnp.zeros((1, 3, 6, 6, 2))), jnp.ones((2, 3, 6, 6, 2)))[0].shape
    (2, 3, 6, 6, 4)
    """
    fn = "conv_lstm"
    units, cell = _checked_cell(fn, units, activation, gate, unroll)
    kernel_size = check_int_or_tuple(fn, "kernel_size", kernel_size)
    strides = check_int_or_tuple(fn, "strides", strides)
    padding = check_padding(fn, padding)

    def kernel(channels: int | None) -> Callable[..., tuple[int, ...]]:
        """``(*kernel_size, channels, 4 * units)``; ``None`` channels: the input's."""

        def shape_fn(s: Sequence[int], *_: Any) -> tuple[int, ...]:
            size = spatial_tuple(fn, "kernel_size", kernel_size, len(s) - 3)
            return (*size, s[-1] if channels is None else channels, 4 * units)

        return shape_fn

    kernel_penalty, recurrent, bias, activity = _penalties(
        fn, name, kernel_regularizer, recurrent_regularizer, bias_regularizer, activity_regularizer
    )
    params = [
        param("input_kernel", kernel(None), initializer=kernel_initializer,
              regularizer=kernel_penalty),
        param("hidden_kernel", kernel(units), initializer=recurrent_initializer,
              regularizer=recurrent),
    ]  # fmt: skip
    if use_bias:
        params.append(param("bias", (4 * units,), initializer=bias_initializer, regularizer=bias))
    config = {"units": units, "kernel_size": kernel_size, "strides": strides, "padding": padding}
    return _built_in_rnn(
        fn, conv_lstm_op, x, params, initial_carry=initial_carry, mask=mask, name=name,
        activity=activity,
        config={**config, "unroll": cell["unroll"]}, use_bias=use_bias, strides=strides,
        padding=padding, reverse=reverse, **cell,
    )  # type: ignore[return-value]  # fmt: skip


# -- custom recurrent layers -------------------------------------------------------------------


def rnn_op(
    x: jax.Array,
    *values: Any,
    cell_fn: Callable[..., Any],
    carry_init: Callable[[jax.Array], Any] | None,
    carry_treedef: Any,
    has_mask: bool,
    param_names: tuple[str, ...],
    unroll: str,
    reverse: bool,
) -> Any:
    """Scan ``cell_fn(x_t, carry, params) -> (y_t, new_carry)`` over axis 1; ``(seq, carry)``."""
    carry, mask, param_values = _split_values(values, carry_treedef, has_mask)
    if carry is None:
        carry = carry_init(x)  # type: ignore[misc]
    params = dict(zip(param_names, param_values, strict=True))
    return scan_cell(cell_fn, x, carry, mask, params, unroll=unroll, reverse=reverse)


def rnn(
    x: Model,
    cell_fn: Callable[[jax.Array, Any, dict[str, jax.Array]], tuple[Any, Any]] | Block,
    *,
    carry_init: Callable[[jax.Array], Any] | Model | Any,
    params: Mapping[str, Parameter | Model] | None = None,
    mask: Model | None = None,
    unroll: str = "dynamic",
    reverse: bool = False,
    name: str | None = None,
    op_name: str = "rnn",
) -> tuple[Model, Model]:
    """A custom recurrent layer: ``cell_fn`` scanned over the sequence axis of ``x``.

    ``cell_fn(x_t, carry, params) -> (y_t, new_carry)`` gets one time step ``x_t``
    ``(batch, features...)``, the carry (any pytree of ``(batch, ...)`` arrays) and
    ``params``, a dict of this layer's parameters by name. It is traced once and run with
    ``jax.lax.scan`` (``unroll="dynamic"``) or once per step (``"static"``, same result).

    **A cell made of layers.** ``cell_fn`` may instead be an :func:`axon.model.block`
    taking ``(x_t, *carry)`` (one model per carry array) and returning ``(y_t,
    new_carry)`` models, e.g. ``axon.model.block(lambda x_t, h: ...)``. Its layers run at
    every step with one set of parameters (``<block>/<layer>``), shared with the block's
    other calls, inside or outside the recurrence; freezing and mixed precision by the
    block's name apply. Inside a cell, layers with state (batch norm) and activity
    regularizers are refused, hooks and ``print_values`` do not run, and a dropout layer
    draws one mask for the whole sequence (variational dropout).

    Masking: with ``mask`` (``(batch, seq)``, True at padding steps, see :func:`mask`) the
    carry is left unchanged at padding steps, so the final carry of a padded sequence is the
    state after its last real step, and ``y_t`` is zero there. ``cell_fn`` needs no mask
    logic.

    Args:
        x: the input sequence ``(batch, seq, features...)``.
        cell_fn: the cell, a JAX-traceable function, or a block of layers.
        carry_init: a function of the input sequence (its value, ``(batch, seq, ...)``)
            giving the initial carry, e.g. ``lambda x: jnp.zeros((x.shape[0], 16))``; or a
            model (or pytree of models) whose value is the initial carry.
        params: ``{name: axon.model.param(...)}``, trained like any parameter; a shape
            function receives the shape of ``x``. A value may also be a model, e.g. an
            :func:`axon.model.parameter` that other layers share (the cell receives its
            value under that key).
        mask: optional padding mask model.
        unroll: ``"dynamic"`` or ``"static"``.
        reverse: run from the last step to the first (outputs stay aligned).
        name: layer name; the selections are ``<name>_output_sequence`` and ``<name>_carry``.
        op_name: the op name shown by ``display`` (``<op_name>_<n>`` when unnamed).

    Returns:
        ``(sequence, carry)`` models: the stacked ``y_t`` ``(batch, seq, ...)`` and the final
        carry.

    >>> import jax.numpy as jnp, axon.model
    >>> def cell(x_t, h, p):
    ...     h = jnp.tanh(x_t @ p["w"] + h @ p["u"])
    ...     return h, h
    >>> x = axon.model.input("x", shape=(None, 6, 3))
    >>> seq, h = x.rnn(cell, carry_init=lambda x: jnp.zeros((x.shape[0], 5)),
    ...                params={"w": axon.model.param("w", lambda s: (s[-1], 5)),
    ...                        "u": axon.model.param("u", (5, 5), initializer="orthogonal")})
    >>> state = h.init(0, jnp.zeros((1, 6, 3)))
    >>> h.apply(state, jnp.ones((2, 6, 3)))[0].shape, sorted(state.params["rnn_0"])
    ((2, 5), ['u', 'w'])

    The same cell written with layers, as a block:

    >>> step = axon.model.block(lambda x_t, h: (lambda h: (h, h))(
    ...     axon.model.add(x_t.dense(5, use_bias=False), h.dense(5, use_bias=False)).tanh()),
    ...     name="cell")
    >>> seq, h = x.rnn(step, carry_init=lambda x: jnp.zeros((x.shape[0], 5)))
    >>> state = h.init(0, jnp.zeros((1, 6, 3)))
    >>> h.apply(state, jnp.ones((2, 6, 3)))[0].shape, sorted(state.params)
    ((2, 5), ['cell/dense_0', 'cell/dense_1'])
    """
    fn = "rnn"
    check_callable(fn, "cell_fn", cell_fn)
    unroll = _check_unroll(fn, unroll)
    if isinstance(cell_fn, Block):
        if params:
            raise TypeError(
                f"{fn}: params= gives a cell function its parameters; a block cell has its "
                f"layers' own (received params {sorted(params)} with {cell_fn!r})."
            )
        node = block_rnn(
            check_model(fn, "x", x), cell_fn, carry_init=carry_init, unroll=unroll,
            mask=None if mask is None else check_model(fn, "mask", mask),
            reverse=reverse, name=name, op_name=op_name,
        )  # fmt: skip
        return _selections(node, name)
    params = dict(params or {})
    for key, p in params.items():
        if not isinstance(p, Parameter | Model):
            raise TypeError(
                f"{fn}: params[{key!r}] must be axon.model.param(...) (this layer's own) or "
                f"axon.model.parameter(...) (shared with other layers); received "
                f"{type(p).__name__}."
            )
        if isinstance(p, Parameter) and p.name != key:
            raise ValueError(
                f"{fn}: params[{key!r}] is a parameter named {p.name!r}; use the same name as "
                f"its key."
            )
    model_carry = isinstance(carry_init, Model) or (
        not callable(carry_init) and carry_init is not None
    )
    if carry_init is None or (not model_carry and not callable(carry_init)):
        raise TypeError(
            f"{fn}: carry_init must be a function of the input sequence or a model (pytree of "
            f"models); received {carry_init!r}."
        )
    inputs, treedef, has_mask = _inputs_and_flags(
        fn, x, carry_init if model_carry else None, mask, None
    )
    node = layer(
        rnn_op,
        [*inputs, *(p if isinstance(p, Model) else _x_shape_only(p) for p in params.values())],
        name=name,
        op_name=op_name,
        config={"cell": getattr(cell_fn, "__name__", "cell"), "unroll": unroll},
        cell_fn=cell_fn,
        carry_init=None if model_carry else carry_init,
        carry_treedef=treedef,
        has_mask=has_mask,
        param_names=tuple(params),
        unroll=unroll,
        reverse=reverse,
    )
    return _selections(node, name)


def _selections(node: Model, name: str | None) -> tuple[Model, Model]:
    """A custom recurrent layer's output sequence and final carry."""
    return _select(node, (0,), sub_name(name, "output_sequence")), _select(
        node, (1,), sub_name(name, "carry")
    )


# -- masks and bidirectional layers --------------------------------------------------------------


def mask_op(x: jax.Array, *, pad_token: Any) -> jax.Array:
    """True where a step is padding: ``x == pad_token`` (all features equal, for rank >= 3)."""
    x = jnp.asarray(x)
    if x.ndim < 2:
        raise ValueError(
            f"mask: the input must be (batch, seq) ids or (batch, seq, features...); received "
            f"shape {x.shape}."
        )
    equal = x == pad_token
    return equal if x.ndim == 2 else jnp.all(equal.reshape(*x.shape[:2], -1), axis=-1)


def mask(x: Model, pad_token: Any = 0, *, name: str | None = None) -> Model:
    """A padding mask ``(batch, seq)``: True where ``x`` equals ``pad_token`` (``Axon.mask``).

    For ``(batch, seq)`` token ids it is ``x == pad_token``; for ``(batch, seq, features...)``
    a step is padding when all its features equal ``pad_token``. Pass it as ``mask=`` to
    :func:`lstm`, :func:`gru`, :func:`conv_lstm` or :func:`rnn`. (Attention masks use the
    opposite convention, True = may attend: pass ``m.nx(jnp.logical_not)`` there.)

    >>> import jax.numpy as jnp, axon.model
    >>> model = axon.model.input("ids", shape=(None, 4)).mask(0)
    >>> ids = jnp.array([[5, 3, 0, 0]])
    >>> model.apply(model.init(0, ids), ids)[0].tolist()
    [[False, False, True, True]]
    """
    if isinstance(pad_token, bool) or not isinstance(pad_token, int | float):
        raise option_error("mask", "pad_token", "a number", pad_token)
    return layer(
        mask_op,
        [x],
        name=name,
        op_name="mask",
        config={"pad_token": pad_token},
        pad_token=pad_token,
    )


def reverse_op(x: jax.Array, *, axis: int) -> jax.Array:
    """``x`` reversed along ``axis``."""
    return jnp.flip(x, axis=axis)


def bidirectional(
    x: Model,
    forward_fn: Callable[[Model], Any],
    merge_fn: Callable[[Model, Model], Model],
    *,
    axis: int = 1,
) -> Any:
    """Run ``forward_fn`` on ``x`` and on ``x`` reversed along ``axis``; merge with ``merge_fn``
    (``Axon.bidirectional``).

    ``forward_fn(seq) -> outputs`` builds layers from a sequence model: ``outputs`` is a
    model (a sequence) or a tuple whose first element is the output sequence and the rest
    final carries (what :func:`lstm`, :func:`gru` and :func:`rnn` return). The backward
    sequence is reversed back so positions align; carries are merged as they are.
    ``merge_fn(forward, backward)`` combines each pair of models, e.g.
    ``axon.model.concatenate`` or ``axon.model.add``; the result has ``outputs``' structure.

    ``forward_fn`` is called twice, so each direction has **its own parameters** (Axon
    shares one block between directions). A mask must be built inside ``forward_fn`` from
    its argument (e.g. ``seq.mask(0)`` on ids), so that it is reversed too.

    >>> import jax.numpy as jnp, axon.model
    >>> x = axon.model.input("x", shape=(None, 5, 3))
    >>> seq, (c, h) = axon.model.bidirectional(x, lambda s: s.lstm(4), axon.model.concatenate)
    >>> state = seq.init(0, jnp.zeros((1, 5, 3)))
    >>> seq.apply(state, jnp.ones((2, 5, 3)))[0].shape, sorted(state.params)
    ((2, 5, 8), ['lstm_0', 'lstm_1'])
    """
    check_model("bidirectional", "x", x)
    check_callable("bidirectional", "forward_fn", forward_fn)
    check_callable("bidirectional", "merge_fn", merge_fn)

    def flip(model: Model) -> Model:
        return layer(reverse_op, [model], op_name="reverse", config={"axis": axis}, axis=axis)

    forward = forward_fn(x)
    backward = forward_fn(flip(x))
    if isinstance(backward, Model):
        backward = flip(backward)
    elif isinstance(backward, tuple) and backward and isinstance(backward[0], Model):
        backward = (flip(backward[0]), *backward[1:])
    else:
        raise TypeError(
            f"bidirectional: forward_fn must return a model or a tuple (sequence, carry...) of "
            f"models; it returned {type(backward).__name__}."
        )

    def is_model(v: Any) -> bool:
        return isinstance(v, Model)

    return jax.tree_util.tree_map(merge_fn, forward, backward, is_leaf=is_model)


BUILDERS = {
    "lstm": lstm,
    "gru": gru,
    "conv_lstm": conv_lstm,
    "rnn": rnn,
    "mask": mask,
    "bidirectional": bidirectional,
}
