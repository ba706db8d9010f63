"""A training process killed with SIGKILL and resumed: same parameters, each log step once."""

import os
import signal
import subprocess
import sys
import textwrap

import jax
import numpy as np
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

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
        logdir, checkpoints, kill_at = sys.argv[1], sys.argv[2], int(sys.argv[3])

        def die(state):
            if state.iteration == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)  # no cleanup at all, as in a crash

        make_loop(logdir, checkpoints).handle_event("iteration_completed", die).run(
            batches, epochs=3
        )
    """
)


def test_sigkilled_training_resumes_exactly_with_each_logged_step_once(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(TRAINING)
    logdir, checkpoints = tmp_path / "runs", tmp_path / "checkpoints"
    killed = subprocess.run(
        [sys.executable, str(script), str(logdir), str(checkpoints), "11"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr

    sys.path.insert(0, str(tmp_path))
    try:
        import train  # the same loop definition as the killed process
    finally:
        sys.path.remove(str(tmp_path))
    resumed = train.make_loop(logdir, checkpoints).run(
        train.batches, epochs=3, resume_from=checkpoints
    )
    assert resumed.resumed_from in (6, 9)  # the last checkpoint committed before the kill
    straight = train.make_loop(tmp_path / "runs2", tmp_path / "ck2").run(train.batches, epochs=3)
    jax.tree_util.tree_map(np.testing.assert_array_equal, resumed.step_state, straight.step_state)

    # The resumed run continued its own run directory, the one its run id names.
    assert [path.name for path in logdir.iterdir()] == ["version_0"]
    events = EventAccumulator(str(logdir / "version_0"), size_guidance={"scalars": 0})
    events.Reload()
    steps = [point.step for point in events.Scalars("train/loss")]
    assert steps == list(range(1, 25))  # every iteration of 3 epochs x 8 batches, once
    straight_events = EventAccumulator(
        str(tmp_path / "runs2" / "version_0"), size_guidance={"scalars": 0}
    )
    straight_events.Reload()
    np.testing.assert_array_equal(
        [p.value for p in events.Scalars("train/loss")],
        [p.value for p in straight_events.Scalars("train/loss")],
    )
    assert os.path.isdir(checkpoints)
