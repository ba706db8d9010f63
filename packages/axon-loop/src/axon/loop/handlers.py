"""The built-in handlers, as functions ``fn(loop, ...) -> Loop``."""

from ._console import log_progress
from ._handlers import checkpoint, log_to, validate

__all__ = ["checkpoint", "log_progress", "log_to", "validate"]
