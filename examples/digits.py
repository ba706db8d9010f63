"""Classify handwritten digits with an MLP: the walking skeleton through all five packages.

Trains on scikit-learn's bundled 8x8 digits (1,797 images; no download), prints
progress and the held-out accuracy, writes TensorBoard logs and orbax checkpoints.

    python examples/digits.py                 # full run (about 20 s on 2 CPU cores)
    python examples/digits.py --smoke         # a few seconds, for CI
    tensorboard --logdir runs                 # then look at the curves

Started again with the same command, it resumes from its checkpoints (or, once
finished, runs nothing and reports the saved model): ``run(..., resume="auto")``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import axon.loop
import axon.model
import axon.optim


def batches(x: np.ndarray, y: np.ndarray, size: int, seed: int | None = None):
    """A function giving each epoch's (inputs, targets) batches, shuffled when seeded.

    The shuffle depends only on the seed and the epoch, so a resumed run sees the
    batches the interrupted one would have seen.
    """

    def epoch(number: int):
        rng = np.random.default_rng([seed, number]) if seed is not None else None
        order = rng.permutation(len(x)) if rng is not None else np.arange(len(x))
        for start in range(0, len(x), size):
            index = order[start : start + size]
            yield x[index], y[index]

    return epoch


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--logdir", type=Path, default=Path("runs/digits"))
    parser.add_argument("--checkpoints", type=Path, default=Path("checkpoints/digits"))
    parser.add_argument("--smoke", action="store_true", help="3 epochs, for a quick check")
    args = parser.parse_args(argv)
    epochs = 3 if args.smoke else args.epochs

    images, labels = load_digits(return_X_y=True)
    x = (images / 16.0).astype(np.float32)  # pixel intensities are 0..16
    y = np.eye(10, dtype=np.float32)[labels]  # one-hot targets
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.2, random_state=0, stratify=labels
    )

    model = (
        axon.model.input("input", shape=(None, 64))
        .dense(128, activation="relu")
        .dense(10, activation="softmax")
    )
    print(axon.model.display.as_table(model, jax.ShapeDtypeStruct((1, 64), jnp.float32)))

    model_state = (
        axon.loop.trainer(model, "categorical_cross_entropy", axon.optim.adam(args.learning_rate))
        .metric("accuracy")
        .validate(model, batches(x_test, y_test, 256))
        .log_to("tensorboard", logdir=args.logdir)
        .checkpoint(path=args.checkpoints, keep=3)
        .run(batches(x_train, y_train, args.batch_size, seed=0), epochs=epochs, resume="auto")
    )

    _, predict_fn = axon.model.build(model)
    predictions = predict_fn(model_state, x_test)
    accuracy = float(np.mean(np.argmax(predictions, -1) == np.argmax(y_test, -1)))
    print(f"Test accuracy: {accuracy:.4f} on {len(x_test)} held-out digits")
    print(f"TensorBoard logs: {args.logdir}  checkpoints: {args.checkpoints}")
    return accuracy


if __name__ == "__main__":
    main()
