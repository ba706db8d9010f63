"""XOR with two named inputs: a model that takes a dict of inputs and concatenates them.

The port of Axon's ``examples/basics/multi_input_example.exs``: each bit of the
XOR problem is its own input, ``"x1"`` and ``"x2"``, both of shape ``(batch, 1)``;
``axon.model.concatenate`` joins them into ``(batch, 2)`` before a hidden ``tanh``
layer and a ``sigmoid`` output. Every batch is ``({"x1": ..., "x2": ...}, y)``:
a model with several inputs takes them as a dict keyed by input name, in training
and in prediction alike. Trained with binary cross entropy and SGD with momentum,
it reaches accuracy 1.0 on the four points after the full run (a few seconds).

    python examples/multi_input.py            # full run: 10 epochs of 100 batches
    python examples/multi_input.py --smoke    # a few seconds, for CI
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import axon.loop
import axon.model
import axon.optim

from _cli import arguments


def xor_data(examples: int, seed: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Random bits as two named inputs ``{"x1": ..., "x2": ...}``, and their XOR."""
    rng = np.random.default_rng(seed)
    x1, x2 = (rng.integers(0, 2, size=(examples, 1)).astype(np.float32) for _ in range(2))
    return {"x1": x1, "x2": x2}, np.logical_xor(x1, x2).astype(np.float32)


def build_model(hidden: int) -> axon.model.Model:
    x1 = axon.model.input("x1", shape=(None, 1))
    x2 = axon.model.input("x2", shape=(None, 1))
    return (
        axon.model.concatenate(x1, x2)  # also: x1.concatenate(x2)
        .dense(hidden, activation="tanh")
        .dense(1, activation="sigmoid")
    )


def main(argv: list[str] | None = None) -> float:
    args = arguments(__doc__, argv, epochs=10, examples=3200, smoke={"epochs": 2})
    inputs, targets = xor_data(args.examples)  # 100 batches of 32 per epoch

    model = build_model(hidden=8)
    one = jax.ShapeDtypeStruct((1, 1), jnp.float32)
    print(axon.model.display.as_table(model, {"x1": one, "x2": one}))

    optimizer = axon.optim.sgd(0.1, momentum=0.9)
    model_state = (
        axon.loop.trainer(model, "binary_cross_entropy", optimizer, log=0)
        .metric("accuracy")
        .log(
            lambda state: (
                f"Epoch {state.epoch + 1}/{state.max_epoch}: "
                f"loss {float(state.metrics['loss']):.4f}, "
                f"accuracy {float(state.metrics['accuracy']):.4f}"
            ),
            event="epoch_completed",
        )
        .run(axon.loop.batches(inputs, targets, batch_size=32, shuffle=True), epochs=args.epochs)
    )

    x1 = np.array([[0], [0], [1], [1]], dtype=np.float32)
    x2 = np.array([[0], [1], [0], [1]], dtype=np.float32)
    probabilities = np.asarray(axon.model.predict(model, model_state, {"x1": x1, "x2": x2}))
    for a, b, p in zip(x1[:, 0], x2[:, 0], probabilities[:, 0], strict=True):
        print(f"x1={int(a)} x2={int(b)} -> {p:.3f}")
    expected = np.logical_xor(x1, x2)
    accuracy = float(np.mean((probabilities > 0.5) == expected))
    print(f"Accuracy on the four points: {accuracy:.2f}")
    return accuracy


if __name__ == "__main__":
    main()
