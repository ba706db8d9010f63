"""Turn a graph into ``init`` and ``apply`` functions.

The graph is walked once here, when the program is created; the walk inside
``apply`` happens only while JAX traces it, so a jitted step never touches the
graph again.
"""

from __future__ import annotations

import dataclasses
import functools
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from axon.functional import initializers

from .._errors import InputError, LayerError, ModelError
from .._graph.cells import Cell, cells_of
from .._graph.node import Node, Parameter, assign_names, topological_order
from .._graph.remat import jax_policy
from .checks import (
    check_id_ranges,
    check_input,
    check_not_empty,
    has_non_numeric_leaf,
    id_range,
    misfit_error,
    misfits,
)
from .hooks import hooks_for, run_hooks, with_backward_hooks
from .options import DEFAULT, BuildOptions
from .penalties import activity_penalty, has_penalties, parameter_penalty
from .precision import cast_tree, is_floating
from .segments import Unit, schedule
from .state import ModelState

Mode = str
MODES = ("inference", "train")


class Program:
    """A compiled view of a graph: evaluation order, layer names and input specs."""

    def __init__(self, output: Node):
        self.output = output
        self.order = topological_order([output])
        self.names = assign_names(self.order)
        self.layers = {self.names[node.id]: node for node in self.order}  # by layer name
        self.inputs = [node for node in self.order if node.op_name == "input"]
        if not self.inputs:
            raise ModelError("The model has no input; start it with axon.model.input(name, shape).")
        self.cells = cells_of(self.order)
        # a cell's layers run inside its recurrent layer's scan, not in the graph's walk
        self.in_cells = {node.id for cell in self.cells.values() for node in cell.members}
        self._apply_jit = jax.jit(self._apply, static_argnames=("mode", "options", "penalize"))
        self.has_penalties = has_penalties(self.layers)
        self._inferred: dict[tuple[Any, ...], Any] = {}

    # -- inputs ---------------------------------------------------------------------------

    @property
    def input_names(self) -> list[str]:
        return [self.names[node.id] for node in self.inputs]

    def _named_inputs(self, inputs: Any) -> dict[str, Any]:
        """Map the user's inputs onto the model's input names and check their shapes.

        An optional input that is left out (or given as ``None``) maps to ``None``.
        """
        names = self.input_names
        optional = {self.names[node.id] for node in self.inputs if node.config.get("optional")}
        required = [n for n in names if n not in optional]
        if isinstance(inputs, Mapping):
            unexpected = [k for k in inputs if k not in names]
            named = {n: inputs.get(n) for n in names}
        elif len(names) == 1 or len(required) == 1:
            unexpected = []
            named = dict.fromkeys(names)
            named[(required or names)[0]] = inputs
        else:
            raise InputError(
                f"The model has {len(names)} inputs {names}; pass them as a dict "
                f"{{name: array}}, not as a single {type(inputs).__name__}."
            )
        missing = [n for n in required if named[n] is None]
        if missing or unexpected:
            given = inputs if isinstance(inputs, Mapping) else named
            raise InputError(
                f"The model's inputs are {names} (required: {required}); received "
                f"{sorted(k for k, v in given.items() if v is not None)} (missing: {missing}, "
                f"unexpected: {unexpected}). Pass a dict with the model's input names"
                + (f"; {sorted(optional)} may be left out." if optional else ".")
            )
        for node in self.inputs:
            value = named[self.names[node.id]]
            if value is not None:
                check_input(self.names[node.id], node, value)
        return named

    # -- shape inference -----------------------------------------------------------------

    def infer(
        self, inputs: Any, options: BuildOptions = DEFAULT
    ) -> tuple[dict[int, Any], dict[str, dict[str, jax.ShapeDtypeStruct]]]:
        """Output structs of every node and the shapes of every parameter, without running.

        Cached per input signature and global layer options: init runs once per
        training run, and a model's shapes depend only on its inputs' shapes and
        dtypes and on the options its layers are given.
        """
        named = self._named_inputs(inputs)
        signature = tuple(
            None if v is None else (tuple(np.shape(v)), _dtype_of(v)) for v in named.values()
        )
        signature += options.global_layer_options
        if signature not in self._inferred:
            self._inferred[signature] = self._infer(named, options)
        return self._inferred[signature]

    def _infer(
        self, named: dict[str, Any], options: BuildOptions
    ) -> tuple[dict[int, Any], dict[str, dict[str, jax.ShapeDtypeStruct]]]:
        structs: dict[int, Any] = {}
        params: dict[str, dict[str, jax.ShapeDtypeStruct]] = {}
        templates = {
            name: None if v is None else jax.ShapeDtypeStruct(np.shape(v), _dtype_of(v))
            for name, v in named.items()
        }
        # shapes follow the inference path: a train-only layer passes its input through
        for node, name in self._layers(templates, structs, "inference"):
            layer_params = _parameter_structs(node, name, structs)
            if layer_params:
                _check_shared(node, name, params.get(name), layer_params)
                params[name] = layer_params
            args = _arguments(node, structs, lambda p, shapes=layer_params: shapes[p.name])
            extra = None
            if node.id in self.cells:  # traced inside eval_shape: zeros stand for every value
                extra = inference_extra(node)
                extra["cell"] = self._cell_step(
                    self.cells[node.id], lambda n: _zeros(structs[n.id]),
                    lambda layer, p: _zeros(params[layer][p.name]), "inference", None, options,
                )  # fmt: skip
            output = self._call(node, name, args, options, shape_only=True, extra=extra)
            check_not_empty(node, name, output, [structs[i.id] for i in node.inputs])
            structs[node.id] = output if node.policy is None else _cast_output(node, output)
        return structs, params

    def _layers(
        self,
        named: dict[str, Any],
        values: dict[int, Any],
        mode: Mode,
        nodes: Sequence[Node] | None = None,
        skip: Any = (),
    ) -> Iterator[tuple[Node, str]]:
        """Each layer (of ``nodes``, default all) whose op runs in ``mode``, with its name,
        in evaluation order.

        The walk fills in ``values`` for every other node: an input's from ``named``; a
        layer of the other mode passes its first input through (e.g. dropout in
        inference); a layer with a missing (optional) input value is missing too; a layer
        in ``skip`` (run elsewhere: in a cell) gets the empty value ``()``. The caller
        stores the value of each layer it is given before asking for the next.
        """
        for node in self.order if nodes is None else nodes:
            name = self.names[node.id]
            if node.op_name == "input":
                values[node.id] = named[name]
            elif node.id in skip:
                values[node.id] = ()
            elif node.mode not in ("both", mode):
                values[node.id] = values[node.inputs[0].id]
            elif _skipped(node, values):
                values[node.id] = None
            else:
                yield node, name

    # -- init -----------------------------------------------------------------------------

    def init(
        self,
        key: Any,
        inputs: Any,
        model_state: ModelState | None = None,
        options: BuildOptions = DEFAULT,
    ) -> ModelState:
        key = jax.random.key(key) if isinstance(key, int) else key
        with options.timed("init: shape inference"):
            _, shapes = self.infer(inputs, options)
        kinds = {(self.names[node.id], p.name): p for node in self.order for p in node.parameters}
        params: dict[str, dict[str, Any]] = {}
        state: dict[str, dict[str, Any]] = {}
        for layer, layer_shapes in shapes.items():
            layer_key = jax.random.fold_in(key, _stable_hash(layer))
            with options.timed(f"init: layer {layer!r} ({len(layer_shapes)} entries)"):
                for pname, struct in layer_shapes.items():
                    parameter = kinds[(layer, pname)]
                    target = params if parameter.kind == "parameter" else state
                    declared = jax.ShapeDtypeStruct(struct.shape, parameter.dtype)
                    subkey = jax.random.fold_in(layer_key, _stable_hash(pname))
                    value = self._initialize(layer, parameter, subkey, declared)
                    # a mixed-precision policy stores parameters in its params dtype
                    target.setdefault(layer, {})[pname] = value.astype(struct.dtype)
        initialized = ModelState(params, state)
        if model_state is not None:
            problems = misfits(self.layers, shapes, model_state)
            if problems:
                advice = "Pass init only the entries that fit: those of layers whose sizes match."
                raise misfit_error(problems, "", advice)
            initialized = self._apply_params_policy(initialized.merge(model_state))
        self._initialize_hooks(initialized)
        return initialized

    def _apply_params_policy(self, model_state: ModelState) -> ModelState:
        """Cast given (e.g. pretrained float32) parameters to their layer's params dtype."""
        params = {layer: dict(values) for layer, values in model_state.params.items()}
        for node in self.order:
            name = self.names[node.id]
            if node.policy is None or node.policy.params is None or name not in params:
                continue
            params[name] = cast_tree(params[name], node.policy.params)
        return model_state.replace(params=params)

    def _initialize_hooks(self, model_state: ModelState) -> None:
        for node in self.order:
            fns = hooks_for(node, "initialize", None)
            if fns:
                name = self.names[node.id]
                entries = {**model_state.params.get(name, {}), **model_state.state.get(name, {})}
                run_hooks(fns, entries, "initialize", node.describe(name))

    def _initialize(self, layer: str, p: Parameter, key: Any, struct: Any) -> jax.Array:
        try:
            value = initializers.resolve(p.initializer)(key, struct.shape, struct.dtype)
        except Exception as error:
            raise LayerError(
                f"Initializer {p.initializer!r} of parameter {p.name!r} in layer {layer!r} "
                f"failed for shape {struct.shape}: {error}"
            ) from error
        if value.shape != struct.shape:
            raise LayerError(
                f"Initializer {p.initializer!r} of parameter {p.name!r} in layer {layer!r} "
                f"returned shape {value.shape}; expected {struct.shape}."
            )
        return value

    # -- apply ----------------------------------------------------------------------------

    def apply(
        self,
        model_state: ModelState,
        inputs: Any,
        *,
        mode: Mode = "inference",
        key: Any = None,
        options: BuildOptions = DEFAULT,
        penalize: bool = False,
    ) -> tuple[Any, dict[str, dict[str, Any]], Any]:
        """Run the model: ``(prediction, new_state, penalty)``, the penalty (parameters' and
        activity penalties of this forward pass) with ``penalize``, else ``None``. Jitted;
        traced once per signature of the inputs and the model state, which is when both are
        checked against the model. Embedding ids are checked when the call is eager (see
        ``checks.id_range``)."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}.")
        if not isinstance(model_state, ModelState):
            raise TypeError(
                f"Expected a ModelState (from init_fn) as the first argument, got "
                f"{type(model_state).__name__}."
            )
        if has_non_numeric_leaf(inputs):  # jit cannot even trace it: say which input
            self._named_inputs(inputs)
        prediction, new_state, id_ranges, penalty = self._apply_jit(
            model_state, inputs, mode=mode, key=key, options=options, penalize=penalize
        )
        check_id_ranges(self.layers, id_ranges)
        return prediction, new_state, penalty

    def _apply(
        self,
        model_state: ModelState,
        inputs: Any,
        *,
        mode: Mode,
        key: Any,
        options: BuildOptions = DEFAULT,
        penalize: bool = False,
    ):
        """The body of :meth:`apply`; runs while JAX traces it (``debug`` times that)."""
        with options.timed(f"apply ({mode}): traced the model"):
            named = self._named_inputs(inputs)
            walk = functools.partial(self._walk, mode=mode, options=options, penalize=penalize)
            if options.remat is not None:  # build(remat=...): the whole forward is one segment
                walk = jax.checkpoint(walk, policy=jax_policy(options.remat))
            return walk(model_state, named, key)

    def _walk(
        self,
        model_state: ModelState,
        named: dict[str, Any],
        key: Any,
        *,
        mode: Mode,
        options: BuildOptions,
        penalize: bool,
    ):
        """Every layer in schedule order: ``(prediction, new_state, id_ranges, penalty)``."""
        penalty = parameter_penalty(self.layers, model_state) if penalize else None
        new_state = {layer: dict(entries) for layer, entries in model_state.state.items()}
        # state is read from new_state: the uses of a layer in a block update it in turn
        run = _Run(model_state, named, mode, key, options, new_state, penalty)
        for unit in self.schedule:
            if unit.remat is None:
                self._run_layers(run, unit.nodes)
            else:
                self._run_segment(run, unit)
        return run.values[self.output.id], new_state, run.id_ranges, run.penalty

    @functools.cached_property
    def schedule(self) -> list[Unit]:
        """The evaluation order, with each rematerialized segment in one piece."""
        return schedule(self.order, self.output)

    def _run_segment(self, run: _Run, unit: Unit) -> None:
        """Run ``unit``'s layers as one ``jax.checkpoint`` function of the values it reads,
        the model state and the key: the backward pass recomputes them."""
        stateful = sorted({self.names[n.id] for n in unit.nodes if _has_state(n)})

        def segment(reads: list[Any], current: ModelState, key: Any) -> tuple[Any, ...]:
            inner_state = {layer: dict(entries) for layer, entries in current.state.items()}
            penalty = jnp.zeros((), jnp.float32) if run.penalty is not None else None
            inner = _Run(run.model_state, run.named, run.mode, key, run.options, inner_state,
                         penalty, current.replace(state=inner_state))  # fmt: skip
            inner.values.update(
                {node.id: value for node, value in zip(unit.reads, reads, strict=True)}
            )
            self._run_layers(inner, unit.nodes)
            escaping = [inner.values[i] for i in unit.escapes]
            return escaping, {n: inner_state[n] for n in stateful}, inner.id_ranges, inner.penalty

        checkpointed = jax.checkpoint(segment, policy=jax_policy(unit.remat.policy))
        reads = [run.values[node.id] for node in unit.reads]
        escaping, updates, id_ranges, penalty = checkpointed(reads, run.current, run.key)
        run.values.update(zip(unit.escapes, escaping, strict=True))
        for layer, entries in updates.items():
            run.current.state[layer].update(entries)
        for name, ids in id_ranges.items():
            _merge_range(run.id_ranges, name, ids)
        if penalty is not None:
            run.penalty = run.penalty + penalty

    def _run_layers(self, run: _Run, nodes: Sequence[Node]) -> None:
        walk = self._layers(run.named, run.values, run.mode, nodes, skip=self.in_cells)
        for node, name in walk:
            self._run_layer(run, node, name)

    def _run_layer(self, run: _Run, node: Node, name: str) -> None:
        """Compute one layer into ``run``: its value, state updates, id range and penalty."""
        values, mode, new_state = run.values, run.mode, run.current.state
        if node.parameters:  # while tracing: once per input and model-state signature
            needed = {name: _parameter_structs(node, name, values)}
            self._check_fits(run.model_state, run.named, needed, run.options)
        args = _arguments(node, values, functools.partial(self._lookup, run.current, name))
        where = node.describe(name) if node.hooks else ""
        if node.hooks:
            inputs = tuple(
                a for a, spec in zip(args, node.args, strict=True) if isinstance(spec, Node)
            )
            run_hooks(hooks_for(node, "pre_forward", mode), inputs, "pre_forward", where)
        extra = self._extra(node, name, mode, run.key)
        if node.id in self.cells:  # a cell of layers: its op scans their step function
            cell = self.cells[node.id]
            self._check_cell_fits(cell, run.model_state, run.named, run.options)
            lookup = functools.partial(self._lookup, run.current)
            extra["cell"] = self._cell_step(
                cell, lambda n: values[n.id], lookup, mode, run.key, run.options
            )
        output = self._call(node, name, args, run.options, shape_only=False, extra=extra)
        check_not_empty(node, name, output, [values[i.id] for i in node.inputs])
        ids = id_range(node, args)
        if ids is not None:  # a layer used in several places: the range of all uses
            _merge_range(run.id_ranges, name, ids)
        if mode == "train" and "mode" in node.wants and _has_state(node):
            output, updates = _split_updates(node, name, output)
            if node.policy is not None:  # state keeps its stored dtype across steps
                updates = {k: cast_tree(v, new_state[name][k].dtype) for k, v in updates.items()}
            new_state[name].update(updates)
        if node.policy is not None:
            output = _cast_output(node, output)
        if run.penalty is not None and node.activity_regularizer is not None:
            run.penalty = run.penalty + activity_penalty(node, output)
        if node.hooks:
            run_hooks(hooks_for(node, "forward", mode), output, "forward", where)
            output = with_backward_hooks(hooks_for(node, "backward", mode), output, where)
        run.options.print_value(name, output)
        values[node.id] = output

    def _check_fits(
        self, model_state: ModelState, named: dict[str, Any], needed: Any, options: BuildOptions
    ) -> None:
        """Raise if ``model_state`` does not give a layer the parameters it ``needed``."""
        problems = misfits(self.layers, needed, model_state)
        if not problems:
            return
        # name every entry that does not fit, not only one
        _, every_layer = self.infer(named, options)
        raise misfit_error(
            misfits(self.layers, every_layer, model_state) or problems,
            f" for inputs {_describe_inputs(named)}",
            "Was it created by another model, or for inputs of other shapes? Create it with "
            "this model's init (load(path, model) checks a file); to start from another "
            "model's parameters, pass those that fit to init(key, inputs, model_state=...).",
        )

    def _cell_step(
        self,
        cell: Cell,
        value_of: Callable[[Node], Any],
        parameter: Callable[[str, Parameter], Any],
        mode: Mode,
        key: Any,
        options: BuildOptions,
    ) -> Callable[[Any, list[Any]], Any]:
        """``step(x_t, carry_leaves) -> (y_t, new_carry)``: the cell's layers on one time
        step; ``value_of`` gives the values of layers outside the cell that it uses."""

        def step(x_t: Any, carry: list[Any]) -> Any:
            values = {slot.id: v for slot, v in zip(cell.slots, [x_t, *carry], strict=True)}
            for node in cell.members:
                name = self.names[node.id]
                for i in node.inputs:
                    if i.id not in values:
                        values[i.id] = value_of(i)
                if node.mode not in ("both", mode):
                    values[node.id] = values[node.inputs[0].id]
                    continue
                args = _arguments(node, values, functools.partial(parameter, name))
                extra = self._extra(node, name, mode, key)
                output = self._call(node, name, args, options, shape_only=False, extra=extra)
                values[node.id] = output if node.policy is None else _cast_output(node, output)
            return jax.tree_util.tree_map(
                lambda n: values[n.id] if n.id in values else value_of(n), cell.outputs
            )

        return step

    def _check_cell_fits(
        self, cell: Cell, model_state: ModelState, named: dict[str, Any], options: BuildOptions
    ) -> None:
        """Raise if ``model_state`` does not fit the layers of ``cell`` (as for any layer)."""
        _, shapes = self.infer(named, options)
        needed = {
            self.names[n.id]: shapes[self.names[n.id]]
            for n in cell.members
            if self.names[n.id] in shapes
        }
        if needed:
            self._check_fits(model_state, named, needed, options)

    def _extra(self, node: Node, name: str, mode: Mode, key: Any) -> dict[str, Any]:
        """The ``mode`` and per-layer ``key`` arguments the node's op declares."""
        extra: dict[str, Any] = {}
        if "mode" in node.wants:
            extra["mode"] = mode
        if "key" in node.wants:
            if key is None and mode == "train":
                raise LayerError(
                    f"{node.describe(name).capitalize()} is random in training: pass key= "
                    f"(a jax.random.key) to apply/predict_fn in train mode. (axon.loop "
                    f"trainers pass one for every step.)"
                )
            extra["key"] = None if key is None else jax.random.fold_in(key, _stable_hash(name))
        return extra

    def _lookup(self, model_state: ModelState, layer: str, p: Parameter) -> jax.Array:
        tree = model_state.params if p.kind == "parameter" else model_state.state
        try:
            value = tree[layer][p.name]
        except KeyError:
            raise LayerError(
                f"The model state has no {p.kind} {p.name!r} for layer {layer!r}. Was it "
                f"created by this model's init_fn? Known layers: {sorted(tree)}."
            ) from None
        if p.kind == "parameter" and model_state.is_frozen(layer, p.name):
            return jax.lax.stop_gradient(value)  # frozen: no gradient flows into it
        return value

    def _call(
        self,
        node: Node,
        name: str,
        args: Sequence[Any],
        options: BuildOptions,
        *,
        shape_only: bool,
        extra: dict[str, Any] | None = None,
    ) -> Any:
        if extra is None:  # shape inference runs the inference path
            extra = inference_extra(node)
        # global layer options replace the layer's own (Axon's rule)
        opts = {**node.opts, **options.for_layer(node), **extra}
        fn: Callable[..., Any] = functools.partial(node.op, **opts)
        try:
            return jax.eval_shape(fn, *args) if shape_only else fn(*args)
        except ModelError:
            raise
        except Exception as error:
            received = ", ".join(_describe(a) for a in args)
            raise LayerError(
                f"{node.describe(name).capitalize()} failed on arguments ({received}): "
                f"{type(error).__name__}: {error}"
            ) from error


