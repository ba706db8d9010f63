"""Shared data for the cross-package tests: scikit-learn's bundled digits (no download)."""

import numpy as np
import pytest
from sklearn.datasets import load_digits


@pytest.fixture(scope="session")
def digits():
    images, labels = load_digits(return_X_y=True)
    x = (images / 16.0).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[labels]
    return x, y


@pytest.fixture
def digit_batches(digits):
    x, y = digits
    return [(x[i : i + 64], y[i : i + 64]) for i in range(0, 512, 64)]
