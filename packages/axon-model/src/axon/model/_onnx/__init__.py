"""ONNX export and import (axon-model's onnx extra)."""
