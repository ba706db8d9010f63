"""``block``: a subgraph whose layers share one set of parameters across every call.

A block traces its function once, on placeholder inputs, into a *template*. Each
call copies the template's layers into the caller's graph, wired to the call's
inputs, and marks every copy with the block (``Node.blocks``) and the layer's name
inside it (``Node.block_layer``). The compiler names copies alike
(``<block>/<layer>``, see ``node.assign_names``), and parameters are keyed by layer
name, so all calls read, and train, the same arrays: gradients of all uses add up.
Copies are ordinary nodes, so rewriting, hooks, mixed precision and display need
nothing special.

For the model file, each call is recorded (``recording``, ``kind="block_call"``) and
its copies get ``origin = (that call, position in the template)``; the template's own
layers keep the builder calls made while tracing, recorded one by one (the block's
body). A call made inside a registered builder belongs to that builder's call instead,
like any layer it makes.
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax

from .model import Model
from .node import BlockRef, Node, assign_names, defined_at, fresh_id, topological_order
from .recording import BuilderCall, call_running, current_origin, unrecorded
from .remat import Remat, current_remat, new_segment, outside_segments, remat_policy

_block_ids = itertools.count()


@dataclass(frozen=True)
class Template:
    placeholders: tuple[Node, ...]
    outputs: Any  # the structure fn returned, with nodes for models
    inside: tuple[Node, ...]  # the layers fn created, in evaluation order
    names: dict[int, str]  # their names inside the block (for layers of no inner block)


class Block:
    """A reusable subgraph: every call applies the same layers with the same parameters.

    Create one with :func:`axon.model.block`; call it on models as you would call
    ``fn``. See :func:`axon.model.block` for naming, state and nesting.

    >>> import jax.numpy as jnp, axon.model
    >>> shared = axon.model.block(lambda x: x.dense(2), name="proj")
    >>> a, b = axon.model.input("a", shape=(None, 3)), axon.model.input("b", shape=(None, 3))
    >>> model = axon.model.add(shared(a), shared(b))
    >>> list(model.init(0, {"a": jnp.ones((1, 3)), "b": jnp.ones((1, 3))}).params)
    ['proj/dense_0']
    """

    def __init__(self, fn: Callable[..., Any], name: str | None, where: str, remat: Any = None):
        self.fn = fn
        self.ref = BlockRef(next(_block_ids), name, where)
        label = f"block {name!r}" if name else "block"
        self.remat = remat_policy(remat, f"{label} (defined at {where})")
        self._template: Template | None = None
        self._tracing = False

    @property
    def name(self) -> str | None:
        """The name given to :func:`axon.model.block` (``None``: numbered ``block_<n>``).

        >>> import axon.model
        >>> axon.model.block(lambda x: x.relu(), name="act").name
        'act'
        """
        return self.ref.name

    def __call__(self, *inputs: Model) -> Any:
        """Apply the block's layers to ``inputs`` (models), with the block's parameters.

        Returns what the block's function returns: a model, or a tuple/list/dict
        of models.

        >>> import axon.model
        >>> pair = axon.model.block(lambda x, y: (x.dense(2), y.dense(2)))
        >>> left, right = pair(axon.model.input("a"), axon.model.input("b"))
        >>> left
        <Model inputs={'a': None} output='block_0/dense_0' layers=2>
        """
        return self._call(inputs)[1]

    def _call(self, inputs: tuple[Model, ...]) -> tuple[BuilderCall, Any]:
        for i, value in enumerate(inputs):
            if not isinstance(value, Model):
                raise TypeError(
                    f"{self._describe()} was called with a {type(value).__name__} as input "
                    f"{i}; a block is called on models (axon.model.input(...) or layers), "
                    f"one positional argument per input of its function."
                )
        template = self._trace(len(inputs))
        if len(inputs) != len(template.placeholders):
            raise TypeError(
                f"{self._describe()} takes {len(template.placeholders)} input(s), as in its "
                f"first call; received {len(inputs)}. Every call of a block must pass the "
                f"same number of models."
            )
        copies: dict[int, Node] = {
            p.id: value.node for p, value in zip(template.placeholders, inputs, strict=True)
        }
        call = BuilderCall("block", inputs, {}, kind="block_call", block=self)
        inside_builder = call_running()  # then the copies belong to that builder's call
        segment = self._segment()
        inner: dict[int, Remat] = {}  # the body's own segments, fresh for each call
        for position, node in enumerate(template.inside):
            if segment is None and node.remat is not None:
                inner.setdefault(node.remat.id, new_segment(node.remat.policy))
            args = tuple(copies.get(a.id, a) if isinstance(a, Node) else a for a in node.args)
            layer = node.block_layer if node.blocks else template.names[node.id]
            copies[node.id] = node.rebuilt(
                args=args,
                blocks=(self.ref, *node.blocks),
                block_layer=layer,
                origin=current_origin() if inside_builder else (call, position),
                remat=segment or (node.remat and inner[node.remat.id]),
            )
        outputs = template.outputs
        return call, jax.tree_util.tree_map(lambda n: Model(copies.get(n.id, n)), outputs)

    def _segment(self) -> Remat | None:
        """The segment this call's copies form: an enclosing one, else a new one if the
        block rematerializes, else none."""
        if current_remat() is not None or self.remat is None:
            return current_remat()
        return new_segment(self.remat)

    def __repr__(self) -> str:
        return f"<Block {self.ref.name or '(numbered)'} defined at {self.ref.defined_at}>"

    def _describe(self) -> str:
        label = f" {self.ref.name!r}" if self.ref.name else ""
        return f"Block{label} (defined at {self.ref.defined_at})"

    def _trace(self, arity: int) -> Template:
        if self._template is not None:
            return self._template
        if self._tracing:
            raise ValueError(
                f"{self._describe()} calls itself inside its own function; a block cannot "
                f"contain itself. Use another block (or a Python loop of calls) instead."
            )
        if arity == 0:
            raise TypeError(f"{self._describe()} needs at least one input model.")
        self._check_arity(arity)
        start = fresh_id()  # every node fn creates gets a larger id
        placeholders = tuple(
            Node(
                op=None,
                op_name="input",
                name=f"block_input_{i}",
                config={"shape": None},
                defined_at=self.ref.defined_at,
                origin=None,  # not a layer of the call running now (its positions must not
            )  # depend on whether this call is the block's first)
            for i in range(arity)
        )
        self._tracing = True
        try:
            # the body's builder calls, each recorded as its own, in no caller's segment
            with unrecorded(), outside_segments():
                result = self.fn(*(Model(p) for p in placeholders))
        finally:
            self._tracing = False
        outputs = self._output_nodes(result)
        order = topological_order(jax.tree_util.tree_leaves(outputs))
        # inputs created inside fn are model inputs, not layers: they are shared, not copied
        inside = tuple(n for n in order if n.id > start and n.op_name != "input")
        names = assign_names([n for n in inside if not n.blocks])
        self._template = Template(placeholders, outputs, inside, names)
        return self._template

    def _check_arity(self, arity: int) -> None:
        try:
            inspect.signature(self.fn).bind(*range(arity))
        except TypeError as error:
            raise TypeError(
                f"{self._describe()} was called with {arity} input(s), but its function "
                f"{getattr(self.fn, '__name__', 'fn')}{inspect.signature(self.fn)} cannot take "
                f"them ({error}). Call the block with one model per argument of its function."
            ) from None
        except ValueError:
            pass  # no signature to check (a builtin): let the call say what is wrong

    def _output_nodes(self, result: Any) -> Any:
        leaves = jax.tree_util.tree_leaves(result, is_leaf=lambda v: isinstance(v, Model))
        wrong = [v for v in leaves if not isinstance(v, Model)]
        if not leaves or wrong:
            received = type(wrong[0] if wrong else result).__name__
            raise TypeError(
                f"The function of {self._describe()} must return a model built from its "
                f"inputs (e.g. x.dense(16)), or a tuple, list or dict of models; it returned "
                f"{received}{' inside its result' if wrong and wrong[0] is not result else ''}."
                f"{' Did it forget to return?' if result is None else ''}"
            )
        return jax.tree_util.tree_map(
            lambda m: m.node, result, is_leaf=lambda v: isinstance(v, Model)
        )


def call_block(block: Block, *inputs: Model) -> tuple[BuilderCall, Any]:
    """``block(*inputs)`` and the recorded call whose origin its copies carry."""
    return block._call(inputs)


def traced(block: Block) -> Template | None:
    """``block``'s template: its body over placeholders (``None`` before its first call)."""
    return block._template


