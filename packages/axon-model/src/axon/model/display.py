"""Readable views of a model (``Axon.Display``): a table, a graph, a rendered picture.

Nothing here runs the model: shapes come from ``jax.eval_shape`` and FLOPs from
XLA's cost analysis of each layer's op, lowered for the shapes it receives.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np

from ._builders.structured import plain
from ._files.atomic import write_atomically
from ._graph.model import Model
from ._graph.node import Node

__all__ = ["as_graph", "as_table", "layer_flops", "render"]


def as_table(model: Model, inputs: Any, *, flops: bool = True) -> str:
    """A text table of every layer: inputs, output shape, options, parameters and FLOPs.

    Layers are listed in evaluation order (each after its inputs). The last lines
    give the total FLOPs and the total number of parameters and their memory.
    FLOPs are XLA's estimate for one call of the layer on the given input shapes
    (``jax.jit(op).lower(...).cost_analysis()``, the count of floating-point
    operations; transcendental functions such as ``tanh`` are counted separately
    by XLA and not included); ``?`` marks a layer the backend could not analyse,
    and the total then counts only the known layers.

    Args:
        model: the model to describe.
        inputs: arrays or ``jax.ShapeDtypeStruct`` templates (a dict for several inputs).
        flops: whether to compute the FLOPs column (one lowering per layer).

    Returns:
        The table as a string.

    >>> import jax, jax.numpy as jnp, axon.model
    >>> model = axon.model.input("x", shape=(None, 3)).dense(2)
    >>> print(as_table(model, jax.ShapeDtypeStruct((1, 3), jnp.float32)))
    +-----------------+-------------+--------------+------------------------+----------------------------------+-------+
    | Layer           | Input Shape | Output Shape | Options                | Parameters                       | FLOPs |
    +-----------------+-------------+--------------+------------------------+----------------------------------+-------+
    | x (input)       |             | (1, 3)       |                        |                                  |       |
    | dense_0 (dense) | x (1, 3)    | (1, 2)       | units=2, use_bias=True | kernel f32[3,2], bias f32[2] (8) | 14    |
    +-----------------+-------------+--------------+------------------------+----------------------------------+-------+
    Total FLOPs: 14
    Total parameters: 8 (32 B)

    A rematerialized layer shows its policy among the options:

    >>> remat = axon.model.input("x", shape=(None, 3)).dense(2, remat="dots_saveable")
    >>> print(as_table(remat, jax.ShapeDtypeStruct((1, 3), jnp.float32), flops=False))
    +-----------------+-------------+--------------+---------------------------------------------+----------------------------------+
    | Layer           | Input Shape | Output Shape | Options                                     | Parameters                       |
    +-----------------+-------------+--------------+---------------------------------------------+----------------------------------+
    | x (input)       |             | (1, 3)       |                                             |                                  |
    | dense_0 (dense) | x (1, 3)    | (1, 2)       | units=2, use_bias=True, remat=dots_saveable | kernel f32[3,2], bias f32[2] (8) |
    +-----------------+-------------+--------------+---------------------------------------------+----------------------------------+
    Total parameters: 8 (32 B)
    """
    program = model.program
    structs, params = program.infer(inputs)
    header = ("Layer", "Input Shape", "Output Shape", "Options", "Parameters")
    if flops:
        header += ("FLOPs",)
    rows = []
    total, total_bytes = 0, 0
    total_flops, unknown_flops = 0, 0
    counted: set[str] = set()  # a layer of a block used several times counts once
    for node in program.order:
        name = program.names[node.id]
        layer_params = params.get(name, {})
        count = sum(int(np.prod(s.shape)) for s in layer_params.values())
        described = ", ".join(
            f"{p} {_short_dtype(s.dtype)}[{','.join(map(str, s.shape))}]"
            for p, s in layer_params.items()
        )
        parameters = f"{described} ({count})" if layer_params else ""
        if layer_params and name in counted:
            parameters = "shared, counted above"
        elif layer_params:
            counted.add(name)
            total += count
            total_bytes += sum(
                int(np.prod(s.shape)) * s.dtype.itemsize for s in layer_params.values()
            )
        row: tuple[str, ...] = (
            f"{name} ({node.op_name})",
            ", ".join(f"{program.names[i.id]} {_shape(structs[i.id])}" for i in node.inputs),
            _shape(structs[node.id]),
            ", ".join(f"{k}={v}" for k, v in _options(node).items()),
            parameters,
        )
        if flops:
            if node.op is None:
                cell = ""
            else:
                value = _node_flops(node, structs, layer_params)
                if value is None:
                    unknown_flops += 1
                    cell = "?"
                else:
                    total_flops += value
                    cell = _count(value)
            row += (cell,)
        rows.append(row)
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"

    def line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    footer = []
    if flops:
        note = f" (without {unknown_flops} layer(s) marked ?)" if unknown_flops else ""
        footer.append(f"Total FLOPs: {_count(total_flops)}{note}")
    footer.append(f"Total parameters: {total} ({_bytes(total_bytes)})")
    return "\n".join([rule, line(header), rule, *(line(r) for r in rows), rule, *footer])


def _options(node: Node) -> dict[str, Any]:
    """The options column: the layer's config, and its rematerialization policy if any."""
    options = {k: v for k, v in node.config.items() if k != "shape"}
    return options if node.remat is None else {**options, "remat": node.remat.label}


