"""Everything needed to resume a run exactly, as arrays plus JSON (never pickle).

A snapshot splits a ``State`` into a pytree of arrays (step state and metric
accumulators) and JSON metadata (counters, data position, history, host-side
metrics, handler metadata). Restoring needs a ``State`` of the same loop to give
the tree its structure: the engine builds one from the first batch, as for a
fresh run, then overwrites it.
"""

from __future__ import annotations

import io
import json
import math
import re
import warnings
import zipfile
import zlib
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from .._data import checked_position
from .._state import State
from ._errors import CheckpointCorruptedError
from ._integrity import describe, rebuild, text_digest, to_host, verify

FORMAT_VERSION = 1

#: The key of ``handler_metadata`` under which a checkpoint records its marks: where each
#: open logger's files ended when it was written, ``{resource key: logger.mark()}``.
MARKS = "log_marks"


def snapshot(
    state: State, marks: dict[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(tree, metadata)`` of a running loop: what a checkpoint stores.

    ``marks`` are the checkpoint's own (see :data:`MARKS`). Marks the state was
    restored with are left out: they describe the logs at an earlier checkpoint,
    and a run continued from this snapshot must not cut its logs back to them.
    """
    tree = {"step_state": state.step_state, "metric_state": state.metric_state}
    handler_metadata = {k: v for k, v in state.handler_metadata.items() if k != MARKS}
    if marks:
        handler_metadata[MARKS] = marks
    metadata = {
        "format": FORMAT_VERSION,
        "run_id": state.run_id,
        "epoch": state.epoch,
        "max_epoch": state.max_epoch,
        "iteration": state.iteration,
        "epoch_iterations": state.count_in_epoch(),
        "epoch_done": state.epoch_done,
        "event_counts": state.event_counts,
        "history": {
            str(epoch): {k: _to_json(v) for k, v in metrics.items()}
            for epoch, metrics in state.history.items()
        },
        "metrics": {k: _to_json(v) for k, v in state.metrics.items()},
        "layout": layout(tree),
        "times": {str(k): v for k, v in state.times.items()},
        "handler_metadata": handler_metadata,
        "data_position": checked_position(state.data_position),
    }
    try:
        # A deep copy: backends may write in the background while the run goes on
        # changing the live counters and handler_metadata.
        metadata = json.loads(json.dumps(metadata))
    except TypeError as error:
        raise TypeError(
            f"state.handler_metadata must hold only JSON values (str, numbers, lists, dicts) "
            f"so it can be checkpointed: {error}. Keep open objects in state.resources."
        ) from None
    return tree, metadata


def restore(state: State, tree: dict[str, Any], metadata: dict[str, Any]) -> None:
    """Overwrite ``state`` (a fresh state of the same loop) with a snapshot whose layout was
    checked (:func:`check_layout`)."""
    check_format(metadata)
    state.step_state = tree["step_state"]
    state.metric_state = tree["metric_state"]
    state.epoch = metadata["epoch"]
    state.iteration = metadata["iteration"]
    state.epoch_done = metadata["epoch_done"]
    state.event_counts = metadata["event_counts"]
    state.history = {
        int(epoch): {k: _from_json(v) for k, v in metrics.items()}
        for epoch, metrics in metadata["history"].items()
    }
    if state.epoch_done:  # saved by an epoch_completed handler, before history was written
        state.history[state.epoch] = {k: _from_json(v) for k, v in metadata["metrics"].items()}
    state.times = {int(k): v for k, v in metadata["times"].items()}
    state.handler_metadata = metadata["handler_metadata"]
    # accumulated metrics are replaced by the device accumulators when the run goes on
    state.metrics = {k: _from_json(v) for k, v in metadata["metrics"].items()}
    state.resumed_from = metadata["iteration"]
    state.run_id = metadata.get("run_id", state.run_id)  # checkpoints before run ids had none
    state.data_position = metadata.get("data_position")  # None: replayed (or none was saved)


def check_format(metadata: dict[str, Any]) -> None:
    if metadata.get("format") != FORMAT_VERSION:
        raise ValueError(
            f"This checkpoint has format {metadata.get('format')!r}; this version of axon-loop "
            f"reads format {FORMAT_VERSION}."
        )


def serialize_state(state: State) -> bytes:
    """The whole loop state as bytes: an ``.npz`` archive of arrays plus JSON metadata.

    The archive also records a digest of every array and of the metadata, which
    :func:`deserialize_state` verifies. Loading never executes code
    (``allow_pickle=False``).

    >>> import jax.numpy as jnp, axon.loop
    >>> counter = axon.loop.loop(lambda batch, total: total + batch.sum())
    >>> state = counter.run([jnp.ones(2)] * 3, jnp.float32(0))
    >>> blob = axon.loop.serialize_state(state)
    >>> blob[:2]  # an .npz archive is a zip file
    b'PK'
    >>> restored = axon.loop.deserialize_state(blob, like=state)
    >>> restored.iteration, restored.epoch_done, float(restored.step_state)
    (3, True, 6.0)
    """
    tree, metadata = snapshot(state)
    host, keys = to_host(tree)
    text = json.dumps(metadata)
    integrity = {"metadata": text_digest(text), "leaves": describe(host, keys)}
    arrays = {f"leaf_{i}": leaf for i, leaf in enumerate(jax.tree_util.tree_leaves(host))}
    arrays["metadata"] = np.frombuffer(text.encode(), dtype=np.uint8)
    arrays["integrity"] = np.frombuffer(json.dumps(integrity).encode(), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def deserialize_state(data: bytes, like: State) -> State:
    """A ``State`` from :func:`serialize_state`'s bytes, structured like ``like``.

    ``like`` is a state of the same loop (e.g. from a short run, or the one
    serialized); its arrays are replaced, its structure checked.

    Raises:
        ValueError: ``data`` is not what :func:`serialize_state` writes, or was
            saved from another loop.
        CheckpointCorruptedError: the data is damaged (a digest does not match).

    >>> import jax.numpy as jnp, optax, axon.loop
    >>> init = lambda key, x: {"w": jnp.zeros((x.shape[-1], 1))}
    >>> apply = lambda p, x, *, mode, key: (x @ p["w"], None)
    >>> data = [(jnp.ones((4, 2)), jnp.full((4, 1), 2.0))] * 3
    >>> trainer = axon.loop.trainer((init, apply), "mean_squared_error", optax.sgd(0.1), log=0)
    >>> first = trainer.replace(output_transform=None).run(data)
    >>> restored = axon.loop.deserialize_state(axon.loop.serialize_state(first), like=first)
    >>> trainer.from_state(restored).replace(output_transform=None).run(data, epochs=2).iteration
    6
    >>> try:
    ...     axon.loop.deserialize_state(b"not a state", like=first)
    ... except ValueError as error:
    ...     print(str(error).split(" (")[0])
    These bytes are not a state written by axon.loop.serialize_state
    """
    metadata, integrity, stored = _read_archive(data)
    where = "The serialized state"
    for key in ("layout", "format"):
        if key not in metadata:
            raise CheckpointCorruptedError(f"{where} is damaged: its metadata lacks {key!r}.")
    check_format(metadata)
    paths = [path for path, _, _ in metadata["layout"]]
    if len(stored) != len(paths):
        raise CheckpointCorruptedError(
            f"{where} is damaged: it holds {len(stored)} arrays, its metadata lists {len(paths)}."
        )
    entries = [{}] * len(paths)  # written before digests: nothing to check or rebuild
    if integrity is not None:
        if set(paths) != set(integrity.get("leaves", {})):
            raise CheckpointCorruptedError(f"{where} is damaged: its digests are not its arrays'.")
        verify(dict(zip(paths, stored, strict=True)), integrity["leaves"], where)
        entries = [integrity["leaves"][path] for path in paths]
    leaves_like, treedef = jax.tree_util.tree_flatten(
        {"step_state": like.step_state, "metric_state": like.metric_state}
    )
    if len(stored) != len(leaves_like):
        raise ValueError(
            f"The serialized state has {len(stored)} arrays; this loop's state has "
            f"{len(leaves_like)}. It was saved from a different model or loop."
        )
    state = State(step_state=like.step_state, max_epoch=like.max_epoch)
    state.metric_state = like.metric_state
    check_layout(state, metadata)
    leaves = [jax.numpy.asarray(rebuild(a, e)) for a, e in zip(stored, entries, strict=True)]
    restore(state, jax.tree_util.tree_unflatten(treedef, leaves), metadata)
    return state


def _read_archive(data: bytes) -> tuple[dict[str, Any], dict[str, Any] | None, list[np.ndarray]]:
    """The metadata, integrity record (None if it has none) and arrays of a
    :func:`serialize_state` archive."""
    # numpy's own messages would suggest loading pickled objects: never
    not_a_state = (
        "These bytes are not a state written by axon.loop.serialize_state ({}). Pass what "
        "serialize_state returned, unchanged."
    )
    try:
        archive = np.load(io.BytesIO(data), allow_pickle=False)
    except (OSError, EOFError, ValueError, zipfile.BadZipFile):
        raise ValueError(not_a_state.format("not an .npz archive")) from None
    if not isinstance(archive, np.lib.npyio.NpzFile) or "metadata" not in archive.files:
        raise ValueError(not_a_state.format("an archive without the state's metadata"))
    with archive:
        names = set(archive.files)
        count = sum(1 for name in names if name.startswith("leaf_"))
        try:
            stored = [archive[f"leaf_{i}"] for i in range(count)]
            texts = [archive[name].tobytes() for name in ("metadata", "integrity") if name in names]
        except ValueError:  # object arrays
            raise ValueError(not_a_state.format("it holds Python objects, never loaded")) from None
        except (OSError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as error:
            raise CheckpointCorruptedError(
                f"The serialized state is damaged: {type(error).__name__}: {error}."
            ) from None
    try:
        metadata, *integrity = (json.loads(text.decode()) for text in texts)
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError
        raise CheckpointCorruptedError(
            f"The serialized state is damaged: its metadata is not readable ({error})."
        ) from None
    if not integrity:
        warnings.warn(
            "The serialized state was written without digests (by an earlier axon-loop); its "
            "arrays are read unverified.",
            stacklevel=3,
        )
        return metadata, None, stored
    (integrity,) = integrity
    if text_digest(texts[0].decode()) != integrity.get("metadata"):
        raise CheckpointCorruptedError(
            "The serialized state is damaged: its metadata does not match the digest recorded "
            "when it was written."
        )
    return metadata, integrity, stored


def layout(tree: Any) -> list[list[Any]]:
    """Every leaf's path, shape and dtype: what a checkpoint must match to be restored."""
    return [
        [
            jax.tree_util.keystr(path),
            list(np.shape(leaf)),
            str(getattr(leaf, "dtype", None) or np.result_type(leaf)),
        ]
        for path, leaf in jax.tree_util.tree_leaves_with_path(tree)
    ]


def check_layout(
    state: State,
    metadata: dict[str, Any],
    *,
    batch_shaped: Callable[[], set[str]] = set,
    last_batch: str | None = None,
) -> dict[str, list[int]]:
    """Refuse, before reading any array, a checkpoint that another loop, model or data wrote.

    Leaves whose shape follows the batch (``batch_shaped()``, e.g. a trainer's
    ``y_pred``) may differ when the state was built from another batch than the
    one the checkpointed step ran last: their checkpoint shapes are returned, to
    restore them as saved. ``last_batch`` names that very batch when the state was
    built from it (a resume inside an epoch): then a difference means other data.
    """
    expected = layout({"step_state": state.step_state, "metric_state": state.metric_state})
    stored = metadata["layout"]
    if stored == expected:
        return {}
    ours = {path: (shape, dtype) for path, shape, dtype in expected}
    theirs = {path: (shape, dtype) for path, shape, dtype in stored}
    differing = [p for p in ours if p in theirs and ours[p] != theirs[p]]
    problems = [f"{p}: missing in the checkpoint" for p in ours if p not in theirs]
    problems += [f"{p}: only in the checkpoint" for p in theirs if p not in ours]
    problems += [
        f"{p}: {theirs[p][0]} {theirs[p][1]} in the checkpoint, {ours[p][0]} {ours[p][1]} here"
        for p in differing
    ]
    shape_only = len(problems) == len(differing) and all(
        ours[p][1] == theirs[p][1] for p in differing
    )
    if shape_only and set(differing) <= batch_shaped():
        # with several processes, each builds its state from its own share of a batch,
        # and the checkpoint holds the global arrays: process_count() times as many rows
        share = jax.process_count()
        if last_batch is None or all(
            _rows_times(ours[p][0], share) == theirs[p][0] for p in differing
        ):
            return {p: theirs[p][0] for p in differing}
        raise ValueError(
            f"The checkpoint does not match the data: {last_batch}, the last batch the "
            f"checkpointed step ran on, gives other shapes than it did then, so the data is "
            f"batched differently (another batch size?); nothing was loaded:\n  "
            + "\n  ".join(problems[:10])
            + "\nResume with the same batches as the interrupted run."
        )
    raise ValueError(
        "The checkpoint does not match this loop (another model, optimizer or set of "
        "metrics?); nothing was loaded:\n  "
        + "\n  ".join(problems[:10])
        + _whole_entries(set(ours) - set(theirs), set(theirs) - set(ours), set(ours) | set(theirs))
    )


def _rows_times(shape: list[int], factor: int) -> list[int]:
    return [shape[0] * factor, *shape[1:]] if shape else shape


_ENTRY = re.compile(r"^\['(step_state|metric_state)'\]\['([^']+)'\]")


def _whole_entries(only_here: set[str], only_there: set[str], every: set[str]) -> str:
    """A hint naming the step- or metric-state entries one side has and the other lacks
    entirely: a handler or trainer option that adds one was added or removed."""

    def entries(paths: set[str]) -> set[str]:
        found = {m.group(0) for m in map(_ENTRY.match, paths) if m}
        return {e for e in found if all(p in paths for p in every if p.startswith(e))}

    sides = [
        f"{side}: {', '.join(sorted(found))}"
        for side, found in (("only here", entries(only_here)),
                            ("only in the checkpoint", entries(only_there)))
        if found
    ]  # fmt: skip
    if not sides:
        return ""
    return (
        f"\nWhole entries differ ({'; '.join(sides)}): an option that adds one (e.g. "
        f"early_stop(restore_best=True), trainer(gradient_norm=True), a metric) is not the "
        f"same as in the loop that wrote the checkpoint. Resume with that loop's options."
    )


def _to_json(value: Any) -> Any:
    array = np.asarray(value)
    if array.ndim:
        return [_to_json(v) for v in array]
    number = float(array)
    return number if math.isfinite(number) else {"nonfinite": repr(number)}


def _from_json(value: Any) -> Any:
    if isinstance(value, dict):
        return float(value["nonfinite"])
    return np.asarray(value, dtype=np.float32) if isinstance(value, list) else np.float32(value)
