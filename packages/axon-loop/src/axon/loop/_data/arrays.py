"""Batches of arrays: leaves that are not arrays yet become NumPy arrays; aligned host
memory for stacked blocks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import numpy as np

_ARRAY_TYPES = (np.ndarray, jax.Array, int, float, bool, np.generic)


def as_arrays(batch: Any) -> Any:
    """Leaves that are neither NumPy/JAX arrays nor numbers (e.g. torch tensors from a
    DataLoader) become NumPy arrays through ``__array__``."""
    if type(batch) is tuple and all(type(leaf) is np.ndarray for leaf in batch):
        return batch  # the common case, (inputs, targets), in a fraction of a microsecond
    if all(isinstance(leaf, _ARRAY_TYPES) for leaf in jax.tree_util.tree_leaves(batch)):
        return batch

    def convert(leaf: Any) -> Any:
        if isinstance(leaf, _ARRAY_TYPES):
            return leaf
        try:
            array = np.asarray(leaf)
        except Exception as error:
            array, reason = None, f"{type(error).__name__}: {error}"
        else:
            reason = "it is not numeric (object dtype)"
        if array is None or array.dtype == object:
            raise TypeError(
                f"A batch leaf of type {type(leaf).__name__} cannot become an array: {reason}. "
                f"Batches must hold arrays (NumPy, JAX, or tensors convertible with "
                f"numpy.asarray) in tuples, lists or dicts."
            )
        return array

    return jax.tree_util.tree_map(convert, batch)


#: ``allocate(shape, dtype)``: uninitialized host memory aligned to ``ALIGNMENT`` bytes
Allocate = Callable[[tuple[int, ...], Any], np.ndarray]

#: the CPU backend uses host memory aligned to this many bytes in place; it copies
#: other memory into a buffer of its own first
ALIGNMENT = 64


def is_aligned(array: np.ndarray) -> bool:
    return array.__array_interface__["data"][0] % ALIGNMENT == 0


def aligned_empty(shape: tuple[int, ...], dtype: Any, alignment: int = ALIGNMENT) -> np.ndarray:
    """An uninitialized array whose memory is aligned to ``alignment`` bytes: the CPU
    backend uses such a block in place instead of copying it."""
    size = int(np.prod(shape)) * np.dtype(dtype).itemsize
    raw = np.empty(size + alignment, np.uint8)
    offset = -raw.ctypes.data % alignment
    return raw[offset : offset + size].view(dtype).reshape(shape)
