"""Loaders people already use as ``data``, and resuming them at their saved position.

A source that can say where it stands (grain's iterators: ``get_state``/``set_state``;
torchdata's ``StatefulDataLoader``: ``state_dict``/``load_state_dict``) has its position
checkpointed, and a resumed run starts there: resuming at the last batch of a long epoch
reads two batches of that epoch (the one the checkpointed step ran on, and the last),
not forty. The resumed run equals the uninterrupted one bitwise. grain and torch are
optional: their tests are skipped without them; the protocols themselves are tested
with small loaders written here.
"""

import base64
import json
import re
import subprocess
import sys

import jax
import numpy as np
import pytest

from axon.loop._data import checked_position
from axon.loop.checkpoint import OrbaxBackend

BATCHES, BATCH_SIZE = 40, 4
RNG = np.random.default_rng(0)
X = RNG.normal(size=(BATCHES * BATCH_SIZE, 3)).astype(np.float32)
Y = X @ np.array([[1.0], [-2.0], [0.5]], np.float32)
ORDER = RNG.permutation(BATCHES)  # the loaders' batch order: fixed, as exact resume needs


def batch(index):
    rows = slice(ORDER[index] * BATCH_SIZE, (ORDER[index] + 1) * BATCH_SIZE)
    return X[rows], Y[rows]


class GetStateLoader:
    """A loader whose iterators save their position as grain's do; it counts what it reads."""

    def __init__(self):
        self.reads = []

    def __len__(self):
        return BATCHES

    def __iter__(self):
        return _Iterator(self)


class _Iterator:
    def __init__(self, loader, start=0):
        self.loader, self.next = loader, start

    def __iter__(self):
        return self

    def __next__(self):
        if self.next == BATCHES:
            raise StopIteration
        self.loader.reads.append(self.next)
        self.next += 1
        return batch(self.next - 1)

    def get_state(self):
        return {"next": self.next}

    def set_state(self, state):
        self.next = state["next"]


class StateDictLoader(GetStateLoader):
    """A loader that saves its position itself, as torchdata's StatefulDataLoader does."""

    def __init__(self):
        super().__init__()
        self.iterator, self.loaded = None, 0

    def __iter__(self):
        self.iterator, self.loaded = _Iterator(self, self.loaded), 0
        return self.iterator

    def state_dict(self):
        return {"yielded": 0 if self.iterator is None else self.iterator.next}

    def load_state_dict(self, state):
        self.loaded = state["yielded"]


class ReplayedLoader(GetStateLoader):
    """A loader that cannot say where it stands: replayed on resume."""

    def __iter__(self):
        for index in range(BATCHES):
            self.reads.append(index)
            yield batch(index)


def interrupted_and_resumed(trainer, data, reads, crash_at, tmp_path, *, at, **options):
    """A two-epoch run that checkpoints once, after ``at`` iterations, run through, then
    killed there and resumed: ``(uninterrupted state, resumed state, the checkpoint's
    metadata)``. ``reads`` (a list the data appends to) is left holding what the resumed
    run read. Handlers fire at the same iterations in all runs, so their fused blocks are
    the same (a fused block and single steps may differ in the last bit)."""

    def saving(path):
        return trainer.checkpoint(path, event="iteration_completed", filter={"once": at})

    straight = saving(tmp_path / "straight").run(data, epochs=2, **options)
    with pytest.raises(RuntimeError, match="crashed"):
        # a count filter, as the checkpoint's: the blocks stay those of the straight run
        saving(tmp_path / "ck").handle_event("iteration_completed", crash_at(at), {"once": at}).run(
            data, epochs=2, **options
        )
    reads.clear()
    resumed = saving(tmp_path / "ck").run(data, epochs=2, resume_from=tmp_path / "ck", **options)
    return straight, resumed, OrbaxBackend(tmp_path / "ck").metadata(at)


