"""The model file: a graph that rebuilds without the code that defined it, plus its state.

One safetensors file (the layout of :func:`axon.model.save`: ``params/<layer>/<name>``,
``state/<layer>/<name>``, ``"axon"`` metadata) whose header metadata also holds
``"axon.graph"``, a JSON document::

    {"format": "axon.model.graph", "version": 1, "output": <layer name>, "state": bool,
     "calls":  [{"kind": "builder", "builder": <registered name>, "provider": <distribution>,
                 "args": [...], "kwargs": {...}},
                {"kind": "parameter", "args": [...], "kwargs": {...}},
                {"kind": "block_call", "block": <index in blocks>, "args": [<inputs>]}, ...],
     "blocks": [{"name", "defined_at", "inputs": <count>, "calls": [<the body's calls>],
                 "outputs": <structure of references>, "remat"?: <policy name>}, ...],
     "layers": [{"name", "op", "inputs", "parameters", "options", "config", "mode",
                 "policy", "call": [call index, position], "remat"?: <policy name>,
                 "defined_at"}, ...]}

``calls`` is the recipe: the registered builder calls that made the graph, in order, with
their arguments as data (``graph_values``), the ``axon.model.parameter`` calls, and the
calls of blocks. A block's function is code, so ``blocks`` stores, once per block, the
calls it made when traced on placeholder inputs (its body, whose arguments refer to
``$block_input``s and to earlier body calls' ``$block_layer``s, or to layers of the
model it captured); loading makes a ``Block`` whose function replays the body, and
calls it once per ``block_call``. Copies of a block's layers share their name, so the
file refers to them as ``[call, position]`` (the block call that made them).
A builder call's ``remat=`` is one of its options; a block's is ``"remat"`` in its entry.
``layers`` describes the result, one entry per layer in execution order (inputs:
``{"name", "op": "input", "shape", "optional"}``). Loading replays the calls through the
layer registry, puts each layer's mixed-precision policy back, and accepts the graph only
if it describes exactly as ``layers`` says; saving runs the same replay first, so a graph
that could not be rebuilt equal (a layer made by ``axon.model.layer`` directly, one
changed by ``map_nodes``) is refused when it is saved, not discovered when it is loaded.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import warnings
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import jax
import numpy as np

from axon.functional import activations, initializers, penalties

from .._compiler.precision import Policy
from .._compiler.state import ModelState
from .._graph.blocks import Block, call_block, traced
from .._graph.constructors import input as make_input
from .._graph.constructors import parameter
from .._graph.model import Model, expect_model, layers
from .._graph.node import Node
from .._graph.recording import BuilderCall, call_builder, run_call
from .._graph.remat import POLICIES
from .._graph.rewrite import map_nodes
from .atomic import write_atomically
from .graph_values import Unencodable, decode, encode, summary
from .parameters import SerializationError, _read_header, from_bytes, to_bytes, versioned_json

__all__ = ["load_model", "save_model"]

FORMAT = "axon.model.graph"
VERSION = 1
METADATA_KEY = "axon.graph"
CALL_KINDS = ("builder", "parameter", "block_call")


# -- describing a graph --------------------------------------------------------------------


def _key(node: Node) -> Any:
    """What identifies a node across rewrites and replays: an input's name, else its origin."""
    if node.op is None and node.op_name == "input":
        return ("input", node.name)
    return None if node.origin is None else (node.origin[0].seq, node.origin[1])


def _policy_json(policy: Policy | None) -> dict[str, str | None] | None:
    if policy is None:
        return None
    return {w: None if (d := getattr(policy, w)) is None else np.dtype(d).name
            for w in ("params", "compute", "output")}  # fmt: skip


def _call_index(model: Model) -> dict[int, int]:
    """The position in the file's ``calls`` of each call that made layers of ``model``."""
    seqs = sorted({n.origin[0].seq for n in model.program.order if n.origin is not None})
    return {seq: i for i, seq in enumerate(seqs)}


