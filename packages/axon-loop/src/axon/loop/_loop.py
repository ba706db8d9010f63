"""``Loop``: an immutable description of a run; ``run`` executes it.

A run is a reduction of a dataset with an accumulated state for a number of
epochs (Axon.Loop, after PyTorch Ignite's Engine). The step function and the
metric updates are fused into one ``jax.jit``-compiled function with donated
buffers; metric values stay on the device until a handler reads them.
"""

from __future__ import annotations

import dataclasses
import sys
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from . import plugins
from ._engine.run import RunOptions, run_loop
from ._events import Event, FilterSpec, Handler, HandlerSpec, handler_specs
from ._metrics import MetricSpec, make_metric
from ._state import State

StepFn = Callable[[Any, Any], Any]
InitFn = Callable[[Any, Any], Any]


@dataclass(frozen=True)
class Loop:
    """A loop: a step function, its initial state, metrics and event handlers.

    Builder methods return a new ``Loop``; the original is never changed, so a
    loop can be extended and reused freely.

    Args:
        step_fn: ``step_fn(batch, step_state) -> step_state``, traceable by JAX.
        init_fn: ``init_fn(batch, init_state) -> step_state``, called once with the
            first batch; by default the initial state is used as it is.
        output_transform: applied to the final ``State`` by :meth:`run`.

    >>> import jax.numpy as jnp
    >>> counter = Loop(lambda batch, total: total + jnp.sum(batch), lambda batch, init: init)
    >>> counter.run([jnp.ones(2), jnp.ones(3)], jnp.float32(0)).step_state
    Array(5., dtype=float32)
    """

    step_fn: StepFn
    init_fn: InitFn | None = None
    output_transform: Callable[[State], Any] | None = None
    metrics: tuple[MetricSpec, ...] = ()
    handlers: tuple[HandlerSpec, ...] = ()
    resume_state: State | None = None
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def replace(self, **changes: Any) -> Loop:
        """A copy with some fields replaced (e.g. ``output_transform=None`` to get the State).

        >>> import jax.numpy as jnp
        >>> from axon.loop import Loop
        >>> total = Loop(lambda batch, acc: acc + batch.sum(), output_transform=lambda s: s.epoch)
        >>> total.run([jnp.ones(2), jnp.ones(3)], jnp.float32(0), epochs=2)
        1
        >>> state = total.replace(output_transform=None).run([jnp.ones(2)], jnp.float32(0))
        >>> state.status, float(state.step_state)
        ('completed', 2.0)
        """
        return dataclasses.replace(self, _cache={}, **changes)

    # -- instrumentation ---------------------------------------------------------------------

    def metric(
        self,
        metric: str | Callable[..., Any],
        name: str | None = None,
        accumulate: str | Callable[[Any, Any, Any], Any] = "running_average",
        transform: Callable[[Any], tuple[Any, ...]] | None = None,
    ) -> Loop:
        """Track ``metric`` (a registered name or ``fn(y_true, y_pred)``), reset every epoch.

        ``accumulate`` is ``"running_average"``, ``"running_sum"`` or
        ``fn(acc, value, i) -> acc``; ``transform(step_state)`` picks the metric's
        arguments (default ``(step_state["y_true"], step_state["y_pred"])``).
        Values are accumulated on the device inside the compiled step.

        >>> import jax.numpy as jnp, optax, axon.loop
        >>> init = lambda key, x: {"w": jnp.zeros((x.shape[-1], 1))}
        >>> apply = lambda p, x, *, mode, key: (x @ p["w"], None)
        >>> data = [(jnp.ones((4, 2)), jnp.full((4, 1), 2.0))] * 3
        >>> trainer = axon.loop.trainer((init, apply), "mean_squared_error", optax.sgd(0.1), log=0)
        >>> with_mae = trainer.metric("mean_absolute_error", "mae").replace(output_transform=None)
        >>> state = with_mae.run(data)
        >>> {name: round(float(value), 3) for name, value in state.history[0].items()}
        {'loss': 1.986, 'mae': 1.307}
        >>> error_sum = lambda y_true, y_pred: jnp.sum(jnp.abs(y_true - y_pred))
        >>> with_sum = trainer.metric(error_sum, "error_sum", accumulate="running_sum")
        >>> state = with_sum.replace(output_transform=None).run(data)
        >>> round(state.scalar_metrics()["error_sum"], 2)
        15.68
        """
        spec = make_metric(metric, name, accumulate, transform)
        kept = tuple(m for m in self.metrics if m.name != spec.name)
        if len(kept) != len(self.metrics):
            warnings.warn(
                f"Metric {spec.name!r} is attached twice; the later one replaces the earlier.",
                stacklevel=2,
            )
        return self.replace(metrics=(*kept, spec))

    def handle_event(
        self,
        event: Event | str | Iterable[Event | str],
        handler: Handler,
        filter: FilterSpec = "always",
        *,
        first: bool = False,
        resume_source: Callable[[], Any] | None = None,
    ) -> Loop:
        """Call ``handler(state)`` on ``event`` (or each of several events, or ``"all"``).

        The handler may return ``None``/``"continue"``, ``"halt_epoch"`` or
        ``"halt_loop"``. Handlers run in the order they were attached, except that
        those attached with ``first=True`` run before the others of their event, then
        the logging handlers of :meth:`log_to`, then the metric watchers
        (:meth:`monitor`, :meth:`early_stop`, :meth:`reduce_lr_on_plateau`), so that
        a checkpoint written on the same event holds what they logged and kept.
        ``filter`` is ``"always"``, ``"first"``, a dict such as ``{"every": 100}``
        or ``fn(state, event) -> bool``.

        ``resume_source`` is for a handler that writes checkpoints: a function
        returning a checkpoint backend that reads them (see
        :class:`axon.loop.checkpoint.CheckpointBackend`), which ``run(resume="auto")``
        resumes from. :func:`axon.loop.handlers.checkpoint` sets it.

        >>> import jax.numpy as jnp
        >>> from axon.loop import Loop
        >>> counter = Loop(lambda batch, total: total + batch.sum())
        >>> def report(state):
        ...     print("iteration", state.iteration, "total", float(state.step_state))
        ...     return "halt_loop" if state.iteration == 4 else None
        >>> watched = counter.handle_event("iteration_completed", report, {"every": 2})
        >>> state = watched.run([jnp.ones(2)] * 3, jnp.float32(0), epochs=3)
        iteration 2 total 4.0
        iteration 4 total 8.0
        >>> state.status, state.epoch
        ('halted', 1)
        """
        added = handler_specs(event, handler, filter, first=first, resume_source=resume_source)
        return self.replace(handlers=self.handlers + added)

    def log(
        self,
        message_fn: Callable[[State], str],
        *,
        event: Event | str = "iteration_completed",
        filter: FilterSpec = "always",
        stream: Any = None,
    ) -> Loop:
        """Print ``message_fn(state)`` on ``event`` (to ``stream``, stdout by default).

        >>> import jax.numpy as jnp
        >>> from axon.loop import Loop
        >>> counter = Loop(lambda batch, total: total + batch.sum())
        >>> message = lambda state: f"iteration {state.iteration}: {float(state.step_state):.0f}"
        >>> _ = counter.log(message, filter={"every": 2}).run([jnp.ones(2)] * 4, jnp.float32(0))
        iteration 2: 4
        iteration 4: 8
        """

        def log_message(state: State) -> None:
            print(message_fn(state), file=stream or sys.stdout, flush=True)

        return self.handle_event(event, log_message, filter)

    def validate(self, model: Any, data: Any, **options: Any) -> Loop:
        """Evaluate on ``data`` each epoch, adding ``validation_<metric>`` metrics.

        ``options`` are ``event`` and ``filter`` (when to validate); see
        :func:`axon.loop.handlers.validate`.

        >>> import jax.numpy as jnp, optax, axon.loop
        >>> init = lambda key, x: {"w": jnp.zeros((x.shape[-1], 1))}
        >>> apply = lambda p, x, *, mode, key: (x @ p["w"], None)
        >>> data = [(jnp.ones((4, 2)), jnp.full((4, 1), 2.0))] * 3
        >>> trainer = axon.loop.trainer((init, apply), "mean_squared_error", optax.sgd(0.1), log=0)
        >>> validated = trainer.validate((init, apply), data[:1]).replace(output_transform=None)
        >>> state = validated.run(data, epochs=2)
        >>> {name: round(float(value), 3) for name, value in state.history[1].items()}
        {'loss': 0.093, 'validation_loss': 0.009}
        """
        return self.attach("validate", model, data, **options)

    def log_to(self, logger: Any, **options: Any) -> Loop:
        """Send metrics to a logger (``"tensorboard"``, ``"csv"``... or an object).

        ``options`` are ``every`` (iterations between ``train/`` points) and, for a logger
        given by name, the logger's own (e.g. ``logdir=``); see :func:`axon.loop.handlers.log_to`.

        >>> import jax.numpy as jnp, optax, axon.loop
        >>> init = lambda key, x: {"w": jnp.zeros((x.shape[-1], 1))}
        >>> apply = lambda p, x, *, mode, key: (x @ p["w"], None)
        >>> data = [(jnp.ones((4, 2)), jnp.full((4, 1), 2.0))] * 3
        >>> trainer = axon.loop.trainer((init, apply), "mean_squared_error", optax.sgd(0.1), log=0)
        >>> class Printer:  # any object with log_scalars, flush and close
        ...     def log_scalars(self, scalars, step):
        ...         print(step, {tag: round(value, 2) for tag, value in scalars.items()})
        ...     def flush(self): pass
        ...     def close(self): pass
        >>> _ = trainer.log_to(Printer(), every=1).run(data)
        1 {'train/loss': 4.0}
        2 {'train/loss': 2.72}
        3 {'train/loss': 1.99}
        3 {'epoch/loss': 1.99}
        """
        return self.attach("log_to", logger, **options)

    def checkpoint(self, path: Any = "checkpoints", **options: Any) -> Loop:
        """Save checkpoints of the step state; see :func:`axon.loop.handlers.checkpoint`.

        >>> import tempfile, jax.numpy as jnp, optax, axon.loop
        >>> init = lambda key, x: {"w": jnp.zeros((x.shape[-1], 1))}
        >>> apply = lambda p, x, *, mode, key: (x @ p["w"], None)
        >>> data = [(jnp.ones((4, 2)), jnp.full((4, 1), 2.0))] * 3
        >>> trainer = axon.loop.trainer((init, apply), "mean_squared_error", optax.sgd(0.1), log=0)
        >>> tmp = tempfile.TemporaryDirectory()
        >>> _ = trainer.checkpoint(tmp.name, keep=2).run(data, epochs=3)
        >>> axon.loop.checkpoint.OrbaxBackend(tmp.name).steps()
        [6, 9]
        >>> trainer = trainer.replace(output_transform=None)
        >>> resumed = trainer.run(data, epochs=5, resume_from=tmp.name)
        >>> resumed.resumed_from, resumed.iteration
        (9, 15)
        >>> tmp.cleanup()
        """
        return self.attach("checkpoint", path, **options)

    def monitor(
        self, metric: str, fn: Callable[[State], Any], name: str | None = None, **options: Any
    ) -> Loop:
        """Call ``fn(state)`` when ``metric`` stops improving.

        See :func:`axon.loop.handlers.monitor`.

        >>> import jax.numpy as jnp, optax, axon.loop
        >>> init = lambda key, x: {"w": jnp.zeros((x.shape[-1], 1))}
        >>> apply = lambda p, x, *, mode, key: (x @ p["w"], None)
        >>> data = [(jnp.ones((4, 2)), jnp.full((4, 1), 2.0))] * 3
        >>> trainer = axon.loop.trainer((init, apply), "mean_squared_error", optax.sgd(0.1), log=0)
        >>> report = lambda state: print("no higher loss since epoch", state.epoch - 2)
        >>> _ = trainer.monitor("loss", report, mode="max", patience=2).run(data, epochs=4)
        no higher loss since epoch 0
        """
        return self.attach("monitor", metric, fn, name, **options)

    def early_stop(self, metric: str, **options: Any) -> Loop:
        """Halt when ``metric`` stops improving; see :func:`axon.loop.handlers.early_stop`.

        ``restore_best=True`` ends the run with the model state of the best epoch.

        >>> import jax.numpy as jnp, optax, axon.loop
        >>> init = lambda key, x: {"w": jnp.zeros((x.shape[-1], 1))}
        >>> apply = lambda p, x, *, mode, key: (x @ p["w"], None)
        >>> data = [(jnp.ones((4, 2)), jnp.full((4, 1), 2.0))] * 3
        >>> trainer = axon.loop.trainer((init, apply), "mean_squared_error", optax.sgd(0.1), log=0)
        >>> validated = trainer.validate((init, apply), data[:1])
        >>> stopping = validated.early_stop("validation_loss", min_delta=0.01, patience=1)
        >>> state = stopping.replace(output_transform=None).run(data, epochs=10)
        >>> state.status, state.epoch
        ('halted', 2)
        """
        return self.attach("early_stop", metric, **options)

    def reduce_lr_on_plateau(self, metric: str, **options: Any) -> Loop:
        """Lower the learning rate when ``metric`` stops improving; see
        :func:`axon.loop.handlers.reduce_lr_on_plateau`.

        The optimizer must take its learning rate from ``optax.inject_hyperparams``.
        Most often the metric is a validation one, as here, where fitting the training
        data makes the held-out loss worse:

        >>> import jax.numpy as jnp, optax, axon.loop
        >>> sgd = optax.inject_hyperparams(optax.sgd)(learning_rate=0.1)
        >>> pair = (lambda key, x: {"w": jnp.zeros((x.shape[-1], 1))},
        ...         lambda p, x, *, mode, key: (x @ p["w"], None))
        >>> train = [(jnp.ones((4, 2)), jnp.full((4, 1), 2.0))] * 3
        >>> held_out = [(jnp.ones((4, 2)), jnp.zeros((4, 1)))]
        >>> trainer = axon.loop.trainer(pair, "mean_squared_error", sgd, log=0)
        >>> validated = trainer.validate(pair, held_out)
        >>> reducing = validated.reduce_lr_on_plateau("validation_loss", patience=1)
        >>> state = reducing.replace(output_transform=None).run(train, epochs=3)
        Epoch 1: reduce_lr_on_plateau: learning rate 0.1 -> 0.01 (validation_loss stalled ...).
        Epoch 2: reduce_lr_on_plateau: learning rate 0.01 -> 0.001 (validation_loss stalled ...).
        >>> round(float(state.step_state["optimizer_state"].hyperparams["learning_rate"]), 4)
        0.001
        """
        return self.attach("reduce_lr_on_plateau", metric, **options)

    def halt_on_nonfinite(self, **options: Any) -> Loop:
        """Halt when the loss becomes NaN/inf; see :func:`axon.loop.handlers.halt_on_nonfinite`.

        >>> import jax.numpy as jnp, optax, axon.loop
        >>> init = lambda key, x: {"w": jnp.zeros((x.shape[-1], 1))}
        >>> apply = lambda p, x, *, mode, key: (x @ p["w"], None)
        >>> data = [(jnp.ones((4, 2)), jnp.full((4, 1), 2.0))] * 3
        >>> trainer = axon.loop.trainer((init, apply), "mean_squared_error", optax.sgd(0.1), log=0)
        >>> bad = data[:1] + [(jnp.ones((4, 2)), jnp.full((4, 1), jnp.inf))] + data
        >>> state = trainer.halt_on_nonfinite(every=1).replace(output_transform=None).run(bad)
        >>> state.status, state.handler_metadata["nonfinite"]
        ('halted', {'metric': 'loss', 'epoch': 0, 'batch': 2, 'iteration': 2})
        """
        return self.attach("halt_on_nonfinite", **options)

    def attach(self, name: str, *args: Any, **options: Any) -> Loop:
        """Attach a handler registered by name (built-in or from a plugin).

        ``loop.attach("early_stop", "loss", patience=1)`` is
        ``axon.loop.plugins.handlers.get("early_stop")(loop, "loss", patience=1)``.

        >>> import jax.numpy as jnp, optax, axon.loop
        >>> init = lambda key, x: {"w": jnp.zeros((x.shape[-1], 1))}
        >>> apply = lambda p, x, *, mode, key: (x @ p["w"], None)
        >>> data = [(jnp.ones((4, 2)), jnp.full((4, 1), 2.0))] * 3
        >>> trainer = axon.loop.trainer((init, apply), "mean_squared_error", optax.sgd(0.1), log=0)
        >>> "early_stop" in axon.loop.plugins.handlers.names()
        True
        >>> stopping = trainer.attach("early_stop", "loss", mode="max", patience=1)
        >>> state = stopping.replace(output_transform=None).run(data, epochs=5)
        >>> state.status, state.epoch
        ('halted', 1)
        """
        return plugins.handlers.get(name)(self, *args, **options)

    # -- running --------------------------------------------------------------------------

    def from_state(self, state: State) -> Loop:
        """A loop whose next run continues from ``state`` (``Axon.Loop.from_state``).

        ``state`` is a ``State`` from an earlier run of this loop or from
        :func:`axon.loop.deserialize_state`; ``run(..., epochs=N)`` then continues
        until epoch ``N`` (the data position, counters and metrics carry over).

        >>> import jax.numpy as jnp, optax, axon.loop
        >>> init = lambda key, x: {"w": jnp.zeros((x.shape[-1], 1))}
        >>> apply = lambda p, x, *, mode, key: (x @ p["w"], None)
        >>> data = [(jnp.ones((4, 2)), jnp.full((4, 1), 2.0))] * 3
        >>> trainer = axon.loop.trainer((init, apply), "mean_squared_error", optax.sgd(0.1), log=0)
        >>> trainer = trainer.replace(output_transform=None)
        >>> state = trainer.run(data, epochs=2)
        >>> state.epoch, state.iteration
        (1, 6)
        >>> state = trainer.from_state(state).run(data, epochs=4)
        >>> state.epoch, state.iteration, state.resumed_from
        (3, 12, 6)
        """
        return self.replace(resume_state=state)

    def run(
        self,
        data: Iterable[Any] | Callable[..., Iterable[Any]],
        init_state: Any = None,
        *,
        epochs: int = 1,
        iterations: int | None = None,
        jit: bool = True,
        steps_per_dispatch: int | str = "auto",
        resume_from: Any = None,
        resume: str | None = None,
        mesh: Any = None,
        batch_axis: str = "data",
        sharding: Any = "replicated",
        debug: bool = False,
        seed: int | None = None,
        prefetch: int | str = "auto",
    ) -> Any:
        """Run the loop over ``data`` for ``epochs`` epochs and return the output.

        Args:
            data: the batches: ``axon.loop.batches(x, y, batch_size=...)`` over
                arrays, a re-iterable of batches (a list, a
                ``torch.utils.data.DataLoader``, a ``grain.MapDataset``,
                ``IterDataset`` or ``DataLoader``), a one-shot iterator (one epoch
                only), or a function ``fn()`` / ``fn(epoch)`` returning each epoch's
                batches. Tensors in the batches become NumPy arrays. Whole arrays are
                refused with a pointer to ``batches`` (``run(x, y)`` is Keras's
                ``fit``, not this).
            init_state: passed to the loop's ``init_fn`` (for a trainer: a model
                state to start from).
            epochs: the epoch to stop at (counting the epochs of a resumed run).
            iterations: at most this many batches per epoch.
            jit: compile the step (``False`` runs it eagerly, for debugging).
            steps_per_dispatch: run up to this many iterations per device dispatch
                in one compiled loop (fused mode). Blocks stop wherever a handler
                fires, so handlers see the same states as without fusion; blocks of
                every size share one program. ``"auto"`` (the default) fuses up to
                64 iterations holding at most 64 MiB of batches; ``1`` turns fusion
                off.
            resume_from: continue an interrupted run exactly: a checkpoint directory
                (orbax, latest step), a checkpoint backend object (its latest step),
                or a ``State``. The data must give the same batches per epoch. Inside
                an epoch, ``batches(...)`` and data that saved its position in the
                checkpoint (grain's iterators, loaders with ``state_dict()`` such as
                torchdata's ``StatefulDataLoader``) start at the checkpoint's batch
                directly; other data is read again up to it. If the newest checkpoint
                is damaged, the newest intact one is used, with a warning. A run that
                already finished its ``epochs`` is an error.
            resume: ``"auto"`` starts or resumes, so that a preempted job continues when
                started again with the same command: if the directory of the loop's
                checkpoint handler holds a checkpoint, the run resumes from it (as with
                ``resume_from``); if not, it starts fresh (keeping the run id of a run
                that died before its first checkpoint, so its loggers redo those steps).
                If that run already finished, nothing runs: its final state is returned,
                with a notice on stderr. Needs exactly one checkpoint handler; not
                combined with ``resume_from`` or ``from_state``.
            mesh: a ``jax.sharding.Mesh``: batches are split along ``batch_axis``
                across its devices, the step state is replicated (data parallel)
                unless ``sharding`` says otherwise. With several processes
                (``jax.distributed.initialize``), each process passes its own share
                of every batch.
            batch_axis: the mesh axis that batches are split along.
            sharding: how parameters are placed on the ``mesh``: ``"replicated"``
                (the default: whole on every device), ``"fsdp"`` (each parameter
                and its optimizer state split along its largest axis that the
                ``batch_axis`` divides, small ones replicated; see
                :class:`axon.loop.FSDP`), or a dict of parameter path globs (as in
                ``freeze``: ``"dense_0/kernel"``, ``"*/kernel"``) to
                ``jax.sharding.PartitionSpec`` (tensor parallel:
                ``{"*/kernel": P(None, "model")}``), ``"fsdp"``/``FSDP(...)`` or
                ``None`` (replicated); the first matching pattern wins, unmatched
                parameters are replicated, and a pattern that matches nothing is an
                error. Optimizer state that mirrors a parameter (same path suffix and
                shape) is placed like it; metric accumulators are replicated. The
                step is one ``jax.jit`` that keeps these shardings; XLA inserts the
                collectives. Checkpoints store the shards as they are and resume
                onto any mesh and rules.
            debug: print every handler call and each step's time to stderr
                (waiting for each step to finish, so the run is slower), and check
                every indexing in the step (``jax.experimental.checkify``): an
                embedding id outside its vocabulary raises ``IndexError`` instead of
                being clamped, as jitted code does.
            seed: for this run, replaces the seed the loop was built with (a
                trainer's parameter initialization and per-step keys).
            prefetch: how many batches a background thread reads ahead (and, without
                fusion, transfers to the device) while the step runs; ``0`` reads
                each batch when it is needed, in the calling thread. ``"auto"`` (the
                default) reads loaders, generators and functions' batches 2 ahead,
                and batches already in memory (``batches(...)``, lists) when needed,
                as a thread only adds its handoffs there. An error in the data is
                raised here, with the data's traceback, after the batches read before
                it have run. A run that halts early may have read up to ``prefetch``
                batches it did not run; a one-shot iterator continued in the next
                epoch gets them back.

        Returns:
            ``output_transform(state)``, or the final :class:`State` if the loop has
            no ``output_transform`` (a trainer returns the model state).

        Raises:
            EmptyDataError: ``data`` produced no batch.
            CheckpointCorruptedError: every checkpoint to resume from is damaged.

        >>> import jax.numpy as jnp
        >>> from axon.loop import Loop
        >>> counter = Loop(lambda batch, total: total + batch.sum())
        >>> state = counter.run([jnp.ones(2)] * 5, jnp.float32(0), epochs=2, iterations=3)
        >>> state.iteration, float(state.step_state), state.status
        (6, 12.0, 'completed')
        >>> batches = lambda epoch: [jnp.full(2, epoch)]  # a new dataset each epoch
        >>> float(counter.run(batches, jnp.float32(0), epochs=3).step_state)
        6.0

        The same command starts a run, then continues it:

        >>> import tempfile
        >>> saving = counter.checkpoint(tempfile.mkdtemp())
        >>> state = saving.run([jnp.ones(2)] * 2, jnp.float32(0), epochs=2, resume="auto")
        >>> state.resumed_from, state.iteration
        (None, 4)
        >>> state = saving.run([jnp.ones(2)] * 2, jnp.float32(0), epochs=3, resume="auto")
        >>> state.resumed_from, state.iteration, float(state.step_state)
        (4, 6, 12.0)

        Loaders people already use are data as they are. A grain dataset (or grain
        ``DataLoader``), whose iterators save their position, so a resumed run starts
        at its checkpoint's batch without reading the epoch up to it:

        >>> import grain, numpy as np, optax, axon.loop
        >>> x = np.random.default_rng(0).normal(size=(64, 2)).astype(np.float32)
        >>> y = x @ np.array([[1.0], [-1.0]], np.float32)
        >>> init = lambda key, x: {"w": np.zeros((2, 1), np.float32)}
        >>> apply = lambda p, x, *, mode, key: (x @ p["w"], None)
        >>> trainer = axon.loop.trainer((init, apply), "mean_squared_error", optax.sgd(0.2), log=0)
        >>> examples = grain.MapDataset.source(list(zip(x, y)))  # records of (x, y)
        >>> params = trainer.run(examples.shuffle(seed=0).batch(16), epochs=30)
        >>> np.round(params["w"].ravel(), 2).tolist()
        [1.0, -1.0]

        A torch ``DataLoader`` (torch is optional; its tensors become NumPy arrays):

        >>> import pytest; torch = pytest.importorskip("torch")
        >>> dataset = torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
        >>> loader = torch.utils.data.DataLoader(dataset, batch_size=16, shuffle=True)
        >>> params = trainer.run(loader, epochs=30)
        >>> np.round(params["w"].ravel(), 2).tolist()
        [1.0, -1.0]
        """
        options = RunOptions(
            epochs=epochs, iterations=iterations, jit=jit, steps_per_dispatch=steps_per_dispatch,
            mesh=mesh, batch_axis=batch_axis, sharding=sharding, debug=debug, seed=seed,
            resume=resume,
            prefetch=prefetch,
        )  # fmt: skip
        state = run_loop(self, data, init_state, resume_from, options)
        return self.output_transform(state) if self.output_transform else state
