"""axon-example-plugin: one entry for each Axon for Python registry, found by name.

Each ``axon_<package>`` module is registered in the entry-point group of that
axon package and implements its hooks:

- :mod:`.axon_functional`: activation ``"squareplus"`` and metric
  ``"root_mean_squared_error"`` (group ``axon.functional``);
- :mod:`.axon_model`: layer ``"scale"`` (group ``axon.model``);
- :mod:`.axon_optim`: optimizer ``"sign_sgd"`` (group ``axon.optim``);
- :mod:`.axon_loggers`: logger ``"textfile"`` (group ``axon.loggers``);
- :mod:`.axon_loop`: checkpoint backend ``"npz"`` (group ``axon.loop``).

Nothing is imported here on purpose: an axon package loading its entry point
imports this package first, and should not pay for the other modules (nor need
the other axon packages installed to do so).
"""

import importlib.metadata

__version__ = importlib.metadata.version("axon-example-plugin")
