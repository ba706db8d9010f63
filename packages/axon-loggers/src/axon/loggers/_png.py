"""A minimal PNG encoder, so image logging needs neither Pillow nor TensorFlow.

tensorboardX encodes images with Pillow, which is not one of its dependencies;
8-bit PNG is simple enough to write with ``zlib`` alone.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOR_TYPE = {1: 0, 3: 2, 4: 6}  # channels -> PNG colour type: gray, RGB, RGBA


def encode_png(image: np.ndarray) -> bytes:
    """Encode a ``uint8`` array of shape ``(height, width, 1|3|4)`` as PNG bytes.

    >>> encode_png(np.zeros((2, 3, 1), np.uint8))[:8] == _SIGNATURE
    True
    """
    height, width, channels = image.shape
    header = struct.pack(">IIBBBBB", width, height, 8, _COLOR_TYPE[channels], 0, 0, 0)
    # Each scanline starts with its filter type; 0 means "none".
    scanlines = np.zeros((height, 1 + width * channels), np.uint8)
    scanlines[:, 1:] = image.reshape(height, width * channels)
    return (
        _SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(scanlines.tobytes()))
        + _chunk(b"IEND", b"")
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    checksum = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", checksum)
