"""``compilation_cache``: keep compiled programs on disk for the next process."""

from __future__ import annotations

import os
from pathlib import Path

import jax
from jax.experimental.compilation_cache import compilation_cache as jax_cache


def compilation_cache(
    directory: str | os.PathLike[str] | None = "~/.cache/axon/xla",
) -> Path | None:
    """Turn on JAX's persistent compilation cache in ``directory`` (``None``: off); returns
    its path.

    Every program compiled from then on (a loop's step and fused blocks, its init,
    anything else jitted) is written there, and a later process that compiles the
    same program (same computation, shapes, JAX version and devices) reads it
    instead of compiling: a script, test run or sweep started again waits for
    tracing only. Within one process, loops of an equal configuration already
    share their programs without it. Programs of any compile time are kept (JAX's
    default keeps only those taking over a second). Call it once, early; the cache
    is trusted code: do not share its directory with users you do not trust.

    >>> import tempfile, axon.loop
    >>> tmp = tempfile.TemporaryDirectory()
    >>> axon.loop.compilation_cache(tmp.name) == Path(tmp.name)
    True
    >>> axon.loop.compilation_cache(None)  # off again
    >>> tmp.cleanup()
    """
    jax_cache.reset_cache()  # the next compile opens the new directory, even after earlier ones
    if directory is None:
        jax.config.update("jax_compilation_cache_dir", None)
        return None
    path = Path(directory).expanduser()
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    return path
