"""From a graph to ``init`` and ``apply``: the program, the model state, and what runs
inside a layer call (hooks, mixed-precision casts). Reads nodes; never imports ``Model``.
"""
