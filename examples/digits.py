"""Classify handwritten digits with an MLP: the walking skeleton through all five packages.

Trains on scikit-learn's bundled 8x8 digits (1,797 images; no download), prints
progress and the held-out accuracy, writes TensorBoard logs and orbax checkpoints.

    python examples/digits.py                 # full run (about 20 s on 2 CPU cores)
    python examples/digits.py --smoke         # a few seconds, for CI
    tensorboard --logdir runs                 # then look at the curves (a version_N per run)

Started again with the same command, it resumes from its checkpoints (or, once
finished, runs nothing and reports the saved model): ``run(..., resume="auto")``.
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import axon.loop
import axon.model
import axon.optim

from _cli import arguments


def main(argv: list[str] | None = None) -> float:
    args = arguments(
        __doc__,
        argv,
        epochs=20,
        logdir=Path("runs/digits"),
        checkpoints=Path("checkpoints/digits"),
        smoke={"epochs": 3},
    )

    images, labels = load_digits(return_X_y=True)
    x = (images / 16.0).astype(np.float32)  # pixel intensities are 0..16
    y = np.eye(10, dtype=np.float32)[labels]  # one-hot targets
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.2, random_state=0, stratify=labels
    )

    train = axon.loop.batches(x_train, y_train, batch_size=32, shuffle=True)

    model = (
        axon.model.input("input", shape=(None, 64))
        .dense(128, activation="relu")
        .dense(10, activation="softmax")
    )
    print(axon.model.display.as_table(model, jax.ShapeDtypeStruct((1, 64), jnp.float32)))

    model_state = (
        axon.loop.trainer(model, "categorical_cross_entropy", axon.optim.adam(3e-3))
        .metric("accuracy")
        .validate(model, axon.loop.batches(x_test, y_test, batch_size=256))
        .log_to("tensorboard", logdir=args.logdir)
        .checkpoint(path=args.checkpoints, keep=3)
        .run(train, epochs=args.epochs, resume="auto")
    )

    _, predict_fn = axon.model.build(model)
    predictions = predict_fn(model_state, x_test)
    accuracy = float(np.mean(np.argmax(predictions, -1) == np.argmax(y_test, -1)))
    print(f"Test accuracy: {accuracy:.4f} on {len(x_test)} held-out digits")
    print(f"TensorBoard logs: {args.logdir} (a version_N per run)  checkpoints: {args.checkpoints}")
    return accuracy


if __name__ == "__main__":
    main()