def _layer_ids(model: Model) -> dict[int, str | list[int]]:
    """How the file names each layer: its name, or, for the copies of a block's layer (which
    share one name), ``[call, position]``: the block call that made it and where in it."""
    program, call_index = model.program, _call_index(model)
    counts = Counter(program.names.values())
    return {
        node.id: name
        if counts[name] == 1 or node.origin is None
        else [call_index[node.origin[0].seq], node.origin[1]]
        for node in program.order
        for name in (program.names[node.id],)
    }


def _describe(model: Model) -> list[dict[str, Any]]:
    """One JSON entry per layer of ``model``, in execution order (the file's ``layers``)."""
    program = model.program
    names = program.names
    call_index = _call_index(model)
    ids = _layer_ids(model)
    entries = []
    for node in program.order:
        entry: dict[str, Any] = {"name": names[node.id], "op": node.op_name}
        if node.op is None and node.op_name == "input":
            shape = node.config.get("shape")
            entry["shape"] = None if shape is None else list(shape)
            entry["optional"] = bool(node.config.get("optional", False))
        else:
            entry["inputs"] = [ids[i.id] for i in node.inputs]
            entry["parameters"] = [
                {
                    "name": p.name,
                    "shape": "inferred" if callable(p.shape) else [int(d) for d in p.shape],
                    "initializer": summary(p.initializer),
                    "dtype": np.dtype(p.dtype).name,
                    "kind": p.kind,
                }
                for p in node.parameters
            ]
            entry["options"] = summary(dict(node.opts))
            entry["config"] = summary(dict(node.config))
            entry["mode"] = node.mode
            entry["policy"] = _policy_json(node.policy)
            entry["call"] = (
                None if node.origin is None else [call_index[node.origin[0].seq], node.origin[1]]
            )
            if node.remat is not None:  # files without remat keep their description
                entry["remat"] = node.remat.label
        entry["defined_at"] = node.defined_at
        entries.append(entry)
    return entries


def _unregistered(node: Node, name: str) -> str:
    return (
        f"layer {name} ({node.op_name}, defined at {node.defined_at}) was made by "
        f"axon.model.layer(...) directly, not by a registered builder, so no file can "
        f"rebuild it (a model file stores builder names and data, never code). Register a "
        f"builder that makes it (a function builder(x, ..., name=None) -> Model returned "
        f"by an axon_layers hook: a plugin, or axon.model.plugins.system.register(...) in "
        f"your code; see the 'Writing a plugin' guide) and build the layer with it."
    )


def _remat_function(what: str, label: str) -> str:
    return (
        f"{what} is rematerialized with the policy function {label!r}; a model file stores "
        f"a policy by name only: use True or one of {list(POLICIES)}"
    )


def _graph(model: Model, *, has_state: bool) -> dict[str, Any]:
    """The ``axon.graph`` document of ``model`` (raises listing every layer it cannot store)."""
    program = model.program
    names, ids = program.names, _layer_ids(model)
    problems: list[str] = []
    calls: dict[int, BuilderCall] = {}
    named_by: dict[int, Node] = {}  # the layer that names a call in messages
    by_key: dict[Any, Node] = {}
    for node in program.order:
        key = _key(node)
        if key is None:
            problems.append(_unregistered(node, repr(names[node.id])))
            key = ("unregistered", node.id)  # reported once, not again by the layers it feeds
        if key in by_key:
            problems.append(
                f"layers {names[by_key[key].id]!r} and {names[node.id]!r} are copies of one "
                f"layer made by a graph rewrite; a model file can store only layers as their "
                f"builders made them."
            )
        by_key[key] = node
        if node.remat is not None and not isinstance(node.remat.policy, str):
            problems.append(_remat_function(f"layer {names[node.id]!r}", node.remat.label))
        if node.origin is not None:
            calls.setdefault(node.origin[0].seq, node.origin[0])
            _name_call(named_by, node)

    def layer_ref(argument: Model) -> dict[str, Any]:
        key = _key(argument.node) or ("unregistered", argument.node.id)
        if key not in by_key:
            raise Unencodable("a layer argument", "a layer that is not part of this model")
        return {"$layer": ids[by_key[key].id]}

    writer = _Writer(problems, layer_ref)
    encoded = []
    for seq in sorted(calls):
        call, node = calls[seq], named_by[seq]
        label = f"layer {names[node.id]!r} ({call.builder}, defined at {node.defined_at})"
        entry = writer.call(call, layer_ref, label)
        if entry is not None:
            encoded.append(entry)
    if problems:
        raise SerializationError(
            "Cannot save the model: " + ("\n  " if len(problems) > 1 else "")
            + "\n  ".join(problems)
        )  # fmt: skip
    return {
        "format": FORMAT,
        "version": VERSION,
        "output": ids[model.node.id],
        "state": has_state,
        "calls": encoded,
        "blocks": writer.blocks,
        "layers": _describe(model),
    }


