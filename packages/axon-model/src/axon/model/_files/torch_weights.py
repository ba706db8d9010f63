"""Loading a PyTorch / Hugging Face state dict into an axon model, without torch.

The work is in three steps, each of which sees only what it needs:

1. *Reading* (``torch_source``): the torch keys and shapes of a safetensors file or an
   in-memory dict; tensor data stays unread.
2. *Matching* (here): each axon layer that has entries is assigned a torch module
   prefix, by ``mapping``, by name or by order, and its converter
   (``torch_layouts``) says which torch keys fill which entries and with what shapes.
   Everything that does not fit is collected in a :class:`TorchStateDictReport`;
   the dry run (``dry_run=True``) stops here.
3. *Loading* (:func:`from_torch_state_dict`): if the report has no problems, the
   tensors are read, converted and cast to the dtypes the model's entries have.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .._compiler.state import ModelState
from .._errors import LayerError
from .._graph.model import Model, expect_model
from .parameters import SerializationError, _templates
from .torch_layouts import CONVERTERS, LayerSpec, Prefix, Rule, generic
from .torch_source import TorchTensors, read_tensors, torch_key

__all__ = [
    "MissingEntry",
    "ShapeMismatch",
    "TorchStateDictError",
    "TorchStateDictReport",
    "from_torch_state_dict",
]

Shape = tuple[int, ...]
Mapping_ = Mapping[str, Prefix | None] | Callable[[str], Prefix | None] | None
_KINDS = ("params", "state")


class MissingEntry(NamedTuple):
    """An axon entry no torch tensor fills: its path, shape and the torch keys looked for."""

    path: str
    shape: Shape
    looked_for: tuple[str, ...]


class ShapeMismatch(NamedTuple):
    """A torch tensor whose shape does not fit the axon entries it would fill."""

    key: str
    received: Shape
    expected: Shape
    paths: tuple[str, ...]


@dataclass(frozen=True)
class TorchStateDictReport:
    """How a PyTorch state dict matches a model: ``from_torch_state_dict(..., dry_run=True)``.

    Attributes:
        source: the checkpoint, as named in messages.
        matched_by: how layers were assigned torch modules: ``"mapping"``, ``"name"``
            or ``"order"``.
        layers: ``{axon layer: torch module prefix}`` (``None``: none assigned).
        loaded: ``{"params/<layer>/<name>": torch keys}`` for every entry that loads.
        unmatched_axon: axon entries no torch tensor fills (:class:`MissingEntry`).
        kept: axon entries deliberately left to ``state=`` (mapped to ``None``).
        unmatched_torch: ``{torch key: shape}`` of tensors no layer uses (less ``ignore``).
        mis_shaped: torch tensors of the wrong shape (:class:`ShapeMismatch`).
        unused_mapping: ``mapping`` patterns that match no axon layer.

    >>> import numpy as np, axon.model
    >>> model = axon.model.input("x", shape=(None, 3)).dense(2, name="fc")
    >>> report = axon.model.from_torch_state_dict(
    ...     model, dry_run=True, source={"fc.weight": np.zeros((2, 3)), "fc.bias": np.zeros(2)})
    >>> report.ok, report.matched_by, report.loaded["params/fc/kernel"]
    (True, 'name', ('fc.weight',))
    """

    source: str
    matched_by: str
    layers: dict[str, Prefix | None]
    loaded: dict[str, tuple[str, ...]]
    unmatched_axon: tuple[MissingEntry, ...]
    kept: tuple[str, ...]
    unmatched_torch: dict[str, Shape]
    mis_shaped: tuple[ShapeMismatch, ...]
    unused_mapping: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """Whether everything matches: a strict load would succeed.

        >>> import numpy as np, axon.model
        >>> model = axon.model.input("x", shape=(None, 3)).dense(2, name="fc")
        >>> torch_state = {"fc.weight": np.zeros((2, 4))}
        >>> axon.model.from_torch_state_dict(model, torch_state, dry_run=True).ok
        False
        """
        return not (
            self.unmatched_axon or self.unmatched_torch or self.mis_shaped or self.unused_mapping
        )

    def __str__(self) -> str:
        lines = [
            f"PyTorch state dict {self.source}: {len(self.loaded)} axon entries load, layers "
            f"matched by {self.matched_by}"
        ]
        if self.mis_shaped:
            lines.append("  mis-shaped torch tensors:")
            lines += [
                f"    {m.key}: received {m.received}, expected {m.expected} (for "
                f"{', '.join(m.paths) or 'nothing'})"
                for m in self.mis_shaped
            ]
        if self.unmatched_axon:
            lines.append("  unmatched axon entries:")
            lines += [
                f"    {m.path} {m.shape}: "
                + (f"looked for {', '.join(m.looked_for)}" if m.looked_for else "no torch module")
                for m in self.unmatched_axon
            ]
        if self.unmatched_torch:
            lines.append("  unmatched torch keys (no layer reads them):")
            lines += [f"    {key} {shape}" for key, shape in self.unmatched_torch.items()]
        if self.unused_mapping:
            lines.append(
                f"  mapping patterns that match no axon layer: {list(self.unused_mapping)}"
            )
        lines.append("  layers (axon layer <- torch module):")
        lines += [f"    {layer} <- {prefix!r}" for layer, prefix in self.layers.items()]
        return "\n".join(lines)


class TorchStateDictError(SerializationError):
    """A PyTorch state dict does not fit the model; ``report`` lists every problem.

    >>> import numpy as np, axon.model
    >>> model = axon.model.input("x", shape=(None, 3)).dense(2, name="fc")
    >>> try:
    ...     axon.model.from_torch_state_dict(model, {"fc.weight": np.zeros((2, 4))})
    ... except axon.model.TorchStateDictError as error:
    ...     print(error.report.mis_shaped[0])
    ShapeMismatch(key='fc.weight', received=(2, 4), expected=(2, 3), paths=('params/fc/kernel',))
    """

    def __init__(self, message: str, report: TorchStateDictReport):
        super().__init__(message)
        self.report = report


@dataclass
class _Plan:
    """The report plus what loading needs: the rules that passed, by layer."""

    report: TorchStateDictReport
    tensors: TorchTensors
    rules: list[tuple[str, Rule]] = field(default_factory=list)  # (layer, rule) that load
    kinds: dict[tuple[str, str], tuple[str, Any]] = field(default_factory=dict)  # kind, dtype
    used: set[str] = field(default_factory=set)  # torch keys some rule reads


def from_torch_state_dict(
    model: Model,
    source: Any,
    *,
    inputs: Any = None,
    state: ModelState | None = None,
    mapping: Mapping_ = None,
    ignore: Iterable[str] = (),
    strict: bool = True,
    dry_run: bool = False,
) -> ModelState | TorchStateDictReport:
    """Load a PyTorch / Hugging Face checkpoint into an axon model built with the builders.

    ``source`` is a ``.safetensors`` file, a Hugging Face checkpoint directory (its
    ``model.safetensors``, or the shards its ``model.safetensors.index.json`` names),
    or a state dict ``{key: array}`` of numpy arrays or torch tensors (read through
    ``.detach().cpu().numpy()``; torch is never imported). Pickle checkpoints
    (``.bin``, ``.pt``) are never read: convert them once with
    ``safetensors.torch.save_file``.

    Each axon layer with parameters is assigned a torch module prefix:

    * ``mapping={axon layer: torch prefix}`` first. Keys may be globs whose ``*`` are
      captured in order and substituted for ``{0}``, ``{1}``... in the value
      (``{"block_*_attention": "encoder.layer.{0}.attention"}``); an exact name wins
      over a glob, and among globs the first that matches. A value ``None`` keeps the
      layer's entries from ``state`` (a new head). An attention layer also takes a
      dict ``{"query", "key", "value", "output"}`` of linear-module prefixes.
      ``mapping`` may also be a function ``layer name -> prefix or None``.
    * Layers the mapping does not cover match **by name**: axon layer ``encoder/fc``
      (``/`` of a block becomes ``.``) reads the torch module ``encoder.fc``.
    * Without ``mapping``, when no layer name is a torch module, layers match **by
      order**: the layers with parameters in evaluation order take the torch modules in
      the state dict's order. This suits a sequential model; the report says what was
      assigned, and ``mapping`` fixes the rest.

    Conversions per layer (dense weights transposed, conv kernels to the layer's
    channel layout, LSTM/GRU gate rows split into axon's per-gate kernels, norm
    statistics into layer state, attention projections split) are listed in the guide
    "ONNX and PyTorch interop". Other layers read ``<prefix>.<entry name>`` as is.

    Args:
        model: the axon model (graph) to load into.
        source: the checkpoint path or state dict.
        inputs: input arrays or ``jax.ShapeDtypeStruct`` templates giving the
            parameter shapes; may be left out when ``state`` is given or every input
            declares its shape but the batch axis.
        state: a model state of ``model`` (e.g. ``model.init(key, x)``): gives the
            shapes and dtypes, the frozen paths, and the values of entries the
            checkpoint does not hold (with ``strict=False`` or a ``None`` mapping).
        mapping: see above.
        ignore: globs of torch keys that may stay unused (``["pooler.*"]``).
        strict: raise unless every torch key (less ``ignore``) is used and every axon
            entry filled. With ``strict=False``, unused torch keys are allowed and
            unfilled entries keep their values from ``state``. Mis-shaped tensors and
            unused mapping patterns are always errors.
        dry_run: match without loading: read only keys and shapes (no tensor data),
            raise nothing for a mismatch, and return the :class:`TorchStateDictReport`
            (``print`` it for a readable listing of unmatched torch keys, unmatched
            axon entries, mis-shaped tensors with received vs expected torch shapes,
            and unused ``mapping`` patterns).

    Returns:
        A :class:`~axon.model.ModelState` with the converted arrays, in the dtypes of
        the model's entries (the report with ``dry_run=True``).

    Raises:
        TorchStateDictError: listing every problem at once (its ``report`` has them).

    >>> import numpy as np, jax.numpy as jnp, axon.model
    >>> rng = np.random.default_rng(0)
    >>> torch_state = {"0.weight": rng.normal(size=(8, 4)), "0.bias": rng.normal(size=8),
    ...                "2.weight": rng.normal(size=(2, 8)), "2.bias": rng.normal(size=2)}
    >>> model = axon.model.input("x", shape=(None, 4)).dense(8, activation="relu").dense(2)
    >>> state = axon.model.from_torch_state_dict(model, torch_state)
    >>> state.params["dense_0"]["kernel"].shape  # torch's (8, 4) weight, transposed
    (4, 8)
    >>> x = rng.normal(size=(3, 4))
    >>> expected = np.maximum(x @ torch_state["0.weight"].T + torch_state["0.bias"], 0)
    >>> expected = expected @ torch_state["2.weight"].T + torch_state["2.bias"]
    >>> bool(np.allclose(model.apply(state, jnp.asarray(x, jnp.float32))[0], expected, atol=1e-5))
    True

    A dry run shows how a checkpoint matches, problems included:

    >>> model = axon.model.input("x", shape=(None, 4)).dense(3, name="fc1").dense(2, name="fc2")
    >>> torch_state = {"fc1.weight": np.zeros((3, 4)), "fc1.bias": np.zeros(3),
    ...                "fc2.weight": np.zeros((2, 5)), "head.weight": np.zeros((1, 2))}
    >>> print(axon.model.from_torch_state_dict(model, torch_state, dry_run=True))
    PyTorch state dict (in memory): 2 axon entries load, layers matched by name
      mis-shaped torch tensors:
        fc2.weight: received (2, 5), expected (2, 3) (for params/fc2/kernel)
      unmatched axon entries:
        params/fc2/bias (2,): looked for fc2.bias
      unmatched torch keys (no layer reads them):
        head.weight (1, 2)
      layers (axon layer <- torch module):
        fc1 <- 'fc1'
        fc2 <- 'fc2'
    """
    plan = _plan(model, source, inputs, state, mapping, ignore)
    report = plan.report
    if dry_run:
        return report
    problems = _problems(report, strict, state is not None)
    if problems:
        raise TorchStateDictError("\n".join([*problems, str(report), _ADVICE]), report)
    trees: dict[str, dict[str, dict[str, Any]]] = {
        kind: {layer: dict(entries) for layer, entries in getattr(state, kind, {}).items()}
        for kind in _KINDS
    }
    for layer, rule in plan.rules:
        arrays = rule.convert(*(plan.tensors[key].read() for key in rule.keys))
        for target, array in zip(rule.targets, arrays, strict=True):
            kind, dtype = plan.kinds[layer, target]
            trees[kind].setdefault(layer, {})[target] = jnp.asarray(np.asarray(array), dtype)
    frozen = state.frozen if state is not None else frozenset()
    return ModelState(trees["params"], trees["state"], frozen)


_ADVICE = (
    "Pass mapping={axon layer or glob: torch module prefix} to assign layers, "
    "ignore=[torch key globs] for tensors you do not need, or strict=False with "
    "state=model.init(...) to keep the values of entries the checkpoint lacks; "
    "from_torch_state_dict(..., dry_run=True) shows the matching without loading."
)


def _problems(report: TorchStateDictReport, strict: bool, has_state: bool) -> list[str]:
    problems = []
    if report.mis_shaped:
        problems.append(f"{len(report.mis_shaped)} torch tensor(s) have the wrong shape.")
    if report.unused_mapping:
        problems.append(f"mapping patterns {list(report.unused_mapping)} match no axon layer.")
    if report.unmatched_axon and (strict or not has_state):
        problems.append(
            f"{len(report.unmatched_axon)} axon entries have no torch tensor"
            + ("." if has_state else " and no state= to take them from.")
        )
    if report.kept and not has_state:
        problems.append(f"mapping keeps {list(report.kept)} from state=, which is not given.")
    if report.unmatched_torch and strict:
        problems.append(f"{len(report.unmatched_torch)} torch tensor(s) are used by no layer.")
    return problems


# -- matching ----------------------------------------------------------------------------


def _plan(
    model: Model,
    source: Any,
    inputs: Any,
    state: ModelState | None,
    mapping: Mapping_,
    ignore: Iterable[str],
) -> _Plan:
    expect_model(model, "from_torch_state_dict")
    tensors = read_tensors(source)
    layers = _layers(model, inputs, state)
    assigned, kept_layers, matched_by, unused_mapping = _assign(
        [spec.name for spec, _ in layers], tensors, mapping
    )
    plan = _Plan(report=None, tensors=tensors)  # type: ignore[arg-type]
    loaded: dict[str, tuple[str, ...]] = {}
    missing: list[MissingEntry] = []
    mis_shaped: list[ShapeMismatch] = []
    kept: list[str] = []
    for spec, kinds in layers:
        paths = {name: f"{kind}/{spec.name}/{name}" for name, (kind, _) in kinds.items()}
        plan.kinds.update({(spec.name, name): kind for name, kind in kinds.items()})
        if spec.name not in assigned:
            if spec.name in kept_layers:
                kept += paths.values()
            else:
                missing += [MissingEntry(p, spec.shapes[n], ()) for n, p in paths.items()]
            continue
        filled: set[str] = set()
        converter = CONVERTERS.get(spec.op, generic)
        for rule in converter(spec, assigned[spec.name], tensors):
            filled.update(rule.targets)
            targets = tuple(paths[t] for t in rule.targets)
            plan.used.update(key for key in rule.keys if key in tensors)
            if any(key not in tensors for key in rule.keys):
                looked_for = tuple(map(torch_key, rule.keys))
                missing += [
                    MissingEntry(paths[t], spec.shapes[t], looked_for) for t in rule.targets
                ]
                continue
            wrong = [
                ShapeMismatch(tensors[key].key, tensors[key].shape, tuple(shape), targets)
                for key, shape in zip(rule.keys, rule.shapes, strict=True)
                if tensors[key].shape != tuple(shape)
            ]
            mis_shaped += wrong
            if not wrong:
                plan.rules.append((spec.name, rule))
                loaded.update(dict.fromkeys(targets, tuple(tensors[k].key for k in rule.keys)))
        missing += [
            MissingEntry(p, spec.shapes[n], ()) for n, p in paths.items() if n not in filled
        ]
    patterns = list(ignore)
    plan.report = TorchStateDictReport(
        source=tensors.source,
        matched_by=matched_by,
        layers={spec.name: assigned.get(spec.name) for spec, _ in layers},
        loaded=loaded,
        unmatched_axon=tuple(missing),
        kept=tuple(kept),
        unmatched_torch={
            tensor.key: tensor.shape
            for key, tensor in tensors.items()
            if key not in plan.used and not any(fnmatchcase(tensor.key, p) for p in patterns)
        },
        mis_shaped=tuple(mis_shaped),
        unused_mapping=tuple(unused_mapping),
    )
    return plan


def _layers(
    model: Model, inputs: Any, state: ModelState | None
) -> list[tuple[LayerSpec, dict[str, tuple[str, Any]]]]:
    """The layers with entries, in evaluation order, each with ``{entry: (kind, dtype)}``."""
    if state is None and inputs is not None:
        state = jax.eval_shape(lambda: model.init(0, inputs))
    elif state is None:
        templates = _templates(model)
        try:
            state = jax.eval_shape(lambda: model.init(0, templates))
        except LayerError as error:  # e.g. an embedding given float32 templates for its ids
            raise ValueError(
                f"from_torch_state_dict could not infer the parameter shapes from float32 "
                f"templates of the declared input shapes: {error}\nPass inputs= (arrays or "
                f"jax.ShapeDtypeStruct, e.g. int32 token ids) or state=model.init(...)."
            ) from error
    entries: dict[str, dict[str, tuple[str, Shape, Any]]] = {}
    for kind in _KINDS:
        for layer, values in getattr(state, kind).items():
            for name, value in values.items():
                entries.setdefault(layer, {})[name] = (kind, tuple(np.shape(value)), value.dtype)
    program = model.program
    order = dict.fromkeys(program.names[node.id] for node in program.order)
    layers = []
    for name in [*order, *(layer for layer in entries if layer not in order)]:
        if name not in entries:
            continue
        node = program.layers.get(name)
        spec = LayerSpec(
            name,
            node.op_name if node is not None else "",
            dict(node.opts) if node is not None else {},
            {entry: shape for entry, (_, shape, _) in entries[name].items()},
        )
        layers.append(
            (spec, {entry: (kind, dtype) for entry, (kind, _, dtype) in entries[name].items()})
        )
    return layers


def _assign(
    names: Sequence[str], tensors: TorchTensors, mapping: Mapping_
) -> tuple[dict[str, Prefix], set[str], str, list[str]]:
    """``({layer: torch prefix}, layers kept from state, how, unused mapping patterns)``."""
    modules = {key.rsplit(".", i)[0] for key in tensors for i in range(key.count(".") + 1)}
    by_name = {name: name.replace("/", ".") for name in names}
    by_name = {name: module for name, module in by_name.items() if module in modules}
    if mapping is None:
        if by_name:
            return by_name, set(), "name", []
        return _by_order(names, tensors), set(), "order", []
    assigned: dict[str, Prefix] = {}
    kept: set[str] = set()
    matched: set[str] = set()
    for name in names:
        if callable(mapping) and not isinstance(mapping, Mapping):
            found: tuple[str, Prefix | None] | None = ("", mapping(name))
        elif isinstance(mapping, Mapping):
            found = _lookup(mapping, name)
        else:
            raise TypeError(
                f"mapping must be a dict {{axon layer or glob: torch prefix}} or a function of "
                f"the layer name; got {type(mapping).__name__}."
            )
        if found is None:
            if name in by_name:
                assigned[name] = by_name[name]
            continue
        matched.add(found[0])
        if found[1] is None:
            kept.add(name)
        else:
            assigned[name] = found[1]
    unused = [p for p in mapping if p not in matched] if isinstance(mapping, Mapping) else []
    return assigned, kept, "mapping", unused


def _lookup(mapping: Mapping[str, Prefix | None], name: str) -> tuple[str, Prefix | None] | None:
    """The pattern of ``mapping`` that ``name`` matches and its prefix, globs filled in."""
    if name in mapping:
        return name, mapping[name]
    for pattern, prefix in mapping.items():
        found = "*" in pattern and re.fullmatch(
            "(.*)".join(map(re.escape, pattern.split("*"))), name
        )
        if not found:
            continue
        groups = found.groups()
        if isinstance(prefix, str):
            return pattern, prefix.format(*groups)
        if isinstance(prefix, Mapping):
            return pattern, {k: v.format(*groups) for k, v in prefix.items()}
        return pattern, prefix
    return None


def _by_order(names: Sequence[str], tensors: TorchTensors) -> dict[str, Prefix]:
    """The i-th layer gets the i-th torch module (a key's prefix) not inside an earlier one."""
    modules = list(dict.fromkeys(key.rpartition(".")[0] for key in tensors))
    assigned: dict[str, Prefix] = {}
    for name in names:
        while modules and any(modules[0].startswith(f"{p}.") for p in assigned.values() if p):
            modules.pop(0)  # e.g. an nn.MultiheadAttention's out_proj
        if not modules:
            break
        assigned[name] = modules.pop(0)
    return assigned