def inference_extra(node: Node) -> dict[str, Any]:
    """The ``mode`` and ``key`` arguments of an op run for its shapes: inference, no key."""
    extra: dict[str, Any] = {"mode": "inference"} if "mode" in node.wants else {}
    if "key" in node.wants:
        extra["key"] = None
    return extra


def _zeros(struct: Any) -> Any:
    """Zeros in the shape of a struct (or a pytree of them), to trace a function with."""
    return jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), struct)


@dataclasses.dataclass
class _Run:
    """What one walk of the layers fills in: values by node id, the running model state
    (``current``, whose ``state`` is ``new_state``), embedding id ranges and the penalty.
    A rematerialized segment walks its layers in a ``_Run`` of its own."""

    model_state: ModelState  # as given: layers' parameters are checked against it
    named: dict[str, Any]
    mode: Mode
    key: Any
    options: BuildOptions
    new_state: dict[str, dict[str, Any]]
    penalty: Any
    current: ModelState = None  # type: ignore[assignment]
    values: dict[int, Any] = dataclasses.field(default_factory=dict)
    id_ranges: dict[str, jax.Array] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.current is None:
            self.current = self.model_state.replace(state=self.new_state)


def _merge_range(id_ranges: dict[str, jax.Array], name: str, ids: Any) -> None:
    low, high = id_ranges.get(name, ids)
    id_ranges[name] = jnp.stack([jnp.minimum(low, ids[0]), jnp.maximum(high, ids[1])])


