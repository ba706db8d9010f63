"""A model with two outputs: a shared trunk, two heads, and a weighted list of losses.

The port of Axon's ``examples/basics/multi_output_example.exs``: from one number
``x`` in ``[-1, 1]`` the model predicts both ``x**2`` and ``x**3``. The two ``dense``
heads share a trunk and are joined with ``axon.model.container((square, cube))``,
so the prediction is a tuple and every batch's targets are the matching tuple
``(x**2, x**3)``. The trainer gets one ``(loss, weight)`` pair per output, and each
head gets its own metric through a ``transform`` that picks its part of the
targets and predictions. The full run reaches a mean absolute error of about
0.01 on each head (a few seconds); the script prints both and returns their mean.

    python examples/multi_output.py           # full run: 20 epochs of 100 batches
    python examples/multi_output.py --smoke   # a few seconds, for CI
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import axon.loop
import axon.model
import axon.optim

from _cli import arguments, epoch_summary


def power_data(examples: int, seed: int = 0) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Random ``x`` in [-1, 1] and the two targets ``(x**2, x**3)``."""
    x = np.random.default_rng(seed).uniform(-1.0, 1.0, size=(examples, 1)).astype(np.float32)
    return x, (x**2, x**3)


def build_model(hidden: int) -> axon.model.Model:
    trunk = (
        axon.model.input("x", shape=(None, 1))
        .dense(hidden, activation="tanh")
        .dense(hidden, activation="tanh")
    )
    square = trunk.dense(1, name="square")
    cube = trunk.dense(1, name="cube")
    return axon.model.container((square, cube))


def head(index: int):
    """A metric transform: the ``index``-th output's ``(y_true, y_pred)``."""
    return lambda step_state: (step_state["y_true"][index], step_state["y_pred"][index])


def main(argv: list[str] | None = None) -> float:
    args = arguments(__doc__, argv, epochs=20, examples=6400, smoke={"epochs": 2})
    x, targets = power_data(args.examples)  # 100 batches of 64 per epoch

    model = build_model(hidden=32)
    print(axon.model.display.as_table(model, jax.ShapeDtypeStruct((1, 1), jnp.float32)))

    losses = [("mean_squared_error", 0.5), ("mean_squared_error", 0.5)]
    model_state = (
        axon.loop.trainer(model, losses, axon.optim.adam(3e-3), log=0)
        .metric("mean_absolute_error", name="square_mae", transform=head(0))
        .metric("mean_absolute_error", name="cube_mae", transform=head(1))
        .log(
            epoch_summary,
            event="epoch_completed",
        )
        .run(axon.loop.batches(x, targets, batch_size=64, shuffle=True), epochs=args.epochs)
    )

    x = np.linspace(-1.0, 1.0, 201, dtype=np.float32)[:, None]
    square, cube = axon.model.predict(model, model_state, x)
    square_mae = float(np.mean(np.abs(np.asarray(square) - x**2)))
    cube_mae = float(np.mean(np.abs(np.asarray(cube) - x**3)))
    for value in (-0.5, 0.0, 0.8):
        s, c = axon.model.predict(model, model_state, np.array([[value]], np.float32))
        print(f"x={value:+.1f}: x**2 ~ {float(s[0, 0]):+.3f}  x**3 ~ {float(c[0, 0]):+.3f}")
    print(f"Test mean absolute error: x**2 {square_mae:.4f}, x**3 {cube_mae:.4f}")
    return (square_mae + cube_mae) / 2


if __name__ == "__main__":
    main()
