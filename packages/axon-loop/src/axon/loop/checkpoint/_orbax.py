"""The built-in ``"orbax"`` backend: one orbax checkpoint per step, verified on reading.

Each step folder holds three orbax items: ``state`` (the arrays), ``metadata``
(the caller's JSON) and ``integrity`` (the run id and a digest of every array
and of the metadata). Writes are atomic (orbax writes a temporary folder and
renames it) and run on a worker thread; rotation (``keep``) is done here, and
deletes only steps that this run wrote. See ``_directory`` for the layout.
"""

from __future__ import annotations

import json
import os
import uuid
import warnings
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ._background import BackgroundWriter
from ._directory import INTEGRITY_ITEM, MARKER, check_not_a_file, claim, read_marker, remove, scan
from ._errors import CheckpointCorruptedError, CheckpointError
from ._integrity import SHARDED, checksums, describe, rebuild, text_digest, to_host, verify

INTEGRITY_FORMAT = 1


class OrbaxBackend:
    """Checkpoints with orbax-checkpoint: atomic, written in the background, verified on reading.

    Args:
        path: the checkpoint directory.
        keep: keep the newest ``keep`` steps of this run, deleting older ones
            after each save (``None`` keeps all). Another run's steps are never deleted.
        run_id: the run that writes here. Given, the directory is claimed at once:
            created if missing, continued if it is this run's, refused with
            :class:`CheckpointDirectoryError` if it holds another run's checkpoints
            or anything else. Without it, the store only reads until its first
            ``save``, which claims the directory for a new run id.
        overwrite: when claiming, delete another run's checkpoints (and nothing
            else) instead of refusing them.

    Every array's digest is recorded when a step is written and checked when it is
    read: damaged data raises :class:`CheckpointCorruptedError`.

    >>> import tempfile, jax.numpy as jnp
    >>> backend = OrbaxBackend(tempfile.mkdtemp(), keep=2)
    >>> for step in (1, 2, 3):
    ...     backend.save(step, {"w": jnp.full(2, step)}, {"epoch": step})
    >>> backend.steps()
    [2, 3]
    >>> tree, metadata = backend.restore(like={"w": jnp.zeros(2)})
    >>> tree["w"].tolist(), metadata
    ([3.0, 3.0], {'epoch': 3})
    >>> backend.close()
    """

    def __repr__(self) -> str:
        return f"OrbaxBackend({self.path!r})"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        keep: int | None = None,
        run_id: str | None = None,
        overwrite: bool = False,
    ):
        # orbax takes ~0.1 s to import: paid by runs that checkpoint, not by `import axon.loop`
        import orbax.checkpoint as ocp

        if keep is not None and (isinstance(keep, bool) or not isinstance(keep, int) or keep < 1):
            raise ValueError(f"keep must be a positive int or None (keep all), got {keep!r}.")
        self.path = os.path.abspath(os.fspath(path))
        check_not_a_file(self.path)
        self.keep = keep
        self._ocp = ocp
        # Barriers through jax.distributed's coordinator, not a device collective: the
        # writes run on a worker thread while the main thread's step runs collectives.
        processes = ocp.options.MultiprocessingOptions(
            active_processes=set(range(jax.process_count())) if jax.process_count() > 1 else None
        )
        self._checkpointer = ocp.Checkpointer(
            ocp.CompositeCheckpointHandler(
                composite_options=ocp.CompositeOptions(multiprocessing_options=processes)
            ),
            multiprocessing_options=processes,
        )
        self._writer = BackgroundWriter()
        self._overwrite = overwrite
        self._run_id: str | None = None
        self._runs: dict[int, str | None] = {}  # the run id each step records, once read
        # with several processes, process 0 alone manages the directory
        self._primary = jax.process_index() == 0
        if run_id is not None:
            self._claim(run_id)

    @property
    def run_id(self) -> str | None:
        """The run this directory belongs to (None if no run claimed it yet).

        >>> import tempfile
        >>> from axon.loop.checkpoint import OrbaxBackend
        >>> path = tempfile.mkdtemp()
        >>> OrbaxBackend(path).run_id is None
        True
        >>> OrbaxBackend(path, run_id="3f2a").run_id
        '3f2a'
        >>> OrbaxBackend(path).run_id  # a reader finds the marker the claim wrote
        '3f2a'
        """
        if self._run_id is not None:
            return self._run_id
        return read_marker(self.path) if os.path.isdir(self.path) else None

    def _claim(self, run_id: str) -> None:
        if self._primary:
            claim(self.path, run_id, overwrite=self._overwrite, run_of=self._run_of)
        self._run_id = run_id

    # -- writing ------------------------------------------------------------------------------

    def save(self, step: int, tree: Any, metadata: Mapping[str, Any]) -> None:
        """Start writing ``tree`` and ``metadata`` as ``step``; return before the files are.

        The arrays are copied to host memory first, so the caller may change or
        donate them at once; hashing and writing run on a worker thread, one save at
        a time. A write that fails is raised by the next call on this store (or
        :meth:`close`), never skipped. The write is atomic: a step appears in
        :meth:`steps` only once complete. With ``keep=N`` the oldest steps of this
        run beyond N are deleted.

        >>> import tempfile, jax.numpy as jnp
        >>> from axon.loop.checkpoint import OrbaxBackend
        >>> tmp = tempfile.TemporaryDirectory()
        >>> backend = OrbaxBackend(tmp.name, keep=1)
        >>> backend.save(1, {"w": jnp.zeros(2)}, {"epoch": 0})
        >>> backend.save(2, {"w": jnp.ones(2)}, {"epoch": 1})
        >>> backend.steps()
        [2]
        >>> backend.close()
        >>> tmp.cleanup()
        """
        self._writer.wait()
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise ValueError(f"A checkpoint step must be a non-negative int, got {step!r}.")
        try:  # a deep copy, checked now: the caller goes on changing its own
            text = json.dumps(dict(metadata), sort_keys=True)
        except (TypeError, ValueError) as error:
            raise TypeError(f"Checkpoint metadata must be JSON-serializable: {error}.") from None
        if self._run_id is None:
            self._claim(uuid.uuid4().hex)
        if self._primary:
            self._rewind(step)
        # on this thread: the step donates the buffers next; sharded arrays stay on their
        # devices (each process writes its own shards) and are checksummed there
        host, keys = to_host(tree, keep_sharded=True)
        sums = checksums(host)
        self._writer.submit(
            lambda: self._write(step, host, keys, sums, text),
            f"Writing checkpoint step {step} to {self.path!r}",
        )

    def _write(
        self, step: int, host: Any, keys: dict[str, str], sums: dict[str, Any], text: str
    ) -> None:
        """The worker's part of a save: digests, the orbax write, then rotation."""
        record = {
            "format": INTEGRITY_FORMAT,
            "run_id": self._run_id,
            "metadata": text_digest(text),
            "leaves": describe(host, keys, sums),
        }
        args = self._ocp.args
        self._checkpointer.save(
            self._step_path(step),
            args=args.Composite(
                state=args.StandardSave(host),
                metadata=args.JsonSave(json.loads(text)),
                integrity=args.JsonSave(record),
            ),
        )
        self._runs[step] = self._run_id
        if self._primary and self.keep is not None:
            ours = [s for s in scan(self.path).steps if self._run_of(s) == self._run_id]
            for old in ours[: -self.keep]:
                remove(self.path, [str(old)])
                self._runs.pop(old, None)

    def _rewind(self, step: int) -> None:
        """Delete this run's steps at or after ``step``: a resumed run that continues from an
        earlier point replaces them (e.g. damaged ones it fell back from)."""
        if not os.path.isdir(self.path):
            return
        later = [s for s in scan(self.path).complete if s >= step]
        if not later:
            return
        # steps whose run id cannot be read are damaged ones of this run: the directory is its own
        foreign = [s for s in later if self._run_of(s) not in (self._run_id, None)]
        if foreign:
            raise CheckpointError(
                f"Cannot write checkpoint step {step} to {self.path!r}: steps {foreign} there "
                f"belong to another run."
            )
        warnings.warn(
            f"Deleting checkpoints {later} of this run in {self.path!r}: the run continues "
            f"from an earlier point (step {step} is being written), so they belong to a "
            f"continuation it replaces.",
            stacklevel=3,
        )
        remove(self.path, [str(s) for s in later])
        for s in later:
            self._runs.pop(s, None)

    # -- reading ------------------------------------------------------------------------------

    def restore(self, step: int | None = None, *, like: Any) -> tuple[Any, dict[str, Any]]:
        """Read ``(tree, metadata)`` of ``step`` (the latest if None) with the structure,
        shapes and dtypes of ``like``, after checking every array against its digest.

        ``like`` is a pytree of arrays or ``jax.ShapeDtypeStruct`` with the saved
        structure and shapes; arrays are placed like its leaves.

        Raises:
            FileNotFoundError: there is no such checkpoint.
            CheckpointCorruptedError: the step's data is damaged (names the array).
            ValueError: ``like`` has another structure or shapes than the saved tree.

        >>> import tempfile, jax.numpy as jnp
        >>> from axon.loop.checkpoint import OrbaxBackend
        >>> tmp = tempfile.TemporaryDirectory()
        >>> backend = OrbaxBackend(tmp.name)
        >>> try:
        ...     backend.restore(like={"w": jnp.zeros(2)})
        ... except FileNotFoundError:
        ...     print("nothing saved yet")
        nothing saved yet
        >>> backend.save(1, {"w": jnp.ones(2)}, {"epoch": 0})
        >>> tree, metadata = backend.restore(like={"w": jnp.zeros(2)})
        >>> tree["w"].tolist(), metadata
        ([1.0, 1.0], {'epoch': 0})
        >>> backend.close()
        >>> tmp.cleanup()
        """
        self._writer.wait()
        step = self._existing(step)
        record = self._record(step)
        metadata = self._metadata(step, record)
        if record is None:
            return self._restore_unverified(step, like), metadata
        where = self._where(step)
        stored = record["leaves"]
        with_paths, treedef = jax.tree_util.tree_flatten_with_path(like)
        wanted = [jax.tree_util.keystr(path) for path, _ in with_paths]
        if sorted(wanted) != sorted(stored):
            missing = [p for p in stored if p not in wanted]
            extra = [p for p in wanted if p not in stored]
            raise ValueError(
                f"`like` does not have the structure of {where}: it lacks {missing[:5]} and "
                f"has {extra[:5]} in addition. Pass a tree built like the one that was saved."
            )
        target = jax.tree_util.tree_unflatten(
            treedef,
            [_target(stored[p], leaf) for p, (_, leaf) in zip(wanted, with_paths, strict=True)],
        )
        restored = self._read(step, state=self._ocp.args.StandardRestore(target)).state
        arrays = {
            p: value if SHARDED in stored[p] else np.asarray(value)
            for p, value in zip(wanted, jax.tree_util.tree_leaves(restored), strict=True)
        }
        verify(arrays, stored, where)
        leaves = [
            _placed_like(rebuild(arrays[p], stored[p]), leaf, p, where)
            for p, (_, leaf) in zip(wanted, with_paths, strict=True)
        ]
        return jax.tree_util.tree_unflatten(treedef, leaves), metadata

    def _restore_unverified(self, step: int, like: Any) -> Any:
        warnings.warn(
            f"{self._where(step)} was written without digests (by an earlier axon-loop); its "
            f"arrays are read unverified.",
            stacklevel=3,
        )
        abstract = jax.tree_util.tree_map(self._ocp.utils.to_shape_dtype_struct, like)
        return self._read(step, state=self._ocp.args.StandardRestore(abstract)).state

    def metadata(self, step: int | None = None) -> dict[str, Any]:
        """The JSON metadata of ``step`` (the latest if None), without reading the arrays.

        Raises:
            FileNotFoundError: there is no such checkpoint.
            CheckpointCorruptedError: the metadata is damaged.

        >>> import tempfile, jax.numpy as jnp
        >>> from axon.loop.checkpoint import OrbaxBackend
        >>> tmp = tempfile.TemporaryDirectory()
        >>> backend = OrbaxBackend(tmp.name)
        >>> backend.save(1, {"w": jnp.ones(2)}, {"epoch": 0})
        >>> backend.save(2, {"w": jnp.ones(2)}, {"epoch": 1})
        >>> backend.metadata(), backend.metadata(1)
        ({'epoch': 1}, {'epoch': 0})
        >>> backend.close()
        >>> tmp.cleanup()
        """
        self._writer.wait()
        step = self._existing(step)
        return self._metadata(step, self._record(step))

    def _metadata(self, step: int, record: dict[str, Any] | None) -> dict[str, Any]:
        metadata = self._read(step, metadata=self._ocp.args.JsonRestore()).metadata
        if not isinstance(metadata, dict) or (
            record is not None
            and text_digest(json.dumps(metadata, sort_keys=True)) != record["metadata"]
        ):
            raise CheckpointCorruptedError(
                f"{self._where(step)} is damaged: its metadata does not match the digest "
                f"recorded when it was written. {_WHAT_TO_DO}"
            )
        return metadata

    def _record(self, step: int) -> dict[str, Any] | None:
        """The step's integrity record; None for a step written before there were any."""
        if not os.path.isdir(os.path.join(self._step_path(step), INTEGRITY_ITEM)):
            if os.path.exists(os.path.join(self.path, MARKER)):
                raise CheckpointCorruptedError(
                    f"{self._where(step)} is damaged: its integrity record is missing. "
                    f"{_WHAT_TO_DO}"
                )
            return None
        record = self._read(step, integrity=self._ocp.args.JsonRestore()).integrity
        if not isinstance(record, dict) or record.get("format") != INTEGRITY_FORMAT:
            raise CheckpointCorruptedError(
                f"{self._where(step)} is damaged: its integrity record is not readable. "
                f"{_WHAT_TO_DO}"
            )
        self._runs[step] = record.get("run_id")
        return record

    def _run_of(self, step: int) -> str | None:
        """The run id ``step`` records, or None if it records none or cannot be read."""
        if step not in self._runs:
            try:
                self._record(step)
            except CheckpointCorruptedError:
                self._runs[step] = None
        return self._runs.get(step)

    def _read(self, step: int, **items: Any) -> Any:
        """Orbax restore arguments by item name → the restored items; any library error
        (orbax, TensorStore, JSON, Unicode) becomes a CheckpointCorruptedError."""
        try:
            return self._checkpointer.restore(
                self._step_path(step), args=self._ocp.args.Composite(**items)
            )
        except Exception as error:
            raise CheckpointCorruptedError(
                f"{self._where(step)} is damaged: reading {'/'.join(items)} failed with "
                f"{type(error).__name__}: {_first_line(error)}. {_WHAT_TO_DO}"
            ) from error

    def steps(self) -> list[int]:
        """The saved steps, oldest first, after waiting for a write in flight.

        >>> import tempfile, jax.numpy as jnp
        >>> from axon.loop.checkpoint import OrbaxBackend
        >>> tmp = tempfile.TemporaryDirectory()
        >>> backend = OrbaxBackend(tmp.name)
        >>> backend.steps()
        []
        >>> backend.save(5, {"w": jnp.ones(2)}, {})
        >>> backend.steps()
        [5]
        >>> backend.close()
        >>> tmp.cleanup()
        """
        self._writer.wait()
        return scan(self.path).complete if os.path.isdir(self.path) else []

    def _existing(self, step: int | None) -> int:
        steps = self.steps()
        if step is None:
            if not steps:
                raise FileNotFoundError(f"No checkpoint in {self.path!r}.")
            return steps[-1]
        if step not in steps:
            raise FileNotFoundError(
                f"No checkpoint of step {step} in {self.path!r}; saved steps: {steps}."
            )
        return step

    def close(self) -> None:
        """Wait for a write in flight (raising its error), then release orbax's resources.

        >>> import tempfile, jax.numpy as jnp
        >>> from axon.loop.checkpoint import OrbaxBackend
        >>> tmp = tempfile.TemporaryDirectory()
        >>> backend = OrbaxBackend(tmp.name)
        >>> backend.save(5, {"w": jnp.ones(2)}, {"epoch": 0})
        >>> backend.close()
        >>> OrbaxBackend(tmp.name).metadata(5)
        {'epoch': 0}
        >>> tmp.cleanup()
        """
        try:
            self._writer.close()
        finally:
            self._checkpointer.close()

    def _step_path(self, step: int) -> str:
        return os.path.join(self.path, str(step))

    def _where(self, step: int) -> str:
        return f"Checkpoint step {step} in {self.path!r}"


