"""Executes one run of a ``Loop``: events, handlers, compiled steps, data, devices.

Speed rules (DESIGN.md §5) live here:

- the step and every metric update are one ``jax.jit`` with donated buffers,
  compiled once per loop and input signature and cached on the loop;
- metric values stay on the device until a handler reads them;
- with ``steps_per_dispatch=K`` up to K iterations run in one dispatch through
  ``lax.scan`` — a block never spans an iteration at which a handler fires, so
  handlers see exactly the state they would see without fusion. The default,
  ``"auto"``, fuses up to 64 iterations in blocks whose sizes are powers of two
  (so at most seven programs are compiled), limited by the block's size in bytes;
- each block is transferred to the device (sharded over the mesh when one is
  given) as soon as it is read; dispatch is asynchronous, so the next block is
  loaded and transferred while the device runs the current one.
"""

from __future__ import annotations

import contextlib
import inspect
import itertools
import sys
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np

from ._events import CountFilter, Event, Halt
from ._state import State

if TYPE_CHECKING:
    from ._loop import Loop, _HandlerSpec


class EmptyDataError(ValueError):
    """The data given to ``run`` produced no batch.

    Raised when the data is empty, or when an epoch after the first gets no batch
    because a generator was already consumed.

    >>> import jax.numpy as jnp
    >>> from axon.loop import EmptyDataError, Loop
    >>> counter = Loop(lambda batch, total: total + batch.sum())
    >>> try:
    ...     counter.run([], jnp.float32(0))
    ... except EmptyDataError as error:
    ...     print(str(error).split(". ")[0])
    The data given to run() produced no batches
    >>> batches = (jnp.ones(2) for _ in range(3))  # a generator gives one epoch only
    >>> try:
    ...     counter.run(batches, jnp.float32(0), epochs=2)
    ... except ValueError as error:  # EmptyDataError is a ValueError
    ...     print(type(error).__name__, str(error).split(". ")[0])
    EmptyDataError The data produced no batches in epoch 1
    """


