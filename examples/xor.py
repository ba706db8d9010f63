"""Model XOR with a small neural network: the smallest problem a linear model cannot solve.

The four points ``(0, 0) -> 0``, ``(0, 1) -> 1``, ``(1, 0) -> 1``, ``(1, 1) -> 0``
are not linearly separable; one hidden ``tanh`` layer is enough. Training batches
are random draws of the four points; the model is a ``dense`` + ``tanh`` hidden
layer and a ``sigmoid`` output trained with binary cross entropy, and the script
prints the prediction for each point and the accuracy on the four of them (1.0
after the full run, which takes a few seconds; usually already after the smoke run).

    python examples/xor.py                    # full run: 10 epochs of 100 batches
    python examples/xor.py --smoke            # a few seconds, for CI
"""

from __future__ import annotations

import numpy as np

import axon.loop
import axon.model
import axon.optim

from _cli import arguments, epoch_summary

POINTS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
LABELS = np.array([[0], [1], [1], [0]], dtype=np.float32)


def xor_data(examples: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random draws of the four XOR points, and their labels."""
    x = np.random.default_rng(seed).integers(0, 2, size=(examples, 2)).astype(np.float32)
    return x, np.logical_xor(x[:, :1], x[:, 1:]).astype(np.float32)


def main(argv: list[str] | None = None) -> float:
    args = arguments(__doc__, argv, epochs=10, examples=3200, smoke={"epochs": 2})
    x, y = xor_data(args.examples)  # 100 batches of 32 per epoch

    model = (
        axon.model.input("x", shape=(None, 2))
        .dense(8, activation="tanh")
        .dense(1, activation="sigmoid")
    )

    model_state = (
        axon.loop.trainer(model, "binary_cross_entropy", axon.optim.adam(1e-2), log=0)
        .metric("accuracy")
        .log(epoch_summary, event="epoch_completed")
        .run(axon.loop.batches(x, y, batch_size=32, shuffle=True), epochs=args.epochs)
    )

    probabilities = np.asarray(axon.model.predict(model, model_state, POINTS))
    for point, p in zip(POINTS, probabilities[:, 0], strict=True):
        print(f"{int(point[0])} xor {int(point[1])} -> {p:.3f}")
    accuracy = float(np.mean((probabilities > 0.5) == (LABELS > 0.5)))
    print(f"Accuracy on the four points: {accuracy:.2f}")
    return accuracy


if __name__ == "__main__":
    main()
