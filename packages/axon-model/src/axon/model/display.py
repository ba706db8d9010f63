"""Readable views of a model (``Axon.Display``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._model import Model

__all__ = ["as_table"]


def as_table(model: Model, inputs: Any) -> str:
    """A text table of every layer: inputs, output shape, options and parameters.

    ``inputs`` are arrays or ``jax.ShapeDtypeStruct`` templates (a dict for several
    inputs). Nothing is run: shapes come from ``jax.eval_shape``.

    >>> import jax, jax.numpy as jnp, axon.model
    >>> model = axon.model.input("x", shape=(None, 3)).dense(2)
    >>> print(as_table(model, jax.ShapeDtypeStruct((1, 3), jnp.float32)))
    +-----------------+-------------+--------------+------------------------+----------------------------------+
    | Layer           | Input Shape | Output Shape | Options                | Parameters                       |
    +-----------------+-------------+--------------+------------------------+----------------------------------+
    | x (input)       |             | (1, 3)       |                        |                                  |
    | dense_0 (dense) | x (1, 3)    | (1, 2)       | units=2, use_bias=True | kernel f32[3,2], bias f32[2] (8) |
    +-----------------+-------------+--------------+------------------------+----------------------------------+
    Total parameters: 8 (32 B)
    """
    program = model.program
    structs, params = program.infer(inputs)
    header = ("Layer", "Input Shape", "Output Shape", "Options", "Parameters")
    rows = []
    total, total_bytes = 0, 0
    for node in program.order:
        name = program.names[node.id]
        layer_params = params.get(name, {})
        count = sum(int(np.prod(s.shape)) for s in layer_params.values())
        total += count
        total_bytes += sum(int(np.prod(s.shape)) * s.dtype.itemsize for s in layer_params.values())
        described = ", ".join(
            f"{p} {_short_dtype(s.dtype)}[{','.join(map(str, s.shape))}]"
            for p, s in layer_params.items()
        )
        rows.append(
            (
                f"{name} ({node.op_name})",
                ", ".join(f"{program.names[i.id]} {_shape(structs[i.id])}" for i in node.inputs),
                _shape(structs[node.id]),
                ", ".join(f"{k}={v}" for k, v in node.config.items() if k != "shape"),
                f"{described} ({count})" if layer_params else "",
            )
        )
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"

    def line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return "\n".join(
        [rule, line(header), rule, *(line(r) for r in rows), rule,
         f"Total parameters: {total} ({_bytes(total_bytes)})"]
    )  # fmt: skip


def _shape(struct: Any) -> str:
    return str(tuple(struct.shape)) if hasattr(struct, "shape") else type(struct).__name__


def _short_dtype(dtype: Any) -> str:
    dtype = np.dtype(dtype)
    return f"{ {'i': 's'}.get(dtype.kind, dtype.kind) }{dtype.itemsize * 8}"


def _bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")
