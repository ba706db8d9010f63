"""The model graph: nodes and parameters, the ``Model`` handle, and rewriting graphs.

Everything here builds or transforms graphs; nothing runs them (that is ``_compiler``).
"""
