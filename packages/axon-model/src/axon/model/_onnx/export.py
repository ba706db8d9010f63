"""``to_onnx``: write a model's inference graph, with its parameters, as an ONNX file.

Each layer is traced on its own (``jax.make_jaxpr`` of its op, in inference mode, with
the batch axis a symbolic dimension) and its JAX program is written as ONNX nodes
(``export_jaxpr``/``export_primitives``). So every built-in layer and every custom layer
whose op uses convertible primitives exports, nodes carry their layer's name, and
parameters become initializers named ``<layer>/<parameter>``. onnx is imported only
when this runs: the base install of axon-model does not need it.
"""

from __future__ import annotations

import os
from typing import Any

import jax

from .._compiler.checks import misfit_error, misfits
from .._compiler.state import ModelState
from .._files.atomic import write_atomically
from .._files.export import (
    _check_no_hooks,
    _template,
    _with_symbolic_batch,
    check_model_and_state,
)
from .._graph.model import Model

DEFAULT_OPSET = 21
MIN_OPSET = 19  # AveragePool's dilations, axes as inputs of every Reduce*


def to_onnx(
    model: Model,
    state: ModelState,
    templates: Any,
    path: str | os.PathLike[str] | None,
    *,
    opset: int | None = None,
    dynamic_batch: bool = True,
) -> Any:
    """Write the model's inference graph with its parameters as an ONNX model at ``path``.

    Dropout and other training-only layers become identities; normalization layers use
    their running statistics. Every layer is converted from the JAX program its op runs,
    so built-in layers and custom layers built from ordinary ``jax.numpy``/``lax`` code
    export alike; layers that use something ONNX cannot express are all named in one
    error. Parameters become initializers named ``<layer>/<parameter>``; graph inputs
    carry the model's input names. Needs the ``onnx`` extra: ``pip install
    axon-model[onnx]`` (``onnxruntime`` runs the result).

    Args:
        model: the model.
        state: its parameters and state (from ``init``, training or ``load``).
        templates: arrays or ``jax.ShapeDtypeStruct`` for the inputs (a dict by input
            name for several), as given to ``init``; only shapes and dtypes are used.
        path: where to write the ``.onnx`` file; ``None`` writes nothing.
        opset: the ONNX opset to target (default 21, at least 19).
        dynamic_batch: make the leading axis of every input a shared dynamic
            dimension ``batch``, so the file serves any batch size.

    Returns:
        The ``onnx.ModelProto`` (also written to ``path``).

    >>> import jax.numpy as jnp, numpy as np, axon.model
    >>> import pytest; onnxruntime = pytest.importorskip("onnxruntime")
    >>> model = axon.model.input("x", shape=(None, 3)).dense(4, activation="relu").dense(2)
    >>> state = model.init(0, jnp.ones((1, 3)))
    >>> proto = axon.model.to_onnx(model, state, jnp.ones((1, 3)), None)
    >>> [i.name for i in proto.graph.input], [o.name for o in proto.graph.output]
    (['x'], ['dense_1'])
    >>> session = onnxruntime.InferenceSession(proto.SerializeToString())
    >>> x = np.arange(15, dtype=np.float32).reshape(5, 3)
    >>> (out,) = session.run(None, {"x": x})
    >>> bool(np.allclose(out, axon.model.predict(model, state, x), atol=1e-5))
    True
    """
    try:
        import onnx
    except ImportError as error:
        raise ImportError(
            "axon.model.to_onnx needs the 'onnx' package: pip install axon-model[onnx] "
            "(and onnxruntime to run the exported model)."
        ) from error
    from .export_assembly import assemble

    check_model_and_state("to_onnx", model, state)
    opset = DEFAULT_OPSET if opset is None else int(opset)
    newest = onnx.defs.onnx_opset_version()
    if not MIN_OPSET <= opset <= newest:
        raise ValueError(
            f"to_onnx supports opsets {MIN_OPSET} to {newest} (the installed onnx's newest), "
            f"got opset={opset}."
        )
    _check_no_hooks(model, "inference")
    templates = jax.tree_util.tree_map(_template, templates)
    if dynamic_batch:
        templates = _with_symbolic_batch(templates)
    program = model.program
    structs, shapes = program.infer(templates)
    problems = misfits(program.layers, shapes, state)
    if problems:
        raise misfit_error(problems, "", "Export the model state this model was trained with.")
    proto = assemble(program, state, templates, structs, opset)
    onnx.checker.check_model(proto, full_check=True)
    if path is not None:  # a reader (or a killed run) sees the old file or the whole new one
        write_atomically(os.fspath(path), proto.SerializeToString())
    return proto
