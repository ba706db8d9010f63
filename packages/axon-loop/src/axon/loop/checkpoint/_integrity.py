"""Digests of a checkpoint's arrays: recorded when a step is written, verified when it is read.

A record maps every leaf's path (``jax.tree_util.keystr``, as in the loop's
layout) to the shape, dtype and ``xxh3_64`` digest of the bytes stored for it,
or, for an array sharded over several devices (stored shard by shard, read back
onto any mesh), its layout-free ``sum64`` checksum computed on the devices
(``_checksum``). Typed PRNG keys are stored as their key data, with the name of
their implementation, and rebuilt on reading.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import xxhash

from ._checksum import checksum, checksum_hex
from ._errors import CheckpointCorruptedError, CheckpointError

ALGORITHM = "xxh3_64"
SHARDED = "sum64"


def is_sharded(leaf: Any) -> bool:
    """Whether ``leaf`` is a ``jax.Array`` split over several devices (not replicated)."""
    return isinstance(leaf, jax.Array) and not leaf.is_fully_replicated


def to_host(tree: Any, *, keep_sharded: bool = False) -> tuple[Any, dict[str, str]]:
    """A copy of ``tree`` in host memory (NumPy), taken now because the step donates its
    buffers, and the PRNG implementation of each typed key (stored as its key data).

    ``keep_sharded``: sharded arrays are copied on their devices instead, so that each
    process writes its own shards and none gathers the whole array."""
    keys = {}

    def host_view(path: Any, leaf: Any) -> Any:
        if _is_key(leaf):
            keys[jax.tree_util.keystr(path)] = str(jax.random.key_impl(leaf))
            leaf = jax.random.key_data(leaf)
        if keep_sharded and is_sharded(leaf):
            return jnp.copy(leaf)
        if isinstance(leaf, jax.Array) and not leaf.is_fully_addressable:
            if not leaf.is_fully_replicated:
                raise CheckpointError(
                    "This checkpoint backend stores arrays that each process holds whole; a "
                    f"sharded array of shape {leaf.shape} is not. Replicate the state "
                    "(run(mesh=...) does) or use a backend for sharded arrays."
                )
            leaf = leaf.addressable_data(0)
        return leaf

    leaves, treedef = jax.tree_util.tree_flatten(jax.tree_util.tree_map_with_path(host_view, tree))
    local = [i for i, leaf in enumerate(leaves) if not is_sharded(leaf)]
    for i, value in zip(local, jax.device_get([leaves[i] for i in local]), strict=True):
        leaves[i] = np.asarray(value)
    return jax.tree_util.tree_unflatten(treedef, leaves), keys


def checksums(host: Any) -> dict[str, jax.Array]:
    """The checksums of the sharded arrays of ``host`` (from :func:`to_host`), started on
    their devices; with several processes, every process calls this at the same point."""
    return {path: checksum(leaf) for path, leaf in _with_paths(host) if is_sharded(leaf)}


def describe(
    host: Any, keys: dict[str, str], sums: dict[str, jax.Array] | None = None
) -> dict[str, dict[str, Any]]:
    """The integrity record of ``host`` and ``keys`` (from :func:`to_host`): every leaf's
    shape, dtype and digest (``sums``: the :func:`checksums` of sharded ones), by path."""
    record = {}
    sums = sums or {}
    for path, array in _with_paths(host):
        entry: dict[str, Any] = {"shape": list(array.shape), "dtype": array.dtype.name}
        if path in sums:
            entry[SHARDED] = checksum_hex(sums[path])
        else:
            entry[ALGORITHM] = digest(array)
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


def verify(arrays: dict[str, Any], record: dict[str, Any], where: str) -> None:
    """Raise :class:`CheckpointCorruptedError` unless every array matches its digest (a
    sharded one, read as a ``jax.Array`` on any mesh, its checksum)."""
    computed = {p: checksum(arrays[p]) for p, entry in record.items() if SHARDED in entry}
    for path, array in arrays.items():
        expected = record[path]
        if SHARDED in expected:
            intact = checksum_hex(computed[path]) == expected[SHARDED]
        else:
            intact = digest(np.asarray(array)) == expected[ALGORITHM]
        if list(array.shape) != expected["shape"] or not intact:
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
