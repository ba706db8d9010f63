"""``batches``: mini-batches over arrays, pytrees of arrays or data-frame columns.

The in-memory dataset every first program needs (Keras's ``fit(x, y,
batch_size=...)``, PyTorch's ``TensorDataset`` + ``DataLoader``): re-iterable,
with a length, shuffled as a function of ``(seed, epoch)`` only, so a resumed run
sees exactly the batches the interrupted one would have seen, and able to start
in the middle of an epoch without reading the batches before it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import jax
import numpy as np

from .arrays import Allocate, aligned_empty, is_aligned


class Batches:
    """Mini-batches of ``x`` (and ``y``): what :func:`axon.loop.batches` returns.

    Iterating gives ``(x_batch, y_batch)`` pairs, or ``x_batch`` alone without
    ``y``, each with the structure of ``x``/``y`` (an array, or a dict/tuple of
    arrays). ``len()`` is the number of batches per epoch. Each ``iter()`` starts
    the next epoch (a new order when shuffling); the loop instead asks for
    ``epoch(n)`` directly, which depends only on ``(seed, n)``.

    >>> import numpy as np
    >>> from axon.loop import batches
    >>> data = batches(np.arange(10), np.arange(10) * 10, batch_size=4)
    >>> len(data), data
    (3, Batches(10 examples, batch_size=4: 3 batches of (x, y)))
    >>> [(x.tolist(), y.tolist()) for x, y in data]
    [([0, 1, 2, 3], [0, 10, 20, 30]), ([4, 5, 6, 7], [40, 50, 60, 70]), ([8, 9], [80, 90])]
    """

    def __init__(
        self,
        x: Any,
        y: Any,
        batch_size: int,
        shuffle: bool,
        seed: int,
        drop_last: bool,
        rows: np.ndarray | None = None,
    ):
        # checked and converted by batches(), the public constructor, and split()
        self.x, self.y = x, y
        self.batch_size, self.shuffle, self.seed, self.drop_last = (
            batch_size, shuffle, seed, drop_last
        )  # fmt: skip
        self.rows = rows  # the examples of the arrays these batches cover (None: all)
        self.examples = _common_length(x, y) if rows is None else len(rows)
        if drop_last and self.examples < batch_size:
            raise ValueError(
                f"drop_last=True with {self.examples} examples and batch_size={batch_size} "
                f"leaves no batch: lower batch_size or keep the last, shorter batch."
            )
        self._next_epoch = 0

    def __len__(self) -> int:
        divide = math.floor if self.drop_last else math.ceil
        return int(divide(self.examples / self.batch_size))

    def __iter__(self) -> Iterator[Any]:
        epoch, self._next_epoch = self._next_epoch, self._next_epoch + 1
        return self.epoch(epoch)

    def epoch(self, epoch: int, start: int = 0) -> EpochCursor:
        """The batches of ``epoch``, from batch number ``start`` on (nothing before it is read).

        >>> import numpy as np
        >>> from axon.loop import batches
        >>> data = batches(np.arange(6), batch_size=2, shuffle=True, seed=1)
        >>> [b.tolist() for b in data.epoch(3)] == [b.tolist() for b in data.epoch(3)]
        True
        >>> [b.tolist() for b in data.epoch(3, start=2)] == [list(data.epoch(3))[2].tolist()]
        True
        """
        return EpochCursor(self, epoch, start)

    def split(
        self, validation: float, *, seed: int | None = None, batch_size: int | None = None
    ) -> tuple[Batches, Batches]:
        """Hold out a share of the examples: ``train, val = batches(...).split(0.2)``.

        Keras's ``validation_split``, with one difference: the held-out examples are
        drawn at random (a function of ``seed`` only, by default these batches'
        seed), not taken from the end, so data sorted by class or by time still
        gives a validation set like the rest. (For time series, where the end
        is what should be held out, slice the arrays yourself.)

        Args:
            validation: the share of examples to hold out, in ``(0, 1)``; the
                count is rounded, and each side keeps at least one example.
            seed: the seed of the draw (default: these batches' ``seed``).
            batch_size: the validation batches' size (default: these batches').

        Returns:
            ``(train, validation)``: the training batches keep these batches'
            options (shuffling, ``drop_last``); the validation batches are in a
            fixed order with the last, shorter batch kept. No array is copied.

        >>> import numpy as np
        >>> from axon.loop import batches
        >>> train, val = batches(np.arange(10), np.arange(10) * 10, batch_size=4).split(0.2)
        >>> train.examples, val.examples, len(train), len(val)
        (8, 2, 2, 1)
        >>> [x.tolist() for x, _ in val]  # the same two examples in every epoch
        [[2, 4]]
        >>> sorted(np.concatenate([x for x, _ in train]).tolist())
        [0, 1, 3, 5, 6, 7, 8, 9]
        """
        if isinstance(validation, bool) or not isinstance(validation, int | float):
            raise TypeError(f"split(): validation must be a share in (0, 1), got {validation!r}.")
        held_out = round(self.examples * validation)
        if not 0 < validation < 1 or not 0 < held_out < self.examples:
            raise ValueError(
                f"split({validation!r}) of {self.examples} examples holds out {held_out}: "
                f"give a share in (0, 1) that leaves at least one example on each side."
            )
        batch_size = self.batch_size if batch_size is None else _checked_batch_size(batch_size)
        seed = self.seed if seed is None else _checked_seed(seed)
        draw = np.random.default_rng([seed, _SPLIT]).permutation(self.examples)
        covered = np.arange(self.examples) if self.rows is None else self.rows
        # sorted: without shuffling the batches still read the examples in their order
        train_rows, validation_rows = (
            np.sort(covered[part]) for part in np.split(draw, [-held_out])
        )
        train = Batches(
            self.x, self.y, self.batch_size, self.shuffle, self.seed, self.drop_last, train_rows
        )
        return train, Batches(self.x, self.y, batch_size, False, seed, False, validation_rows)

    def __repr__(self) -> str:
        what = "x" if self.y is None else "(x, y)"
        order = f", shuffled (seed {self.seed})" if self.shuffle else ""
        return (
            f"Batches({self.examples} examples, batch_size={self.batch_size}{order}: "
            f"{len(self)} batch{'es' if len(self) != 1 else ''} of {what})"
        )


class EpochCursor:
    """One epoch of :class:`Batches`, from batch ``start`` on: iterating gives its batches,
    and ``gather`` gives the next full batches at once, stacked (a fused block of the
    loop: one copy per array instead of reading and stacking batch by batch)."""

    def __init__(self, batches: Batches, epoch: int, start: int):
        self.batches = batches
        self.order = (
            np.random.default_rng([batches.seed, epoch]).permutation(batches.examples)
            if batches.shuffle
            else None
        )
        self.index = start

    def __iter__(self) -> EpochCursor:
        return self

    def __next__(self) -> Any:
        if self.index >= len(self.batches):
            raise StopIteration
        self.index += 1
        return self._batch(self._rows(self.index - 1, 1))

    def full_ahead(self) -> int:
        """How many full-size batches are left, in a row, from the next one on."""
        return max(self.batches.examples // self.batches.batch_size - self.index, 0)

    def peek(self) -> Any:
        """The next batch (views or copies of its rows), left to be read."""
        return self._batch(self._rows(self.index, 1))

    def gather(self, count: int, capacity: int, allocate: Allocate = aligned_empty) -> Any:
        """The next ``count`` full batches stacked: the batch structure, each leaf of
        ``(capacity, batch_size, ...)``, ``capacity >= count`` (the rows past ``count``
        are left unwritten); moves past them. A whole block of consecutive rows that
        lies aligned in memory is a view of the arrays (no copy); otherwise one copy
        (a gather when shuffled) per array into memory from ``allocate``."""
        rows = self._rows(self.index, count)
        self.index += count
        size = self.batches.batch_size

        def stack(leaf: np.ndarray) -> np.ndarray:
            shape = (capacity, size, *leaf.shape[1:])
            if isinstance(rows, slice) and count == capacity:
                view = leaf[rows]
                if view.flags.c_contiguous and is_aligned(view):
                    return view.reshape(shape)
            block = allocate(shape, leaf.dtype)
            target = block.reshape(-1, *leaf.shape[1:])[: count * size]
            if isinstance(rows, slice):
                np.copyto(target, leaf[rows])
            else:  # shuffled: one gather
                np.take(leaf, rows, axis=0, out=target)
            return block

        return jax.tree_util.tree_map(stack, self._data())

    def back(self, count: int) -> None:
        """Step back over the last ``count`` batches, to read them again."""
        self.index -= count

    def _data(self) -> Any:
        batches = self.batches
        return batches.x if batches.y is None else (batches.x, batches.y)

    def _rows(self, first: int, count: int) -> slice | np.ndarray:
        """The examples of batches ``first, ..., first + count - 1``: a slice (no copy)
        unless shuffled or a subset."""
        size = self.batches.batch_size
        begin, end = first * size, min((first + count) * size, self.batches.examples)
        rows: slice | np.ndarray = (
            slice(begin, end) if self.order is None else self.order[begin:end]
        )
        return rows if self.batches.rows is None else self.batches.rows[rows]

    def _batch(self, rows: slice | np.ndarray) -> Any:
        return jax.tree_util.tree_map(lambda leaf: leaf[rows], self._data())


def batches(
    x: Any,
    y: Any = None,
    *,
    batch_size: int,
    shuffle: bool = False,
    seed: int = 0,
    drop_last: bool = False,
) -> Batches:
    """Mini-batches of arrays for ``Loop.run``/``validate``: ``batches(x, y, batch_size=32)``.

    Args:
        x: the inputs: an array (NumPy, JAX, or anything ``numpy.asarray`` takes), a
            dict/tuple/list of arrays (a model with several inputs takes a dict keyed
            by input name), or a data frame (pandas, polars: anything with
            ``columns`` whose ``frame[name].to_numpy()`` gives the column), whose
            columns become named inputs of shape ``(batch, 1)``, e.g.
            ``batches(df[["age", "income"]], df["label"], batch_size=32)``.
        y: the targets, in the same forms (a data-frame column, e.g. a pandas
            ``Series``, gives an array ``(batch,)``); ``None`` for inputs only.
        batch_size: examples per batch; the last batch holds the rest.
        shuffle: a new order every epoch, a function of ``(seed, epoch)`` only, so a
            resumed run continues with exactly the batches it would have had.
        seed: the shuffling seed.
        drop_last: leave out the last batch when it is shorter (then every batch
            has one shape and the step compiles once).

    Every leaf must have the same number of examples (the first axis). A batch is
    a view (no copy) without shuffling and a copy of just its rows with shuffling;
    the data itself is never copied (lists are converted to arrays once).

    Returns:
        A re-iterable :class:`~axon.loop.Batches` with a ``len()``; a resumed run
        starts at its batch without reading the ones before it.

    >>> import numpy as np, optax, axon.loop
    >>> x = np.random.default_rng(0).normal(size=(100, 3)).astype(np.float32)
    >>> y = x @ np.array([[1.0], [-2.0], [0.5]], np.float32)
    >>> init = lambda key, x: {"w": np.zeros((3, 1), np.float32)}
    >>> apply = lambda p, x, *, mode, key: (x @ p["w"], None)
    >>> train = axon.loop.batches(x, y, batch_size=16, shuffle=True)
    >>> len(train)
    7
    >>> trainer = axon.loop.trainer((init, apply), "mean_squared_error", optax.sgd(0.1), log=0)
    >>> params = trainer.run(train, epochs=20)
    >>> np.round(params["w"].ravel(), 2).tolist()
    [1.0, -2.0, 0.5]
    """
    tree_y = None if y is None else _as_tree(y, "y")
    return Batches(
        _as_tree(x, "x"), tree_y, _checked_batch_size(batch_size), bool(shuffle),
        _checked_seed(seed), bool(drop_last),
    )  # fmt: skip


# the stream of draws split() takes its held-out examples from (epochs are 0, 1, ...)
_SPLIT = 2**32 - 1


def _checked_batch_size(batch_size: Any) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}.")
    return batch_size


def _checked_seed(seed: Any) -> int:
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}.")
    return seed


def _as_tree(data: Any, name: str) -> Any:
    """Arrays as they are (no copy); a data frame as a dict of ``(n, 1)`` columns."""
    if _is_data_frame(data):
        return {str(column): _column(data, column, name) for column in data.columns}
    if isinstance(data, (dict, tuple)) or (
        isinstance(data, list) and data and not np.isscalar(data[0]) and _is_array_like(data[0])
    ):
        return jax.tree_util.tree_map(lambda leaf: _as_array(leaf, name), data, is_leaf=_is_series)
    return _as_array(data, name)


def _is_data_frame(data: Any) -> bool:
    # pandas and polars frames alike: named columns, each read with frame[name]
    return hasattr(data, "columns") and not isinstance(data, (np.ndarray, jax.Array))


def _is_series(data: Any) -> bool:
    return hasattr(data, "to_numpy") and not _is_data_frame(data)


def _is_array_like(data: Any) -> bool:
    return hasattr(data, "shape") or hasattr(data, "__array__") or _is_series(data)


def _column(frame: Any, column: Any, name: str) -> np.ndarray:
    values = _as_array(frame[column], f"{name}[{column!r}]")
    return values.reshape(-1, 1) if values.ndim == 1 else values


def _as_array(leaf: Any, name: str) -> Any:
    if isinstance(leaf, (np.ndarray, jax.Array)):
        array = leaf
    else:
        try:
            array = leaf.to_numpy() if _is_series(leaf) else np.asarray(leaf)
        except Exception as error:
            raise TypeError(
                f"batches(): {name} ({type(leaf).__name__}) cannot become an array: {error}."
            ) from error
    if array.dtype == object:
        raise TypeError(
            f"batches(): {name} holds Python objects (object dtype), not numbers; convert it "
            f"first (e.g. encode strings or categories as integers)."
        )
    if array.ndim == 0:
        raise ValueError(
            f"batches(): {name} is a scalar; every leaf needs a first axis of examples."
        )
    return array


def _common_length(x: Any, y: Any) -> int:
    leaves = jax.tree_util.tree_leaves_with_path({"x": x} if y is None else {"x": x, "y": y})
    lengths = {jax.tree_util.keystr(path): len(leaf) for path, leaf in leaves}
    if not lengths:
        raise ValueError("batches() got no arrays.")
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{path}: {n}" for path, n in lengths.items())
        raise ValueError(
            f"batches(): every array needs the same number of examples (first axis); got {shown}."
        )
    (examples,) = set(lengths.values())
    if examples == 0:
        raise ValueError("batches(): the arrays hold no examples.")
    return examples
