"""The data path: what is passed to ``run`` becomes each epoch's batches of arrays.

- ``source``: ``DataSource``, the batches of every epoch from a list, a loader, a
  one-shot iterator or a function of the epoch, and where a resumed run starts
  in them; ``EpochBatches``, one epoch's batches and where each was read from;
  ``EmptyDataError``.
- ``positions``: the position of sources that can save it (grain's iterator
  state, ``state_dict()`` loaders), as JSON for checkpoints, and moving a fresh
  iterator to it on resume.
- ``prefetch``: ``prefetched``, the next batches read, converted and placed in a
  background thread while the step runs.
- ``batches``: ``batches(x, y, batch_size=...)``, mini-batches over arrays,
  pytrees of arrays or data-frame columns, shuffled by ``(seed, epoch)``.
- ``arrays``: batch leaves that are not arrays yet (e.g. torch tensors) become
  NumPy arrays; aligned host memory for stacked blocks.
"""

from .arrays import Allocate, aligned_empty, is_aligned
from .batches import Batches, EpochCursor, batches
from .positions import checked_position
from .prefetch import prefetched
from .source import DataSource, EmptyDataError, EpochBatches

__all__ = [
    "Allocate",
    "Batches",
    "EpochCursor",
    "DataSource",
    "EmptyDataError",
    "EpochBatches",
    "aligned_empty",
    "is_aligned",
    "batches",
    "checked_position",
    "prefetched",
]