def _arguments(node: Node, values: dict[int, Any], parameter: Callable[[Parameter], Any]) -> list:
    """The op's arguments in call order, input values and ``parameter(p)`` for parameters,
    cast to the compute dtype of the node's mixed-precision policy."""
    args = [values[a.id] if isinstance(a, Node) else parameter(a) for a in node.args]
    return args if node.policy is None else [cast_tree(a, node.policy.compute) for a in args]


def _check_shared(
    node: Node, name: str, first: Mapping[str, Any] | None, structs: Mapping[str, Any]
) -> None:
    """Raise if another use of a layer in a block needs its parameters in other shapes."""
    if first is None or first == structs:
        return

    def describe(tree: Mapping[str, Any]) -> dict[str, str]:
        return {k: f"{tuple(s.shape)} {s.dtype}" for k, s in tree.items()}

    raise LayerError(
        f"Layer {name!r} ({node.op_name}, defined at {node.defined_at}) is used in several "
        f"calls of block {node.blocks[-1].name or name.rsplit('/', 1)[0]!r} (defined at "
        f"{node.blocks[-1].defined_at}), which share its parameters, but one call needs "
        f"{describe(first)} and another {describe(structs)}. Call the block on inputs of "
        f"the same feature sizes (and give its uses the same mixed-precision policy)."
    )


