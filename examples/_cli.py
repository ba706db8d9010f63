"""The command line the examples share: ``--epochs`` and the like, and ``--smoke``.

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
