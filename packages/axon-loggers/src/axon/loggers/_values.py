"""Checks and conversions of logged values, shared by every backend.

Each function turns what the caller passed into one plain form (a Python
``float``, a 1-D float array, an ``HxWxC`` ``uint8`` image) or raises an error
that names the tag, what was expected and what was received.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from ._protocol import HParamValue

_NUMERIC_KINDS = "biuf"  # bool, signed and unsigned int, float


def as_step(step: object, name: str = "step") -> int:
    """A step as a Python ``int``; rejects bools, floats and negative numbers.

    ``name`` is the argument named in the error (``"step"``, ``"purge_step"``).
    """
    if isinstance(step, (bool, np.bool_)) or not isinstance(step, numbers.Integral):
        raise TypeError(
            f"The {name} must be a non-negative integer, got {type(step).__name__} {step!r}. "
            f"Pass the loop's iteration counter, e.g. int(step)."
        )
    if step < 0:
        raise ValueError(f"The {name} must be a non-negative integer, got {step}.")
    return int(step)


def as_purge_step(purge_step: object) -> int | None:
    """``None``, or a valid step for a logger's ``purge_step`` argument."""
    return None if purge_step is None else as_step(purge_step, "purge_step")


def as_tag(tag: object) -> str:
    if not isinstance(tag, str) or not tag:
        raise TypeError(f"A tag must be a non-empty string, got {type(tag).__name__} {tag!r}.")
    return tag


def as_scalar(tag: str, value: object) -> float:
    """``value`` as a float, if it is a Python, numpy or 0-d array scalar.

    Works for any array type numpy can convert (JAX arrays included) without
    depending on it. NaN and infinity pass through unchanged.
    """
    try:
        array = np.asarray(value)
    except Exception as error:  # objects numpy cannot convert at all
        raise TypeError(
            f"Scalar {tag!r} must be a number, got {type(value).__name__}: {error}"
        ) from error
    if array.shape != ():
        raise ValueError(
            f"Scalar {tag!r} must be a single number (shape ()), got an array of shape "
            f"{array.shape}. Reduce it first (e.g. .mean()), or log it with log_histogram."
        )
    if array.dtype.kind not in _NUMERIC_KINDS:
        raise TypeError(
            f"Scalar {tag!r} must be a real number, got {type(value).__name__} of dtype "
            f"{array.dtype}. Log strings with log_text."
        )
    return float(array)


def as_scalars(scalars: Mapping[str, object]) -> dict[str, float]:
    """Every value of ``scalars`` checked with :func:`as_scalar`, before anything is written."""
    if not isinstance(scalars, Mapping):
        raise TypeError(
            f"Scalars must be a mapping of tags to numbers, got {type(scalars).__name__}. "
            f"Pass e.g. {{'loss': 0.25}}."
        )
    return {as_tag(tag): as_scalar(tag, value) for tag, value in scalars.items()}


def as_histogram_values(tag: str, values: object) -> np.ndarray:
    """``values`` flattened to a 1-D float64 array (non-finite entries kept)."""
    array = np.asarray(values)
    if array.dtype.kind not in _NUMERIC_KINDS:
        raise TypeError(f"Histogram {tag!r} needs real numbers, got dtype {array.dtype}.")
    if array.size == 0:
        raise ValueError(f"Histogram {tag!r} needs at least one value, got shape {array.shape}.")
    return array.astype(np.float64).reshape(-1)


def as_image(tag: str, image: object) -> np.ndarray:
    """``image`` as a ``uint8`` array of shape ``(height, width, channels)``.

    Accepts ``HW`` or ``HWC`` arrays with 1 (gray), 3 (RGB) or 4 (RGBA) channels,
    either ``uint8`` or floats in ``[0, 1]`` (scaled by 255 and rounded).
    """
    array = np.asarray(image)
    if array.ndim == 2:
        array = array[:, :, np.newaxis]
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4) or 0 in array.shape:
        raise ValueError(
            f"Image {tag!r} must have shape (height, width) or (height, width, channels) "
            f"with 1, 3 or 4 channels, got shape {np.shape(image)}. A CHW image needs "
            f"np.moveaxis(image, 0, -1)."
        )
    if array.dtype == np.uint8:
        return array
    if array.dtype.kind != "f":
        raise TypeError(
            f"Image {tag!r} must be uint8 or float in [0, 1], got dtype {array.dtype}. "
            f"Convert it with image.astype(np.uint8) or image / 255."
        )
    if not np.all(np.isfinite(array)) or array.min() < 0.0 or array.max() > 1.0:
        raise ValueError(
            f"Float image {tag!r} must hold finite values in [0, 1], got values from "
            f"{array.min()} to {array.max()}. Rescale it, or pass uint8."
        )
    return np.rint(array * 255.0).astype(np.uint8)


def as_hparams(hparams: Mapping[str, object]) -> dict[str, HParamValue]:
    """Hyperparameters as plain Python ``bool``, ``int``, ``float`` or ``str`` values."""
    if not isinstance(hparams, Mapping):
        raise TypeError(f"Hyperparameters must be a mapping, got {type(hparams).__name__}.")
    return {as_tag(name): _as_hparam(name, value) for name, value in hparams.items()}


def _as_hparam(name: str, value: object) -> HParamValue:
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (numbers.Integral, np.integer)):
        return int(value)  # type: ignore[arg-type]
    if isinstance(value, (numbers.Real, np.floating)):
        return float(value)  # type: ignore[arg-type]
    raise TypeError(
        f"Hyperparameter {name!r} must be a bool, int, float or str, got "
        f"{type(value).__name__} {value!r}. Pass str(value) to record it as text."
    )


def as_strings(name: str, values: Iterable[str]) -> tuple[str, ...]:
    """``values`` as a tuple of strings; one string is one value, not its characters."""
    if isinstance(values, str):
        return (values,)  # one prefix, not its characters
    try:
        items = tuple(values)
    except TypeError:
        items = (values,)
    wrong = [item for item in items if not isinstance(item, str)]
    if wrong:
        raise TypeError(f"{name} must be strings, got {wrong[0]!r} in {values!r}.")
    return items


def describe_array(values: np.ndarray) -> dict[str, Any]:
    """Summary statistics of finite values, for backends that print instead of plotting."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return {"count": int(values.size), "finite": 0}
    return {
        "count": int(values.size),
        "finite": int(finite.size),
        "min": float(finite.min()),
        "mean": float(finite.mean()),
        "max": float(finite.max()),
    }
