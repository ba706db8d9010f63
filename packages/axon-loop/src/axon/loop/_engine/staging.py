"""Host memory for stacked blocks, kept across blocks and runs.

A fused block is stacked into 64-byte-aligned host memory, which the CPU backend
reads in place. Memory written for the first time costs a page fault per 4 KiB,
and far more while XLA's threads run (measured on the 784-128-10 benchmark: 40 MiB
in 0.2-0.5 s instead of 10 ms), so the memory of a block that has run is kept and
reused by later blocks and later runs, up to a bound.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from .._data import aligned_empty

#: memory kept for reuse, at most: buffers, and bytes in all
MAX_BUFFERS = 8
MAX_BYTES = 256 * 2**20


class Staging:
    """Aligned host buffers, each reusable once the block that read it has run."""

    def __init__(self) -> None:
        self._kept: list[tuple[Any, np.ndarray, Any]] = []  # (shape and dtype, memory, finished)
        self._lock = threading.Lock()  # runs may share it from several threads

    def take(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        """Aligned memory for an array of ``shape`` and ``dtype``: kept memory whose
        block has finished, or new."""
        key = (tuple(shape), np.dtype(dtype))
        with self._lock:
            for index, (kind, memory, finished) in enumerate(self._kept):
                if kind == key and ready(finished):
                    del self._kept[index]
                    return memory
        return aligned_empty(shape, dtype)

    def keep(self, memory: np.ndarray, finished: Any = None) -> None:
        """Keep ``memory`` for reuse once ``finished`` (an output of the block that read
        it; ``None``: no block did) is ready; the oldest memory goes past the bound."""
        with self._lock:
            self._kept.append(((memory.shape, memory.dtype), memory, finished))
            while len(self._kept) > MAX_BUFFERS or (
                len(self._kept) > 1 and sum(m.nbytes for _, m, _ in self._kept) > MAX_BYTES
            ):
                del self._kept[0]

    def __len__(self) -> int:
        return len(self._kept)


def ready(finished: Any) -> bool:
    """Whether a block has run: its ``finished`` output is ready (``None``: it never ran;
    without jit the output is a host value, ready at once)."""
    return finished is None or not hasattr(finished, "is_ready") or finished.is_ready()


#: the process's staging memory, shared by every run
STAGING = Staging()
