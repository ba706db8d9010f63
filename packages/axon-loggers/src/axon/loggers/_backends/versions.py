"""Run directories in a TensorBoard logdir: ``version_0``, ``version_1``, ... as in Lightning.

Each run writes into a directory of its own, which records the run's id in the
marker file ``axon-run.json`` (TensorBoard reads only event files and ignores
it). A run whose id a directory records continues there; any other run takes the
number after the highest one present, so runs never share a chart and their
numbers tell their order.
"""

from __future__ import annotations

import re
from pathlib import Path

from .files import claim_directory
from .runs import read_marker, write_marker

#: A run directory's name: ``version_`` and a number.
VERSION_NAME = re.compile(r"version_(\d+)")

#: The file in a run directory that records the run's id: ``{"axon_run": "<run id>"}``.
MARKER_NAME = "axon-run.json"

_WHAT = "TensorBoard run directory"


def find_run_directory(logdir: Path, run_id: str) -> Path | None:
    """The directory in ``logdir`` that records ``run_id``, or ``None``."""
    versions = _versions(logdir)
    for number in sorted(versions):
        if read_marker(versions[number] / MARKER_NAME, f"marker of a {_WHAT}") == run_id:
            return versions[number]
    return None


def new_run_directory(logdir: Path, run_id: str) -> Path:
    """A new ``version_N`` directory recording ``run_id``, ``N`` one more than the highest
    number present (directories without a marker count too)."""
    number = max(_versions(logdir), default=-1) + 1
    while not claim_directory(logdir / f"version_{number}", _WHAT):
        number += 1  # created by another run since we looked
    directory = logdir / f"version_{number}"
    write_marker(directory / MARKER_NAME, run_id, f"marker of a {_WHAT}")
    return directory


def _versions(logdir: Path) -> dict[int, Path]:
    numbered = {}
    for path in logdir.iterdir():
        match = VERSION_NAME.fullmatch(path.name)
        if match and path.is_dir():
            numbered[int(match[1])] = path
    return numbered
