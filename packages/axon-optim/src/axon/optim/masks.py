"""Parameter masks by path pattern: freeze a subtree, skip weight decay on biases.

A parameter's *path* is its keys in the pytree joined by ``'/'``: in
``{"dense_0": {"kernel": w, "bias": b}}`` they are ``dense_0/kernel`` and
``dense_0/bias`` (list and tuple positions are numbers, attributes their names);
:func:`paths` lists them. A *pattern* is a glob matched against the whole path
with :func:`fnmatch.fnmatchcase` (``*`` matches any characters, ``/`` included;
``?`` one; ``[...]`` a set), or a compiled :func:`re.compile` pattern, which must
match the whole path (:meth:`re.Pattern.fullmatch`).

Everything here is built on :func:`optax.masked` and :func:`optax.multi_transform`.
A pattern that matches no parameter is almost always a typo, so it raises an
error listing the paths there are, unless ``strict=False``.

>>> import jax.numpy as jnp
>>> import axon.optim
>>> from axon.optim import masks
>>> params = {"encoder": {"kernel": jnp.ones(2)}, "head": {"kernel": jnp.ones(2)}}
>>> masks.paths(params)
['encoder/kernel', 'head/kernel']
>>> optimizer = masks.freeze(axon.optim.sgd(learning_rate=0.1), "encoder/*")
>>> step, state = optimizer.update(params, optimizer.init(params), params)
>>> step["encoder"]["kernel"], step["head"]["kernel"]
(Array([0., 0.], dtype=float32), Array([-0.1, -0.1], dtype=float32))
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any

import jax
import optax

from . import _validation as check

__all__ = ["paths", "match", "exclude", "masked", "freeze", "partition"]

Pattern = str | re.Pattern[str]
_SHOWN_PATHS = 20


def _key_str(key: Any) -> str:
    for attribute in ("key", "idx", "name"):  # DictKey / FlattenedIndexKey, SequenceKey, GetAttrKey
        if hasattr(key, attribute):
            return str(getattr(key, attribute))
    return str(key)


def _path_str(key_path: Iterable[Any]) -> str:
    return "/".join(_key_str(key) for key in key_path)


def paths(tree: Any) -> list[str]:
    """The ``'/'``-joined path of every leaf of ``tree``, in leaf order.

    Args:
        tree: any pytree, e.g. the parameters.

    Returns:
        One string per leaf.

    Example:
        >>> import jax.numpy as jnp
        >>> from axon.optim.masks import paths
        >>> paths({"dense": {"kernel": jnp.ones(2), "bias": jnp.ones(1)}, "layers": [jnp.ones(1)]})
        ['dense/bias', 'dense/kernel', 'layers/0']
    """
    return [_path_str(kp) for kp, _ in jax.tree_util.tree_flatten_with_path(tree)[0]]


def _normalise(owner: str, patterns: Iterable[Any]) -> tuple[Pattern, ...]:
    patterns = tuple(patterns)
    if not patterns:
        raise ValueError(f"{owner}: give at least one pattern, e.g. '*bias'.")
    for pattern in patterns:
        if not isinstance(pattern, (str, re.Pattern)):
            raise TypeError(
                f"{owner}: patterns must be glob strings (e.g. 'encoder/*') or compiled "
                f"regular expressions; received {pattern!r} of type {type(pattern).__name__}."
            )
    return patterns


def _matches(pattern: Pattern, path: str) -> bool:
    if isinstance(pattern, re.Pattern):
        return pattern.fullmatch(path) is not None
    return fnmatch.fnmatchcase(path, pattern)


def _describe(pattern: Pattern) -> str:
    return f"re.compile({pattern.pattern!r})" if isinstance(pattern, re.Pattern) else repr(pattern)


def _unmatched_error(owner: str, pattern: Pattern, all_paths: list[str]) -> ValueError:
    shown = ", ".join(all_paths[:_SHOWN_PATHS])
    more = f", ... ({len(all_paths)} in all)" if len(all_paths) > _SHOWN_PATHS else ""
    hint = (
        ""
        if isinstance(pattern, re.Pattern) or "*" in pattern
        else (f" A glob must match the whole path: did you mean '*{pattern}' or '{pattern}*'?")
    )
    return ValueError(
        f"{owner}: pattern {_describe(pattern)} matches no parameter path.{hint} "
        f"The paths are: {shown or '(none: the tree has no leaves)'}{more}. Pass "
        f"strict=False to allow patterns that match nothing."
    )


def _bool_tree(owner: str, patterns: tuple[Pattern, ...], strict: bool, tree: Any, keep: bool):
    leaves_with_paths, treedef = jax.tree_util.tree_flatten_with_path(tree)
    all_paths = [_path_str(kp) for kp, _ in leaves_with_paths]
    hits = [[_matches(p, path) for p in patterns] for path in all_paths]
    if strict:
        for i, pattern in enumerate(patterns):
            if not any(row[i] for row in hits):
                raise _unmatched_error(owner, pattern, all_paths)
    return jax.tree_util.tree_unflatten(treedef, [any(row) == keep for row in hits])


def match(*patterns: Pattern, strict: bool = True) -> Callable[[Any], Any]:
    """A mask function: ``mask(params)`` is ``True`` where the path matches a pattern.

    Pass it wherever optax takes a mask (:func:`optax.masked`,
    :func:`optax.add_decayed_weights`, :func:`masked`).

    Args:
        *patterns: globs or compiled regular expressions (see the module docs).
        strict: raise if a pattern matches no path. Defaults to ``True``.

    Returns:
        A function from a pytree to a pytree of ``bool`` of the same structure.

    Raises:
        ValueError: when the mask is evaluated, if ``strict`` and a pattern matches
            nothing (the message lists the paths).

    Example:
        >>> import re
        >>> import jax.numpy as jnp
        >>> from axon.optim.masks import match
        >>> params = {"dense": {"kernel": jnp.ones(2), "bias": jnp.ones(1)}}
        >>> match("*bias")(params)
        {'dense': {'bias': True, 'kernel': False}}
        >>> match(re.compile(r".*/(kernel|bias)"))(params)
        {'dense': {'bias': True, 'kernel': True}}
    """
    normalised = _normalise("match", patterns)
    return lambda tree: _bool_tree("match", normalised, strict, tree, keep=True)


def exclude(*patterns: Pattern, strict: bool = True) -> Callable[[Any], Any]:
    """A mask function: ``mask(params)`` is ``True`` where the path matches *no* pattern.

    Args:
        *patterns: globs or compiled regular expressions (see the module docs).
        strict: raise if a pattern matches no path. Defaults to ``True``.

    Returns:
        A function from a pytree to a pytree of ``bool`` of the same structure.

    Example:
        >>> import jax.numpy as jnp
        >>> from axon.optim.masks import exclude
        >>> params = {"dense": {"kernel": jnp.ones(2), "bias": jnp.ones(1)}}
        >>> exclude("*bias")(params)
        {'dense': {'bias': False, 'kernel': True}}
    """
    normalised = _normalise("exclude", patterns)
    return lambda tree: _bool_tree("exclude", normalised, strict, tree, keep=False)


def _as_mask(owner: str, mask: Any) -> Any:
    if isinstance(mask, (str, re.Pattern)):
        return match(mask)
    if (
        isinstance(mask, (list, tuple))
        and mask
        and all(isinstance(m, (str, re.Pattern)) for m in mask)
    ):
        return match(*mask)
    return mask


def masked(transform: optax.GradientTransformation, mask: Any) -> optax.GradientTransformation:
    """Apply ``transform`` only to the parameters selected by ``mask``:
    :func:`optax.masked`.

    The other updates pass through unchanged, and ``transform`` keeps no state for them.

    Args:
        transform: the transformation to restrict.
        mask: a pattern or a list of patterns (the parameters whose path matches
            one are transformed), a function from :func:`match`/:func:`exclude`, or
            anything :func:`optax.masked` accepts.

    Returns:
        The masked transformation.

    Example:
        >>> import jax.numpy as jnp
        >>> from axon.optim.masks import masked
        >>> from axon.optim.updates import clip
        >>> transform = masked(clip(delta=1.0), "*kernel")
        >>> grads = {"kernel": jnp.array([5.0]), "bias": jnp.array([5.0])}
        >>> transform.update(grads, transform.init(grads))[0]
        {'bias': Array([5.], dtype=float32), 'kernel': Array([1.], dtype=float32)}
    """
    return optax.masked(transform, _as_mask("masked", mask))


def partition(
    transforms: Mapping[Hashable, optax.GradientTransformation],
    rules: Mapping[Pattern, Hashable] | Callable[[Any], Any],
    *,
    default: Hashable | None = None,
    strict: bool = True,
) -> optax.GradientTransformation:
    """A different transformation per group of parameters: :func:`optax.multi_transform`.

    Each parameter gets the label of the first rule whose pattern matches its
    path (or ``default``), and its updates go through the transformation of that
    label. Each transformation keeps state only for its own parameters; the
    states are in ``state.inner_states[label]``, and the hyperparameter helpers
    of :mod:`axon.optim.hyperparams` reach into all of them.

    Args:
        transforms: a transformation per label.
        rules: ``{pattern: label}`` in order of precedence, or a function
            ``params -> pytree of labels`` (passed to optax as is).
        default: the label of parameters that no rule matches; ``None`` makes
            such a parameter an error. Defaults to ``None``.
        strict: raise if a pattern matches no path. Defaults to ``True``.

    Returns:
        The partitioned transformation.

    Raises:
        ValueError: if a label has no transformation (when built), or (when the
            labels are computed, at ``init``) a parameter has no label or, if
            ``strict``, a pattern matches nothing.

    Example:
        >>> import jax.numpy as jnp
        >>> import axon.optim
        >>> from axon.optim.masks import partition
        >>> optimizer = partition(
        ...     {"decay": axon.optim.adamw(decay=1e-2), "no_decay": axon.optim.adam()},
        ...     {"*bias": "no_decay", "*norm*": "no_decay"},
        ...     default="decay",
        ... )
        >>> params = {"dense": {"kernel": jnp.ones(2), "bias": jnp.ones(1)},
        ...           "layer_norm": {"scale": jnp.ones(2)}}
        >>> sorted(optimizer.init(params).inner_states)
        ['decay', 'no_decay']
    """
    if not isinstance(transforms, Mapping) or not transforms:
        raise TypeError(
            "partition: transforms must be a non-empty mapping {label: transformation}."
        )
    for index, transform in enumerate(transforms.values(), start=1):
        check.transform("partition", index, transform)
    if callable(rules) and not isinstance(rules, Mapping):
        return optax.multi_transform(dict(transforms), rules)
    if not isinstance(rules, Mapping):
        raise TypeError(
            f"partition: rules must be a mapping {{pattern: label}} or a function "
            f"params -> labels; received {type(rules).__name__}."
        )
    patterns = _normalise("partition", rules.keys())
    labels = [rules[p] for p in patterns]
    unknown = [label for label in [*labels, default] if label is not None]
    unknown = [label for label in unknown if label not in transforms]
    if unknown:
        raise ValueError(
            f"partition: label {unknown[0]!r} has no transformation; transforms has: "
            f"{', '.join(map(repr, transforms))}."
        )

    def label_tree(tree: Any) -> Any:
        leaves_with_paths, treedef = jax.tree_util.tree_flatten_with_path(tree)
        all_paths = [_path_str(kp) for kp, _ in leaves_with_paths]
        used = [False] * len(patterns)
        result = []
        for path in all_paths:
            for i, pattern in enumerate(patterns):
                if _matches(pattern, path):
                    used[i] = True
                    result.append(labels[i])
                    break
            else:
                if default is None:
                    raise ValueError(
                        f"partition: parameter {path!r} matches no rule and there is no "
                        f"default label; add a rule for it or pass default=<label>."
                    )
                result.append(default)
        if strict:
            for i, pattern in enumerate(patterns):
                if not used[i] and not any(_matches(pattern, path) for path in all_paths):
                    raise _unmatched_error("partition", pattern, all_paths)
        return jax.tree_util.tree_unflatten(treedef, result)

    return optax.multi_transform(dict(transforms), label_tree)


def freeze(
    transform: optax.GradientTransformation, *patterns: Pattern, strict: bool = True
) -> optax.GradientTransformation:
    """``transform`` for every parameter except those matching ``patterns``, whose
    updates are zero (they stay put) and which get no optimizer state.

    Built with :func:`partition`: the state is ``state.inner_states["trainable"]``
    (``transform``'s) and ``state.inner_states["frozen"]``.

    Args:
        transform: the optimizer for the trainable parameters.
        *patterns: globs or compiled regular expressions of the frozen paths.
        strict: raise if a pattern matches no path. Defaults to ``True``.

    Returns:
        The transformation.

    Example:
        >>> import jax.numpy as jnp
        >>> import axon.optim
        >>> from axon.optim.masks import freeze
        >>> optimizer = freeze(axon.optim.adam(learning_rate=0.1), "embedding/*")
        >>> params = {"embedding": {"table": jnp.ones(2)}, "dense": {"kernel": jnp.ones(2)}}
        >>> step, _ = optimizer.update(params, optimizer.init(params), params)
        >>> step["embedding"]["table"]
        Array([0., 0.], dtype=float32)
    """
    normalised = _normalise("freeze", patterns)
    return partition(
        {"trainable": transform, "frozen": optax.set_to_zero()},
        dict.fromkeys(normalised, "frozen"),
        default="trainable",
        strict=strict,
    )
