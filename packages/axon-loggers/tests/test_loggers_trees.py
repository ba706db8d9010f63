"""Histograms of trees of arrays (parameters, gradients), read back with TensorBoard."""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import numpy as np
import pytest

from axon.loggers import TensorBoardLogger, flatten_tree, log_histograms


class AdamState(NamedTuple):  # shaped like optax's ScaleByAdamState
    count: np.ndarray
    mu: dict
    nu: dict


@dataclasses.dataclass
class ModelState:  # shaped like axon.model.ModelState
    params: dict
    state: dict


def test_paths_join_keys_fields_and_positions_in_tree_order():
    tree = {
        "dense_0": {"kernel": np.ones((2, 3)), "bias": np.zeros(3)},
        "blocks": [{"w": np.ones(2)}, (np.ones(1), None)],
        "adam": AdamState(np.array(3), {"w": np.ones(2)}, {}),
        "model": ModelState({"d": {"k": np.ones(1)}}, {}),
        "skipped": None,
        "count": 7,
    }
    assert list(flatten_tree(tree, "params")) == [
        "params/dense_0/kernel",
        "params/dense_0/bias",
        "params/blocks/0/w",
        "params/blocks/1/0",
        "params/adam/count",
        "params/adam/mu/w",
        "params/model/params/d/k",
        "params/count",
    ]


def test_leaves_are_returned_unchanged():
    kernel = np.arange(6.0).reshape(2, 3)
    assert flatten_tree({"k": kernel})["k"] is kernel


@pytest.mark.parametrize(
    ("prefix", "tag"), [("", "a/b"), ("grads/", "grads/a/b"), ("x/y", "x/y/a/b")]
)
def test_prefix_forms(prefix, tag):
    assert list(flatten_tree({"a": {"b": np.ones(1)}}, prefix)) == [tag]


def test_a_lone_array_needs_a_prefix():
    assert list(flatten_tree(np.ones(3), "weights")) == ["weights"]
    with pytest.raises(ValueError, match="log_histogram"):
        flatten_tree(np.ones(3))


def test_an_unknown_container_is_named_with_its_path():
    with pytest.raises(TypeError, match=r"Cannot walk set at 'params/layer'.*model_state.params"):
        flatten_tree({"layer": {1.0, 2.0}}, "params")


def test_histograms_are_read_back_under_prefix_and_path(tmp_path, read_run):
    params = {"dense_0": {"kernel": np.arange(12.0).reshape(3, 4), "bias": np.array([0.5, -0.5])}}
    grads = {"dense_0": {"kernel": np.full((3, 4), 0.1), "bias": np.zeros(2)}}
    with TensorBoardLogger(tmp_path) as logger:
        for step in (10, 20):
            assert log_histograms(logger, "params", params, step) == [
                "params/dense_0/kernel",
                "params/dense_0/bias",
            ]
            log_histograms(logger, "grads", grads, step)
    run = read_run(logger.run_dir)
    assert sorted(run.Tags()["histograms"]) == [
        "grads/dense_0/bias",
        "grads/dense_0/kernel",
        "params/dense_0/bias",
        "params/dense_0/kernel",
    ]
    kernel = run.Histograms("params/dense_0/kernel")
    assert [event.step for event in kernel] == [10, 20]
    stats = kernel[-1].histogram_value
    assert (stats.num, stats.min, stats.max, stats.sum) == (12, 0.0, 11.0, 66.0)


def test_a_bad_leaf_logs_nothing(recording):
    tree = {"good": np.ones(3), "empty": np.zeros((0,)), "after": np.ones(2)}
    with pytest.raises(ValueError, match=r"'params/empty'.*at least one value"):
        log_histograms(recording, "params", tree, 5)
    with pytest.raises(TypeError, match=r"'params/name'.*real numbers"):
        log_histograms(recording, "params", {"w": np.ones(2), "name": "relu"}, 5)
    assert recording.records == []


def test_any_object_with_log_histogram_receives_them():
    class Collector:  # not a LoggerBase: the helper relies on log_histogram alone
        def __init__(self):
            self.calls = []

        def log_histogram(self, tag, values, step):
            self.calls.append((tag, values.tolist(), step))

    collector = Collector()
    log_histograms(collector, "g", {"w": np.array([[1, 2]], np.int32)}, 3)
    assert collector.calls == [("g/w", [1.0, 2.0], 3)]


def test_an_empty_tree_logs_nothing(recording):
    assert log_histograms(recording, "params", {"layer": {}}, 0) == []
    assert recording.records == []


def test_the_step_is_checked(recording):
    with pytest.raises(TypeError, match="non-negative integer"):
        log_histograms(recording, "params", {"w": np.ones(1)}, 1.5)