class Engine:
    """Runs a loop from a (fresh or restored) state until it completes or halts."""

    def __init__(
        self,
        loop: Loop,
        state: State,
        *,
        jit: bool,
        steps_per_dispatch: int,
        placement: Placement,
        debug: bool = False,
        power_of_two_blocks: bool = False,
    ):
        self.loop = loop
        self.debug = debug
        self.state = state
        self.steps_per_dispatch = steps_per_dispatch
        self.power_of_two_blocks = power_of_two_blocks  # auto mode: bounds the compiles
        self.carried: Any = None  # the signature of the batches the step state was made for
        self.placement = placement
        self.step = compiled_step(loop, jit)
        self.scan = compiled_scan(loop, jit) if steps_per_dispatch > 1 else None
        self.by_event: dict[Event, list[_HandlerSpec]] = {}
        for spec in sorted(loop.handlers, key=lambda spec: not spec.first):  # stable sort
            self.by_event.setdefault(spec.event, []).append(spec)

    # -- events -------------------------------------------------------------------------------

    def fire(self, event: Event) -> Halt:
        state = self.state
        state.record(event)
        outcome = Halt.CONTINUE
        for spec in self.by_event.get(event, ()):
            if not spec.filter(state, event):
                continue
            if self.debug:
                _debug(f"{event.value} (iteration {state.iteration}): handler {spec.name}")
            result = spec.handler(state)
            if result is not None and result != Halt.CONTINUE:
                try:
                    result = Halt(result)
                except ValueError:
                    raise ValueError(
                        f"Handler {spec.name!r} on {event.value!r} returned {result!r}; return "
                        f"None, 'continue', 'halt_epoch' or 'halt_loop'."
                    ) from None
                if outcome != Halt.LOOP:
                    outcome = result
        return outcome

    def next_firing(self, event: Event, start: int, limit: int) -> int | None:
        """The smallest ``ahead`` in ``[start, limit]`` at which a handler of ``event``
        fires when the event occurs ``ahead`` more times in this epoch; ``None`` if none."""
        first = None
        for spec in self.by_event.get(event, ()):
            end = limit if first is None else first - 1
            if end < start:
                break
            if isinstance(spec.filter, CountFilter):
                ahead = spec.filter.next_match(self.state, event, start, end)
            else:
                probes = (a for a in range(start, end + 1) if self._probe(spec, event, a))
                ahead = next(probes, None)
            if ahead is not None:
                first = ahead
        return first

    def _probe(self, spec: _HandlerSpec, event: Event, ahead: int) -> bool:
        try:
            return bool(spec.filter(_Probe(self.state, event, ahead), event))
        except _NeedsHost:
            return True  # a filter reading more than counters: assume it fires

    # -- the run ------------------------------------------------------------------------------

    def run(self, data: DataSource, start_epoch: int, first: Iterator[Any], mid_epoch: bool):
        try:
            self._run(data, start_epoch, first, mid_epoch)
        except BaseException:
            # An exception (or Ctrl-C) ends the run: still finish what handlers opened,
            # e.g. a checkpoint being written asynchronously, then re-raise.
            self.state.status = "failed"
            for resource in self.state.resources.values():
                with contextlib.suppress(Exception):
                    resource.close()
            self.state.resources.clear()
            raise

    def _run(self, data: DataSource, start_epoch: int, first: Iterator[Any], mid_epoch: bool):
        state = self.state
        halted = self.fire(Event.STARTED) == Halt.LOOP
        for epoch in range(start_epoch, state.max_epoch):
            if halted:
                break
            state.epoch = epoch
            batches = first if epoch == start_epoch else data.epoch(epoch)
            state.epoch_length = data.lengths.get(epoch)
            if state.max_iteration is not None and state.epoch_length is not None:
                state.epoch_length = min(state.epoch_length, state.max_iteration)
            if mid_epoch and epoch == start_epoch:
                outcome = Halt.CONTINUE  # resumed inside an epoch that already started
                state.metrics = {**state.metrics, **self.metric_view()}
            else:
                state.start_epoch()
                state.epoch_done = False
                state.metric_state = self.placement.replicate(
                    zero_metrics(self.loop, state.step_state)
                )
                state.metrics = self.metric_view()
                outcome = self.fire(Event.EPOCH_STARTED)
            started = time.perf_counter()
            outcome, seen = self.run_epoch(batches, outcome)
            if seen == 0 and outcome == Halt.CONTINUE and state.count_in_epoch() == 0:
                raise EmptyDataError(
                    f"The data produced no batches in epoch {epoch}. A generator or iterator "
                    f"can be consumed only once: pass a list, a re-iterable loader, or a "
                    f"function returning a fresh iterable for every epoch."
                )
            jax.block_until_ready(state.step_state)
            state.times[epoch] = state.times.get(epoch, 0.0) + time.perf_counter() - started
            if outcome == Halt.LOOP:
                halted = True
                break
            if outcome == Halt.EPOCH:
                halted = self.fire(Event.EPOCH_HALTED) == Halt.LOOP
                continue
            state.epoch_done = True
            halted = self.fire(Event.EPOCH_COMPLETED) == Halt.LOOP
            state.history[epoch] = dict(state.metrics)
        state.status = "halted" if halted else "completed"
        self.fire(Event.HALTED if halted else Event.COMPLETED)

    def run_epoch(self, batches: Iterator[Any], outcome: Halt) -> tuple[Halt, int]:
        state, seen = self.state, 0
        cap = state.max_iteration
        while outcome == Halt.CONTINUE:
            remaining = None if cap is None else cap - state.count_in_epoch()
            if remaining is not None and remaining <= 0:
                break
            block = list(itertools.islice(batches, self.plan_block(remaining)))
            if not block:
                break
            outcome = self.run_block(block)
            seen += len(block)
        return outcome, seen

    def plan_block(self, remaining: int | None) -> int:
        """How many iterations can run in one dispatch before a handler needs the host."""
        if self.steps_per_dispatch == 1:
            return 1
        limit = (
            self.steps_per_dispatch
            if remaining is None
            else min(self.steps_per_dispatch, remaining)
        )
        # iteration_started of the block's first iteration fires for real; a later one
        # that fires must start a new block
        started = self.next_firing(Event.ITERATION_STARTED, 2, limit)
        if started is not None:
            limit = started - 1
        completed = self.next_firing(Event.ITERATION_COMPLETED, 1, limit)
        if completed is not None:
            limit = completed
        if self.power_of_two_blocks:
            limit = 1 << (limit.bit_length() - 1)
        return limit

    def run_block(self, block: list[Any]) -> Halt:
        """Run a planned block: no handler fires inside it, but possibly at its two ends.

        Consecutive batches of the same structure, shapes and dtypes run fused; a batch
        unlike its neighbours (e.g. a short last batch) runs on its own.
        """
        for size, batch in self.dispatches(block):
            outcome = self.fire(Event.ITERATION_STARTED)
            if outcome != Halt.CONTINUE:
                return outcome
            if size == 1:
                self.run_step(batch)
            else:
                self.state.record(Event.ITERATION_STARTED, size - 1)
                self.state.step_state, self.state.metric_state = self.scan(
                    self.state.step_state,
                    self.state.metric_state,
                    self.placement.batch(batch, stacked=True),
                )
            outcome = self.complete(size)
            if outcome != Halt.CONTINUE:
                return outcome
        return Halt.CONTINUE

    def run_step(self, batch: Any) -> None:
        state, started = self.state, time.perf_counter()
        state.step_state, state.metric_state = self.step(
            state.step_state, state.metric_state, self.placement.batch(batch)
        )
        if self.debug:  # debug trades speed for real per-step timings
            jax.block_until_ready(state.step_state)
            elapsed = (time.perf_counter() - started) * 1e3
            _debug(f"iteration {state.iteration + 1}: step {elapsed:.2f} ms")

    def dispatches(self, block: list[Any]) -> Iterator[tuple[int, Any]]:
        """``(iterations, batch or stacked batches)`` for each dispatch of ``block``.

        In auto mode every fused part has a power-of-two size, so a block cut short
        (the data ran out, a batch of another shape) compiles no new program.
        """
        if self.scan is None:  # no fusion: nothing to compare or stack
            yield from ((1, batch) for batch in block)
            return
        flat = [_flatten(batch) for batch in block]
        signatures = [_signature(leaves, treedef) for leaves, treedef in flat]
        start = 0
        while start < len(block):
            end = start + 1
            while end < len(block) and signatures[end] == signatures[start]:
                end += 1
            if end - start > 1 and not self.carry_fits(signatures[start], block[start]):
                # the state was made for other batches (e.g. y_pred of a short last batch,
                # or weakly typed initial values): one step on its own gives it this shape
                self.carried = signatures[start]
                yield 1, block[start]
                start += 1
                continue
            self.carried = signatures[start]
            size = end - start
            if self.power_of_two_blocks:
                size = 1 << (size.bit_length() - 1)
            if size == 1:
                yield 1, block[start]
            else:
                columns = zip(*(leaves for leaves, _ in flat[start : start + size]), strict=True)
                stacked = [_stack(column) for column in columns]
                yield size, jax.tree_util.tree_unflatten(flat[start][1], stacked)
            start += size

    def carry_fits(self, signature: Any, batch: Any) -> bool:
        """Whether the step state can be the scan carry over batches like ``batch``."""
        if signature == self.carried:
            return True
        carry = (self.state.step_state, self.state.metric_state)
        leaves, treedef = jax.tree_util.tree_flatten(carry)
        key = ("carry-fits", signature, treedef, *map(_aval, leaves))
        if key not in self.loop._cache:  # traced once per state and batch signature
            outputs = jax.eval_shape(self.step, *carry, batch)
            self.loop._cache[key] = _same_avals(outputs, carry)
        return self.loop._cache[key]

    def complete(self, iterations: int) -> Halt:
        state = self.state
        state.record(Event.ITERATION_COMPLETED, iterations - 1)
        state.iteration += iterations
        state.metrics = {**state.metrics, **self.metric_view()}
        return self.fire(Event.ITERATION_COMPLETED)

    def metric_view(self) -> dict[str, Any]:
        # jit returns dicts with sorted keys; show metrics in the order they were attached
        values = self.state.metric_state["values"]
        return {m.name: values[m.name] for m in self.loop.metrics if m.visible}


