"""Pooling: max/avg/lp, blur, adaptive and global pools."""

__all__: list[str] = []
