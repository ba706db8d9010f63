"""Classify token sequences with a small transformer encoder.

A generated task that needs attention: each example is a sequence of ``--length``
token ids drawn from a vocabulary of ``--vocab``, and its label says whether
any token occurs twice. Answering means comparing every position with every
other, which is what self-attention does (sizes are chosen so that about half of
the sequences have a repeat). The model embeds the ids (no position embedding is
needed: the answer does not depend on the order), runs ``--blocks``
``transformer_encoder`` blocks (pre-norm multi-head self-attention and a
feed-forward network, each with a residual connection), averages over the
sequence with ``global_avg_pool`` and predicts the label with a ``sigmoid``.

Fresh sequences are generated every epoch; a fixed held-out set measures the
accuracy, which reaches about 96% after the full run (20 s of CPU time; the sizes
are small for CPUs, more epochs do better).

    python examples/transformer_classifier.py           # full run: 15 epochs
    python examples/transformer_classifier.py --smoke   # a few seconds, for CI
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import axon.loop
import axon.model
import axon.optim

from _cli import arguments, epoch_summary

LENGTH = 8
VOCAB = 40


def sequences(n: int, length: int, vocab: int, rng: np.random.Generator):
    """``n`` random sequences ``(n, length)`` and labels ``(n, 1)``: 1 if a token repeats."""
    ids = rng.integers(0, vocab, size=(n, length), dtype=np.int32)
    ordered = np.sort(ids, axis=1)
    repeats = (ordered[:, 1:] == ordered[:, :-1]).any(axis=1)
    return ids, repeats.astype(np.float32)[:, None]


def generated_batches(size: int, iterations: int, length: int, vocab: int, seed: int = 0):
    """Each epoch's batches of freshly generated sequences."""

    def epoch(epoch: int):
        rng = np.random.default_rng([seed, epoch])
        for _ in range(iterations):
            yield sequences(size, length, vocab, rng)

    return epoch


def build_model(length: int, vocab: int, features: int, heads: int, blocks: int):
    x = axon.model.input("tokens", shape=(None, length)).embedding(vocab, features)
    for i in range(blocks):
        x = x.transformer_encoder(num_heads=heads, hidden_size=2 * features, name=f"block_{i}")
    return x.global_avg_pool().dense(1, activation="sigmoid")  # (batch, seq, f) -> (batch, f)


def main(argv: list[str] | None = None) -> float:
    args = arguments(
        __doc__, argv, epochs=15, iterations=100, smoke={"epochs": 2, "iterations": 30}
    )

    x_test, y_test = sequences(2000, LENGTH, VOCAB, np.random.default_rng(12345))
    print(f"Held-out sequences with a repeated token: {y_test.mean():.1%}")

    model = build_model(LENGTH, VOCAB, features=32, heads=4, blocks=2)
    template = jax.ShapeDtypeStruct((1, LENGTH), jnp.int32)
    print(axon.model.display.as_table(model, template))

    data = generated_batches(64, args.iterations, LENGTH, VOCAB)
    state = (
        axon.loop.trainer(model, "binary_cross_entropy", axon.optim.adamw(1e-3), log=0)
        .metric("accuracy")
        .validate(model, [(x_test, y_test)])
        .log(
            epoch_summary,
            event="epoch_completed",
        )
        .replace(output_transform=None)  # run() returns the loop's State, history included
        .run(data, epochs=args.epochs)
    )

    accuracy = float(state.history[args.epochs - 1]["validation_accuracy"])
    probabilities = axon.model.predict(model, state.step_state["model_state"], x_test[:3])
    for ids, label, p in zip(
        x_test[:3], y_test[:3, 0], np.asarray(probabilities)[:, 0], strict=True
    ):
        print(f"{ids.tolist()}: repeat={bool(label)}, predicted probability {p:.3f}")
    print(f"Held-out accuracy: {accuracy:.4f} on {len(x_test)} sequences")
    return accuracy


if __name__ == "__main__":
    main()
