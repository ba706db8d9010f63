"""``axon.loop.batches`` and what the loop says about data it cannot use."""

import jax
import numpy as np
import optax
import pytest

import axon.loop
from axon.loop import batches
from axon.loop._data import DataSource

X = np.arange(50, dtype=np.float32).reshape(10, 5)
Y = np.arange(10, dtype=np.float32)[:, None] * 100


def rows(batch):
    """The example numbers in an (x, y) batch of X/Y."""
    x, y = batch
    assert (x[:, 0] * 20 == y[:, 0]).all()  # x and y rows stay together
    return (x[:, 0] / 5).astype(int).tolist()


class TestBatches:
    def test_in_order_with_a_short_last_batch(self):
        data = batches(X, Y, batch_size=4)
        assert len(data) == 3
        assert [rows(b) for b in data] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]

    def test_drop_last(self):
        data = batches(X, Y, batch_size=4, drop_last=True)
        assert len(data) == 2 and [rows(b) for b in data] == [[0, 1, 2, 3], [4, 5, 6, 7]]
        with pytest.raises(ValueError, match="leaves no batch"):
            batches(X, batch_size=11, drop_last=True)

    def test_shuffling_is_a_function_of_seed_and_epoch(self):
        data = batches(X, Y, batch_size=3, shuffle=True, seed=7)
        epoch_2 = [rows(b) for b in data.epoch(2)]
        assert epoch_2 == [
            rows(b) for b in batches(X, Y, batch_size=3, shuffle=True, seed=7).epoch(2)
        ]
        assert sorted(i for batch in epoch_2 for i in batch) == list(range(10))  # each once
        assert epoch_2 != [rows(b) for b in data.epoch(3)]
        assert epoch_2 != [rows(b) for b in batches(X, Y, batch_size=3, shuffle=True).epoch(2)]
        # iterating walks through the epochs, like a DataLoader that reshuffles
        assert [rows(b) for b in data] == [rows(b) for b in data.epoch(0)]
        assert [rows(b) for b in data] == [rows(b) for b in data.epoch(1)]

    def test_starting_inside_an_epoch_reads_nothing_before(self):
        data = batches(X, Y, batch_size=3, shuffle=True)
        assert [rows(b) for b in data.epoch(4, start=2)] == [rows(b) for b in data.epoch(4)][2:]

    def test_no_copies_without_shuffling(self):
        x, _ = next(iter(batches(X, Y, batch_size=4)))
        assert np.shares_memory(x, X)

    def test_pytrees_of_arrays(self):
        data = batches({"a": X, "b": X[:, :2]}, (Y, Y[:, 0]), batch_size=6)
        (x, (y1, y2)), _ = list(data)
        assert x["a"].shape == (6, 5) and x["b"].shape == (6, 2)
        assert y1.shape == (6, 1) and y2.shape == (6,)

    def test_inputs_only(self):
        assert [b.shape for b in batches(X, batch_size=4)] == [(4, 5), (4, 5), (2, 5)]

    def test_lists_become_arrays_once(self):
        (x, y), *_ = batches([[1.0, 2.0]] * 3, [0, 1, 2], batch_size=2)
        assert x.shape == (2, 2) and y.tolist() == [0, 1]

    def test_a_data_frame_gives_named_column_inputs(self):
        class Column:  # the little of a pandas/polars Series that batches uses
            def __init__(self, values):
                self.values = values

            def to_numpy(self):
                return self.values

        class Frame:
            columns = ("age", "income")

            def __getitem__(self, name):
                return Column(X[:, self.columns.index(name)])

        (x, y), *_ = batches(Frame(), Column(Y[:, 0]), batch_size=4)
        assert sorted(x) == ["age", "income"] and x["age"].shape == (4, 1)
        assert x["income"][:, 0].tolist() == [1.0, 6.0, 11.0, 16.0] and y.shape == (4,)

    @pytest.mark.parametrize("library", ["pandas", "polars"])
    def test_real_data_frames(self, library):
        frames = pytest.importorskip(library)
        frame = frames.DataFrame({"a": X[:, 0], "b": X[:, 1].astype(np.int32)})
        target = frames.Series("y", Y[:, 0]) if library == "polars" else frames.Series(Y[:, 0])
        (x, y), *_ = batches(frame, target, batch_size=4)
        assert x["a"].shape == (4, 1) and x["b"].dtype == np.int32 and y.shape == (4,)
        with pytest.raises(TypeError, match=r"x\['c'\] holds Python objects"):
            batches(frames.DataFrame({"c": ["u", "v"]}), batch_size=1)

    def test_split_holds_out_a_fixed_random_share(self):
        data = batches(X, Y, batch_size=3, shuffle=True, seed=5, drop_last=True)
        train, held_out = data.split(0.3)
        assert (train.examples, held_out.examples) == (7, 3)
        validation = [rows(b) for b in held_out]
        assert validation == [rows(b) for b in held_out]  # the same examples in every epoch
        assert validation == [sorted(validation[0])]  # in their order: validation needs none
        for epoch in range(3):  # the rest, in a new order each epoch, one shape (drop_last)
            seen = [rows(b) for b in train.epoch(epoch)]
            assert len(seen) == 2 and all(len(b) == 3 for b in seen)
            assert not set(validation[0]) & {i for b in seen for i in b}
        assert len({i for e in range(6) for b in train.epoch(e) for i in rows(b)}) == 7
        # a function of the seed only: the same split again, another with another seed
        assert [rows(b) for b in batches(X, Y, batch_size=3, seed=5).split(0.3)[1]] == validation
        assert [rows(b) for b in data.split(0.3, seed=6)[1]] != validation

    def test_split_without_shuffling_keeps_the_order(self):
        train, held_out = batches(X, Y, batch_size=4).split(0.2, batch_size=10)
        (train_rows,) = {tuple(i for b in train for i in rows(b))}
        assert list(train_rows) == sorted(train_rows) and len(train_rows) == 8
        assert len(held_out) == 1 and held_out.batch_size == 10

    def test_a_split_trains_and_validates(self, linear):
        x = np.random.default_rng(0).normal(size=(120, 3)).astype(np.float32)
        y = x @ np.array([[1.0], [-2.0], [0.5]], np.float32)
        train, val = batches(x, y, batch_size=16, shuffle=True).split(0.25)
        history = (
            (linear_trainer(linear).validate(linear, val).replace(output_transform=None))
            .run(train, epochs=30)
            .history
        )
        assert history[29]["validation_loss"] < 0.01 * history[0]["validation_loss"]

    @pytest.mark.parametrize(
        ("share", "message"),
        [(0.0, "in \\(0, 1\\)"), (1.0, "in \\(0, 1\\)"), (0.01, "holds out 0"), (True, "share")],
    )
    def test_split_refuses_shares_that_leave_a_side_empty(self, share, message):
        with pytest.raises((ValueError, TypeError), match=message):
            batches(X, Y, batch_size=2).split(share)

    @pytest.mark.parametrize(
        ("call", "message"),
        [
            (lambda: batches(X, Y[:9], batch_size=2), r"same number of examples.*\['x'\]: 10"),
            (lambda: batches(X, batch_size=0), "batch_size must be a positive int"),
            (lambda: batches(X, batch_size=2.0), "batch_size must be a positive int"),
            (lambda: batches(X[:0], batch_size=2), "hold no examples"),
            (lambda: batches(np.float32(1), batch_size=2), "is a scalar"),
            (lambda: batches(np.array([object()]), batch_size=1), "Python objects"),
        ],
    )
    def test_bad_input(self, call, message):
        with pytest.raises((ValueError, TypeError), match=message):
            call()


