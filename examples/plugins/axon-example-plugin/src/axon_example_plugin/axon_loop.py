"""Entry for axon-loop: the ``"npz"`` checkpoint backend, one ``.npz`` file per step.

Registered in the ``axon.loop`` entry-point group, so
``loop.checkpoint(path, backend="npz", keep=2)`` writes with it.

A step ``n`` is two files in the checkpoint directory: ``step_<n>.npz`` (the
leaves of the tree, in ``jax.tree_util`` flattening order) and ``step_<n>.json``
(the metadata, plus each leaf's path and dtype so a restore can check that the
tree it is given has the same structure). Both are written to a temporary file
first and moved into place with :func:`os.replace`, so a crash leaves either the
previous state or the complete new step, never half a file. Nothing is pickled.

A directory belongs to one run: each sidecar records the run id, a store opened
with ``run_id=`` refuses another run's steps (or, with ``overwrite=True``,
deletes them), and ``keep`` deletes only this run's old steps.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import jax
import jax.numpy as jnp
import numpy as np

from axon.loop.checkpoint import CheckpointDirectoryError
from axon.loop.plugins import hookimpl

_STEP_FILE = re.compile(r"step_(\d+)\.npz")


class NpzBackend:
    """Checkpoints as ``<path>/step_<n>.npz`` plus a JSON sidecar; keeps the newest ``keep``.

    Implements the ``axon.loop.checkpoint.CheckpointBackend`` protocol. Writes are
    synchronous, so :meth:`close` has nothing left to wait for.

    Args:
        path: the checkpoint directory; created by the first save (or the claim).
        keep: how many of this run's newest steps to keep (``None`` keeps all).
        run_id: the run that writes here; given, the directory is claimed at once
            (another run's steps are refused). Without it, the first save claims
            the directory for a new run id.
        overwrite: when claiming, delete another run's steps instead of refusing.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        keep: int | None = None,
        run_id: str | None = None,
        overwrite: bool = False,
    ):
        if keep is not None and (isinstance(keep, bool) or not isinstance(keep, int) or keep < 1):
            raise ValueError(f"keep must be a positive int or None (keep all), got {keep!r}.")
        self.path = Path(path).absolute()
        self.keep = keep
        self.overwrite = overwrite
        self.run_id: str | None = None
        if run_id is not None:
            self._claim(run_id)

    def _claim(self, run_id: str) -> None:
        """Make the directory this run's: another run's steps are refused or, with
        ``overwrite``, deleted. Files that are not steps are left alone."""
        self.path.mkdir(parents=True, exist_ok=True)
        others = [step for step in self.steps() if self._run_of(step) != run_id]
        if others and not self.overwrite:
            raise CheckpointDirectoryError(
                f"{str(self.path)!r} holds the checkpoints of another run (steps {others}). "
                f"Resume them (run(..., resume_from=path)), choose another path, or pass "
                f"checkpoint(..., overwrite=True) to delete them."
            )
        for step in others:
            self._delete(step)
        self.run_id = run_id

    # -- the CheckpointBackend protocol -------------------------------------------------

    def save(self, step: int, tree: Any, metadata: Mapping[str, Any]) -> None:
        """Write ``tree`` (a pytree of arrays) and JSON-able ``metadata`` as ``step``."""
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise ValueError(f"A checkpoint step must be a non-negative int, got {step!r}.")
        paths, leaves = _flatten(tree)
        arrays = [_to_numpy(path, leaf) for path, leaf in zip(paths, leaves, strict=True)]
        sidecar = {
            "step": step,
            "metadata": dict(metadata),
            "leaves": paths,
            "dtypes": [str(array.dtype) for array in arrays],
        }
        _metadata_json(sidecar)  # fails before anything is written (or claimed)
        if self.run_id is None:
            self._claim(uuid.uuid4().hex)
        text = _metadata_json({**sidecar, "run_id": self.run_id})
        named = {f"leaf_{i}": array for i, array in enumerate(arrays)}
        # The sidecar goes first: steps() lists .npz files, so a step only appears
        # once both of its files are complete.
        _write_atomically(self._file(step, "json"), lambda file: file.write(text.encode()))
        _write_atomically(self._file(step, "npz"), lambda file: np.savez(file, **named))
        self._drop_old_steps()

    def restore(self, step: int | None = None, *, like: Any) -> tuple[Any, dict[str, Any]]:
        """Read ``(tree, metadata)`` of ``step`` (the latest if None), structured like ``like``.

        ``like`` is a pytree of arrays (or ``jax.ShapeDtypeStruct``) with the saved
        structure and shapes; the result has its structure and holds JAX arrays of
        the saved dtypes.
        """
        step = self._existing(step)
        sidecar = self._sidecar(step)
        wanted, templates = _flatten(like)
        if wanted != sidecar["leaves"]:
            raise ValueError(
                f"The checkpoint of step {step} in {str(self.path)!r} holds the leaves "
                f"{sidecar['leaves']}, but `like` has {wanted}. Pass a tree built the same "
                f"way as the one that was saved."
            )
        # allow_pickle=False: loading a checkpoint must never run code from the file.
        with np.load(self._file(step, "npz"), allow_pickle=False) as stored:
            arrays = [stored[f"leaf_{i}"] for i in range(len(wanted))]
        leaves = [
            _from_numpy(path, array, dtype, template)
            for path, array, dtype, template in zip(
                wanted, arrays, sidecar["dtypes"], templates, strict=True
            )
        ]
        tree = jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(like), leaves)
        return tree, sidecar["metadata"]

    def metadata(self, step: int | None = None) -> dict[str, Any]:
        """Only the JSON metadata of ``step`` (the latest if None): the sidecar, no arrays."""
        return self._sidecar(self._existing(step))["metadata"]

    def _existing(self, step: int | None) -> int:
        steps = self.steps()
        chosen = steps[-1] if step is None and steps else step
        if chosen not in steps:
            which = "" if step is None else f"of step {step} "
            raise FileNotFoundError(
                f"No checkpoint {which}in {str(self.path)!r}; saved steps: {steps}."
            )
        return chosen

    def _sidecar(self, step: int) -> dict[str, Any]:
        return json.loads(self._file(step, "json").read_text(encoding="utf-8"))

    def steps(self) -> list[int]:
        """The saved steps, oldest first."""
        if not self.path.is_dir():
            return []
        found = (_STEP_FILE.fullmatch(entry.name) for entry in self.path.iterdir())
        return sorted(int(match.group(1)) for match in found if match)

    def close(self) -> None:
        """Nothing to finish: every save has completed when it returns."""

    # -- helpers ------------------------------------------------------------------------

    def _file(self, step: int, suffix: str) -> Path:
        return self.path / f"step_{step}.{suffix}"

    def _run_of(self, step: int) -> str | None:
        try:
            return self._sidecar(step).get("run_id")
        except (OSError, ValueError):
            return None

    def _drop_old_steps(self) -> None:
        if self.keep is None:
            return
        ours = [step for step in self.steps() if self._run_of(step) == self.run_id]
        for step in ours[: -self.keep]:
            self._delete(step)

    def _delete(self, step: int) -> None:
        # The .npz first, so the step disappears from steps() before its sidecar goes.
        self._file(step, "npz").unlink(missing_ok=True)
        self._file(step, "json").unlink(missing_ok=True)

    def __repr__(self) -> str:
        return f"NpzBackend({str(self.path)!r}, keep={self.keep!r})"