def assert_bitwise_equal(resumed, straight):
    jax.tree_util.tree_map(np.testing.assert_array_equal, resumed.step_state, straight.step_state)
    jax.tree_util.tree_map(
        np.testing.assert_array_equal, resumed.metric_state, straight.metric_state
    )
    assert resumed.history.keys() == straight.history.keys()
    for epoch, metrics in straight.history.items():
        for name, value in metrics.items():
            np.testing.assert_array_equal(resumed.history[epoch][name], value)


class TestResumeAtTheSavedPosition:
    @pytest.mark.parametrize("loader_type", [GetStateLoader, StateDictLoader])
    @pytest.mark.parametrize("prefetch", [0, 3])
    def test_resuming_at_the_last_batch_reads_two_batches_of_that_epoch(
        self, adam_trainer, crash_at, tmp_path, loader_type, prefetch
    ):
        loader = loader_type()
        straight, resumed, metadata = interrupted_and_resumed(
            adam_trainer, loader, loader.reads, crash_at, tmp_path, at=BATCHES - 1,
            prefetch=prefetch,
        )  # fmt: skip
        # batch 38 (the state is rebuilt from it) and 39, then epoch 1 whole
        assert loader.reads == [BATCHES - 2, BATCHES - 1, *range(BATCHES)]
        assert_bitwise_equal(resumed, straight)
        # where batch 38, the last consumed, was read from; not where prefetch got to
        position = metadata["data_position"]
        assert position["source"] == loader_type.__name__
        assert position["state"] in ({"next": BATCHES - 2}, {"yielded": BATCHES - 2})

    def test_a_position_mid_epoch_with_fused_blocks(self, adam_trainer, crash_at, tmp_path):
        loader = GetStateLoader()
        straight, resumed, _ = interrupted_and_resumed(
            adam_trainer, loader, loader.reads, crash_at, tmp_path, at=BATCHES + 17
        )
        assert loader.reads == list(range(16, BATCHES))
        assert_bitwise_equal(resumed, straight)

    def test_other_loaders_are_replayed(self, adam_trainer, crash_at, tmp_path):
        loader = ReplayedLoader()
        straight, resumed, metadata = interrupted_and_resumed(
            adam_trainer, loader, loader.reads, crash_at, tmp_path, at=BATCHES - 1
        )
        assert loader.reads == [*range(BATCHES), *range(BATCHES)]
        assert metadata["data_position"] is None
        assert_bitwise_equal(resumed, straight)

    def test_a_position_that_is_not_json_is_an_error_at_save(self, adam_trainer, tmp_path):
        class TensorState(StateDictLoader):
            def state_dict(self):
                return {"sampler": {"generator": np.zeros(3, np.uint8)}}

        saving = adam_trainer.checkpoint(tmp_path, event="iteration_completed", filter={"once": 2})
        with pytest.raises(TypeError) as error:
            saving.run(TensorState())
        message = str(error.value)
        assert "TensorState.state_dict() holds a value of type ndarray at ['sampler']" in message
        assert "JSON" in message and "lambda: (batch for batch in loader)" in message

    @pytest.mark.parametrize(
        ("state", "found"),
        [
            ({"a": [1, 2.5, "x", None, True], "b": {"c": (1, 2)}}, None),
            ({1: "a"}, "holds a value of type int at (a key)"),
            ({"a": [1, {1.5}]}, "holds a value of type set at ['a'][1]"),
            (np.int64(3), "holds a value of type int64,"),
        ],
    )
    def test_which_positions_are_json(self, state, found):
        position = {"protocol": "get_state", "source": "Loader", "state": state}
        if found is None:
            assert checked_position(position) is position
        else:
            with pytest.raises(TypeError, match=re.escape(found)):
                checked_position(position)