def layer_flops(model: Model, inputs: Any) -> dict[str, int | None]:
    """XLA's FLOP estimate of every layer, ``{layer_name: flops}`` (``None`` if unknown).

    Inputs have no op and are left out. See :func:`as_table` for what is counted. A
    layer of a block called several times (``axon.model.block``) counts all its calls.

    Args:
        model: the model to analyse.
        inputs: arrays or ``jax.ShapeDtypeStruct`` templates (a dict for several inputs).

    Returns:
        A dict from layer name to FLOPs, in evaluation order.

    >>> import jax, jax.numpy as jnp, axon.model
    >>> model = axon.model.input("x", shape=(None, 3)).dense(2)
    >>> layer_flops(model, jax.ShapeDtypeStruct((4, 3), jnp.float32))
    {'dense_0': 56}
    """
    program = model.program
    structs, params = program.infer(inputs)
    counts: dict[str, int | None] = {}
    for node in program.order:
        if node.op is None:
            continue
        name = program.names[node.id]
        value = _node_flops(node, structs, params.get(name, {}))
        earlier = counts.get(name, 0)
        counts[name] = None if value is None or earlier is None else earlier + value
    return counts


def _node_flops(node: Node, structs: Mapping[int, Any], params: Mapping[str, Any]) -> int | None:
    """FLOPs of one layer's op (inference path), from XLA's cost analysis; None if unknown."""
    if node.mode == "train" or structs[node.id] is None:
        return 0  # skipped: passes its input through (train-only) or its input is missing
    extra: dict[str, Any] = {}
    if "mode" in node.wants:
        extra["mode"] = "inference"
    if "key" in node.wants:
        extra["key"] = None
    args = [structs[a.id] if isinstance(a, Node) else params[a.name] for a in node.args]
    fn = functools.partial(node.op, **node.opts, **extra)  # type: ignore[arg-type]
    try:
        analysis = jax.jit(fn).lower(*args).cost_analysis()
    except Exception:  # some backends or ops cannot be analysed: show "?"
        return None
    return _flops_of(analysis)


def _flops_of(analysis: Any) -> int | None:
    """The ``flops`` entry of a cost analysis, which backends return as a dict, list or None."""
    if isinstance(analysis, (list, tuple)):
        analysis = analysis[0] if len(analysis) == 1 else None
    if not isinstance(analysis, Mapping):
        return None
    value = analysis.get("flops", 0.0)  # an empty analysis means no arithmetic (e.g. reshape)
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return round(value) if value >= 0 else None


# -- graphs --------------------------------------------------------------------------------


def as_graph(
    model: Model, inputs: Any = None, *, format: str = "mermaid", direction: str = "TB"
) -> str:
    """The model as a flowchart: Mermaid text or Graphviz DOT.

    Each layer shows its name, op and (when ``inputs`` are given) output shape;
    edges go from a layer's inputs to the layer. Paste Mermaid into a Markdown
    file (GitHub, MkDocs) or https://mermaid.live; render DOT with :func:`render`
    or ``dot -Tsvg``.

    Args:
        model: the model to draw.
        inputs: arrays or ``jax.ShapeDtypeStruct`` templates (a dict for several
            inputs), or ``None`` to leave out shapes.
        format: ``"mermaid"`` or ``"dot"``.
        direction: ``"TB"`` (top to bottom) or ``"LR"`` (left to right).

    Returns:
        The graph description as a string.

    >>> import jax, jax.numpy as jnp, axon.model
    >>> model = axon.model.input("x", shape=(None, 3)).dense(2).relu()
    >>> print(as_graph(model, jax.ShapeDtypeStruct((1, 3), jnp.float32)))
    flowchart TB
        n0[/"x (input)<br/>(1, 3)"/]
        n1["dense_0 (dense)<br/>(1, 2)"]
        n2["relu_0 (relu)<br/>(1, 2)"]
        n0 --> n1
        n1 --> n2
    """
    if format not in ("mermaid", "dot"):
        raise ValueError(f"format must be 'mermaid' or 'dot', got {format!r}.")
    if direction not in ("TB", "LR"):
        raise ValueError(
            f"direction must be 'TB' (top to bottom) or 'LR' (left to right), got {direction!r}."
        )
    program = model.program
    structs = program.infer(inputs)[0] if inputs is not None else None
    ids = {node.id: f"n{i}" for i, node in enumerate(program.order)}
    labels = {}
    for node in program.order:
        parts = [f"{program.names[node.id]} ({node.op_name})"]
        if structs is not None:
            parts.append(_shape(structs[node.id]))
        labels[node.id] = parts
    edges = [(ids[i.id], ids[node.id]) for node in program.order for i in node.inputs]
    if format == "mermaid":
        lines = [f"flowchart {direction}"]
        for node in program.order:
            label = "<br/>".join(_mermaid_escape(p) for p in labels[node.id])
            if node.op is None:
                lines.append(f'    {ids[node.id]}[/"{label}"/]')
            else:
                lines.append(f'    {ids[node.id]}["{label}"]')
        lines += [f"    {a} --> {b}" for a, b in edges]
        return "\n".join(lines)
    lines = [
        "digraph model {",
        f"    rankdir={direction};",
        '    node [shape=box, style="rounded", fontname="Helvetica"];',
    ]
    for node in program.order:
        label = "\\n".join(_dot_escape(p) for p in labels[node.id])
        shape = ", shape=parallelogram" if node.op is None else ""
        lines.append(f'    {ids[node.id]} [label="{label}"{shape}];')
    lines += [f"    {a} -> {b};" for a, b in edges]
    lines.append("}")
    return "\n".join(lines)


