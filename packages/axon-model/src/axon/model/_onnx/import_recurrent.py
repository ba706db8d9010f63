"""ONNX's LSTM and GRU operators as ``lax.scan`` loops (time-major, ONNX's gate layouts).

ONNX stacks the gates of each direction in one matrix: LSTM ``W`` is
``[directions, 4*hidden, input]`` in the order input, output, forget, cell; GRU
``W`` is ``[directions, 3*hidden, input]`` in the order update, reset, hidden. ``B``
holds the input biases followed by the recurrent ones.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

NOTE = "forward, reverse, bidirectional; layout 0 and 1; default activations; no sequence_lens"


def _check(attrs: dict[str, Any], sequence_lens: Any) -> None:
    if sequence_lens is not None and np.size(sequence_lens):
        raise ValueError("sequence_lens is not supported: pad the batch, mask the outputs")
    for key in ("activations", "clip", "input_forget"):
        if attrs.get(key) not in (None, 0) and key != "activations":
            raise ValueError(f"the attribute {key}={attrs[key]!r} is not supported")
    defaults = {"Sigmoid", "Tanh"}
    if attrs.get("activations") and not set(attrs["activations"]) <= defaults:
        raise ValueError(f"activations {attrs['activations']} are not supported (defaults are)")


def _directions(direction: str) -> list[bool]:
    """For each direction of the op, whether it runs backwards in time."""
    return {"forward": [False], "reverse": [True], "bidirectional": [False, True]}[direction]


def _run(
    step: Callable[..., Any],
    x: Any,
    carries: list[Any],
    direction: str,
    layout: int,
) -> tuple[Any, list[Any]]:
    """Scan ``step(d, carry, x_t)`` over time for each direction; ONNX's Y and final carries."""
    if layout:  # batch-major input
        x = jnp.swapaxes(x, 0, 1)
    outputs, finals = [], []
    for d, backwards in enumerate(_directions(direction)):
        final, ys = lax.scan(lambda c, xt, d=d: step(d, c, xt), carries[d], x, reverse=backwards)
        outputs.append(ys)
        finals.append(final)
    y = jnp.stack(outputs, axis=1)  # [seq, directions, batch, hidden]
    if layout:
        y = jnp.transpose(y, (2, 0, 1, 3))  # [batch, seq, directions, hidden]
    return y, finals


def _initial(value: Any, count: int, batch: int, hidden: int, dtype: Any, layout: int) -> list:
    if value is None:
        return [jnp.zeros((batch, hidden), dtype)] * count
    value = jnp.swapaxes(value, 0, 1) if layout else value
    return [value[d] for d in range(count)]


def _final(states: list[Any], layout: int) -> Any:
    stacked = jnp.stack(states)  # [directions, batch, hidden]
    return jnp.swapaxes(stacked, 0, 1) if layout else stacked


def lstm(
    x, w, r, b=None, sequence_lens=None, initial_h=None, initial_c=None, p=None, **attrs
) -> list[Any]:
    _check(attrs, sequence_lens)
    direction, layout = attrs.get("direction", "forward"), attrs.get("layout", 0)
    count, hidden = w.shape[0], r.shape[-1]
    batch = x.shape[0 if layout else 1]
    b = jnp.zeros((count, 8 * hidden), x.dtype) if b is None else b
    p = jnp.zeros((count, 3 * hidden), x.dtype) if p is None else p
    h0 = _initial(initial_h, count, batch, hidden, x.dtype, layout)
    c0 = _initial(initial_c, count, batch, hidden, x.dtype, layout)

    def step(d, carry, xt):
        h, c = carry
        gates = xt @ w[d].T + h @ r[d].T + b[d, : 4 * hidden] + b[d, 4 * hidden :]
        i, o, f, g = jnp.split(gates, 4, axis=-1)
        pi, po, pf = jnp.split(p[d], 3)
        i = jax.nn.sigmoid(i + pi * c)
        f = jax.nn.sigmoid(f + pf * c)
        c = f * c + i * jnp.tanh(g)
        o = jax.nn.sigmoid(o + po * c)
        h = o * jnp.tanh(c)
        return (h, c), h

    y, finals = _run(step, x, list(zip(h0, c0, strict=True)), direction, layout)
    return [y, _final([h for h, _ in finals], layout), _final([c for _, c in finals], layout)]


def gru(x, w, r, b=None, sequence_lens=None, initial_h=None, **attrs) -> list[Any]:
    _check(attrs, sequence_lens)
    direction, layout = attrs.get("direction", "forward"), attrs.get("layout", 0)
    before_reset = attrs.get("linear_before_reset", 0)
    count, hidden = w.shape[0], r.shape[-1]
    batch = x.shape[0 if layout else 1]
    b = jnp.zeros((count, 6 * hidden), x.dtype) if b is None else b
    h0 = _initial(initial_h, count, batch, hidden, x.dtype, layout)

    def step(d, h, xt):
        wz, wr, wh = jnp.split(xt @ w[d].T + b[d, : 3 * hidden], 3, axis=-1)
        rz, rr, rh = jnp.split(r[d], 3, axis=0)
        bz, br, bh = jnp.split(b[d, 3 * hidden :], 3)
        z = jax.nn.sigmoid(wz + h @ rz.T + bz)
        reset = jax.nn.sigmoid(wr + h @ rr.T + br)
        if before_reset:
            candidate = jnp.tanh(wh + reset * (h @ rh.T + bh))
        else:
            candidate = jnp.tanh(wh + (reset * h) @ rh.T + bh)
        h = (1 - z) * candidate + z * h
        return h, h

    y, finals = _run(step, x, h0, direction, layout)
    return [y, _final(finals, layout)]