class TestGrain:
    @pytest.fixture(autouse=True)
    def grain(self):
        return pytest.importorskip("grain")

    def dataset(self, grain, reads):
        def example(index):
            reads.append(int(index))
            return X[index], Y[index]

        return (
            grain.MapDataset.range(len(X))
            .shuffle(seed=3)
            .map(example)
            .batch(BATCH_SIZE)
        )  # fmt: skip

    def test_a_map_dataset_trains_with_its_length_known(self, grain, adam_trainer):
        lengths = []
        loop = adam_trainer.handle_event("epoch_started", lambda s: lengths.append(s.epoch_length))
        state = loop.run(self.dataset(grain, []), epochs=2)
        assert lengths == [BATCHES, BATCHES] and state.iteration == 2 * BATCHES

    def test_an_iter_dataset_and_a_data_loader(self, grain, adam_trainer):
        from_map = adam_trainer.run(self.dataset(grain, []))
        iter_dataset = self.dataset(grain, []).to_iter_dataset()
        from_iter = adam_trainer.run(iter_dataset)
        loader = grain.DataLoader(
            data_source=self.dataset(grain, []),  # random access: one batch per record
            sampler=grain.samplers.IndexSampler(
                num_records=BATCHES, shuffle=False, num_epochs=1, seed=0
            ),
            worker_count=0,
        )
        from_loader = adam_trainer.run(loader)
        assert from_map.iteration == from_iter.iteration == from_loader.iteration == BATCHES
        assert_bitwise_equal(from_iter, from_map)
        assert_bitwise_equal(from_loader, from_map)

    def test_resuming_at_the_last_batch_reads_only_what_follows(
        self, grain, adam_trainer, crash_at, tmp_path
    ):
        reads = []
        straight, resumed, metadata = interrupted_and_resumed(
            adam_trainer, self.dataset(grain, reads), reads, crash_at, tmp_path, at=BATCHES - 1
        )
        # epoch 0: batches 38 and 39 only; epoch 1: all of them
        assert len(reads) == (2 + BATCHES) * BATCH_SIZE
        assert metadata["data_position"]["protocol"] == "get_state"
        assert_bitwise_equal(resumed, straight)

    def test_a_data_loader_position_is_bytes_in_base64(
        self, grain, adam_trainer, crash_at, tmp_path
    ):
        def loader():
            return grain.DataLoader(
                data_source=self.dataset(grain, []),
                sampler=grain.samplers.IndexSampler(
                    num_records=BATCHES, shuffle=True, num_epochs=1, seed=5
                ),
                worker_count=0,
            )

        straight, resumed, metadata = interrupted_and_resumed(
            adam_trainer, loader(), [], crash_at, tmp_path, at=BATCHES - 1
        )
        assert json.loads(base64.b64decode(metadata["data_position"]["bytes"]))
        assert_bitwise_equal(resumed, straight)


class TestTorch:
    def test_a_data_loader_of_tensors_trains(self, adam_trainer):
        torch = pytest.importorskip("torch")
        dataset = torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(Y))
        loader = torch.utils.data.DataLoader(dataset, batch_size=BATCH_SIZE)
        state = adam_trainer.run(loader, epochs=2)
        in_order = [(X[i : i + BATCH_SIZE], Y[i : i + BATCH_SIZE]) for i in range(0, len(X), 4)]
        assert_bitwise_equal(state, adam_trainer.run(in_order, epochs=2))

    @pytest.mark.filterwarnings("ignore:'set_vital' is deprecated")  # torchdata's own
    def test_a_stateful_data_loader_resumes_at_its_position(self, adam_trainer, crash_at, tmp_path):
        torch = pytest.importorskip("torch")
        stateful = pytest.importorskip("torchdata.stateful_dataloader")
        reads = []

        class Examples(torch.utils.data.Dataset):
            def __len__(self):
                return len(X)

            def __getitem__(self, index):
                reads.append(index)
                return X[index], Y[index]

        def loader():
            return stateful.StatefulDataLoader(Examples(), batch_size=BATCH_SIZE)

        straight, resumed, metadata = interrupted_and_resumed(
            adam_trainer, loader(), reads, crash_at, tmp_path, at=BATCHES - 1
        )
        assert len(reads) == (2 + BATCHES) * BATCH_SIZE
        assert metadata["data_position"]["source"] == "StatefulDataLoader"
        assert_bitwise_equal(resumed, straight)


def test_importing_axon_loop_imports_neither_grain_nor_torch():
    code = "import sys, axon.loop; print(sorted({'grain', 'torch'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stderr
