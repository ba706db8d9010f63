"""A 64-bit checksum of a sharded array that does not depend on how it is sharded.

A sharded array is written shard by shard (each process its own) and may be read
back onto another mesh, so no process ever holds its bytes whole, as the
``xxh3_64`` digest of whole arrays needs. Instead every element's bits (as
unsigned 32-bit words) are mixed with its position and summed modulo ``2**32``,
on the devices, in two ways: an odd position weight times the word (so any change
of a single element changes the sum) and a hash of the word and its position (so
swapped or shifted elements do too). Integer sums modulo ``2**32`` do not depend on
the order of the reduction, so the checksum is the same on any mesh, bit for bit.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

_GOLDEN = 0x9E3779B9


def checksum(array: jax.Array) -> jax.Array:
    """Start computing ``array``'s checksum on its devices (two uint32 words); read it with
    :func:`checksum_hex`. With several processes every process must call it, in the same
    order (it is a collective).

    >>> import jax.numpy as jnp
    >>> checksum_hex(checksum(jnp.arange(6.0))) == checksum_hex(checksum(jnp.arange(6.0)))
    True
    >>> checksum_hex(checksum(jnp.arange(6.0))) == checksum_hex(checksum(jnp.arange(1.0, 7.0)))
    False
    """
    return _checksum(array)


def checksum_hex(words: jax.Array) -> str:
    """The checksum from :func:`checksum` as 16 hex digits (waits for it).

    >>> import jax.numpy as jnp
    >>> len(checksum_hex(checksum(jnp.ones((2, 3), jnp.bfloat16))))
    16
    """
    if not words.is_fully_addressable:  # replicated: every process holds it
        words = words.addressable_data(0)
    first, second = np.asarray(words).tolist()
    return f"{first:08x}{second:08x}"


@functools.partial(jax.jit)
def _checksum(array: jax.Array) -> jax.Array:
    words = _words(array)
    position = jnp.zeros(words.shape, jnp.uint32)
    stride = 1
    for axis in reversed(range(words.ndim)):
        position = position + jax.lax.broadcasted_iota(jnp.uint32, words.shape, axis) * jnp.uint32(
            stride & 0xFFFFFFFF
        )
        stride *= words.shape[axis]
    weighted = jnp.sum(words * (_mix(position) | jnp.uint32(1)), dtype=jnp.uint32)
    hashed = jnp.sum(_mix(words ^ _mix(position + jnp.uint32(_GOLDEN))), dtype=jnp.uint32)
    return jnp.stack([weighted, hashed])


def _words(array: Any) -> jax.Array:
    """The array's bits as uint32 words (8-byte elements become two)."""
    if jnp.issubdtype(array.dtype, jnp.complexfloating):
        array = jnp.stack([array.real, array.imag], axis=-1)
    if array.dtype == jnp.bool_:
        array = array.astype(jnp.uint8)
    size = array.dtype.itemsize
    if size == 8:
        return jax.lax.bitcast_convert_type(array, jnp.uint32)
    unsigned = {1: jnp.uint8, 2: jnp.uint16, 4: jnp.uint32}[size]
    return jax.lax.bitcast_convert_type(array, unsigned).astype(jnp.uint32)


def _mix(value: jax.Array) -> jax.Array:
    """MurmurHash3's 32-bit finalizer: every input bit affects every output bit."""
    value = value ^ (value >> 16)
    value = value * jnp.uint32(0x85EBCA6B)
    value = value ^ (value >> 13)
    value = value * jnp.uint32(0xC2B2AE35)
    return value ^ (value >> 16)
