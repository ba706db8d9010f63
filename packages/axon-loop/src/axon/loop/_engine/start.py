"""Where a run starts: fresh, or from a checkpoint, with its initial state.

A state is built from a batch of the data (the template: its shapes give the
step state its shapes), then a checkpoint, if any, overwrites it. Resuming inside
an epoch, the template is the last batch the checkpointed step ran on (read again
from the data's saved position, or by reading the epoch up to it), so any
difference in the batch-shaped leaves means other data; otherwise it is the next
batch, and those leaves are restored with the checkpoint's shapes. Damaged
checkpoints are skipped, newest first, with a warning; the data position follows
the checkpoint actually used.
"""

from __future__ import annotations

import inspect
import sys
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np

from .._data import DataSource, EmptyDataError, EpochBatches
from .._state import State
from ..checkpoint._errors import CheckpointCorruptedError
from .compiled import fused_step, zero_metrics

if TYPE_CHECKING:
    from .._loop import Loop
    from ..checkpoint._resume import Resume, Saved
    from .placement import Placement
    from .run import RunOptions


@dataclass
class Start:
    """A run's initial state and the batches it goes on with."""

    state: State
    epoch: int  # the epoch the run starts in
    batches: EpochBatches  # that epoch's batches still to run
    mid_epoch: bool  # the epoch had already started (resumed inside it)
    template: Any  # the batch the state was built from
    finished: bool = False  # resumed a run that already reached its last epoch: nothing to run


def find_start(
    loop: Loop,
    source: DataSource,
    init_state: Any,
    resume: Resume,
    options: RunOptions,
    placement: Placement,
) -> Start:
    """The start of a run: from the newest intact checkpoint of ``resume``, else fresh."""
    skipped: list[str] = []
    for saved in resume.candidates:
        try:
            start = _resumed(loop, source, init_state, saved, options, placement, resume.explicit)
        except CheckpointCorruptedError as error:  # its message names the path and step
            skipped.append(str(error))
            continue
        if skipped:
            warnings.warn(
                f"Resuming from {saved.where}, the newest intact checkpoint; skipped the "
                f"damaged ones:\n  " + "\n  ".join(skipped),
                stacklevel=4,
            )
        return start
    if skipped:
        raise CheckpointCorruptedError(
            "No intact checkpoint to resume from; every one is damaged:\n  "
            + "\n  ".join(skipped)
            + "\nDelete the damaged step folders, or start fresh in a new directory."
        )
    _, batches = source.starting_at(0, 0)
    template = _first_batch(batches, 0)
    state = _initial_state(loop, template, init_state, options, placement)
    if resume.run_id is not None:
        state.run_id = resume.run_id
    return Start(state, 0, batches, False, template)


def _resumed(
    loop: Loop,
    source: DataSource,
    init_state: Any,
    saved: Saved,
    options: RunOptions,
    placement: Placement,
    explicit: bool,
) -> Start:
    epoch, skip, mid_epoch = saved.position
    if epoch >= options.epochs:
        done = saved.metadata["epoch"]
        if explicit:
            raise ValueError(
                f"The resumed run already finished epoch {done}; pass epochs > {done + 1} to "
                f"train further."
            )
        # resume="auto" after the run finished: restore its final state, run nothing
        _, batches = source.starting_at(done, 0)
        template = _first_batch(batches, done)
        state = _initial_state(loop, template, init_state, options, placement)
        _restore(loop, saved, state, template, placement, last_batch=None)
        state.status = "completed"
        print(
            f"[axon.loop] Nothing to run: {saved.where} is of a run that already finished "
            f"epoch {done} (iteration {state.iteration}). Pass epochs > {done + 1} to train "
            f"further.",
            file=sys.stderr,
        )
        return Start(state, done, iter(()), False, template, finished=True)
    last, batches = source.starting_at(epoch, skip, saved.metadata.get("data_position"))
    template = _first_batch(batches, epoch) if last is None else last
    state = _initial_state(loop, template, init_state, options, placement)
    named = None if last is None else f"batch {skip - 1} of epoch {epoch} (counted from 0)"
    _restore(loop, saved, state, template, placement, last_batch=named)
    return Start(state, epoch, batches, mid_epoch, template)


def _restore(
    loop: Loop,
    saved: Saved,
    state: State,
    template: Any,
    placement: Placement,
    last_batch: str | None,
) -> None:
    saved.restore_into(
        state,
        placement,
        batch_shaped=lambda: batch_shaped_paths(loop, state, template),
        last_batch=last_batch,
    )


def batch_shaped_paths(loop: Loop, state: State, batch: Any) -> set[str]:
    """The paths (as in a checkpoint's layout) of the state leaves whose shape follows the
    batch size, e.g. a trainer's ``y_true`` and ``y_pred``: the step is traced (not run)
    for ``batch`` and for a batch one example larger, and their outputs compared."""
    step = fused_step(loop)
    carry = (state.step_state, state.metric_state)

    def larger(leaf: Any) -> Any:
        shape = np.shape(leaf)
        dtype = getattr(leaf, "dtype", None) or np.result_type(leaf)
        return jax.ShapeDtypeStruct((shape[0] + 1, *shape[1:]) if shape else (), dtype)

    try:
        outputs = [
            jax.eval_shape(step, *carry, b) for b in (batch, jax.tree_util.tree_map(larger, batch))
        ]
    except Exception:  # a step that needs this very batch size: nothing follows the batch
        return set()
    shapes = [
        {
            jax.tree_util.keystr(path): leaf.shape
            for path, leaf in jax.tree_util.tree_leaves_with_path(
                {"step_state": out[0], "metric_state": out[1]}
            )
        }
        for out in outputs
    ]
    return {path for path, shape in shapes[0].items() if shapes[1].get(path) != shape}


def _first_batch(batches: EpochBatches, epoch: int) -> Any:
    """The epoch's first batch, left in ``batches`` to be run."""
    try:
        return batches.peek()[0]
    except StopIteration:
        if epoch == 0:
            raise EmptyDataError(
                "The data given to run() produced no batches. Pass a non-empty iterable "
                "of batches, e.g. a list of (inputs, targets) tuples."
            ) from None
        raise EmptyDataError(
            f"The data produced no batches in epoch {epoch}. A generator or iterator can be "
            f"consumed only once: pass a list, a re-iterable loader, or a function returning "
            f"a fresh iterable for every epoch."
        ) from None


def _initial_state(
    loop: Loop, first: Any, init_state: Any, options: RunOptions, placement: Placement
) -> State:
    """A fresh state of ``loop``, its step state made from the first batch."""
    step_state = _initial_step_state(loop, first, init_state, options.seed)
    # The compiled step donates its inputs; copy once so the caller's arrays survive.
    step_state = placement.place_state(copy_tree(step_state))
    state = State(step_state=step_state, max_epoch=options.epochs, max_iteration=options.iterations)
    state.metric_state = placement.replicate(zero_metrics(loop, step_state))
    return state


@jax.jit
def copy_tree(tree: Any) -> Any:
    """New buffers for every leaf, in one program (per state signature)."""
    return jax.tree_util.tree_map(jnp.copy, tree)


def _initial_step_state(loop: Loop, first: Any, init_state: Any, seed: int | None) -> Any:
    if loop.init_fn is None:
        return init_state
    if seed is None:
        return loop.init_fn(first, init_state)
    if "seed" not in inspect.signature(loop.init_fn).parameters:
        raise TypeError(
            "run(seed=...) needs a loop whose init_fn takes a seed= argument (trainers "
            "do); seed your own init_fn yourself."
        )
    return loop.init_fn(first, init_state, seed=seed)
