"""A small convolutional network on 8x8 digit images, in Keras's channels-last layout.

Images are ``(N, height, width, channels)`` = ``(N, 8, 8, 1)``, as Keras
expects; epochal's ``Conv2D``/``MaxPooling2D`` take them as they are. The
model ends in a softmax and trains with ``sparse_categorical_crossentropy``
on integer labels (epochal computes the loss from the logits, so the softmax
is never applied twice).

Run it: ``python examples/conv2d_digits.py`` (scikit-learn's bundled digits;
well under a minute on a CPU).
"""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from epochal import keras
from epochal.keras import layers


def load_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Digit images scaled to [0, 1], shaped (N, 8, 8, 1), split 80/20 into train and test."""
    digits = load_digits()
    images = (digits.images / 16.0).astype("float32").reshape(-1, 8, 8, 1)
    return train_test_split(
        images, digits.target, test_size=0.2, random_state=0, stratify=digits.target
    )


def main(epochs: int = 10) -> float:
    """Train the network; return its accuracy on the held-out test images."""
    keras.utils.set_random_seed(0)
    x_train, x_test, y_train, y_test = load_data()

    model = keras.Sequential(
        [
            keras.Input(shape=(8, 8, 1)),
            layers.Conv2D(16, (3, 3), activation="relu", padding="same"),
            layers.MaxPooling2D((2, 2)),
            layers.Conv2D(32, (3, 3), activation="relu", padding="same"),
            layers.Flatten(),
            layers.Dense(64, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=epochs, batch_size=32, validation_split=0.1, verbose=0)

    probabilities = model.predict(x_test, verbose=0)  # (N, 10) softmax outputs
    test_accuracy = float((probabilities.argmax(axis=1) == y_test).mean())
    print(f"predictions {probabilities.shape}; test accuracy: {test_accuracy:.3f}")
    return test_accuracy


if __name__ == "__main__":
    main()