def linear_trainer(linear):
    return axon.loop.trainer(linear, "mean_squared_error", optax.sgd(0.05), log=0)


class Counted:
    """Counts the training steps a run made (to prove an error came before any)."""

    def __init__(self):
        self.steps = 0

    def __call__(self, state):
        self.steps += 1


class TestWhatTheLoopSaysAboutData:
    def test_every_epoch_of_batches_knows_its_length(self, linear):
        """Progress bars and the epoch's last log line need it, in every epoch."""
        lengths = []
        trainer = axon.loop.trainer(linear, "mean_squared_error", optax.sgd(0.1), log=0)
        trainer = trainer.handle_event("epoch_started", lambda s: lengths.append(s.epoch_length))
        trainer.run(batches(X, Y, batch_size=4, shuffle=True), epochs=3)
        assert lengths == [3, 3, 3]

    def test_batches_train_a_model(self, linear):
        x = np.random.default_rng(0).normal(size=(96, 3)).astype(np.float32)
        y = x @ np.array([[1.0], [-2.0], [0.5]], np.float32) + 0.3
        params = linear_trainer(linear).run(batches(x, y, batch_size=16, shuffle=True), epochs=40)
        np.testing.assert_allclose(params["w"].ravel(), [1.0, -2.0, 0.5], atol=1e-2)

    def test_keras_habit_run_x_y(self, linear):
        with pytest.raises(TypeError, match=r"run\(\) got one ndarray of shape \(10, 5\).*batches"):
            linear_trainer(linear).run(X, Y)

    def test_keras_habit_a_pair_of_arrays(self, linear):
        with pytest.raises(TypeError, match=r"tuple of 2 arrays of shapes \(10, 5\), \(10, 1\)"):
            linear_trainer(linear).run((X, Y))

    def test_a_batch_that_is_not_a_pair_points_to_batches(self, linear):
        with pytest.raises(TypeError, match=r"got ndarray of shape \(10, 5\).*batches\(x, y"):
            linear_trainer(linear).run([X, X])

    @pytest.mark.parametrize(
        ("validation", "error", "message"),
        [
            ((X, Y), TypeError, r"validate\(\) got a tuple of 2 arrays"),
            (X, TypeError, r"validate\(\) got one ndarray"),
            ([], axon.loop.EmptyDataError, r"given to validate\(\) produced no batches"),
            (iter([(X, Y)]), TypeError, r"validate\(\) got a one-shot iterator"),
            ([(X[:, :4], Y)], TypeError, r"validate\(\): the first batch .* does not fit"),
            ([X], TypeError, r"validate\(\): the first batch .* \(inputs, targets\)"),
        ],
    )
    def test_validation_data_is_checked_before_training(self, linear, validation, error, message):
        counted = Counted()
        loop = linear_trainer(linear).handle_event("iteration_completed", counted)
        with pytest.raises(error, match=message):
            loop.validate(linear, validation).run(batches(X, Y, batch_size=5))
        assert counted.steps == 0

    def test_a_resumed_run_starts_inside_batches_without_reading_before(self, linear, tmp_path):
        data = batches(X, Y, batch_size=2, shuffle=True)
        read = []
        original = data.epoch

        def epoch(e, start=0):
            read.append((e, start))
            return original(e, start)

        data.epoch = epoch
        last, rest = DataSource(data).starting_at(3, 4)
        first = next(rest)
        assert read == [(3, 3), (3, 4)]  # the batch before the resume point, then the rest
        expected = list(original(3))
        jax.tree_util.tree_map(np.testing.assert_array_equal, last, expected[3])
        jax.tree_util.tree_map(np.testing.assert_array_equal, first, expected[4])
