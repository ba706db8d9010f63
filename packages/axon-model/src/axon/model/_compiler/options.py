"""Build options (``Axon.build``'s): what a program does besides computing the model.

``BuildOptions`` is frozen and hashable because it is a static argument of the
jitted apply: a program compiles once per set of options, like once per mode.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jax

from .._graph.remat import remat_policy

if TYPE_CHECKING:
    from .._graph.node import Node

#: Arguments the compiler itself passes (``Node.wants``): a global option may not set them.
RESERVED = frozenset({"mode", "key"})

logger = logging.getLogger("axon.model")


@dataclass(frozen=True)
class BuildOptions:
    """``global_layer_options`` as sorted ``(name, value)`` pairs, the debugging switches,
    and ``remat``: the checked policy of the whole forward's ``jax.checkpoint`` (or ``None``)."""

    global_layer_options: tuple[tuple[str, Any], ...] = ()
    print_values: bool = False
    debug: bool = False
    raise_on_none: bool = True
    remat: Any = None

    @classmethod
    def create(
        cls,
        nodes: list[Node],
        *,
        global_layer_options: Mapping[str, Any] | None = None,
        print_values: bool = False,
        debug: bool = False,
        raise_on_none: bool = True,
        remat: Any = None,
    ) -> BuildOptions:
        """Checked options for a graph of ``nodes``: every global option must be hashable,
        not reserved, and accepted by at least one layer (a misspelled one would
        otherwise change nothing, silently)."""
        given = dict(global_layer_options or {})
        reserved = sorted(RESERVED & set(given))
        if reserved:
            raise ValueError(
                f"global_layer_options may not set {reserved}: the compiler passes mode "
                f"(build(mode=...)) and key (predict_fn(..., key=...)) to the layers itself."
            )
        for option, value in given.items():
            try:
                hash(value)
            except TypeError:
                raise TypeError(
                    f"global_layer_options[{option!r}] must be hashable (options are compiled "
                    f"into the program), got {type(value).__name__}; pass a tuple instead of a "
                    f"list."
                ) from None
        accepted = set().union(*(accepted_options(node) for node in nodes))
        unused = sorted(set(given) - accepted)
        if unused:
            raise ValueError(
                f"global_layer_options {unused} are accepted by no layer of the model: no "
                f"layer's op declares a keyword parameter of that name. Options the model's "
                f"layers accept: {sorted(accepted - RESERVED)}."
            )
        return cls(
            tuple(sorted(given.items())),
            bool(print_values),
            bool(debug),
            raise_on_none,
            remat_policy(remat, "build"),
        )

    def for_layer(self, node: Node) -> dict[str, Any]:
        """The global options ``node``'s op accepts; they replace the layer's own values."""
        if not self.global_layer_options:
            return {}
        accepted = accepted_options(node)
        return {k: v for k, v in self.global_layer_options if k in accepted}

    @contextmanager
    def timed(self, what: str) -> Iterator[None]:
        """Log how long the block took when ``debug`` is on."""
        if not self.debug:
            yield
            return
        start = time.perf_counter()
        yield
        logger.debug("%s in %.1f ms", what, (time.perf_counter() - start) * 1e3)

    def print_value(self, name: str, value: Any) -> None:
        """Print ``value`` as ``name: value`` on every run (also under ``jit``)."""
        if self.print_values:
            label = name.replace("{", "{{").replace("}", "}}")
            jax.debug.print(label + ": {}", value, ordered=True)


DEFAULT = BuildOptions()


def accepted_options(node: Node) -> frozenset[str]:
    """Keyword parameters of ``node``'s op that are not filled by its inputs and parameters.

    A parameter named in the op's signature (keyword-only, or positional after the
    layer's arguments) accepts a global option; ``**kwargs`` accepts none, so an op
    that takes anything is not handed every global option.
    """
    if node.op is None:
        return frozenset()
    try:
        parameters = list(inspect.signature(node.op).parameters.values())
    except (TypeError, ValueError):
        return frozenset()
    return frozenset(
        p.name
        for index, p in enumerate(parameters)
        if p.kind == inspect.Parameter.KEYWORD_ONLY
        or (p.kind == inspect.Parameter.POSITIONAL_OR_KEYWORD and index >= len(node.args))
    )
