"""The built-in backends, one per module, and what the file backends share.

- ``console``: ``ConsoleLogger``, one line per step on a stream;
- ``csv``: ``CSVLogger``, one row per step, one column per tag;
- ``jsonl``: ``JSONLinesLogger``, one JSON object per step;
- ``tensorboard``: ``TensorBoardLogger``, TensorBoard event files;
- ``steps``: the values of one step gathered into one record, for the file backends;
- ``files``: opening log destinations, with ``LogPathError`` saying what failed.
"""

from .console import ConsoleLogger
from .csv import CSVLogger
from .files import LogPathError
from .jsonl import JSONLinesLogger
from .tensorboard import TensorBoardLogger

__all__ = ["CSVLogger", "ConsoleLogger", "JSONLinesLogger", "LogPathError", "TensorBoardLogger"]
