"""Dot-product attention with padding/causal masks and a multi-head helper."""

__all__: list[str] = []
