"""Digests of a checkpoint's arrays: recorded when a step is written, verified when it is read.

A record maps every leaf's path (``jax.tree_util.keystr``, as in the loop's
layout) to the shape, dtype and ``xxh3_64`` digest of the bytes stored for it.
Typed PRNG keys are stored as their key data, with the name of their
implementation, and rebuilt on reading.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
import xxhash

from ._errors import CheckpointCorruptedError, CheckpointError

ALGORITHM = "xxh3_64"


def to_host(tree: Any) -> tuple[Any, dict[str, str]]:
    """A copy of ``tree`` in host memory (NumPy), taken now because the step donates its
    buffers, and the PRNG implementation of each typed key (stored as its key data)."""
    keys = {}

    def host_view(path: Any, leaf: Any) -> Any:
        if _is_key(leaf):
            keys[jax.tree_util.keystr(path)] = str(jax.random.key_impl(leaf))
            leaf = jax.random.key_data(leaf)
        if isinstance(leaf, jax.Array) and not leaf.is_fully_addressable:
            if not leaf.is_fully_replicated:
                raise CheckpointError(
                    "This checkpoint backend stores arrays that each process holds whole; a "
                    f"sharded array of shape {leaf.shape} is not. Replicate the state "
                    "(run(mesh=...) does) or use a backend for sharded arrays."
                )
            leaf = leaf.addressable_data(0)
        return leaf

    host = jax.device_get(jax.tree_util.tree_map_with_path(host_view, tree))
    return jax.tree_util.tree_map(np.asarray, host), keys


def describe(host: Any, keys: dict[str, str]) -> dict[str, dict[str, Any]]:
    """The integrity record of ``host`` and ``keys`` (from :func:`to_host`): every leaf's
    shape, dtype and digest, by path."""
    record = {}
    for path, array in _with_paths(host):
        entry = {"shape": list(array.shape), "dtype": array.dtype.name, ALGORITHM: digest(array)}
        if path in keys:
            entry["prng_impl"] = keys[path]
        record[path] = entry
    return record


def digest(array: np.ndarray) -> str:
    """The ``xxh3_64`` digest (hex) of an array's bytes in C order."""
    return xxhash.xxh3_64_hexdigest(np.ascontiguousarray(array).reshape(-1).view(np.uint8))


def text_digest(text: str) -> str:
    """The ``xxh3_64`` digest (hex) of a text (e.g. a step's JSON metadata)."""
    return xxhash.xxh3_64_hexdigest(text.encode())


def verify(arrays: dict[str, np.ndarray], record: dict[str, Any], where: str) -> None:
    """Raise :class:`CheckpointCorruptedError` unless every array matches its digest."""
    for path, array in arrays.items():
        expected = record[path]
        if list(array.shape) != expected["shape"] or digest(array) != expected[ALGORITHM]:
            raise CheckpointCorruptedError(
                f"{where} is damaged: the data of {path} does not match the digest recorded "
                f"when it was written."
            )


def rebuild(array: np.ndarray, entry: dict[str, Any]) -> Any:
    """The leaf as it was saved: a typed PRNG key is rebuilt from its key data."""
    if "prng_impl" in entry:
        return jax.random.wrap_key_data(array, impl=entry["prng_impl"])
    return array


def _is_key(leaf: Any) -> bool:
    dtype = getattr(leaf, "dtype", None)
    return dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key)


def _with_paths(tree: Any) -> list[tuple[str, Any]]:
    return [
        (jax.tree_util.keystr(path), leaf)
        for path, leaf in jax.tree_util.tree_leaves_with_path(tree)
    ]