class _Writer:
    """Recorded calls as the file's ``calls`` entries, and the blocks they call as ``blocks``.

    A block is stored once, when first called: its body (the builder calls its function
    made on placeholder inputs, with ``$block_input``/``[call, position]`` references),
    its outputs, name and definition site. Blocks called inside it are stored before it.
    """

    def __init__(self, problems: list[str], model_ref: Callable[[Model], Any]):
        self.problems, self.model_ref = problems, model_ref
        self.blocks: list[dict[str, Any]] = []
        self._index: dict[int, int] = {}  # BlockRef.id -> position in blocks

    def call(
        self, call: BuilderCall, layer_ref: Callable[[Model], Any], label: str
    ) -> dict[str, Any] | None:
        """``call`` as JSON, or ``None`` once its problem is recorded."""

        def ref(value: Model | Block) -> Any:  # a block argument: rnn's cell
            return {"$block": self.block(value)} if isinstance(value, Block) else layer_ref(value)

        try:
            args = [encode(a, ref, n)
                    for a, n in zip(call.args, _positional_names(call), strict=True)]  # fmt: skip
            kwargs = {k: encode(v, ref, k) for k, v in call.kwargs.items()}
        except Unencodable as error:
            advice = error.advice or (
                "Pass data (numbers, strings, arrays, models) and functions by their registered "
                "name (e.g. activation='relu', kernel_initializer='he_uniform'), or register a "
                "builder that makes this layer from such options"
            )
            self.problems.append(
                f"{label} has an argument that a model file cannot store: {error}. {advice}."
            )
            return None
        if call.kind == "block_call":
            index = self.block(call.block)
            return {"kind": "block_call", "block": index, "args": args}
        if call.kind == "parameter":
            return {"kind": "parameter", "args": args, "kwargs": kwargs}
        return {"kind": "builder", "builder": call.builder, "provider": _provider(call.builder),
                "args": args, "kwargs": kwargs}  # fmt: skip

    def block(self, block: Block) -> int:
        """The position of ``block``'s definition in ``blocks`` (stored on first use)."""
        if block.ref.id in self._index:
            return self._index[block.ref.id]
        template = traced(block)
        assert template is not None  # it was called
        where = f"block {block.ref.name or '(unnamed)'} (defined at {block.ref.defined_at})"
        refs: dict[int, Any] = {p.id: {"$block_input": i}
                                for i, p in enumerate(template.placeholders)}  # fmt: skip
        calls: dict[int, BuilderCall] = {}
        named_by: dict[int, Node] = {}
        for node in template.inside:
            if node.origin is None:
                problems_name = f"{node.block_layer or template.names[node.id]!r} of {where}"
                self.problems.append(_unregistered(node, problems_name))
                continue
            calls.setdefault(node.origin[0].seq, node.origin[0])
            _name_call(named_by, node)
        position = {seq: c for c, seq in enumerate(sorted(calls))}
        for node in template.inside:
            if node.origin is not None:
                refs[node.id] = {"$block_layer": [position[node.origin[0].seq], node.origin[1]]}

        def body_ref(argument: Model) -> Any:
            if argument.node.id in refs:
                return refs[argument.node.id]
            try:
                return self.model_ref(argument)  # a layer of the model the function captured
            except Unencodable:
                raise Unencodable(
                    "a layer argument", "a layer made inside another block's function (a "
                    "block may use its inputs and the model's layers)"
                ) from None  # fmt: skip

        body = []
        for seq in sorted(calls):
            call, node = calls[seq], named_by[seq]
            name = node.block_layer or template.names[node.id]
            label = f"layer {name!r} ({call.builder}, defined at {node.defined_at}) of {where}"
            entry = self.call(call, body_ref, label)
            if entry is not None:
                body.append(entry)
        try:
            outputs = encode(jax.tree_util.tree_map(Model, template.outputs), body_ref, "outputs")
        except Unencodable as error:
            self.problems.append(f"the outputs of {where} cannot be stored: {error}.")
            outputs = None
        self._index[block.ref.id] = len(self.blocks)
        self.blocks.append(
            {"name": block.ref.name, "defined_at": block.ref.defined_at,
             "inputs": len(template.placeholders), "calls": body, "outputs": outputs}
        )  # fmt: skip
        if block.remat is not None:
            if not isinstance(block.remat, str):
                self.problems.append(_remat_function(where, getattr(block.remat, "__name__", "")))
            self.blocks[-1]["remat"] = block.remat if isinstance(block.remat, str) else None
        return self._index[block.ref.id]