def _skipped(node: Node, values: dict[int, Any]) -> bool:
    """Whether ``node`` is skipped: an input value is missing and its op does not take ``None``."""
    if getattr(node.op, "accepts_none", False):
        return False
    return any(values[i.id] is None for i in node.inputs)


def _parameter_structs(
    node: Node, name: str, values: dict[int, Any]
) -> dict[str, jax.ShapeDtypeStruct]:
    """Shape and stored dtype of each parameter of ``node``, from its input values (arrays
    or structs; a value may be a pytree, e.g. an RNN's ``(sequence, carry)``)."""
    input_shapes = [jax.tree_util.tree_map(lambda s: s.shape, values[i.id]) for i in node.inputs]
    structs = {}
    for p in node.parameters:
        try:
            shape = p.resolve_shape(input_shapes)
        except Exception as error:
            raise LayerError(
                f"Could not compute the shape of parameter {p.name!r} of "
                f"{node.describe(name)} from its input shapes {input_shapes}: {error}"
            ) from error
        structs[p.name] = jax.ShapeDtypeStruct(shape, _stored_dtype(node, p))
    return structs


def _stored_dtype(node: Node, p: Parameter) -> Any:
    """The dtype a parameter is stored in: the policy's params dtype for floating parameters."""
    policy = node.policy
    if policy is None or policy.params is None or p.kind != "parameter":
        return p.dtype
    return policy.params if is_floating(p.dtype) else p.dtype


