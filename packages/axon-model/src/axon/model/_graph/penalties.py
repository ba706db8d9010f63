"""Regularizer options as the graph stores them: penalty objects, checked where they are given.

A node keeps a penalty object from ``axon.functional.penalties`` (a registered, frozen
dataclass with a JSON config), never a function: the graph stays data that a model
file can write. ``Parameter.regularizer`` penalizes a parameter's value,
``Node.activity_regularizer`` a layer's output.
"""

from __future__ import annotations

from typing import Any

from axon.functional import penalties
from axon.functional.penalties import Penalty
from axon.functional.plugins import UnknownNameError

#: What a regularizer option accepts: a penalty name, a penalty object, or ``None`` (none).
Regularizer = str | Penalty | None


def as_penalty(value: Any, option: str, where: str) -> Penalty | None:
    """``value`` (a name, a ``Penalty``, its serialized dict or ``None``) as a penalty object.

    ``where`` names the layer and where it is defined, for the error a wrong value gets.

    >>> as_penalty("l2", "kernel_regularizer", "dense")
    L2(l2=0.01)
    >>> try:
    ...     as_penalty("l1l2", "kernel_regularizer", "dense layer 'head'")
    ... except ValueError as error:
    ...     print(str(error).split(" Known")[0].replace(": ", ":\\n"))
    dense layer 'head':
    option 'kernel_regularizer' is not a known penalty:
    Unknown penalty 'l1l2'. Did you mean 'l1_l2' or 'l2' or 'l1'?
    """
    if value is None:
        return None
    try:
        return penalties.resolve(value)
    except UnknownNameError as error:
        raise ValueError(f"{where}: option {option!r} is not a known penalty: {error}") from None
    except (TypeError, ValueError) as error:
        raise type(error)(f"{where}: option {option!r}: {error}") from None
