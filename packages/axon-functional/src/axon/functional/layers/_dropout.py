"""Dropout family on one generalized dropout with an explicit PRNG key."""

__all__: list[str] = []