def _debug(message: str) -> None:
    print(f"[axon.loop debug] {message}", file=sys.stderr, flush=True)


class _NeedsHost(Exception):
    """A filter asked a probe for something only a real state has."""


class _Probe:
    """A stand-in state for asking filters about the future: counters only."""

    def __init__(self, state: State, event: Event, ahead: int):
        self._state, self._event, self._ahead = state, event, ahead

    def count(self, event: Event, scope: str = "total") -> int:
        return self._state.count(event, scope) + (self._ahead if event == self._event else 0)

    @property
    def iteration(self) -> int:
        done = self._ahead if self._event == Event.ITERATION_COMPLETED else self._ahead - 1
        return self._state.iteration + done

    @property
    def epoch(self) -> int:
        return self._state.epoch

    def __getattr__(self, name: str) -> Any:
        raise _NeedsHost(name)


# -- compiled steps ----------------------------------------------------------------------------


def fused_step(loop: Loop) -> Callable[..., Any]:
    step_fn, metrics = loop.step_fn, loop.metrics

    def fused(step_state: Any, metric_state: dict[str, Any], batch: Any):
        step_state = step_fn(batch, step_state)
        i = metric_state["count"]
        values = {m.name: m.update(metric_state["values"][m.name], step_state, i) for m in metrics}
        return step_state, {"count": i + 1, "values": values}

    return fused


