"""Gathering the records of one step into one row, for the file backends."""

from __future__ import annotations

from typing import Any

#: The column or key that holds the step; no tag may use it.
STEP_KEY = "step"


class StepRow:
    """The values logged at the current step, waiting to be written as one row.

    Several calls at the same step (training metrics, then validation metrics)
    end up in one row; a later value for the same tag replaces the earlier one.
    A call at a different step hands back the finished row.
    """

    def __init__(self) -> None:
        self.step: int | None = None
        self.values: dict[str, Any] = {}

    def add(self, step: int, values: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
        """Merge ``values`` in; returns the previous step's row when the step changes."""
        if STEP_KEY in values:
            raise ValueError(
                f"The tag {STEP_KEY!r} is reserved for the step column; rename it "
                f"(e.g. 'train/step')."
            )
        finished = self.take() if step != self.step else None
        self.step = step
        self.values.update(values)
        return finished

    def take(self) -> tuple[int, dict[str, Any]] | None:
        """The pending row, if any, leaving the buffer empty."""
        if self.step is None:
            return None
        row = (self.step, self.values)
        self.step, self.values = None, {}
        return row
