"""Remove noise from images with a convolutional autoencoder: ``conv`` down, ``conv_transpose`` up.

The equivalent of Axon's ``examples/vision/cnn_image_denoising.exs`` on
scikit-learn's bundled 8x8 digits (no download). Every training batch adds fresh
Gaussian noise to clean digits; the model learns to map the noisy image back to
the clean one. The encoder is two convolutions, the second with stride 2 (8x8 ->
4x4); the decoder is a ``conv_transpose`` with stride 2 (4x4 -> 8x8) and a
convolution down to one channel with a ``sigmoid``. The loss is the mean squared
error against the clean image.

The script compares the held-out error of the denoised images with that of the
noisy inputs and prints one example as ASCII art. With noise of standard deviation
0.3 (clipped to [0, 1]) the full run brings the mean squared error from about
0.051 (noisy) down to about 0.021 (under a minute on 2 CPU cores).

    python examples/denoising_autoencoder.py           # full run: 30 epochs
    python examples/denoising_autoencoder.py --smoke   # a few seconds, for CI
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import axon.loop
import axon.model
import axon.optim

from _cli import arguments, ascii_image

NOISE = 0.3  # standard deviation


def add_noise(images: np.ndarray, std: float, rng: np.random.Generator) -> np.ndarray:
    noisy = images + rng.normal(0.0, std, size=images.shape)
    return np.clip(noisy, 0.0, 1.0).astype(np.float32)


def noisy_batches(clean: np.ndarray, size: int, std: float, seed: int = 0):
    """Each epoch's ``(noisy, clean)`` batches: shuffled images, fresh noise every epoch."""
    shuffled = axon.loop.batches(clean, batch_size=size, shuffle=True, seed=seed, drop_last=True)

    def epoch(epoch: int):
        rng = np.random.default_rng([seed, epoch])  # the noise depends on the epoch only
        return ((add_noise(batch, std, rng), batch) for batch in shuffled.epoch(epoch))

    return epoch


def build_model(width: int) -> axon.model.Model:
    return (
        axon.model.input("noisy", shape=(None, 8, 8, 1))
        .conv(width, kernel_size=3, padding="same", activation="relu")
        .conv(2 * width, kernel_size=3, strides=2, padding="same", activation="relu")  # 4x4
        .conv_transpose(width, kernel_size=2, strides=2, activation="relu")  # back to 8x8
        .conv(1, kernel_size=3, padding="same", activation="sigmoid")
    )


def main(argv: list[str] | None = None) -> float:
    args = arguments(__doc__, argv, epochs=30, smoke={"epochs": 2})

    images, labels = load_digits(return_X_y=True)
    clean = (images / 16.0).astype(np.float32).reshape(-1, 8, 8, 1)
    train, test = train_test_split(clean, test_size=0.2, random_state=0, stratify=labels)
    noisy_test = add_noise(test, NOISE, np.random.default_rng(1))  # fixed held-out noise

    model = build_model(width=16)
    print(axon.model.display.as_table(model, jax.ShapeDtypeStruct((1, 8, 8, 1), jnp.float32)))

    model_state = (
        axon.loop.trainer(model, "mean_squared_error", axon.optim.adam(2e-3))
        .validate(model, [(noisy_test, test)])
        .run(noisy_batches(train, size=32, std=NOISE), epochs=args.epochs)
    )

    denoised = np.asarray(axon.model.predict(model, model_state, noisy_test))
    noisy_mse = float(np.mean((noisy_test - test) ** 2))
    denoised_mse = float(np.mean((denoised - test) ** 2))
    print(f"{'noisy':<16}  {'denoised':<16}  {'clean':<16}")
    for row in zip(*(ascii_image(a[0]) for a in (noisy_test, denoised, test)), strict=True):
        print("  ".join(row))
    print(f"Held-out mean squared error: noisy {noisy_mse:.4f} -> denoised {denoised_mse:.4f}")
    return denoised_mse


if __name__ == "__main__":
    main()
