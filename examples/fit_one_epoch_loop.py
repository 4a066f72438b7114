"""Train one epoch at a time, reading the validation loss after each ``fit`` call.

A common Keras pattern: call ``model.fit(..., epochs=1)`` in a loop and read
``history.history['val_loss'][0]`` each time, to log, plot or steer. With
epochal the loop is one continuous training run: epochs are numbered on
across calls and ``model.history`` holds all of them.

Run it: ``python examples/fit_one_epoch_loop.py`` (breast-cancer data bundled
with scikit-learn; a few seconds on a CPU).
"""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from epochal import keras
from epochal.keras import layers


def load_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Standardized breast-cancer features, split 80/20 into train and validation."""
    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_val, y_train, y_val = train_test_split(
        X, y, test_size=0.2, random_state=0, stratify=y
    )
    scaler = StandardScaler().fit(X_train)
    X_train = scaler.transform(X_train).astype("float32")
    X_val = scaler.transform(X_val).astype("float32")
    return X_train, X_val, y_train.astype("float32"), y_val.astype("float32")


def main(epochs: int = 30) -> float:
    """Train ``epochs`` one-epoch ``fit`` calls; return the final validation accuracy."""
    keras.utils.set_random_seed(0)
    X_train, X_val, y_train, y_val = load_data()

    model = keras.Sequential(
        [
            layers.Dense(32, activation="relu", input_shape=(X_train.shape[1],)),
            layers.Dropout(0.2),
            layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=0.001),
        loss=keras.losses.BinaryCrossentropy(),
        metrics=["accuracy"],
    )

    val_losses = []
    for epoch in range(epochs):
        history = model.fit(X_train, y_train, epochs=1, verbose=0, validation_data=(X_val, y_val))
        val_loss = history.history["val_loss"][0]
        val_losses.append(val_loss)
        if (epoch + 1) % 10 == 0:
            print(f"epoch {epoch + 1}: val_loss={val_loss:.4f}")

    # return_dict=True gives {"loss": ..., "accuracy": ...} in Keras and epochal alike.
    val_accuracy = model.evaluate(X_val, y_val, verbose=0, return_dict=True)["accuracy"]
    print(f"best val_loss {min(val_losses):.4f}; final validation accuracy: {val_accuracy:.3f}")
    return val_accuracy


if __name__ == "__main__":
    main()