def block(fn: Callable[..., Any], *, name: str | None = None, remat: Any = None) -> Block:
    """A block of layers whose parameters are shared by every call (``Axon.block``).

    ``fn`` takes one model per input and returns a model (or a tuple, list or dict
    of models). Calling the returned :class:`Block` on models applies ``fn``'s layers
    to them; every call uses **one** set of parameters, so gradients of all uses add
    up. This is how siamese networks, a shared encoder over several views, or a
    layer applied at several depths are written.

    ``fn`` runs once, at the first call, on placeholder inputs (their shapes are
    unknown then; parameter shapes come from the inputs of each call, so every call
    must give the parameters the same shapes). Models ``fn`` captures from outside
    are used as they are, not copied.

    **Names.** The block is named ``name``, or ``block_<n>`` (numbered in the model),
    and its layers are stored once as ``"<block>/<layer>"``: with ``name="encoder"``,
    ``model_state.params["encoder/dense_0"]["kernel"]``. So
    ``model_state.freeze("encoder/*")`` freezes the block, and
    ``mixed_precision.apply_policy(model, policy, only=["encoder"])`` casts it. A
    block used only inside another block is named under it (``"outer/inner/dense_0"``);
    used in several places, at the top.

    **State.** Layer state inside a block (batch norm's running statistics) is one
    set too. Every call reads it; in training, the calls update it one after the
    other in evaluation order, each starting from the previous call's update, as if
    the calls were consecutive batches (as a reused Keras or Flax layer does).

    **Model files.** :func:`axon.model.save_model` stores a block without ``fn``: the
    registered builder calls ``fn`` made on placeholder inputs, and each call's
    inputs; :func:`axon.model.load_model` rebuilds every call with the same shared
    parameters (but gives back no ``Block`` to call on new inputs).

    **Rematerialization.** With ``remat`` (``True``, a policy name such as
    ``"dots_saveable"``, or a ``jax.checkpoint_policies`` function), each call of the
    block is one ``jax.checkpoint`` segment: the backward pass keeps only the call's
    inputs (and what the policy saves) and recomputes the rest, so a stack of calls
    keeps one activation per call instead of one per layer. Results are unchanged.

    Args:
        fn: ``fn(*models) -> model | tuple | list | dict of models``.
        name: the block's name (must differ from other blocks' and layers' names).
        remat: rematerialize each call (see above); ``None``/``False`` for none.

    Returns:
        A callable :class:`Block`.

    >>> import jax, jax.numpy as jnp, axon.model
    >>> encoder = axon.model.block(lambda x: x.dense(8, activation="relu").dense(4),
    ...                            name="encoder")
    >>> a, b = axon.model.input("a", shape=(None, 3)), axon.model.input("b", shape=(None, 3))
    >>> distance = axon.model.subtract(encoder(a), encoder(b))
    >>> state = distance.init(0, {"a": jnp.ones((1, 3)), "b": jnp.ones((1, 3))})
    >>> sorted(state.params), state.num_parameters
    (['encoder/dense_0', 'encoder/dense_1'], 68)
    >>> same = {"a": jnp.ones((2, 3)), "b": jnp.ones((2, 3))}
    >>> float(jnp.abs(distance.apply(state, same)[0]).max())  # one encoder: equal inputs agree
    0.0

    Each call of a ``remat`` block is recomputed in the backward pass:

    >>> layer = axon.model.block(lambda x: x.dense(8, activation="relu"), remat=True)
    >>> deep = axon.model.input("x", shape=(None, 8))
    >>> for _ in range(4):
    ...     deep = layer(deep)
    >>> state = deep.init(0, jnp.ones((1, 8)))
    >>> loss = lambda params: deep.apply(state.replace(params=params), jnp.ones((2, 8)))[0].sum()
    >>> str(jax.make_jaxpr(jax.grad(loss))(state.params)).count("remat")  # one per call
    4
    """
    if not callable(fn):
        raise TypeError(
            f"axon.model.block expects a function of models (e.g. lambda x: x.dense(16)), "
            f"got {type(fn).__name__}."
        )
    if name is not None and (not isinstance(name, str) or not name or "/" in name):
        raise ValueError(
            f"A block name must be a non-empty string without '/' (it prefixes its layers' "
            f"names), got {name!r}."
        )
    return Block(fn, name, defined_at(), remat)
