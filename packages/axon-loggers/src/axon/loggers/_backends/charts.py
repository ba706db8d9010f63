"""What a plot shows: the logged series of each chosen metric, gathered into one chart each.

A tag names a metric by its last component, less a validation prefix: ``train/loss``,
``epoch/loss`` and ``epoch/validation_loss`` (axon-loop's tags) are all series of the
metric ``loss``, and so are Keras' ``val_loss`` and a ``validation/loss`` tag. A
metric's training and validation series share its chart, so they overlay on one axis.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .._values import as_strings

#: Name prefixes, and tag components, that mark a validation series.
VALIDATION_PREFIXES = ("validation_", "val_")
VALIDATION_GROUPS = frozenset({"validation", "val"})


@dataclass(frozen=True)
class Series:
    """The points of one tag, in the order they were logged."""

    tag: str
    steps: Sequence[int]
    values: Sequence[float]
    validation: bool


@dataclass(frozen=True)
class Chart:
    """One metric's chart: its training series first, then its validation series."""

    metric: str
    series: tuple[Series, ...]


def metric_of(tag: str) -> tuple[str, bool]:
    """``(metric, is_validation)`` of a tag: ``"epoch/validation_loss"`` -> ``("loss", True)``."""
    *groups, name = tag.split("/")
    for prefix in VALIDATION_PREFIXES:
        if name.startswith(prefix) and len(name) > len(prefix):
            return name[len(prefix) :], True
    return name, bool(VALIDATION_GROUPS & set(groups))


def as_metrics(metrics: Iterable[str] | None) -> tuple[str, ...] | None:
    """``None`` (every metric logged), or the chosen metrics' names, each once, in order.

    A name and its validation twin (``"loss"``, ``"validation_loss"``) choose one chart.
    """
    if metrics is None:
        return None
    names = as_strings("metrics", metrics)
    for name in names:
        if not name or "/" in name:
            raise ValueError(
                f"metrics are the names of logged metrics, such as 'loss' or "
                f"'validation_accuracy' (no '/': the charts gather every tag ending in the "
                f"name), got {name!r} in {metrics!r}."
            )
    if not names:
        raise ValueError("metrics must name at least one metric; pass None to plot them all.")
    return tuple(dict.fromkeys(metric_of(name)[0] for name in names))


def charts(
    points: Mapping[str, tuple[Sequence[int], Sequence[float]]], metrics: Sequence[str] | None
) -> list[Chart]:
    """A chart per metric of ``metrics`` (``None``: each metric in ``points``, in the order
    first logged), with the series of every tag of that metric in ``points``."""
    chosen = metrics if metrics is not None else [metric_of(tag)[0] for tag in points]
    gathered: dict[str, list[Series]] = {metric: [] for metric in chosen}
    for tag, (steps, values) in points.items():
        metric, validation = metric_of(tag)
        if metric in gathered:
            gathered[metric].append(Series(tag, steps, values, validation))
    return [
        Chart(metric, tuple(sorted(series, key=lambda s: s.validation)))
        for metric, series in gathered.items()
    ]