def _name_call(named_by: dict[int, Node], node: Node) -> None:
    """Record ``node`` as the layer naming its call in messages: the call's first layer, or
    its first whose op is the builder's (an ``rnn``, not the helper layers it makes first)."""
    seq, builder = node.origin[0].seq, node.origin[0].builder  # type: ignore[index]
    if seq not in named_by or (named_by[seq].op_name != builder and node.op_name == builder):
        named_by[seq] = node


def _positional_names(call: BuilderCall) -> list[str]:
    """Names of a call's positional arguments (its builder's parameters), for messages."""
    count = len(call.args)
    if call.kind == "block_call":
        return [f"input {i}" for i in range(count)]
    builder = parameter if call.kind == "parameter" else layers.get(call.builder)
    try:
        parameters = list(inspect.signature(builder).parameters)
    except (TypeError, ValueError):
        parameters = []
    return [parameters[i] if i < len(parameters) else f"argument {i}" for i in range(count)]


def _provider(builder: str) -> str | None:
    return layers.provider(builder) if builder in layers else None


# -- rebuilding a graph --------------------------------------------------------------------


def _made_by(call: BuilderCall, result: Any) -> dict[int, Node]:
    """The nodes ``call`` made that ``result`` reaches, by their position in the call."""
    made = {}
    stack = [leaf.node for leaf in jax.tree_util.tree_leaves(
        result, is_leaf=lambda v: isinstance(v, Model)) if isinstance(leaf, Model)]  # fmt: skip
    while stack:
        node = stack.pop()
        if node.origin is not None and node.origin[0] is call and node.origin[1] not in made:
            made[node.origin[1]] = node
            stack.extend(node.inputs)
    return made


