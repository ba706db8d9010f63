"""Which run a log belongs to: run ids, the ``{"axon_run": id}`` record, and refusals.

Every log axon-loggers writes records the id of the run writing it: a TensorBoard
run directory holds a marker file with the record, a JSON Lines log starts with
it, and a CSV log has a marker file beside it. A logger continues a log only when
the ids match, so two runs never end up in one log.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from .files import LogExistsError, read_first_line, replace_file

#: The key of the record that names a log's run: ``{"axon_run": "<run id>"}``.
RUN_KEY = "axon_run"


def as_run_id(run_id: object) -> str | None:
    """``None`` (a new run), or a valid run id: a non-empty string."""
    if run_id is None:
        return None
    if not isinstance(run_id, str):
        raise TypeError(
            f"run_id must be a string naming the run (axon-loop passes State.run_id), or "
            f"None for a new run; got {type(run_id).__name__} {run_id!r}."
        )
    if not run_id.strip():
        raise ValueError("run_id must not be empty; pass None for a new run.")
    return run_id


def check_continuation(run_id: str | None, purge_step: int | None, resume_mark: object) -> None:
    """``purge_step`` and ``resume_mark`` edit the log of an earlier run, so they need that
    run's id; and they are two ways of doing one thing, so they do not combine."""
    for name, value in (("purge_step", purge_step), ("resume_mark", resume_mark)):
        if value is not None and run_id is None:
            raise ValueError(
                f"{name}={value!r} continues a run, so it needs run_id=, the id of the run "
                f"to continue (axon-loop passes State.run_id itself). Without a run id a "
                f"logger starts a new run and has nothing to edit."
            )
    if purge_step is not None and resume_mark is not None:
        raise ValueError(
            "Pass resume_mark= (cut the log back to where it was when the checkpoint was "
            "written) or purge_step= (drop its records from that step on), not both."
        )


def new_run_id() -> str:
    """A fresh id for a run that was given none."""
    return uuid.uuid4().hex


def run_record(run_id: str) -> str:
    """The one-line JSON record that names ``run_id``."""
    return json.dumps({RUN_KEY: run_id})


def parse_run_record(line: str) -> str | None:
    """The run id in ``line`` if it is exactly a run record, else ``None``."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    if isinstance(record, dict) and set(record) == {RUN_KEY} and isinstance(record[RUN_KEY], str):
        return record[RUN_KEY]
    return None


def read_marker(path: Path, what: str) -> str | None:
    """The run id recorded in the marker file ``path``; ``None`` if missing or not a marker."""
    if not path.is_file():
        return None
    return parse_run_record(read_first_line(path, what))


def write_marker(path: Path, run_id: str, what: str) -> None:
    """Record ``run_id`` in the marker file ``path``, atomically."""
    replace_file(path, run_record(run_id) + "\n", what)


def not_a_log(path: Path, what: str, found: str) -> LogExistsError:
    """The refusal for a file that axon-loggers did not write: it is never touched."""
    return LogExistsError(
        f"The {what} {str(path)!r} exists and is not a log of axon-loggers ({found}). "
        f"It may be your data, so it is left untouched. Pass a new path, or move that "
        f"file away (a log written by an older axon-loggers, which recorded no run id, "
        f"too)."
    )


def another_runs_log(path: Path, what: str, owner: str, run_id: str, named: bool) -> LogExistsError:
    """The refusal for the log of run ``owner``, met by a logger of run ``run_id``."""
    this = f"run {run_id!r}" if named else "a new run (no run_id= given)"
    return LogExistsError(
        f"The {what} {str(path)!r} holds the log of run {owner!r}, and this logger "
        f"writes for {this}; a log holds one run. Pass a new path; or continue that run "
        f"with run_id={owner!r} (axon-loop does so when it resumes that run from its "
        f"checkpoints); or pass overwrite=True to replace that log."
    )
