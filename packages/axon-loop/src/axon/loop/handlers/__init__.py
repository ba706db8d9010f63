"""The built-in handlers, as functions ``fn(loop, ...) -> Loop``.

Each is a registered handler (``loop.attach("early_stop", "validation_loss")``)
and, all but ``log_progress``, a method of ``Loop`` (``loop.early_stop("validation_loss")``)
that reaches it through that registry.
"""

from ._checkpointing import checkpoint
from ._logging import log_to
from ._monitoring import early_stop, halt_on_nonfinite, monitor, reduce_lr_on_plateau
from ._progress import log_progress
from ._validation import validate

__all__ = [
    "checkpoint",
    "early_stop",
    "halt_on_nonfinite",
    "log_progress",
    "log_to",
    "monitor",
    "reduce_lr_on_plateau",
    "validate",
]