class _Replay:
    """Replays a file's calls: builders from the registry, parameters, and blocks, each
    block rebuilt as a :class:`Block` whose function replays its stored body."""

    def __init__(self, graph: Mapping[str, Any], model_layer: Callable[[Any], Model]):
        self.specs = graph.get("blocks", [])
        self.model_layer = model_layer
        self.blocks: dict[int, Block] = {}

    def call(
        self, call: Mapping[str, Any], resolve: Callable[[str, Any], Model], where: str
    ) -> tuple[BuilderCall, Any]:
        def ref(tag: str, reference: Any) -> Any:  # a block argument: rnn's cell
            return self.block(reference) if tag == "$block" else resolve(tag, reference)

        args = decode(call.get("args", []), ref, f"{where}, arguments")
        kwargs = decode({"$dict": call.get("kwargs", {})}, ref, f"{where}, options")
        kind = call.get("kind", "builder")
        if kind == "block_call":
            return call_block(self.block(call.get("block")), *args)
        if kind == "parameter":
            return run_call(BuilderCall("parameter", tuple(args), kwargs, kind), parameter)
        return call_builder(call["builder"], layers.get(call["builder"]), *args, **kwargs)

    def block(self, index: Any) -> Block:
        if not isinstance(index, int) or not 0 <= index < len(self.specs):
            raise ValueError(f"no block {index!r} in the file ({len(self.specs)} stored)")
        if index not in self.blocks:
            spec = self.specs[index]
            name, where = spec.get("name"), spec.get("defined_at")
            if not (name is None or isinstance(name, str)) or not isinstance(where, str):
                raise ValueError(f"block {index} has a malformed name or definition site")
            body = functools.partial(self._body, spec, f"block {name or index}")
            self.blocks[index] = Block(body, name, where, spec.get("remat"))
        return self.blocks[index]

    def _body(self, spec: Mapping[str, Any], label: str, *inputs: Model) -> Any:
        made: dict[tuple[int, int], Node] = {}

        def resolve(tag: str, ref: Any) -> Model:
            if tag == "$layer":
                return self.model_layer(ref)
            if tag == "$block_input":
                if not 0 <= ref < len(inputs):
                    raise ValueError(f"{label} has {len(inputs)} input(s), not input {ref}")
                return inputs[ref]
            if tuple(ref) not in made:
                raise ValueError(f"{label}: no layer {ref} made by an earlier call of its body")
            return Model(made[tuple(ref)])

        for c, call in enumerate(spec.get("calls", [])):
            record, result = self.call(call, resolve, f"{label}, call {c}")
            made.update({(c, p): node for p, node in _made_by(record, result).items()})
        return decode(spec.get("outputs"), resolve, f"{label}, outputs")


def _entry_key(entry: Mapping[str, Any]) -> Any:
    """An entry of ``layers`` by what identifies its node: an input's name, else its call."""
    return ("input", entry["name"]) if entry["op"] == "input" else tuple(entry.get("call") or ())


def _rebuild(graph: Mapping[str, Any], source: str) -> Model:
    """Replay ``graph``'s calls; the model, with policies and definition sites put back."""
    entries = {_entry_key(entry): entry for entry in graph["layers"]}
    counts = Counter(entry["name"] for entry in graph["layers"])
    unique = {e["name"]: key for key, e in entries.items() if counts[e["name"]] == 1}
    nodes: dict[Any, Node] = {}
    for entry in graph["layers"]:
        if entry["op"] == "input":
            shape = entry.get("shape")
            made = make_input(entry["name"], shape, optional=bool(entry.get("optional")))
            nodes[("input", entry["name"])] = made.node

    def model_layer(ref: str | list[int]) -> Model:
        key = unique.get(ref) if isinstance(ref, str) else tuple(ref)
        if key not in nodes:
            raise ValueError(f"layer {ref!r} is not made by an earlier call")
        return Model(nodes[key])

    def resolve(tag: str, ref: Any) -> Model:
        if tag != "$layer":
            raise ValueError(f"{tag} {ref!r} outside a block's body")
        return model_layer(ref)

    replay = _Replay(graph, model_layer)
    for index, call in enumerate(graph["calls"]):
        where = f"call {index} ({call.get('builder') or call.get('kind')!r})"
        try:
            record, result = replay.call(call, resolve, where)
        except Exception as error:
            raise SerializationError(
                f"{source}: rebuilding {where} failed: {type(error).__name__}: {error}"
            ) from error
        nodes.update({(index, p): node for p, node in _made_by(record, result).items()})
    model = model_layer(graph["output"])
    by_id = {nodes[key].id: entry for key, entry in entries.items() if key in nodes}

    def restore(node: Node) -> Node:
        entry = by_id.get(node.id)
        if entry is None:
            return node
        policy = entry.get("policy")
        return node.rebuilt(
            policy=None if policy is None else Policy(**policy), defined_at=entry["defined_at"]
        )

    return map_nodes(model, restore)


