"""``run(sharding=...)``: which parameters are split over which mesh axes.

Rules name parameters by path (the ``'/'``-joined keys of the model state, e.g.
``dense_0/kernel``; for an ``axon.model`` state the ``layer/name`` paths that
``freeze`` uses) with globs matched by :func:`fnmatch.fnmatchcase`, and give each a
``jax.sharding.PartitionSpec`` (or :class:`FSDP`, or ``None``: replicated). Every
other leaf of the step state that mirrors a parameter (optax's moments, gradient
accumulators: same path suffix, same shape) follows that parameter; the rest is
replicated, and what follows the batch (``y_pred``) is sharded like it.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jax
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec

#: :class:`FSDP`'s default: parameters with fewer elements stay replicated (a bias,
#: a norm's scale), as sharding them saves little memory and costs a collective each.
FSDP_MIN_SIZE = 2**14


@dataclass(frozen=True)
class FSDP:
    """Fully sharded data parallel: split each parameter (and its optimizer state) along
    its largest axis that the mesh axis divides.

    ``run(..., mesh=mesh, sharding="fsdp")`` is ``sharding=FSDP()``. Each device then
    holds ``1/n`` of the parameters and of the optimizer state (``n`` devices on
    ``axis``); XLA gathers a parameter where the step needs it whole and scatters its
    gradient (GSPMD), inside the one compiled step.

    Args:
        axis: the mesh axis to split over; ``None`` (the default) is the run's
            ``batch_axis``, so the same devices split the batch and the parameters
            (ZeRO-3).
        min_size: parameters with fewer elements stay replicated (default
            ``2**14``, 64 KiB in float32). A parameter none of whose axes the mesh
            axis divides also stays replicated.

    >>> import jax, jax.numpy as jnp, optax, axon.loop
    >>> mesh = jax.make_mesh((jax.device_count(),), ("data",))
    >>> init = lambda key, x: {"w": jnp.zeros((x.shape[-1], 8))}
    >>> apply = lambda p, x, *, mode, key: (x @ p["w"], None)
    >>> trainer = axon.loop.trainer((init, apply), "mean_squared_error", optax.adam(1e-2), log=0)
    >>> x = jnp.ones((8, 4 * jax.device_count()))
    >>> fsdp = axon.loop.FSDP(min_size=0)  # shard even this small kernel
    >>> params = trainer.run([(x, jnp.ones((8, 8)))], mesh=mesh, sharding=fsdp)
    >>> rows = params["w"].addressable_shards[0].data.shape[0]  # each device: 1/n of the rows
    >>> rows * jax.device_count()
    16
    """

    axis: str | None = None
    min_size: int = FSDP_MIN_SIZE

    def __post_init__(self) -> None:
        if isinstance(self.min_size, bool) or not isinstance(self.min_size, int):
            raise TypeError(f"FSDP(min_size=...) must be an int, got {self.min_size!r}.")

    def spec(self, shape: tuple[int, ...], size: int) -> PartitionSpec:
        """The spec of a parameter of ``shape`` over a mesh axis of ``size`` devices.

        >>> from axon.loop import FSDP
        >>> FSDP("data", min_size=0).spec((6, 8), 4), FSDP("data").spec((6, 8), 4)
        (P(None, 'data'), P())
        """
        if int(np.prod(shape)) < self.min_size:
            return PartitionSpec()
        divisible = [d for d in range(len(shape)) if shape[d] % size == 0 and shape[d] >= size]
        if not divisible:
            return PartitionSpec()
        split = max(divisible, key=lambda d: (shape[d], -d))  # the largest; the first on ties
        return PartitionSpec(*(self.axis if d == split else None for d in range(len(shape))))


Rule = PartitionSpec | FSDP | None


class ShardingPlan:
    """The rules of ``run(sharding=...)`` on one mesh: a ``NamedSharding`` per step-state leaf."""

    def __init__(self, mesh: Any, sharding: Any, batch_axis: str):
        self.mesh = mesh
        self.rules = _normalised(sharding, batch_axis)
        self.key = (mesh, self.rules)  # the compiled step depends on these
        for pattern, rule in self.rules:
            for axis in _axes(rule):
                if axis not in mesh.axis_names:
                    raise ValueError(
                        f"sharding rule {_describe(pattern)}: {rule} names mesh axis "
                        f"{axis!r}, but the mesh has axes {mesh.axis_names}."
                    )

    def shardings(self, step_state: Any) -> Any:
        """A ``NamedSharding`` for every leaf of ``step_state`` that the rules place (the
        parameters and what mirrors them), ``None`` for the others."""
        leaves, treedef = jax.tree_util.tree_flatten_with_path(step_state)
        names = [_path(path) for path, _ in leaves]
        shapes = [tuple(np.shape(leaf)) for _, leaf in leaves]
        trainer = isinstance(step_state, dict) and "model_state" in step_state
        prefix = "model_state/" if trainer else ""
        params = {}  # parameter name -> (shape, spec)
        unmatched = {pattern for pattern, _ in self.rules if pattern != "*"}
        for name, shape in zip(names, shapes, strict=True):
            if name.startswith(prefix):
                param = _parameter_name(name.removeprefix(prefix), step_state, prefix)
                params[param] = (shape, self._spec(param, shape, unmatched))
        if unmatched:
            pattern = sorted(unmatched, key=str)[0]
            shown = ", ".join(sorted(params)[:20])
            raise ValueError(
                f"sharding rule {_describe(pattern)} matches no parameter path. Paths are "
                f"the model state's keys joined by '/' (for an axon.model state "
                f"'layer/name'); they are: {shown}{', ...' if len(params) > 20 else ''}."
            )
        specs = [_follow(name, shape, params) for name, shape in zip(names, shapes, strict=True)]
        return jax.tree_util.tree_unflatten(
            treedef, [None if s is None else NamedSharding(self.mesh, s) for s in specs]
        )

    def _spec(self, name: str, shape: tuple[int, ...], unmatched: set[Any]) -> PartitionSpec:
        for pattern, rule in self.rules:
            if not _matches(pattern, name):
                continue
            unmatched.discard(pattern)
            if rule is None:
                return PartitionSpec()
            if isinstance(rule, FSDP):
                return rule.spec(shape, self.mesh.shape[rule.axis])
            return _checked(rule, name, shape, self.mesh)
        return PartitionSpec()


def _normalised(sharding: Any, batch_axis: str) -> tuple[tuple[Any, Rule], ...]:
    if isinstance(sharding, str):
        if sharding != "fsdp":
            raise ValueError(
                f"sharding must be 'replicated', 'fsdp', an axon.loop.FSDP or a dict of path "
                f"patterns to PartitionSpecs, got {sharding!r}."
            )
        sharding = FSDP()
    if isinstance(sharding, FSDP):
        sharding = {"*": sharding}
    if not isinstance(sharding, Mapping):
        raise TypeError(
            f"sharding must be 'replicated', 'fsdp', an axon.loop.FSDP or a dict of path "
            f"patterns to PartitionSpecs, got {type(sharding).__name__}."
        )
    rules = []
    for pattern, rule in sharding.items():
        if not isinstance(pattern, (str, re.Pattern)):
            raise TypeError(
                f"sharding rule keys are glob patterns such as '*/kernel' (or re.compile "
                f"patterns), got {pattern!r}."
            )
        if rule == "fsdp":
            rule = FSDP()
        if isinstance(rule, FSDP) and rule.axis is None:
            rule = FSDP(batch_axis, rule.min_size)
        if isinstance(rule, (tuple, list)):
            rule = PartitionSpec(*rule)
        if rule is not None and not isinstance(rule, (PartitionSpec, FSDP)):
            raise TypeError(
                f"sharding rule {_describe(pattern)}: expected a PartitionSpec, 'fsdp', an "
                f"axon.loop.FSDP or None (replicated), got {rule!r}."
            )
        rules.append((pattern, rule))
    return tuple(rules)


def _checked(spec: PartitionSpec, name: str, shape: tuple[int, ...], mesh: Any) -> PartitionSpec:
    if len(spec) > len(shape):
        raise ValueError(
            f"sharding: parameter {name!r} has shape {shape} but its rule gives {spec}, "
            f"which has {len(spec)} entries (at most one per axis)."
        )
    for dim, axes in enumerate(spec):
        names = (axes,) if isinstance(axes, str) else tuple(axes or ())
        devices = int(np.prod([mesh.shape[a] for a in names]))
        if shape[dim] % devices:
            raise ValueError(
                f"sharding: parameter {name!r} of shape {shape} cannot be split by {spec}: "
                f"axis {dim} has {shape[dim]} entries, not a multiple of the {devices} devices "
                f"of mesh axes {names}. Pick another axis or give this parameter its own rule."
            )
    return spec


def _follow(name: str, shape: tuple[int, ...], params: dict[str, Any]) -> PartitionSpec | None:
    """The spec of the parameter that ``name`` is or mirrors (the longest path suffix
    naming a parameter of the same shape), or None."""
    parts = name.split("/")
    for start in range(len(parts)):
        found = params.get("/".join(parts[start:]))
        if found is not None and found[0] == shape:
            return found[1]
    return None


def _parameter_name(name: str, step_state: Any, prefix: str) -> str:
    """``params/dense_0/kernel`` of an ``axon.model`` state is ``dense_0/kernel``."""
    model_state = step_state["model_state"] if prefix else step_state
    if hasattr(model_state, "params") and hasattr(model_state, "state"):
        head, _, rest = name.partition("/")
        if head in ("params", "state") and rest:
            return rest
    return name


def _path(key_path: Any) -> str:
    parts = []
    for key in key_path:
        for attribute in ("key", "idx", "name"):
            if hasattr(key, attribute):
                parts.append(str(getattr(key, attribute)))
                break
    return "/".join(parts)


def _matches(pattern: Any, name: str) -> bool:
    if isinstance(pattern, re.Pattern):
        return pattern.fullmatch(name) is not None
    return fnmatch.fnmatchcase(name, pattern)


def _axes(rule: Rule) -> list[str]:
    if isinstance(rule, FSDP):
        return [rule.axis]
    if rule is None:
        return []
    return [a for entry in rule for a in ((entry,) if isinstance(entry, str) else entry or ())]


def _describe(pattern: Any) -> str:
    return f"re.compile({pattern.pattern!r})" if isinstance(pattern, re.Pattern) else repr(pattern)
