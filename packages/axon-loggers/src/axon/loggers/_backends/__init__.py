"""The built-in backends, one per module, and what they share.

- ``console``: ``ConsoleLogger``, one line per step on a stream;
- ``csv``: ``CSVLogger``, one row per step, one column per tag;
- ``jsonl``: ``JSONLinesLogger``, one JSON object per step;
- ``tensorboard``: ``TensorBoardLogger``, a ``version_N`` run directory per run;
- ``plot``: ``PlotLogger``, charts of chosen metrics, live in Jupyter and in a PNG/SVG file,
  drawn from a JSON Lines log of the points beside the image;
- ``charts``: which logged tags each metric's chart shows (training and validation);
- ``figures``: drawing charts with matplotlib, loaded with the first plot logger;
- ``notebook``: an image in a Jupyter cell's output, replaced in place;
- ``versions``: finding or creating a run's ``version_N`` directory in a logdir;
- ``events``: TensorBoard event files (tensorboardX), loaded with the first TensorBoard logger;
- ``steps``: the values of one step gathered into one record, for the file backends;
- ``marks``: where a run's log ended at a checkpoint (``mark()``), and cutting it back there;
- ``runs``: which run a log belongs to (the ``{"axon_run": id}`` record), and the
  ``LogExistsError`` refusals;
- ``files``: opening log destinations, with ``LogPathError`` saying what failed.
"""

from .console import ConsoleLogger
from .csv import CSVLogger
from .files import LogExistsError, LogMarkError, LogPathError
from .jsonl import JSONLinesLogger
from .plot import PlotLogger
from .tensorboard import TensorBoardLogger

__all__ = [
    "CSVLogger",
    "ConsoleLogger",
    "JSONLinesLogger",
    "LogExistsError",
    "LogMarkError",
    "LogPathError",
    "PlotLogger",
    "TensorBoardLogger",
]