def _differences(saved: list[dict[str, Any]], rebuilt: list[dict[str, Any]]) -> list[str]:
    def identity(entry: Mapping[str, Any]) -> Any:
        return entry["name"], json.dumps(entry.get("call"))

    def label(entry: Mapping[str, Any]) -> str:
        copy = f", call {entry['call']}" if counts[entry["name"]] > 1 else ""
        return f"layer {entry['name']!r} ({entry['op']}{copy})"

    counts = Counter(entry["name"] for entry in [*saved, *rebuilt])
    rebuilt_by_id = {identity(entry): entry for entry in rebuilt}
    lines = []
    for entry in saved:
        other = rebuilt_by_id.pop(identity(entry), None)
        if other is None:
            lines.append(f"{label(entry)} is missing")
            continue
        for field in sorted(set(entry) | set(other)):
            if entry.get(field) != other.get(field):
                lines.append(
                    f"{label(entry)}: {field} is "
                    f"{json.dumps(entry.get(field), sort_keys=True)} in the file, "
                    f"{json.dumps(other.get(field), sort_keys=True)} rebuilt"
                )
    lines += [f"{label(e)} is extra" for e in rebuilt_by_id.values()]
    if not lines and [identity(e) for e in saved] != [identity(e) for e in rebuilt]:
        lines.append("the layers come in another order")
    return lines


def _missing(graph: Mapping[str, Any]) -> list[str]:
    """Every registered name the file needs that this installation lacks, one line each."""
    lines = []
    layer_of_call: dict[int, str] = {}
    for entry in graph["layers"]:
        if entry.get("call"):
            layer_of_call.setdefault(entry["call"][0], entry["name"])
        for p in entry.get("parameters", []):
            init = p.get("initializer")
            if isinstance(init, str) and "." not in init and init not in initializers.names():
                lines.append(f"layer {entry['name']!r} uses initializer {init!r}")
    labelled = [(layer_of_call.get(i, f"call {i}"), call) for i, call in enumerate(graph["calls"])]
    for b, spec in enumerate(graph.get("blocks", [])):
        block = f"block {spec.get('name') or b}"
        labelled += [(f"call {c} of {block}", call) for c, call in enumerate(spec.get("calls", []))]
    for layer, call in labelled:
        kind = call.get("kind", "builder")
        if kind not in CALL_KINDS:
            lines.append(f"layer {layer!r} is a {kind!r} (a newer kind of layer)")
        elif kind == "builder" and call.get("builder") not in layers:
            provider = call.get("provider")
            hint = f" - install {provider}" if provider else ""
            lines.append(f"layer {layer!r} uses builder {call.get('builder')!r}{hint}")
        for name in _tagged(call, "$activation"):
            if name not in activations.names():
                lines.append(f"layer {layer!r} uses activation {name!r}")
        for spec in _tagged(call, "$penalty"):
            name = spec.get("name") if isinstance(spec, dict) else spec
            if name not in penalties.names():
                lines.append(f"layer {layer!r} uses penalty {name!r}")
    return lines


def _tagged(data: Any, tag: str) -> list[Any]:
    """The bodies of every ``{tag: body}`` value inside ``data``."""
    if isinstance(data, dict):
        if set(data) == {tag}:
            return [data[tag]]
        return [n for v in data.values() for n in _tagged(v, tag)]
    if isinstance(data, list):
        return [n for v in data for n in _tagged(v, tag)]
    return []