def compiled_step(loop: Loop, jit: bool) -> Callable[..., Any]:
    """One iteration: the step fused with metric updates; cached on the loop."""
    key = "step-jit" if jit else "step-eager"
    if key not in loop._cache:
        fused = fused_step(loop)
        loop._cache[key] = jax.jit(fused, donate_argnums=(0, 1)) if jit else fused
    return loop._cache[key]


def compiled_scan(loop: Loop, jit: bool) -> Callable[..., Any]:
    """K iterations over a stacked block of K batches with ``lax.scan``; cached on the loop."""
    key = "scan-jit" if jit else "scan-eager"
    if key not in loop._cache:
        fused = fused_step(loop)

        def scanned(step_state: Any, metric_state: Any, stacked: Any):
            def body(carry: Any, batch: Any) -> tuple[Any, None]:
                return fused(*carry, batch), None

            return jax.lax.scan(body, (step_state, metric_state), stacked)[0]

        loop._cache[key] = jax.jit(scanned, donate_argnums=(0, 1)) if jit else scanned
    return loop._cache[key]


#: ``steps_per_dispatch="auto"``: at most this many iterations per dispatch, and a stacked
#: block of batches of at most this many bytes.
AUTO_MAX_STEPS = 64
AUTO_MAX_BLOCK_BYTES = 64 * 2**20


def auto_steps_per_dispatch(
    loop: Loop, step_state: Any, metric_state: Any, batch: Any, *, jit: bool, debug: bool
) -> int:
    """The most iterations ``"auto"`` fuses per dispatch (a power of two; 1: no fusion).

    Fusion needs a compiled step (not ``jit=False`` or ``debug=True``) whose state
    keeps its structure, shapes and dtypes from one step to the next (the
    ``lax.scan`` carry); a step that keeps changing them runs one iteration per
    dispatch instead. (A first step may still change them, e.g. a weakly typed
    initial value: :meth:`Engine.dispatches` runs such a step on its own.) With
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
    step = compiled_step(loop, jit=True)
    try:  # traced once per state signature: the jitted step reuses the traces
        once = step.eval_shape(step_state, metric_state, batch)
        twice = step.eval_shape(*once, batch)
    except Exception:
        return 1  # the step's own error surfaces, clearly, at its first real call
    if not _same_avals(once, twice):
        return 1
    return 1 << (cap.bit_length() - 1)


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
    """Fresh accumulators for the loop's metrics; their types are traced once per step state
    signature and cached on the loop."""
    leaves, treedef = jax.tree_util.tree_flatten(step_state)
    key = ("metric-types", treedef, tuple((np.shape(x), jnp.result_type(x)) for x in leaves))
    if key not in loop._cache:
        loop._cache[key] = {m.name: jax.eval_shape(m.value, step_state) for m in loop.metrics}
    values = {
        name: jnp.zeros(struct.shape, jnp.result_type(struct.dtype, jnp.float32))
        for name, struct in loop._cache[key].items()
    }
    return {"count": jnp.int32(0), "values": values}


def _flatten(batch: Any) -> tuple[Any, Any]:
    if type(batch) is tuple and len(batch) == 2:  # (inputs, targets) of arrays: skip the walk
        inputs, targets = batch
        if type(inputs) is np.ndarray and type(targets) is np.ndarray:
            return batch, _PAIR
    return jax.tree_util.tree_flatten(batch)


_PAIR = jax.tree_util.tree_structure((0, 0))


def _signature(leaves: Any, treedef: Any) -> tuple[Any, ...]:
    """What must agree for batches to be stacked: structure, and each leaf's shape and dtype."""
    if treedef is _PAIR:  # the common case, spelled out
        x, y = leaves
        return treedef, x.shape, x.dtype, y.shape, y.dtype
    signature = [treedef]
    for leaf in leaves:
        if isinstance(leaf, np.ndarray | jax.Array):
            signature += (leaf.shape, leaf.dtype)
        else:  # numbers
            signature += (np.shape(leaf), getattr(leaf, "dtype", type(leaf)))
    return tuple(signature)


