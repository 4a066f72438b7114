"""A Keras ``train_on_batch`` loop: the pattern of GANs and hand-made schedules.

A Keras script, with only the imports changed. The loop draws its own
batches and calls ``model.train_on_batch(x, y)``, which returns Keras's
``[loss, accuracy]`` for the batch. Each call is a step of the model's run:
counted (``model.optimizer.iterations``), drawing dropout from the run's own
random state, saved with ``model.save`` and continued after ``load_model``.
Halfway it lowers the learning rate through ``model.optimizer.learning_rate``.

Run it: ``python examples/keras_train_on_batch.py`` (a few seconds on a CPU).
"""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from epochal import keras
from epochal.keras import layers


def main(steps: int = 300, batch_size: int = 32) -> float:
    """Train for ``steps`` batches; return the test accuracy."""
    keras.utils.set_random_seed(0)
    x, y = load_breast_cancer(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.25, random_state=0, stratify=y
    )
    scaler = StandardScaler().fit(x_train)
    x_train = scaler.transform(x_train).astype("float32")
    x_test = scaler.transform(x_test).astype("float32")
    y_train = y_train.astype("float32")[:, None]
    y_test = y_test.astype("float32")[:, None]

    model = keras.Sequential(
        [
            keras.Input(shape=(x_train.shape[1],)),
            layers.Dense(16, activation="relu"),
            layers.Dropout(0.2),
            layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])

    rng = np.random.default_rng(0)
    for step in range(steps):
        if step == steps // 2:
            model.optimizer.learning_rate = model.optimizer.learning_rate / 10
        index = rng.integers(0, len(x_train), size=batch_size)
        loss, accuracy = model.train_on_batch(x_train[index], y_train[index])
        if (step + 1) % 100 == 0:
            print(f"step {step + 1}: loss {loss:.4f}, batch accuracy {accuracy:.4f}")

    print("optimizer steps:", model.optimizer.iterations)
    test_loss, test_acc = model.test_on_batch(x_test, y_test)
    print(f"Test loss: {test_loss:.4f}, test accuracy: {test_acc:.4f}")
    return float(test_acc)


if __name__ == "__main__":
    main()