# -- the public functions --------------------------------------------------------------------


def save_model(path: str | os.PathLike[str], model: Model, state: ModelState | None = None) -> str:
    """Write ``model``'s graph, and ``state`` if given, to one file that rebuilds without code.

    The graph is stored as the registered builder calls that made it (builder names
    and their arguments as data) plus a description of every layer (op, options,
    inputs, parameters, mixed-precision policy); ``state`` (parameters, layer state,
    frozen paths) as in :func:`axon.model.save`. :func:`load_model` rebuilds the graph
    from the layer registry alone, so plugins' layers need their plugin installed.
    The file is written atomically (the old file or the complete new one, never a
    partial write).

    Shared weights are stored: blocks (:func:`axon.model.block`: each block's body,
    the builder calls its function made on placeholder inputs, once, and one entry
    per call), free-standing parameters (:func:`axon.model.parameter`, e.g. a tied
    embedding table) and their uses as ``kernel=`` or in ``rnn(params=...)``;
    shared parameters are stored once, under their ``ModelState`` keys.

    What cannot be stored is refused here, every case in one
    :class:`~axon.model.SerializationError`: a layer made by
    :func:`axon.model.layer` directly (its op is code), a function argument that is
    not a registered activation (a lambda, a configured initializer: pass names), a
    layer changed after it was built (``map_nodes``, ``set_options``, quantization).
    Hooks are code too: they are left out, with a warning naming each hooked layer.

    Args:
        path: the file to write (e.g. ``"model.axon"``).
        model: the model to save.
        state: its :class:`~axon.model.ModelState`, or ``None`` for the graph alone.

    Returns:
        The path written, as a string.

    >>> import os, tempfile, jax.numpy as jnp, axon.model
    >>> model = axon.model.input("x", shape=(None, 3)).dense(4, activation="relu").dense(1)
    >>> state = model.init(0, jnp.ones((1, 3)))
    >>> path = save_model(os.path.join(tempfile.mkdtemp(), "model.axon"), model, state)
    >>> rebuilt, restored = load_model(path)
    >>> rebuilt
    <Model inputs={'x': (None, 3)} output='dense_1' layers=4>
    >>> bool(jnp.array_equal(rebuilt.apply(restored, jnp.ones((2, 3)))[0],
    ...                      model.apply(state, jnp.ones((2, 3)))[0]))
    True
    """
    path = os.fspath(path)
    model = expect_model(model, "save_model")
    if state is not None and not isinstance(state, ModelState):
        raise TypeError(
            f"save_model: state must be an axon.model.ModelState (from init or a trainer) or "
            f"None, got {type(state).__name__}."
        )
    hooked = [model.program.names[n.id] for n in model.program.order if n.hooks]
    if hooked:
        warnings.warn(
            f"save_model: hooks are code and are not saved; layer(s) {hooked} lose their hooks. "
            f"Attach them again after load_model.",
            stacklevel=2,
        )
    graph = _graph(model, has_state=state is not None)
    text = json.dumps(graph, sort_keys=True)
    differences = _differences(graph["layers"], _describe(_rebuild(json.loads(text), "the model")))
    if differences:
        raise SerializationError(
            "Cannot save the model: rebuilding it from its builder calls would not give the "
            "same graph, because some layers were changed after their builder made them "
            "(map_nodes, rewrite_nodes, set_options, set_parameters, quantization). A model "
            "file stores builder calls; build the changed layers with their builders "
            "instead.\n  " + "\n  ".join(differences[:10])
        )
    data = to_bytes(state if state is not None else ModelState(), metadata={METADATA_KEY: text})
    write_atomically(path, data)
    return path