def _stack(leaves: tuple[Any, ...]) -> Any:
    """Stack equally shaped leaves on the host, or on the device for device arrays."""
    first = leaves[0]
    if isinstance(first, jax.Array):
        return jnp.stack(leaves)  # no round trip through the host
    if isinstance(first, np.ndarray) and first.ndim:
        # One copy, in C (np.stack reshapes each leaf in Python), into memory aligned to
        # 64 bytes: the CPU backend then uses the block in place instead of copying it.
        stacked = _aligned_empty((len(leaves), *first.shape), first.dtype)
        np.concatenate(leaves, out=stacked.reshape(-1, *first.shape[1:]))
        return stacked
    return np.array(leaves)  # numbers and 0-d arrays


def _aligned_empty(shape: tuple[int, ...], dtype: Any, alignment: int = 64) -> np.ndarray:
    size = int(np.prod(shape)) * np.dtype(dtype).itemsize
    raw = np.empty(size + alignment, np.uint8)
    offset = -raw.ctypes.data % alignment
    return raw[offset : offset + size].view(dtype).reshape(shape)


# -- data and devices --------------------------------------------------------------------------


class DataSource:
    """Each epoch's iterator of batches from what the user passed to ``run``.

    ``data`` is a re-iterable (list, loader), a one-shot iterator (one epoch), or
    a function ``fn()`` or ``fn(epoch)`` returning a fresh iterable. For an exact
    resume the batches of an epoch must not depend on anything but the epoch.
    """

    def __init__(self, data: Any):
        self.lengths: dict[int, int | None] = {}
        if callable(data) and not hasattr(data, "__iter__"):
            takes_epoch = _accepts_one_argument(data)
            self._iterable = (lambda e: data(e)) if takes_epoch else (lambda e: data())
        elif hasattr(data, "__iter__"):
            self._iterable = lambda e: data
        else:
            raise TypeError(
                f"run() needs an iterable of batches or a function returning one, got "
                f"{type(data).__name__}."
            )

    def epoch(self, epoch: int) -> Iterator[Any]:
        """A fresh iterator over ``epoch``'s batches; remembers their number if known."""
        iterable = self._iterable(epoch)
        self.lengths[epoch] = len(iterable) if hasattr(iterable, "__len__") else None
        return map(_as_arrays, iterable)

    def starting_at(self, epoch: int, skip: int) -> Iterator[Any]:
        """The iterator of ``epoch`` with its first ``skip`` batches consumed (resume)."""
        batches = self.epoch(epoch)
        skipped = sum(1 for _ in itertools.islice(batches, skip))
        if skipped < skip:
            raise ValueError(
                f"Cannot resume at batch {skip} of epoch {epoch}: the data has only {skipped} "
                f"batches in that epoch. Resume with the same data as the interrupted run."
            )
        return batches


_ARRAY_TYPES = (np.ndarray, jax.Array, int, float, bool, np.generic)