def _cast_output(node: Node, output: Any) -> Any:
    return cast_tree(output, node.policy.output)


def _has_state(node: Node) -> bool:
    return any(p.kind == "state" for p in node.parameters)


def _split_updates(node: Node, name: str, output: Any) -> tuple[Any, dict[str, Any]]:
    """``(output, {state_name: value})`` from a stateful op's train-mode result."""
    names = {p.name for p in node.parameters if p.kind == "state"}
    if not (isinstance(output, tuple) and len(output) == 2 and isinstance(output[1], dict)):
        raise LayerError(
            f"{node.describe(name).capitalize()} has state {sorted(names)}, so in train mode "
            f"its op must return (output, {{state_name: new_value}}); it returned "
            f"{type(output).__name__}."
        )
    unknown = set(output[1]) - names
    if unknown:
        raise LayerError(
            f"{node.describe(name).capitalize()} returned updates for {sorted(unknown)}, "
            f"which are not among its state {sorted(names)}."
        )
    return output


def _dtype_of(value: Any) -> Any:
    dtype = getattr(value, "dtype", None)
    return jnp.result_type(dtype) if dtype is not None else jnp.float32


def _describe(value: Any) -> str:
    shape, dtype = getattr(value, "shape", None), getattr(value, "dtype", None)
    return f"{tuple(shape)} {dtype}" if shape is not None else type(value).__name__


def _describe_inputs(named: Mapping[str, Any]) -> str:
    shown = {k: _describe(v) for k, v in named.items() if v is not None}
    return str(shown) if len(shown) > 1 else next(iter(shown.values()), "{}")


def _stable_hash(name: str) -> int:
    """A run-independent integer for a name, so keys depend on names, not on order."""
    return zlib.crc32(name.encode()) & 0x7FFFFFFF