_WHAT_TO_DO = (
    "Resume from an earlier step (run(resume_from=...) and resume='auto' fall back to the "
    "newest intact one by themselves) or delete this step's folder."
)


def _target(entry: dict[str, Any], like: Any) -> jax.ShapeDtypeStruct:
    """What orbax reads for a saved leaf: a sharded one straight into ``like``'s sharding
    (each process reads the parts its devices hold, whatever mesh wrote them)."""
    shape, dtype = entry["shape"], jnp.dtype(entry["dtype"])
    if SHARDED not in entry:
        return jax.ShapeDtypeStruct(shape, dtype)
    sharding = getattr(like, "sharding", None)
    if sharding is None or tuple(getattr(like, "shape", ())) != tuple(shape):
        sharding = jax.sharding.SingleDeviceSharding(jax.devices()[0])
    return jax.ShapeDtypeStruct(shape, dtype, sharding=sharding)


def _placed_like(value: Any, like: Any, path: str, where: str) -> Any:
    """A restored leaf with the shape, dtype and placement of ``like``'s leaf."""
    shape = tuple(getattr(like, "shape", np.shape(like)))
    if tuple(value.shape) != shape:
        raise ValueError(
            f"{where}: {path} was saved with shape {tuple(value.shape)}; `like` has {shape}."
        )
    if isinstance(value, np.ndarray):
        dtype = getattr(like, "dtype", None) or np.result_type(like)
        value = value.astype(dtype, copy=False)
        if isinstance(like, np.ndarray):
            return value
    return jax.device_put(value, getattr(like, "sharding", None))


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0][:300] if text else "no message"
