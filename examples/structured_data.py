"""Classify tabular data with class weights and confusion-matrix counts as running sums.

The equivalent of Axon's credit-card-fraud example on data that ships with
scikit-learn: the Wisconsin breast cancer table (569 tumours, 30 numeric features,
no download). Malignant tumours (the rarer class, 37%) are the positives. The
features are standardized with the training split's statistics; a small MLP with a
``sigmoid`` output is trained with a custom loss, binary cross entropy with
``positive_weight``/``negative_weight`` so that both classes weigh the same. The
``true_positives``, ``false_positives``, ``true_negatives`` and ``false_negatives``
metrics are accumulated with ``accumulate="running_sum"``, so the loop's numbers
are counts over each epoch (and over the validation split), not averages. On the
held-out quarter the full run reaches about 96% accuracy, with a precision of about
0.93 and a recall of about 0.96 for malignant tumours (a few seconds).

    python examples/structured_data.py           # full run: 30 epochs
    python examples/structured_data.py --smoke   # a few seconds, for CI
"""

from __future__ import annotations

import functools

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

import axon.functional as F
import axon.loop
import axon.model
import axon.optim

from _cli import arguments

COUNTS = ("true_positives", "false_positives", "true_negatives", "false_negatives")


def weighted_binary_cross_entropy(positive_weight: float, negative_weight: float):
    """A loss ``fn(y_true, y_pred)``: binary cross entropy with per-class weights."""
    return functools.partial(
        F.losses.binary_cross_entropy,
        positive_weight=positive_weight,
        negative_weight=negative_weight,
        reduction="mean",
    )


def main(argv: list[str] | None = None) -> float:
    args = arguments(__doc__, argv, epochs=30, smoke={"epochs": 2})

    features, target = load_breast_cancer(return_X_y=True)
    malignant = (target == 0).astype(np.float32)[:, None]  # in the table, 0 is malignant
    x_train, x_test, y_train, y_test = train_test_split(
        features.astype(np.float32), malignant, test_size=0.25, random_state=0, stratify=malignant
    )
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std

    positives = float(y_train.sum())
    negatives = len(y_train) - positives
    # Each class contributes half of the loss, however rare it is.
    positive_weight = len(y_train) / (2 * positives)
    negative_weight = len(y_train) / (2 * negatives)
    print(
        f"{len(x_train)} training rows ({int(positives)} malignant), {len(x_test)} held out; "
        f"class weights: positive {positive_weight:.3f}, negative {negative_weight:.3f}"
    )

    model = (
        axon.model.input("features", shape=(None, x_train.shape[1]))
        .dense(32, activation="relu")
        .dropout(rate=0.2)
        .dense(1, activation="sigmoid")
    )

    loss = weighted_binary_cross_entropy(positive_weight, negative_weight)
    loop = axon.loop.trainer(model, loss, axon.optim.adam(1e-3), log=0).metric("accuracy")
    for count in COUNTS:
        loop = loop.metric(count, accumulate="running_sum")
    loop = loop.validate(model, axon.loop.batches(x_test, y_test, batch_size=len(x_test))).log(
        lambda state: (
            f"Epoch {state.epoch + 1}/{state.max_epoch}: "
            + ", ".join(f"{k} {v:.4g}" for k, v in state.scalar_metrics().items())
        ),
        event="epoch_completed",
    )
    model_state = loop.run(
        axon.loop.batches(x_train, y_train, batch_size=32, shuffle=True, drop_last=True),
        epochs=args.epochs,
    )

    evaluator = axon.loop.evaluator(model).metric("accuracy")
    for count in COUNTS:
        evaluator = evaluator.metric(count, accumulate="running_sum")
    (results,) = evaluator.run(
        axon.loop.batches(x_test, y_test, batch_size=len(x_test)), model_state
    ).values()
    tp, fp, tn, fn = (float(results[count]) for count in COUNTS)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    accuracy = (tp + tn) / (tp + fp + tn + fn)
    print(f"Held-out confusion matrix: TP {tp:.0f}  FP {fp:.0f}  TN {tn:.0f}  FN {fn:.0f}")
    print(f"Held-out precision {precision:.3f}, recall {recall:.3f}, accuracy {accuracy:.4f}")
    return accuracy


if __name__ == "__main__":
    main()
