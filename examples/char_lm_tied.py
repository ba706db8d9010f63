"""A character-level language model whose output layer reuses its input embedding (tied weights).

``examples/char_lstm.py`` with *tied embeddings* (Press & Wolf, 2017): one table
``(vocab, features)`` embeds the input characters and, transposed, projects the
last hidden state back onto the vocabulary. The table is an
``axon.model.parameter``: a free-standing array that both layers take as their
kernel, stored once (``model_state.params["embedding"]["value"]``) and trained by
the sum of both layers' gradients. Same corpus (the standard library's
docstrings), same windows and sampling as ``char_lstm.py``; the script prints the
parameter counts of the tied and the untied model and checks that training moved
the one shared table.

    python examples/char_lm_tied.py              # full run: 8 epochs of 250 batches
    python examples/char_lm_tied.py --smoke      # a few seconds, for CI
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from char_lstm import (
    LENGTH,
    RUN_LENGTH,
    SMOKE,
    accuracy,
    corpus_ids,
    evaluate_and_sample,
    loss,
    window_batches,
)

import axon.loop
import axon.model
import axon.optim

from _cli import arguments

FEATURES = 48  # the embedding width, which the output projection must share


def build_model(vocab: int, length: int, hidden: int, tied: bool = True) -> axon.model.Model:
    """Embed, LSTM, project to ``FEATURES``, then logits through the (shared) table."""
    chars = axon.model.input("chars", shape=(None, length))
    if tied:
        table = axon.model.parameter("embedding", (vocab, FEATURES), initializer="normal")
        embedded = chars.embedding(vocab, FEATURES, kernel=table)
    else:
        embedded = chars.embedding(vocab, FEATURES)
    _, (_, h) = embedded.lstm(hidden)  # (sequence, (c, h))
    features = h.dropout(rate=0.1).dense(FEATURES, activation="tanh", name="to_features")
    if tied:
        return features.dense(vocab, kernel=table.transpose(), name="logits")
    return features.dense(vocab, name="logits")


def main(argv: list[str] | None = None) -> float:
    smoke = {**SMOKE, "test_stride": 37}  # enough held-out windows for one batch of 512
    args = arguments(__doc__, argv, **RUN_LENGTH, test_stride=7, smoke=smoke)

    vocabulary, train_ids, test_ids = corpus_ids()
    model = build_model(len(vocabulary), LENGTH, hidden=args.hidden)
    untied = build_model(len(vocabulary), LENGTH, hidden=args.hidden, tied=False)
    template = np.zeros((1, LENGTH), np.int32)
    initial = model.init(0, template)
    print(
        f"Parameters: {initial.num_parameters} tied, "
        f"{untied.init(0, template).num_parameters} untied"
    )

    train_data, test_data = window_batches(train_ids, test_ids, args.test_stride)

    model_state = (
        axon.loop.trainer(model, loss, axon.optim.adam(3e-3), log=50)
        .metric(accuracy, name="accuracy")
        .validate(model, test_data)
        .run(train_data, epochs=args.epochs, iterations=args.iterations, init_state=initial)
    )
    table = model_state.params["embedding"]["value"]
    assert "kernel" not in model_state.params["logits"], "the output layer has no table of its own"
    moved = float(jnp.abs(table - initial.params["embedding"]["value"]).max())
    print(f"Shared table {tuple(table.shape)} moved by up to {moved:.3f} in training")
    assert moved > 0

    return evaluate_and_sample(model, model_state, test_data, test_ids, vocabulary, args.generate)


if __name__ == "__main__":
    main()
