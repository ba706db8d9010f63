"""The engine: what runs a ``Loop``.

- ``run``: one run from ``Loop.run``'s arguments: checks them, finds the start
  (fresh or resumed), builds the initial state, chooses the fusion, starts the engine;
- ``engine``: ``Engine``, the epochs, blocks and steps of a run, firing the events;
- ``blocks``: fused blocks, planned to end where a handler fires, batches stacked;
- ``compiled``: the step fused with the metric updates, jitted and cached; ``"auto"``;
- ``placement``: the default device, or a mesh that batches are split over.
"""
