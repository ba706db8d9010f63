"""Killed anywhere and started again with ``resume="auto"``, a run ends bitwise equal to the
uninterrupted one: parameters, optimizer state, key, metric state, history and counters.

A property test over epoch lengths (3, 4 with a short last batch, 5), checkpoint
intervals (every 1, 2, L and L + 1 iterations, or each epoch) and every kill point:
each iteration, each ``epoch_completed`` before and after the checkpoint handler, and
``completed``. A kill is an exception raised by a handler. Checkpoints go to an
in-memory store (the orbax store is tested on its own, and killed for real in
``tests/integration/test_resume.py``); filters are changed between cases instead of
building new loops, so the compiled programs are reused and the test takes seconds.
"""

import itertools
import json
import types
from typing import ClassVar

import jax
import numpy as np
import optax
import pytest

import axon.loop
from axon.loop._events import CountFilter
from axon.loop.checkpoint import CheckpointDirectoryError
from axon.loop.plugins import hookimpl

EPOCHS = 2
NEVER = [("before", "total", 0)]  # a filter that never matches (and says so to the planner)


class Killed(Exception):
    pass


class MemoryStore:
    """A checkpoint backend in memory, with the directory contract: one run per path."""

    stores: ClassVar[dict[str, dict]] = {}

    def __init__(self, path, *, keep=None, run_id=None, overwrite=False):
        self.path = path
        if run_id is not None:
            store = self.stores.setdefault(path, {"run_id": run_id, "steps": {}})
            if store["run_id"] != run_id and store["steps"] and not overwrite:
                raise CheckpointDirectoryError(f"{path} holds another run's checkpoints")
            if store["run_id"] != run_id:
                self.stores[path] = {"run_id": run_id, "steps": {}}

    @property
    def run_id(self):
        return self.stores.get(self.path, {}).get("run_id")

    def save(self, step, tree, metadata):
        steps = self.stores[self.path]["steps"]
        for later in [s for s in steps if s >= step]:
            del steps[later]
        steps[step] = (jax.device_get(tree), json.loads(json.dumps(metadata)))

    def restore(self, step=None, *, like):
        tree, metadata = self.stores[self.path]["steps"][step]
        return jax.tree_util.tree_map(jax.numpy.asarray, tree), metadata

    def metadata(self, step=None):
        return self.stores[self.path]["steps"][step][1]

    def steps(self):
        return sorted(self.stores.get(self.path, {}).get("steps", ()))

    def close(self):
        pass


class Kill:
    """A handler that raises when its (changeable) filter matches."""

    def __init__(self):
        self.filter = CountFilter(NEVER)

    def __call__(self, state):
        raise Killed

    def at(self, count):
        self.filter.conditions = [("once", "total", count)]


def batches(length):
    def epoch_batches(epoch):
        x = np.random.default_rng(epoch).normal(size=(8 * length, 3)).astype(np.float32)
        y = x @ np.array([[1.0], [-2.0], [0.5]], np.float32)
        cut = [8 * i for i in range(length)] + [8 * length - (3 if length == 4 else 0)]
        return [(x[a:b], y[a:b]) for a, b in itertools.pairwise(cut)]

    return epoch_batches


class Case:
    """A loop with a checkpoint handler and kill handlers whose filters change per case."""

    def __init__(self, linear, event):
        self.every = CountFilter(NEVER)
        self.kills = {name: Kill() for name in ("iteration", "before", "after", "completed")}
        loop = (
            axon.loop.trainer(linear, "mean_squared_error", optax.adam(5e-2), log=0)
            .metric("mean_absolute_error")
            .replace(output_transform=None)
            .handle_event("epoch_completed", self.kills["before"], self.kills["before"].filter,
                          first=True)
        )  # fmt: skip
        if event == "epoch_completed":
            loop = loop.checkpoint("kill-anywhere", backend="memory-test")
        else:
            loop = loop.checkpoint("kill-anywhere", backend="memory-test", event=event,
                                   filter=self.every)  # fmt: skip
        for name, event in [
            ("iteration", "iteration_completed"), ("after", "epoch_completed"),
            ("completed", "completed"),
        ]:  # fmt: skip
            loop = loop.handle_event(event, self.kills[name], self.kills[name].filter)
        self.loop = loop

    def run(self, data, every=None, kill=None):
        self.every.conditions = NEVER if every is None else [("every", "total", every)]
        for handler in self.kills.values():
            handler.filter.conditions = NEVER
        if kill is not None:
            self.kills[kill[0]].at(kill[1])
        return self.loop.run(data, epochs=EPOCHS, resume="auto")


def assert_same_run(resumed, straight):
    for name in ("step_state", "metric_state"):
        jax.tree_util.tree_map(
            np.testing.assert_array_equal, getattr(resumed, name), getattr(straight, name)
        )
    assert (resumed.epoch, resumed.iteration) == (straight.epoch, straight.iteration)
    assert resumed.history.keys() == straight.history.keys()
    for epoch, metrics in straight.history.items():
        assert resumed.history[epoch].keys() == metrics.keys()
        for name, value in metrics.items():
            np.testing.assert_array_equal(resumed.history[epoch][name], value)
    for event in ("iteration_started", "iteration_completed", "epoch_started", "epoch_completed"):
        assert resumed.event_counts.get(event) == straight.event_counts.get(event), event


@pytest.fixture(scope="module")
def memory_backend():
    plugin = types.SimpleNamespace(
        axon_checkpoint_backends=hookimpl(lambda: {"memory-test": MemoryStore})
    )
    with axon.loop.plugins.system.temporary(plugin, name="kill-anywhere-memory-store"):
        yield


@pytest.mark.parametrize("event", ["iteration_completed", "epoch_completed"])
def test_a_run_killed_anywhere_resumes_bitwise_equal(linear, memory_backend, event, capsys):
    case = Case(linear, event)
    for length in (3, 4, 5):
        data = batches(length)
        intervals = [1, 2, length, length + 1] if event == "iteration_completed" else [None]
        kills = [("iteration", i) for i in range(1, EPOCHS * length + 1)]
        kills += [(where, e) for e in range(1, EPOCHS + 1) for where in ("before", "after")]
        kills += [("completed", 1)]
        for every in intervals:
            MemoryStore.stores.clear()
            straight = case.run(data, every)
            for kill in kills:
                MemoryStore.stores.clear()
                with pytest.raises(Killed):
                    case.run(data, every, kill)
                resumed = case.run(data, every)
                try:
                    assert_same_run(resumed, straight)
                except AssertionError as error:
                    raise AssertionError(
                        f"{length} batches per epoch, checkpoint every {every} on {event}, "
                        f"killed at {kill}: {error}"
                    ) from None
    capsys.readouterr()  # the notices of runs that had already finished
