"""The layout of a checkpoint directory, and which run it belongs to.

::

    <path>/axon-checkpoints.json   {"kind": "axon-checkpoints", "version": 1, "run_id": ...}
    <path>/<step>/                 one folder per step, named by the iteration count

A run claims a directory before it writes: an empty or missing one, or one whose
marker names a run that never completed a checkpoint, becomes its own; one with
its own marker is continued (a resumed run). Checkpoints of another run are
refused unless ``overwrite=True``, which deletes them (and only them); anything
else in the directory is refused always, because it may be the user's data.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field

from ._errors import CheckpointCorruptedError, CheckpointDirectoryError

MARKER = "axon-checkpoints.json"
KIND = "axon-checkpoints"
VERSION = 1
#: The folder of a step holds one folder per item; this one marks a step of this layout.
INTEGRITY_ITEM = "integrity"
#: orbax writes a step under a temporary name and renames it when it is complete.
_TEMPORARY = ".orbax-checkpoint-tmp"
#: what orbax (any version) leaves in a step folder it wrote, with or without our items
_ORBAX_STEP_FILES = ("_CHECKPOINT_METADATA", "commit_success.txt")


@dataclass
class Listing:
    """What a checkpoint directory holds."""

    steps: list[int] = field(default_factory=list)  # complete steps with an integrity record
    legacy: list[int] = field(default_factory=list)  # orbax steps written without one
    temporary: list[str] = field(default_factory=list)  # interrupted writes
    foreign: list[str] = field(default_factory=list)  # anything else: never touched
    marker: bool = False

    @property
    def complete(self) -> list[int]:
        return sorted(self.steps + self.legacy)


def scan(path: str) -> Listing:
    """Sort the entries of ``path`` (which exists) into steps, interrupted writes and others."""
    listing = Listing()
    for entry in sorted(os.scandir(path), key=lambda e: e.name):
        name = entry.name
        if name == MARKER:
            listing.marker = entry.is_file()
            if not listing.marker:
                listing.foreign.append(name + "/")
        elif name.startswith(f".{MARKER}.") and name.endswith(".tmp"):
            listing.temporary.append(name)  # a marker being written when the process died
        elif _TEMPORARY in name and name.split(".")[0].isdigit() and entry.is_dir():
            listing.temporary.append(name)
        elif name.isdigit() and entry.is_dir() and str(int(name)) == name:
            if os.path.isdir(os.path.join(entry.path, INTEGRITY_ITEM)):
                listing.steps.append(int(name))
            elif any(os.path.exists(os.path.join(entry.path, f)) for f in _ORBAX_STEP_FILES):
                listing.legacy.append(int(name))
            else:
                listing.foreign.append(name + "/")
        else:
            listing.foreign.append(name + ("/" if entry.is_dir() else ""))
    listing.steps.sort()
    listing.legacy.sort()
    return listing


def read_marker(path: str) -> str | None:
    """The run id in ``path``'s marker, or None if there is no marker.

    Raises:
        CheckpointCorruptedError: the marker is not one this layout wrote.
    """
    marker = os.path.join(path, MARKER)
    try:
        with open(marker, encoding="utf-8") as file:
            content = json.load(file)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:  # JSONDecodeError and UnicodeDecodeError too
        raise CheckpointCorruptedError(
            f"The marker {marker!r} of a checkpoint directory is damaged ({error}). If the "
            f"checkpoints next to it are yours, delete the marker: the next run that resumes "
            f"them writes it again."
        ) from None
    if not isinstance(content, dict) or content.get("kind") != KIND:
        raise CheckpointCorruptedError(
            f"{marker!r} is not an axon checkpoint marker. If the checkpoints next to it are "
            f"yours, delete it: the next run that resumes them writes it again."
        )
    return str(content["run_id"])


def write_marker(path: str, run_id: str) -> None:
    """Write ``path``'s marker atomically: a crash leaves the old one or the new one."""
    text = json.dumps({"kind": KIND, "version": VERSION, "run_id": run_id})
    fd, temporary = tempfile.mkstemp(dir=path, prefix=f".{MARKER}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, os.path.join(path, MARKER))
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def claim(path: str, run_id: str, *, overwrite: bool, run_of: Callable[[int], str | None]) -> None:
    """Make ``path`` the directory of run ``run_id``, or raise :class:`CheckpointDirectoryError`.

    ``run_of(step)`` reads the run id a step records (None if unreadable).
    """
    check_not_a_file(path)
    if not os.path.exists(path):
        try:
            os.makedirs(path)
        except OSError as error:
            raise CheckpointDirectoryError(
                f"Cannot create the checkpoint directory {path!r}: {error.strerror}. Choose a "
                f"writable path."
            ) from None
        write_marker(path, run_id)
        return
    listing = scan(path)
    if listing.foreign:
        raise CheckpointDirectoryError(_foreign_message(path, listing.foreign))
    try:
        owner = read_marker(path)
    except CheckpointCorruptedError:
        owner = None  # decided by the steps' own run ids below
    complete = listing.complete
    if owner is None and complete and all(run_of(step) == run_id for step in complete):
        owner = run_id  # this run's steps whose marker was lost
    if owner == run_id:
        remove(path, listing.temporary)
        if read_marker_quietly(path) != run_id:
            write_marker(path, run_id)
        return
    if complete and not overwrite:
        other = owner or run_of(complete[-1])
        raise CheckpointDirectoryError(_other_run_message(path, other, complete))
    # another run's interrupted writes, or (overwrite=True) its checkpoints: ours to replace
    remove(path, listing.temporary + [str(step) for step in complete])
    write_marker(path, run_id)


def check_not_a_file(path: str) -> None:
    if os.path.isfile(path):
        raise CheckpointDirectoryError(
            f"{path!r} is a file, not a checkpoint directory. resume_from= and "
            f"checkpoint(path) take a directory of checkpoints written by .checkpoint(). To "
            f"start training from saved model parameters (e.g. a .safetensors file written "
            f"by axon.model.save), load them with axon.model.load(path) and pass them to "
            f"run() as init_state."
        )


def read_marker_quietly(path: str) -> str | None:
    try:
        return read_marker(path)
    except CheckpointCorruptedError:
        return None


def remove(path: str, names: list[str]) -> None:
    for name in names:
        target = os.path.join(path, name)
        if os.path.isdir(target):
            shutil.rmtree(target)
        elif os.path.exists(target):
            os.remove(target)


def _foreign_message(path: str, foreign: list[str]) -> str:
    shown = ", ".join(repr(name) for name in foreign[:5])
    more = f" and {len(foreign) - 5} more" if len(foreign) > 5 else ""
    return (
        f"The checkpoint directory {path!r} holds entries that are not checkpoints: "
        f"{shown}{more}. Checkpoints are never written next to other files, and nothing "
        f"there is deleted, not even with overwrite=True. Choose a new or empty directory, "
        f"e.g. checkpoint({os.path.join(path, 'checkpoints')!r})."
    )


def _other_run_message(path: str, owner: str | None, steps: list[int]) -> str:
    newest = os.path.getmtime(os.path.join(path, str(steps[-1])))
    when = datetime.datetime.fromtimestamp(newest).isoformat(sep=" ", timespec="seconds")
    shown = steps if len(steps) <= 6 else [*steps[:3], "...", *steps[-2:]]
    run = f"run {owner}" if owner else "a run that recorded no run id"
    return (
        f"The checkpoint directory {path!r} holds the checkpoints of another run ({run}: "
        f"steps {', '.join(map(str, shown))}, the newest written {when}). This run starts "
        f"fresh and will not mix its checkpoints with them. Choose one:\n"
        f"  - continue that run: run(..., resume_from={path!r}), or run(..., resume='auto') "
        f"to resume when there is a checkpoint and start fresh otherwise;\n"
        f"  - write this run's checkpoints elsewhere: checkpoint(<a new path>);\n"
        f"  - replace them: checkpoint(..., overwrite=True) deletes those checkpoints (and "
        f"nothing else) before this run writes its own."
    )
