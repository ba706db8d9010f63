"""``Placement``: where a run's arrays live, on the default device or over a mesh.

Without a mesh the state stays where it is made and batches go to the default
device. With a ``jax.sharding.Mesh`` every batch is split along the batch axis,
each process feeding its own share, and the state is replicated (data parallel)
or, with ``run(sharding=...)``, its parameters and what mirrors them are split as
the rules say (``_sharding``): placed so at the start and kept so by the compiled
step (``with_sharding_constraint``), where GSPMD inserts the collectives.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from .._sharding import ShardingPlan


class Placement:
    """Where arrays live: the default device, or replicated/sharded over a mesh."""

    def __init__(self, mesh: Any = None, batch_axis: str = "data", sharding: Any = "replicated"):
        self.mesh = mesh
        self.batch_axis = batch_axis
        self.host_is_device = jax.default_backend() == "cpu"
        if mesh is not None and batch_axis not in mesh.axis_names:
            raise ValueError(
                f"The mesh has axes {mesh.axis_names}; batch_axis={batch_axis!r} is not one "
                f"of them."
            )
        self.plan = None
        if not (isinstance(sharding, str) and sharding == "replicated"):
            if mesh is None:
                raise ValueError(
                    f"run(sharding={sharding!r}) splits parameters over a mesh: pass "
                    f"mesh=jax.make_mesh(...) too."
                )
            # GSPMD places what the rules leave open (activations, gradients) and inserts
            # the collectives: Auto axes, whatever types the given mesh has
            self.mesh = mesh = auto_axes(mesh)
            self.plan = ShardingPlan(mesh, sharding, batch_axis)
        #: what the compiled step depends on besides the loop (its cache key)
        self.sharding_key = None if self.plan is None else self.plan.key

    def place_state(self, step_state: Any) -> Any:
        """The step state placed as the sharding rules say (replicated without rules)."""
        if self.plan is None:
            return self.replicate(step_state)
        replicated = jax.sharding.NamedSharding(self.mesh, jax.sharding.PartitionSpec())
        shardings = self.plan.shardings(step_state)
        return jax.tree_util.tree_map(
            lambda leaf, sharding: jax.device_put(leaf, sharding or replicated),
            step_state,
            shardings,
            is_leaf=lambda x: x is None,
        )

    def constrain(self, step_state: Any) -> Any:
        """Inside the compiled step: keep the ruled leaves where the rules put them."""
        if self.plan is None:
            return step_state
        return jax.tree_util.tree_map(
            lambda leaf, sharding: (
                leaf if sharding is None else jax.lax.with_sharding_constraint(leaf, sharding)
            ),
            step_state,
            self.plan.shardings(step_state),
            is_leaf=lambda x: x is None,
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


def auto_axes(mesh: Any) -> Any:
    """``mesh`` with every axis of type ``Auto`` (``jax.make_mesh`` makes ``Explicit`` ones,
    under which a step whose operands are sharded differently is a type error)."""
    auto = (jax.sharding.AxisType.Auto,) * len(mesh.axis_names)
    if getattr(mesh, "axis_types", auto) == auto:
        return mesh
    return jax.sharding.Mesh(mesh.devices, mesh.axis_names, axis_types=auto)
