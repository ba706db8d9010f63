"""``ModelState``: a model's parameters and layer state, as one pytree (``Axon.ModelState``).

Entries are addressed by path, ``"layer/name"`` (e.g. ``"dense_0/kernel"``). A
frozen set of paths rides along as static pytree metadata, so freezing changes
what is trained without changing any array, and a jitted step recompiles only
when the frozen set changes.
"""

from __future__ import annotations

import contextlib
import difflib
import fnmatch
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import jax
import numpy as np

Tree = dict[str, dict[str, Any]]
#: What ``freeze``/``unfreeze`` select: ``None`` (everything), a glob pattern over
#: ``"layer/name"`` paths, a list of patterns, or a predicate ``fn(path, array) -> bool``.
Spec = str | Sequence[str] | Callable[[str, Any], bool] | None


@dataclass(frozen=True)
class ModelState:
    """Parameters (trained), state (updated by layers, e.g. running statistics) and what is frozen.

    ``params`` and ``state`` are nested dicts ``{layer_name: {name: array}}``;
    ``frozen`` is a frozenset of paths ``"layer/name"`` that training leaves
    alone. ``ModelState`` is a pytree whose leaves are the arrays of ``params``
    and ``state`` (in that order); ``frozen`` is static metadata, so the state
    passes through ``jax.jit``, ``jax.grad``, optax and orbax unchanged.

    Frozen parameters are excluded from :attr:`trainable_parameters`, get no
    gradient inside the model (the compiler wraps them in
    ``jax.lax.stop_gradient``) and are never changed by :meth:`update`. Layer
    state is never trained by gradients; frozen *state* is state that
    :meth:`update` does not overwrite, so e.g. a frozen batch norm keeps its
    running statistics while the rest of the model is fine-tuned.

    A training step differentiates the trainable subset and writes it back::

        def step(model_state, opt_state, x, y):
            def loss(trainable):
                current = model_state.update(params=trainable)
                y_pred, layer_state = model.apply(current, x, mode="train", key=key)
                return loss_fn(y, y_pred), layer_state
            grads, layer_state = jax.grad(loss, has_aux=True)(model_state.trainable_parameters)
            ...  # optimizer step on the trainable subset -> new_trainable
            return model_state.update(params=new_trainable, state=layer_state)

    >>> import jax.numpy as jnp
    >>> state = ModelState({"dense_0": {"kernel": jnp.ones((2, 3)), "bias": jnp.zeros(3)}})
    >>> state.num_parameters
    9
    >>> state.freeze("*/bias")
    ModelState(parameters=9 (36 B), trainable=6 (24 B), frozen=3 (12 B), state=0 (0 B))
    """

    params: Tree = field(default_factory=dict)
    state: Tree = field(default_factory=dict)
    frozen: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if isinstance(self.frozen, str):
            raise TypeError(
                f"ModelState(frozen=...) takes a collection of paths such as "
                f"{{'dense_0/kernel'}}, got the single string {self.frozen!r}; wrap it in a "
                f"set, or use model_state.freeze({self.frozen!r})."
            )
        if not isinstance(self.frozen, frozenset):
            object.__setattr__(self, "frozen", frozenset(self.frozen))

    # -- constructors ---------------------------------------------------------------------

    @classmethod
    def new(
        cls,
        params: ModelState | Mapping[str, Mapping[str, Any]] | None = None,
        state: Mapping[str, Mapping[str, Any]] | None = None,
        frozen: Sequence[str] | frozenset[str] = (),
    ) -> ModelState:
        """A model state from nested dicts or a copy of a ``ModelState`` (``Axon.ModelState.new``).

        >>> import jax.numpy as jnp
        >>> ModelState.new({"head": {"bias": jnp.zeros(2)}}).params
        {'head': {'bias': Array([0., 0.], dtype=float32)}}
        """
        if isinstance(params, ModelState):
            if state is not None or frozen:
                raise TypeError(
                    "ModelState.new(model_state) copies a model state; pass state= and "
                    "frozen= only with plain dicts, or use model_state.replace(...)."
                )
            return cls(_copy(params.params), _copy(params.state), params.frozen)
        return cls(
            _copy(_checked_tree(params or {}, "params")),
            _copy(_checked_tree(state or {}, "state")),
            frozenset(frozen),
        )

    @classmethod
    def empty(cls) -> ModelState:
        """A model state with no entries (``Axon.ModelState.empty``).

        >>> ModelState.empty()
        ModelState(parameters=0 (0 B), trainable=0 (0 B), frozen=0 (0 B), state=0 (0 B))
        """
        return cls()

    def replace(self, **changes: Any) -> ModelState:
        """A copy with some fields (``params``, ``state``, ``frozen``) replaced.

        >>> import jax.numpy as jnp
        >>> ModelState().replace(state={"bn": {"mean": jnp.zeros(2)}}).state["bn"]["mean"].shape
        (2,)
        """
        return replace(self, **changes)

    # -- sizes ----------------------------------------------------------------------------

    @property
    def num_parameters(self) -> int:
        """How many numbers the parameters hold (trainable and frozen; state not included).

        >>> import jax.numpy as jnp
        >>> ModelState({"d": {"k": jnp.ones((2, 3))}}).num_parameters
        6
        """
        return _count(self.params)[0]

    # -- freezing -------------------------------------------------------------------------

    def freeze(self, spec: Spec = None) -> ModelState:
        """A copy with the entries selected by ``spec`` frozen (added to those already frozen).

        ``spec`` is ``None`` (every parameter and state entry), a glob pattern over
        ``"layer/name"`` paths (``"dense_0/*"``, ``"*/bias"``; ``*`` also matches
        ``/``), a list of patterns, or a predicate ``fn(path, array) -> bool``. A
        pattern that matches nothing is an error (it is usually a typo).

        >>> import jax.numpy as jnp
        >>> ms = ModelState({"enc": {"kernel": jnp.ones(2)}, "head": {"kernel": jnp.ones(2)}})
        >>> sorted(ms.freeze("enc/*").frozen)
        ['enc/kernel']
        >>> list(ms.freeze(lambda path, array: path.startswith("head")).trainable_parameters)
        ['enc']
        """
        return replace(self, frozen=self.frozen | self._select(spec, "freeze"))

    def unfreeze(self, spec: Spec = None) -> ModelState:
        """A copy with the entries selected by ``spec`` trainable again (``spec`` as in ``freeze``).

        >>> import jax.numpy as jnp
        >>> ms = ModelState({"enc": {"kernel": jnp.ones(2), "bias": jnp.ones(2)}}).freeze()
        >>> sorted(ms.unfreeze("*/bias").frozen)
        ['enc/kernel']
        >>> ms.unfreeze().frozen
        frozenset()
        """
        return replace(self, frozen=self.frozen - self._select(spec, "unfreeze"))

    def is_frozen(self, layer: str, name: str) -> bool:
        """Whether entry ``name`` of ``layer`` is frozen.

        >>> import jax.numpy as jnp
        >>> ModelState({"d": {"k": jnp.ones(2)}}).freeze().is_frozen("d", "k")
        True
        """
        return f"{layer}/{name}" in self.frozen

    @property
    def trainable_parameters(self) -> Tree:
        """The parameters that are not frozen, ``{layer: {name: array}}``: what to differentiate.

        >>> import jax.numpy as jnp
        >>> ms = ModelState({"d": {"kernel": jnp.ones(2), "bias": jnp.ones(2)}}).freeze("d/kernel")
        >>> list(ms.trainable_parameters["d"])
        ['bias']
        """
        return self._subset(self.params, frozen=False)

    @property
    def frozen_parameters(self) -> Tree:
        """The frozen parameters, as ``{layer: {name: array}}``.

        Here a glob over ``"layer/name"`` freezes every parameter of one layer:

        >>> import jax.numpy as jnp
        >>> encoder, head = {"kernel": jnp.ones((2, 2))}, {"kernel": jnp.ones(2)}
        >>> state = ModelState({"encoder": encoder, "head": head})
        >>> sorted(state.freeze("encoder/*").frozen_parameters)
        ['encoder']
        """
        return self._subset(self.params, frozen=True)

    @property
    def trainable_state(self) -> Tree:
        """Layer state that :meth:`update` overwrites (state that is not frozen).

        >>> import jax.numpy as jnp
        >>> ModelState(state={"bn": {"mean": jnp.zeros(2)}}).trainable_state["bn"]["mean"].shape
        (2,)
        """
        return self._subset(self.state, frozen=False)

    @property
    def frozen_state(self) -> Tree:
        """Frozen layer state: :meth:`update` keeps it as it is.

        >>> import jax.numpy as jnp
        >>> ModelState(state={"bn": {"mean": jnp.zeros(2)}}).freeze().frozen_state["bn"]["mean"]
        Array([0., 0.], dtype=float32)
        """
        return self._subset(self.state, frozen=True)

    # -- combining ------------------------------------------------------------------------

    def update(
        self,
        params: Mapping[str, Mapping[str, Any]] | None = None,
        state: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> ModelState:
        """New values for some entries; frozen ones are left untouched (``Axon.ModelState.update``).

        ``params`` is a subset of :attr:`params` (typically the trainable ones after
        an optimizer step), ``state`` a subset of :attr:`state` (typically the
        layer state returned by ``apply`` in train mode). Values given for frozen
        paths are ignored, so the full layer state can be passed. Every path must
        already exist with the same shape; dtypes may change. Works inside ``jit``.

        >>> import jax.numpy as jnp
        >>> ms = ModelState({"d": {"kernel": jnp.ones(2), "bias": jnp.ones(2)}}).freeze("d/kernel")
        >>> new = ms.update(params={"d": {"kernel": jnp.zeros(2), "bias": jnp.zeros(2)}})
        >>> new.params["d"]["kernel"], new.params["d"]["bias"]
        (Array([1., 1.], dtype=float32), Array([0., 0.], dtype=float32))
        """
        return replace(
            self,
            params=self._updated(self.params, params, "params"),
            state=self._updated(self.state, state, "state"),
        )

    def merge(
        self, other: ModelState, fn: Callable[[str, Any, Any], Any] | None = None
    ) -> ModelState:
        """Entries of both; where both have a path, ``fn(path, mine, theirs)`` or else ``theirs``.

        Frozen paths are the union of both. As ``Axon.ModelState.merge/3``.

        >>> import jax.numpy as jnp
        >>> a = ModelState({"d": {"k": jnp.ones(2)}})
        >>> b = ModelState({"d": {"k": jnp.full(2, 3.0)}, "e": {"k": jnp.zeros(1)}})
        >>> a.merge(b, lambda path, mine, theirs: (mine + theirs) / 2).params["d"]["k"]
        Array([2., 2.], dtype=float32)
        >>> sorted(a.merge(b).params)
        ['d', 'e']
        """
        if not isinstance(other, ModelState):
            raise TypeError(
                f"ModelState.merge expects another ModelState, got {type(other).__name__}; "
                f"wrap nested dicts with ModelState.new(params, state)."
            )
        return ModelState(
            _merge(self.params, other.params, fn),
            _merge(self.state, other.state, fn),
            self.frozen | other.frozen,
        )

    # -- display --------------------------------------------------------------------------

    def __repr__(self) -> str:
        total, trainable = _count(self.params), _count(self.trainable_parameters)
        frozen, state = _count(self.frozen_parameters), _count(self.state)
        return (
            f"ModelState(parameters={_size(total)}, trainable={_size(trainable)}, "
            f"frozen={_size(frozen)}, state={_size(state)})"
        )

    # -- helpers --------------------------------------------------------------------------

    def _entries(self) -> Iterator[tuple[str, Any]]:
        for tree in (self.params, self.state):
            for layer, values in tree.items():
                for name, value in values.items():
                    yield f"{layer}/{name}", value

    def _subset(self, tree: Tree, *, frozen: bool) -> Tree:
        subset: Tree = {}
        for layer, values in tree.items():
            kept = {n: v for n, v in values.items() if (f"{layer}/{n}" in self.frozen) == frozen}
            if kept:
                subset[layer] = kept
        return subset

    def _select(self, spec: Spec, verb: str) -> frozenset[str]:
        entries = dict(self._entries())
        if spec is None:
            return frozenset(entries)
        if callable(spec):
            return frozenset(p for p, v in entries.items() if _ask(spec, p, v, verb))
        patterns = [spec] if isinstance(spec, str) else list(spec)
        selected: set[str] = set()
        for pattern in patterns:
            if not isinstance(pattern, str):
                raise TypeError(
                    f"ModelState.{verb}: patterns must be strings such as 'dense_0/*', got "
                    f"{type(pattern).__name__} {pattern!r}. Pass None (everything), a pattern, "
                    f"a list of patterns or a predicate fn(path, array) -> bool."
                )
            matched = fnmatch.filter(entries, pattern)
            if not matched:
                raise ValueError(
                    f"ModelState.{verb}({pattern!r}) matches no entry. Paths are "
                    f"'layer/name'{_suggest_path(pattern, entries)}; known paths: "
                    f"{_preview(sorted(entries))}."
                )
            selected.update(matched)
        return frozenset(selected)

    def _updated(self, base: Tree, new: Mapping[str, Mapping[str, Any]] | None, kind: str) -> Tree:
        if new is None:
            return base
        updated = {layer: dict(values) for layer, values in base.items()}
        for layer, values in _checked_tree(new, kind).items():
            if layer not in base:
                raise KeyError(
                    f"ModelState.update({kind}=...): the model state has no {kind} for layer "
                    f"{layer!r}{_suggest(layer, base)}; layers with {kind}: "
                    f"{_preview(sorted(base))}. Update only entries the model state has."
                )
            for name, value in values.items():
                if name not in base[layer]:
                    raise KeyError(
                        f"ModelState.update({kind}=...): layer {layer!r} has no {kind} "
                        f"{name!r}; it has {sorted(base[layer])}."
                    )
                if f"{layer}/{name}" in self.frozen:
                    continue
                old_shape, new_shape = _shape_of(base[layer][name]), _shape_of(value)
                if old_shape is not None and new_shape is not None and old_shape != new_shape:
                    raise ValueError(
                        f"ModelState.update({kind}=...): {layer}/{name} has shape {old_shape}, "
                        f"received {new_shape}. An update must keep every entry's shape."
                    )
                updated[layer][name] = value
        return updated


def _ask(predicate: Callable[[str, Any], bool], path: str, value: Any, verb: str) -> bool:
    try:
        answer = predicate(path, value)
    except Exception as error:
        raise TypeError(
            f"ModelState.{verb}: the predicate failed on {path!r}: {type(error).__name__}: "
            f"{error}. A predicate is called as fn(path, array) -> bool."
        ) from error
    return bool(answer)


def _checked_tree(tree: Any, kind: str) -> Mapping[str, Mapping[str, Any]]:
    if not isinstance(tree, Mapping) or not all(isinstance(v, Mapping) for v in tree.values()):
        raise TypeError(
            f"ModelState {kind} must be a nested dict {{layer: {{name: array}}}}, got "
            f"{type(tree).__name__}."
        )
    return tree


def _copy(tree: Mapping[str, Mapping[str, Any]]) -> Tree:
    return {layer: dict(values) for layer, values in tree.items()}


def _merge(base: Tree, override: Tree, fn: Callable[[str, Any, Any], Any] | None = None) -> Tree:
    merged = _copy(base)
    for layer, values in override.items():
        target = merged.setdefault(layer, {})
        for name, value in values.items():
            if fn is not None and name in target:
                value = fn(f"{layer}/{name}", target[name], value)
            target[name] = value
    return merged


def _shape_of(value: Any) -> tuple[int, ...] | None:
    shape = getattr(value, "shape", None)
    return None if shape is None else tuple(shape)


def _count(tree: Tree) -> tuple[int, int]:
    """``(numbers, bytes)`` of a tree's array leaves (other leaves are skipped)."""
    count = nbytes = 0
    for leaf in jax.tree_util.tree_leaves(tree):
        shape, dtype = getattr(leaf, "shape", None), getattr(leaf, "dtype", None)
        if shape is None or dtype is None:
            continue
        n = int(np.prod(shape))
        count += n
        with contextlib.suppress(TypeError):  # e.g. PRNG key dtypes have no itemsize
            nbytes += n * np.dtype(dtype).itemsize
    return count, nbytes


def _size(count_and_bytes: tuple[int, int]) -> str:
    count, n = count_and_bytes
    size: float = n
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            text = f"{int(size)} B" if unit == "B" else f"{size:.2f} {unit}"
            return f"{count} ({text})"
        size /= 1024
    raise AssertionError("unreachable")


def _suggest(name: str, known: Any) -> str:
    close = difflib.get_close_matches(name, list(known), n=3)
    return f" (did you mean {', '.join(map(repr, close))}?)" if close else ""


def _suggest_path(pattern: str, paths: Sequence[str]) -> str:
    """Close paths, or the pattern with its layer part replaced by close layer names."""
    close = difflib.get_close_matches(pattern, list(paths), n=3)
    layer, slash, rest = pattern.partition("/")
    if not close and slash:
        layers = sorted({p.partition("/")[0] for p in paths})
        close = [f"{m}/{rest}" for m in difflib.get_close_matches(layer, layers, n=3, cutoff=0.5)]
    return f" (did you mean {', '.join(map(repr, close))}?)" if close else ""


def _preview(names: Sequence[str], limit: int = 12) -> str:
    shown = ", ".join(map(repr, names[:limit]))
    return f"[{shown}{', ...' if len(names) > limit else ''}]"


jax.tree_util.register_dataclass(
    ModelState, data_fields=["params", "state"], meta_fields=["frozen"]
)