_RENDER_FORMATS = ("svg", "png", "pdf")


def render(
    model: Model,
    inputs: Any,
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    direction: str = "TB",
) -> str:
    """Draw the model into an image file with Graphviz's ``dot`` program.

    Needs the Graphviz executable ``dot`` on ``PATH`` (``apt-get install
    graphviz``, ``brew install graphviz`` or ``conda install graphviz``; the
    Python package named ``graphviz`` alone does not provide it). The file is
    written atomically: it is either complete or untouched.

    Args:
        model: the model to draw.
        inputs: arrays or ``jax.ShapeDtypeStruct`` templates, or ``None`` to leave out shapes.
        path: where to write; the suffix gives the format unless ``format`` is given.
        format: ``"svg"``, ``"png"`` or ``"pdf"``.
        direction: ``"TB"`` (top to bottom) or ``"LR"`` (left to right).

    Returns:
        The path written, as a string.

    >>> import os, shutil, tempfile, axon.model
    >>> model = axon.model.input("x", shape=(None, 3)).dense(2)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.svg")
    >>> if shutil.which("dot"):
    ...     _ = render(model, None, path)
    ...     assert open(path).read().lstrip().startswith("<?xml")
    """
    path = os.fspath(path)
    if format is None:
        format = os.path.splitext(path)[1].lstrip(".").lower()
    if format not in _RENDER_FORMATS:
        raise ValueError(
            f"Cannot tell which image format to write for {path!r}: give the file one of the "
            f"suffixes {['.' + f for f in _RENDER_FORMATS]} or pass format= one of "
            f"{list(_RENDER_FORMATS)}."
        )
    dot = shutil.which("dot")
    if dot is None:
        raise RuntimeError(
            "render needs Graphviz's 'dot' program, which is not on PATH. Install Graphviz "
            "(apt-get install graphviz, brew install graphviz, or conda install graphviz; the "
            "pip package 'graphviz' alone is not enough), or use "
            "axon.model.display.as_graph(model, inputs, format='mermaid') and view the text "
            "in any Mermaid viewer."
        )
    source = as_graph(model, inputs, format="dot", direction=direction)
    result = subprocess.run(
        [dot, f"-T{format}"], input=source.encode(), capture_output=True, check=False, timeout=120
    )
    if result.returncode != 0 or not result.stdout:
        raise RuntimeError(
            f"Graphviz 'dot -T{format}' failed (exit code {result.returncode}): "
            f"{result.stderr.decode(errors='replace').strip()}"
        )
    write_atomically(path, result.stdout)
    return path


# -- formatting ----------------------------------------------------------------------------


def _mermaid_escape(text: str) -> str:
    return text.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def _dot_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _shape(struct: Any) -> str:
    if struct is None:
        return "missing"  # an optional input left out, and what depends on it
    if isinstance(struct, tuple | list | dict):  # a container's value: shapes in its structure
        shapes = jax.tree_util.tree_map(
            lambda leaf: "missing" if leaf is None else _shape(leaf),
            plain(struct),
            is_leaf=lambda v: v is None,
        )
        return str(shapes).replace("'", "").replace('"', "")
    if hasattr(struct, "shape"):
        return str(tuple(struct.shape))
    return type(struct).__name__


def _short_dtype(dtype: Any) -> str:
    dtype = np.dtype(dtype)
    return f"{ {'i': 's'}.get(dtype.kind, dtype.kind) }{dtype.itemsize * 8}"


def _count(n: int) -> str:
    if n < 1000:
        return str(n)
    for unit, size in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.2f}{unit}"
    raise AssertionError("unreachable")


def _bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")