def _flatten(tree: Any) -> tuple[list[str], list[Any]]:
    """The leaves of ``tree`` and their paths (``"['params']['dense_0']"``), in jax order."""
    with_paths, _ = jax.tree_util.tree_flatten_with_path(tree)
    return [jax.tree_util.keystr(path) for path, _ in with_paths], [leaf for _, leaf in with_paths]


def _to_numpy(path: str, leaf: Any) -> np.ndarray:
    dtype = getattr(leaf, "dtype", None)
    if dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
        raise TypeError(
            f"Leaf {path} is a typed PRNG key, which .npz cannot store; save "
            f"jax.random.key_data(key) instead and rebuild it with jax.random.wrap_key_data."
        )
    return np.asarray(leaf)


def _from_numpy(path: str, array: np.ndarray, dtype: str, template: Any) -> jax.Array:
    shape = tuple(getattr(template, "shape", np.shape(template)))
    if array.shape != shape:
        raise ValueError(f"Leaf {path} was saved with shape {array.shape}, `like` has {shape}.")
    if array.dtype.kind == "V":
        # numpy stores dtypes it does not know natively (bfloat16, float8...) as raw
        # bytes; the sidecar has the real dtype to reinterpret them with.
        array = array.view(jnp.dtype(dtype))
    return jnp.asarray(array)


def _metadata_json(sidecar: dict[str, Any]) -> str:
    try:
        return json.dumps(sidecar, allow_nan=False, indent=1)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"Checkpoint metadata must be JSON-serializable with finite numbers: {error}."
        ) from error


def _write_atomically(target: Path, write: Callable[[BinaryIO], Any]) -> None:
    """Run ``write(file)`` on a temporary file next to ``target``, then move it into place."""
    temporary = target.with_name(f".{target.name}.tmp")
    try:
        with open(temporary, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())  # the data is on disk before the rename makes it visible
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


@hookimpl
def axon_checkpoint_backends():
    return {"npz": NpzBackend}
