"""An image shown in a Jupyter notebook's output and replaced there in place as it changes."""

from __future__ import annotations

import importlib
import sys
from typing import Any


def in_notebook() -> bool:
    """Whether this process is a Jupyter kernel: IPython is loaded and runs a kernel.

    IPython is not imported to find out: a kernel has imported it long before.
    """
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "kernel", None) is not None


class LiveImage:
    """A PNG in the output of the running cell, updated in place (one output, not one per draw).

    Nothing is shown until the first :meth:`show`.
    """

    def __init__(self) -> None:
        try:
            self._display: Any = importlib.import_module("IPython.display")
        except ImportError as error:
            raise ImportError(
                f"live=True shows the plot in a Jupyter notebook and needs IPython, which "
                f"failed to import ({error}). Run it in Jupyter, or pass live=False."
            ) from error
        self._handle: Any = None

    def show(self, png: bytes) -> None:
        image = self._display.Image(data=png, format="png")
        if self._handle is None:
            self._handle = self._display.display(image, display_id=True)
        else:
            self._handle.update(image)
