"""The compiled step: the user's step fused with the metric updates, one ``jax.jit``.

Speed rules (DESIGN.md §5) live here:

- the step and every metric update are one ``jax.jit`` with donated buffers,
  compiled once per configuration and input signature and shared by every loop
  of that configuration (``program_cache``);
- metric values stay on the device until a handler reads them;
- with ``steps_per_dispatch=K`` up to K iterations run in one dispatch: one block
  program loops over the first ``n`` batches of a stacked block whose capacity is
  fixed, so blocks of any size up to it share one program. The default,
  ``"auto"``, fuses up to 64 iterations, limited by the block's size in bytes,
  and only for a step whose state keeps its types.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import checkify

from .program_cache import fingerprint, shared

if TYPE_CHECKING:
    from .._loop import Loop
    from .placement import Placement


def fused_step(loop: Loop, placement: Placement | None = None) -> Callable[..., Any]:
    """``fused(step_state, metric_state, batch)``: the loop's step, then every metric update;
    the new step state keeps the shardings ``run(sharding=...)`` gives it (``placement``)."""
    step_fn, metrics = loop.step_fn, loop.metrics

    def fused(step_state: Any, metric_state: dict[str, Any], batch: Any):
        step_state = step_fn(batch, step_state)
        if placement is not None:
            step_state = placement.constrain(step_state)
        i = metric_state["count"]
        values = {m.name: m.update(metric_state["values"][m.name], step_state, i) for m in metrics}
        return step_state, {"count": i + 1, "values": values}

    return fused


def program_key(loop: Loop, kind: str, *flags: Any) -> tuple[Any, ...]:
    """The key of one of ``loop``'s programs in the shared cache: its kind, what the
    loop computes (step function and metrics, compared by ``fingerprint``) and the
    flags that change the program (jit, checks, the shardings of ``run(sharding=...)``)."""
    if "fingerprint" not in loop._cache:  # a Loop is immutable: computed once
        loop._cache["fingerprint"] = fingerprint((loop.step_fn, loop.metrics))
    return (kind, loop._cache["fingerprint"], *flags)


def compiled_step(
    loop: Loop, jit: bool, checked: bool = False, placement: Placement | None = None
) -> Callable[..., Any]:
    """One iteration: the step fused with metric updates; shared by equal loops.

    ``checked`` (``run(debug=True)``) adds JAX's out-of-bounds indexing checks, so an
    id outside an embedding's vocabulary is an error instead of a clamped lookup.
    """
    key = program_key(loop, "step", jit, checked, _key(placement))
    return shared(key, lambda: _compiled(fused_step(loop, placement), jit, checked))


def compiled_block(
    loop: Loop, jit: bool, checked: bool = False, placement: Placement | None = None
) -> Callable[..., Any]:
    """``block(step_state, metric_state, stacked, n)``: the first ``n`` batches of a
    stacked block, one iteration each, in one dispatch; shared by equal loops.
    Returns the new states and ``finished``, a scalar that is ready once the block
    has run (its stacked batches may then be overwritten).

    ``n`` is an argument, not part of the program: one program runs every block size
    up to the stacked block's capacity (a ``while`` loop, as ``lax.scan`` is in XLA).
    """

    def build() -> Callable[..., Any]:
        fused = fused_step(loop, placement)

        def block(step_state: Any, metric_state: Any, stacked: Any, n: Any):
            def body(i: Any, carry: tuple[Any, Any]) -> tuple[Any, Any]:
                batch = jax.tree_util.tree_map(lambda x: x[i], stacked)
                return fused(*carry, batch)

            step_state, metric_state = jax.lax.fori_loop(0, n, body, (step_state, metric_state))
            if placement is not None:  # the loop's carry, too, is placed by propagation
                step_state = placement.constrain(step_state)
            # outputs are ready when the whole program has run; this one is not donated
            return step_state, metric_state, n + 0

        return _compiled(block, jit, checked)

    return shared(program_key(loop, "block", jit, checked, _key(placement)), build)


def _key(placement: Placement | None) -> Any:
    return None if placement is None else placement.sharding_key


def _compiled(fn: Callable[..., Any], jit: bool, checked: bool) -> Callable[..., Any]:
    """``fn`` jitted with donated state buffers, and with indexing checks when ``checked``."""
    if not checked:
        return jax.jit(fn, donate_argnums=(0, 1)) if jit else fn
    with_checks = checkify.checkify(fn, errors=checkify.index_checks)
    if jit:
        with_checks = jax.jit(with_checks, donate_argnums=(0, 1))

    def run_checked(*args: Any) -> Any:
        error, outputs = with_checks(*args)
        message = error.get()
        if message is not None:
            raise IndexError(
                f"run(debug=True) found an out-of-bounds index in the step: {message.strip()} "
                f"Jitted code clamps such indices silently (JAX's gather semantics); for an "
                f"embedding the ids must lie in [0, vocabulary size): check the data or the "
                f"embedding's size."
            )
        return outputs

    return run_checked


#: ``steps_per_dispatch="auto"``: at most this many iterations per dispatch, and a stacked
#: block of batches of at most this many bytes.
AUTO_MAX_STEPS = 64
AUTO_MAX_BLOCK_BYTES = 64 * 2**20


def auto_steps_per_dispatch(
    loop: Loop,
    step_state: Any,
    metric_state: Any,
    batch: Any,
    *,
    jit: bool,
    debug: bool,
    placement: Placement | None = None,
) -> int:
    """The most iterations ``"auto"`` fuses per dispatch (1: no fusion).

    Fusion needs a compiled step (not ``jit=False`` or ``debug=True``) whose state
    keeps its structure, shapes and dtypes from one step to the next (the
    ``lax.scan`` carry); a step that keeps changing them runs one iteration per
    dispatch instead. (A first step may still change them, e.g. a weakly typed
    initial value: :meth:`BlockReader.dispatches` runs such a step on its own.) With
    several processes it stays off: processes whose handlers differ (a logger on
    process 0 only) would plan different blocks and wait for each other forever.
    """
    if not jit or debug or jax.process_count() > 1:
        return 1
    leaves = jax.tree_util.tree_leaves(batch)
    size = sum(int(np.prod(np.shape(x))) * np.dtype(_dtype(x)).itemsize for x in leaves)
    cap = min(AUTO_MAX_STEPS, AUTO_MAX_BLOCK_BYTES // max(size, 1))
    if cap < 2:
        return 1
    step = compiled_step(loop, jit=True, placement=placement)
    leaves, treedef = jax.tree_util.tree_flatten((step_state, metric_state, batch))
    key = program_key(loop, "keeps-types", _key(placement), treedef, *map(_aval, leaves))
    keeps = shared(key, lambda: _keeps_types(step, step_state, metric_state, batch))
    return cap if keeps else 1


def _keeps_types(step: Callable[..., Any], step_state: Any, metric_state: Any, batch: Any) -> bool:
    """Whether a second step gives the state the types the first one gave it."""
    try:
        once = step.eval_shape(step_state, metric_state, batch)
        twice = step.eval_shape(*once, batch)
    except Exception:
        return False  # the step's own error surfaces, clearly, at its first real call
    return _same_avals(once, twice)


def fits_carry(
    loop: Loop, step: Callable[..., Any], carry: tuple[Any, Any], signature: Any, batch: Any
) -> bool:
    """Whether ``step`` keeps ``carry`` (step and metric state) in structure, shapes and
    dtypes for batches like ``batch``, so it can be a loop carry; traced once per
    configuration, state and batch signature."""
    leaves, treedef = jax.tree_util.tree_flatten(carry)
    key = program_key(loop, "carry-fits", signature, treedef, *map(_aval, leaves))
    return shared(key, lambda: _same_avals(jax.eval_shape(step, *carry, batch), carry))


def _dtype(leaf: Any) -> Any:
    dtype = getattr(leaf, "dtype", None)
    return dtype if dtype is not None else np.asarray(leaf).dtype


def _aval(x: Any) -> tuple[Any, ...]:
    return np.shape(x), jnp.result_type(x), getattr(x, "weak_type", False)


def _same_avals(a: Any, b: Any) -> bool:
    if jax.tree_util.tree_structure(a) != jax.tree_util.tree_structure(b):
        return False
    return all(
        _aval(x) == _aval(y)
        for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True)
    )


def zero_metrics(loop: Loop, step_state: Any) -> dict[str, Any]:
    """Fresh accumulators for the loop's metrics; their types are traced once per
    configuration and step state signature. Made on the host and transferred: no
    program is compiled for them."""
    leaves, treedef = jax.tree_util.tree_flatten(step_state)
    signature = tuple((np.shape(x), jnp.result_type(x)) for x in leaves)
    key = program_key(loop, "metric-types", treedef, signature)
    types = shared(key, lambda: {m.name: jax.eval_shape(m.value, step_state) for m in loop.metrics})
    values = {
        name: np.zeros(struct.shape, jnp.result_type(struct.dtype, jnp.float32))
        for name, struct in types.items()
    }
    return jax.device_put({"count": np.int32(0), "values": values})
