"""The data path: what is passed to ``run`` becomes each epoch's batches of arrays.

- ``source``: ``DataSource``, the batches of every epoch from a list, a loader, a
  one-shot iterator or a function of the epoch, and where a resumed run starts
  in them; ``EmptyDataError``.
- ``batches``: ``batches(x, y, batch_size=...)``, mini-batches over arrays,
  pytrees of arrays or data-frame columns, shuffled by ``(seed, epoch)``.
- ``arrays``: batch leaves that are not arrays yet (e.g. torch tensors) become
  NumPy arrays.
"""

from .batches import Batches, batches
from .source import DataSource, EmptyDataError

__all__ = ["Batches", "DataSource", "EmptyDataError", "batches"]
