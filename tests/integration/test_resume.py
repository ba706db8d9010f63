"""Training processes killed with SIGKILL and started again: same parameters, each log step once.

Kill points: mid-epoch after a checkpoint, on the run's last iteration right after its
final checkpoint (an epoch with no batch left to run), at the end of that epoch once its
metrics are logged (the resumed run logs them again, at the same step: the log is cut
back to the checkpoint's mark first), and before the first checkpoint (a fresh start as
the same run). The restart is the same command, ``resume="auto"``.
"""

import os
import signal
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from axon.loop.checkpoint import OrbaxBackend

TRAINING = textwrap.dedent(
    """
    import os, signal, sys
    import numpy as np
    from sklearn.datasets import load_digits
    import axon.loop, axon.model, axon.optim

    def batches(epoch):
        images, labels = load_digits(return_X_y=True)
        x = (images[:512] / 16.0).astype(np.float32)
        y = np.eye(10, dtype=np.float32)[labels[:512]]
        order = np.random.default_rng(epoch).permutation(512)  # depends only on the epoch
        return [(x[order[i : i + 64]], y[order[i : i + 64]]) for i in range(0, 512, 64)]

    def make_loop(logdir, checkpoints):
        model = axon.model.input("input", shape=(None, 64)).dense(32, activation="relu").dense(
            10, activation="softmax"
        )
        return (
            axon.loop.trainer(model, "categorical_cross_entropy", axon.optim.adam(1e-2), log=0)
            .metric("accuracy")
            .log_to("tensorboard", logdir=logdir, every=1)
            .checkpoint(path=checkpoints, event="iteration_completed", filter={"every": 3})
            .replace(output_transform=None)
        )

    if __name__ == "__main__":
        logdir, checkpoints, kill_at, event = sys.argv[1:]
        kill_at = int(kill_at)

        def die(state):
            if state.iteration == kill_at:
                for store in state.resources.values():  # checkpoints written in the background:
                    if hasattr(store, "steps"):  # let the last one commit, for a known outcome
                        store.steps()
                os.kill(os.getpid(), signal.SIGKILL)  # no cleanup at all, as in a crash

        make_loop(logdir, checkpoints).handle_event(event, die).run(
            batches, epochs=3, resume="auto"
        )
    """
)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The training script, and its uninterrupted run (state and TensorBoard losses)."""
    folder = tmp_path_factory.mktemp("uninterrupted")
    (folder / "train.py").write_text(TRAINING)
    sys.path.insert(0, str(folder))
    try:
        import train  # the same loop definition as the killed processes
    finally:
        sys.path.remove(str(folder))
    state = train.make_loop(folder / "runs", folder / "checkpoints").run(train.batches, epochs=3)
    return train, state, losses(folder / "runs")


def losses(logdir):
    """``{tag: [(step, value), ...]}`` of the train and epoch losses and the learning rate of
    the one run in ``logdir`` (a restarted run continues its own), from its train split."""
    assert [path.name for path in logdir.iterdir()] == ["version_0"]
    events = EventAccumulator(str(logdir / "version_0" / "train"), size_guidance={"scalars": 0})
    events.Reload()
    return {
        tag: [(point.step, point.value) for point in events.Scalars(tag)]
        for tag in ("train/loss", "epoch/loss", "train/learning_rate")
    }


@pytest.mark.parametrize(
    ("kill_at", "event", "resumed_from"),
    [
        (11, "iteration_completed", 9),
        (24, "iteration_completed", 24),
        (24, "epoch_completed", 24),
        (2, "iteration_completed", None),
    ],
    ids=["mid-epoch", "end", "end-of-epoch-logged", "early"],
)
def test_sigkilled_training_resumes_exactly_with_each_logged_step_once(
    tmp_path, uninterrupted, kill_at, event, resumed_from
):
    train, straight, straight_losses = uninterrupted
    (tmp_path / "train.py").write_text(TRAINING)
    logdir, checkpoints = tmp_path / "runs", tmp_path / "checkpoints"
    killed = subprocess.run(
        [sys.executable, str(tmp_path / "train.py"), str(logdir), str(checkpoints), str(kill_at),
         event],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr

    # started again with the same command (in this process, to save a start-up)
    resumed = train.make_loop(logdir, checkpoints).run(train.batches, epochs=3, resume="auto")
    assert resumed.resumed_from == resumed_from  # the last checkpoint committed before the kill
    jax.tree_util.tree_map(np.testing.assert_array_equal, resumed.step_state, straight.step_state)
    assert os.path.isdir(checkpoints)
    if resumed_from is None:  # a fresh start as the same run: its loggers redo its steps
        assert resumed.run_id == OrbaxBackend(checkpoints).run_id
    logged = losses(logdir)
    steps = {tag: [step for step, _ in points] for tag, points in logged.items()}
    every_step = list(range(1, 25))  # each once
    assert steps == {"train/loss": every_step, "epoch/loss": [8, 16, 24],
                     "train/learning_rate": every_step}  # fmt: skip
    for tag, points in logged.items():
        np.testing.assert_array_equal([v for _, v in points], [v for _, v in straight_losses[tag]])
