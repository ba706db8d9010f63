"""Histograms of whole trees of arrays (parameters, gradients), one tag per array.

A tree is what JAX calls a pytree: dicts, lists, tuples, namedtuples and
dataclasses nested around arrays. This module walks the common containers
itself, so logging a model's parameters needs no JAX here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from . import _values
from ._protocol import Logger

_LEAF_TYPES = (np.ndarray, np.generic, int, float, bool, complex, str, bytes)


def flatten_tree(tree: Any, prefix: str = "") -> dict[str, Any]:
    """Every leaf of ``tree`` under a ``/``-separated tag: ``{"<prefix>/<path>": leaf}``.

    The path joins dict keys, namedtuple and dataclass field names, and list or
    tuple positions, outermost first, in the tree's own order. ``None`` is an
    empty subtree (as in JAX) and yields nothing. Anything with a ``shape`` or an
    ``__array__`` method (numpy and JAX arrays) and any Python or numpy scalar is
    a leaf.

    Args:
        tree: nested containers of arrays, e.g. ``model_state.params``, gradients
            or an optax state.
        prefix: the tags' first part (``"params"``); ``""`` for none.

    Returns:
        A dict from tag to leaf, in the order the tree was walked.

    Raises:
        TypeError: ``tree`` holds an object that is neither a known container nor
            array-like; the message names its path.

    Example:
        >>> import numpy as np
        >>> from axon.loggers import flatten_tree
        >>> params = {"dense_0": {"kernel": np.ones((4, 8)), "bias": np.zeros(8)}, "scale": [2.0]}
        >>> list(flatten_tree(params, "params"))
        ['params/dense_0/kernel', 'params/dense_0/bias', 'params/scale/0']
    """
    if not isinstance(prefix, str):
        raise TypeError(f"The prefix must be a str, got {type(prefix).__name__} {prefix!r}.")
    leaves: dict[str, Any] = {}
    _walk(tree, [prefix.rstrip("/")] if prefix.strip("/") else [], leaves)
    return leaves


def log_histograms(logger: Logger, prefix: str, tree: Any, step: int) -> list[str]:
    """Log every array of ``tree`` as a histogram tagged ``<prefix>/<path>`` at ``step``.

    Meant for parameters and gradients: ``log_histograms(logger, "params",
    model_state.params, step)`` gives TensorBoard one histogram per array, grouped
    under ``params``. Every leaf is read to the host and checked *before* anything
    is logged, so a bad leaf (strings, an empty array) logs nothing at all. NaN
    and infinite entries are handled by the logger (:class:`LoggerBase` drops them
    from the histogram and warns once per tag).

    Reading arrays from an accelerator waits for the computation that produces
    them; call this only at the steps you want histograms for.

    Args:
        logger: any :class:`~axon.loggers.Logger`.
        prefix: the tags' first part (``"params"``, ``"grads"``); ``""`` for none.
        tree: nested dicts, lists, tuples, namedtuples or dataclasses of arrays
            (see :func:`flatten_tree`).
        step: the step of every histogram.

    Returns:
        The tags logged, in order; empty if the tree holds no arrays.

    Raises:
        TypeError: a leaf is not an array of real numbers, or the tree holds an
            unknown container; nothing was logged.
        ValueError: a leaf is empty; nothing was logged.

    Example:
        >>> import tempfile
        >>> import numpy as np
        >>> from axon.loggers import TensorBoardLogger, log_histograms
        >>> params = {"dense_0": {"kernel": np.ones((4, 8)), "bias": np.zeros(8)}}
        >>> with TensorBoardLogger(tempfile.mkdtemp()) as logger:
        ...     log_histograms(logger, "params", params, step=100)
        ['params/dense_0/kernel', 'params/dense_0/bias']
    """
    step = _values.as_step(step)
    arrays = {
        tag: _values.as_histogram_values(tag, leaf)
        for tag, leaf in flatten_tree(tree, prefix).items()
    }
    for tag, values in arrays.items():
        logger.log_histogram(tag, values, step)
    return list(arrays)


def _walk(node: Any, path: list[str], leaves: dict[str, Any]) -> None:
    if node is None:
        return
    if _is_leaf(node):
        leaves[_tag(path, node)] = node
        return
    for key, child in _children(node, path):
        _walk(child, [*path, str(key)], leaves)


def _is_leaf(node: Any) -> bool:
    return isinstance(node, _LEAF_TYPES) or hasattr(node, "shape") or hasattr(node, "__array__")


def _children(node: Any, path: list[str]) -> Any:
    if isinstance(node, Mapping):
        return node.items()
    if isinstance(node, tuple) and hasattr(node, "_fields"):  # a namedtuple (optax states)
        return zip(node._fields, node, strict=True)
    if isinstance(node, (list, tuple)):
        return enumerate(node)
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        return ((field.name, getattr(node, field.name)) for field in dataclasses.fields(node))
    where = "/".join(path) or "the root"
    raise TypeError(
        f"Cannot walk {type(node).__name__} at {where!r}: a tree of arrays may hold dicts, "
        f"lists, tuples, namedtuples and dataclasses around arrays. Pass the part that holds "
        f"the arrays (e.g. model_state.params), or flatten it first into a dict of arrays."
    )


def _tag(path: list[str], leaf: Any) -> str:
    if not path:
        raise ValueError(
            f"A lone {type(leaf).__name__} has no path to name it: pass a prefix, or use "
            f"log_histogram(tag, values, step) for a single array."
        )
    return "/".join(path)