def _as_arrays(batch: Any) -> Any:
    """Leaves that are neither NumPy/JAX arrays nor numbers (e.g. torch tensors from a
    DataLoader) become NumPy arrays through ``__array__``."""

    if type(batch) is tuple and all(type(leaf) is np.ndarray for leaf in batch):
        return batch  # the common case, (inputs, targets), in a fraction of a microsecond
    if all(isinstance(leaf, _ARRAY_TYPES) for leaf in jax.tree_util.tree_leaves(batch)):
        return batch

    def convert(leaf: Any) -> Any:
        if isinstance(leaf, _ARRAY_TYPES):
            return leaf
        try:
            array = np.asarray(leaf)
        except Exception as error:
            array, reason = None, f"{type(error).__name__}: {error}"
        else:
            reason = "it is not numeric (object dtype)"
        if array is None or array.dtype == object:
            raise TypeError(
                f"A batch leaf of type {type(leaf).__name__} cannot become an array: {reason}. "
                f"Batches must hold arrays (NumPy, JAX, or tensors convertible with "
                f"numpy.asarray) in tuples, lists or dicts."
            )
        return array

    return jax.tree_util.tree_map(convert, batch)


def _accepts_one_argument(fn: Callable[..., Any]) -> bool:
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [
        p for p in parameters
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    ]  # fmt: skip
    return len(positional) == 1


class Placement:
    """Where arrays live: the default device, or replicated/sharded over a mesh."""

    def __init__(self, mesh: Any = None, batch_axis: str = "data"):
        self.mesh = mesh
        self.batch_axis = batch_axis
        self.host_is_device = jax.default_backend() == "cpu"
        if mesh is not None and batch_axis not in mesh.axis_names:
            raise ValueError(
                f"The mesh has axes {mesh.axis_names}; batch_axis={batch_axis!r} is not one "
                f"of them."
            )

    def replicate(self, tree: Any) -> Any:
        if self.mesh is None:
            return tree
        sharding = jax.sharding.NamedSharding(self.mesh, jax.sharding.PartitionSpec())
        return jax.device_put(tree, sharding)

    def settle(self, step: Callable[..., Any], step_state: Any, metric_state: Any, batch: Any):
        """Place the states where the step puts its outputs (e.g. ``y_pred`` sharded
        like the batch), so the step compiles once and ``lax.scan`` carries match."""
        if self.mesh is None:
            return step_state, metric_state
        outputs = jax.eval_shape(step, step_state, metric_state, self.batch(batch))

        def place(value: Any, struct: Any) -> Any:
            spec = getattr(getattr(struct, "sharding", None), "spec", None)
            if spec is None:  # meshes with Auto axes: XLA propagates shardings itself
                return value
            return jax.device_put(value, jax.sharding.NamedSharding(self.mesh, spec))

        return jax.tree_util.tree_map(place, (step_state, metric_state), outputs)

    def batch(self, batch: Any, *, stacked: bool = False) -> Any:
        """Start the transfer of a batch (or a stacked block) to the device(s).

        On the CPU, host arrays go straight to the compiled step (its argument fast
        path is cheaper than an explicit copy); on accelerators ``device_put`` starts
        an asynchronous transfer that overlaps the running step.
        """
        if self.mesh is None:
            return batch if self.host_is_device else jax.device_put(batch)
        spec = (None, self.batch_axis) if stacked else (self.batch_axis,)
        sharding = jax.sharding.NamedSharding(self.mesh, jax.sharding.PartitionSpec(*spec))
        # With several processes (jax.distributed), each feeds its own share of the batch.
        processes = jax.process_count()
        devices = self.mesh.shape[self.batch_axis] // processes
        axis = 1 if stacked else 0
        for leaf in jax.tree_util.tree_leaves(batch):
            if np.ndim(leaf) <= axis or np.shape(leaf)[axis] % devices:
                raise ValueError(
                    f"A batch of shape {np.shape(leaf)} cannot be split over the {devices} "
                    f"devices of mesh axis {self.batch_axis!r}"
                    + (" in this process" if processes > 1 else "")
                    + f": the batch size must be a multiple of {devices}. Drop or pad the "
                    f"last partial batch."
                )
        if processes > 1:
            return jax.tree_util.tree_map(
                lambda leaf: jax.make_array_from_process_local_data(sharding, np.asarray(leaf)),
                batch,
            )
        return jax.device_put(batch, sharding)
