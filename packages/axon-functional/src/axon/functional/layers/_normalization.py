"""Normalization: batch/instance/layer/group/rms norm on one normalize primitive."""

__all__: list[str] = []