def load_model(path: str | os.PathLike[str]) -> tuple[Model, ModelState | None]:
    """Rebuild a model saved by :func:`save_model`: ``(model, state)``, no code needed.

    The graph is rebuilt by calling registered layer builders (built-in or from
    installed plugins) with the data stored in the file; nothing in the file is
    executed or imported, and no pickle is read. The rebuilt graph is checked
    against the file's description of every layer. ``state`` is the saved
    :class:`~axon.model.ModelState` (``None`` if none was saved); the model is ready
    for ``build``, ``display.as_table``, training and ``save_model``.

    Blocks come back as the layers of each call, sharing one set of parameters by
    name as before (training adds up the gradients of all uses; freezing and mixed
    precision by block name work). The :class:`~axon.model.Block` objects themselves
    are not returned: applying a block to a new input needs the code that defined it.

    Raises :class:`~axon.model.SerializationError` naming the path for a file that
    is not a model file, is truncated or corrupted, was written by a newer format
    version, or needs builders, activations or initializers this installation does
    not have (all listed, with the distribution that provided them when saved).

    Args:
        path: a file written by :func:`save_model`.

    Returns:
        ``(model, state)``.

    >>> import os, tempfile, axon.model
    >>> path = os.path.join(tempfile.mkdtemp(), "graph.axon")
    >>> model = axon.model.input("ids", shape=(None, 8)).embedding(50, 4).global_avg_pool()
    >>> _ = save_model(path, model)
    >>> rebuilt, state = load_model(path)
    >>> axon.model.get_op_counts(rebuilt), state
    ({'input': 1, 'embedding': 1, 'global_avg_pool': 1}, None)
    """
    path = os.fspath(path)
    source = repr(path)
    with open(path, "rb") as file:
        data = file.read()
    metadata = _read_header(data, source).get("__metadata__") or {}
    text = metadata.get(METADATA_KEY)
    if text is None:
        kind = "a parameter file (axon.model.save)" if "axon" in metadata else "not a model file"
        raise SerializationError(
            f"{source} holds no model graph: it is {kind}. Write model files with "
            f"axon.model.save_model(path, model, state); read parameter files with "
            f"axon.model.load(path, model=...)."
        )
    graph = _parse(text, source)
    missing = _missing(graph)
    if missing:
        raise SerializationError(
            f"{source} needs what this installation does not provide:\n  "
            + "\n  ".join(missing)
        )  # fmt: skip
    state = from_bytes(data, source=source)  # also proves the tensors are intact
    model = _rebuild(graph, source)
    differences = _differences(graph["layers"], _describe(model))
    if differences:
        raise SerializationError(
            f"{source}: the graph rebuilt from its builder calls differs from the file's "
            f"description (a builder changed since the file was written; the file names the "
            f"versions that wrote it):\n  " + "\n  ".join(differences[:10])
        )
    return model, state if graph["state"] else None


def _parse(text: str, source: str) -> dict[str, Any]:
    graph = versioned_json(text, source, "a model graph", FORMAT, VERSION, "model-file")
    graph.setdefault("blocks", [])  # files without blocks may leave it out
    shapes = {"output": str | list, "state": bool, "calls": list, "blocks": list, "layers": list}
    bad = [k for k, t in shapes.items() if not isinstance(graph.get(k), t)]
    calls = graph.get("calls") if isinstance(graph.get("calls"), list) else []
    blocks = graph.get("blocks") if isinstance(graph.get("blocks"), list) else []
    if not all(isinstance(b, dict) and isinstance(b.get("calls"), list) for b in blocks):
        bad.append("blocks")
    elif not all(isinstance(c, dict) for c in [*calls, *(c for b in blocks for c in b["calls"])]):
        bad.append("calls")
    if bad or not all(isinstance(e, dict) and isinstance(e.get("name"), str)
                      and isinstance(e.get("op"), str) for e in graph["layers"]):  # fmt: skip
        raise SerializationError(
            f"{source} has a malformed model graph (fields {bad or ['layers']})."
        )
    return graph
