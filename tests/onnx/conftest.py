"""ONNX export/import tests: run by ``nox -s onnx`` with axon-model's ``onnx`` extra."""
