"""The model graph: nodes and parameters, the ``Model`` handle, and rewriting graphs.

Everything here builds or transforms graphs; ``Model`` hands its graph to ``_compiler``
to run it.
"""
