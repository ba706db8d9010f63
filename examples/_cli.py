"""What the examples share: the command line (``--epochs`` and the like, ``--smoke``), a
one-line epoch summary and digits drawn as text.

    args = arguments(__doc__, argv, epochs=10, smoke={"epochs": 2})

Each keyword becomes an option typed like its default (``batch_size=32`` gives
``--batch-size``). ``--smoke``, which the test suite passes, replaces the values
named in ``smoke`` so that the example runs in seconds. The other
hyperparameters are constants at the top of each example. (An example copied out
of this folder needs this file too, or an ``argparse`` parser of its own.)
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any


def arguments(
    doc: str, argv: Sequence[str] | None, *, smoke: dict[str, Any], **defaults: Any
) -> argparse.Namespace:
    """Parse ``argv`` (``sys.argv`` when None) into the example's run-length options."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    for name, default in defaults.items():
        option = "--" + name.replace("_", "-")
        parser.add_argument(option, type=type(default), default=default, help=f"({default})")
    quick = ", ".join(f"{name}={value}" for name, value in smoke.items())
    parser.add_argument("--smoke", action="store_true", help=f"a quick check: {quick}")
    args = parser.parse_args(argv)
    if args.smoke:
        vars(args).update(smoke)
    return args


def epoch_summary(state: Any) -> str:
    """One line per epoch, ``Epoch 3/10: loss 0.1234, ...`` (a handler for ``Loop.log``)."""
    metrics = ", ".join(f"{k} {v:.4f}" for k, v in state.scalar_metrics().items())
    return f"Epoch {state.epoch + 1}/{state.max_epoch}: {metrics}"


def ascii_image(pixels: Any) -> list[str]:
    """An 8x8 image with values in [0, 1] as 8 lines of text, darker characters for more."""
    shades = " .:-=+*#%@"
    return ["".join(shades[min(int(v * 10), 9)] * 2 for v in row) for row in pixels.reshape(8, 8)]
