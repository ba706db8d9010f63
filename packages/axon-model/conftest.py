"""Doctest collection without the ``onnx`` extra: the ONNX modules other than the public
entry point import onnx, which the base install of axon-model does not have."""

import importlib.util

collect_ignore_glob = (
    [] if importlib.util.find_spec("onnx") else ["src/axon/model/_onnx/export_*.py"]
)
