"""Early stopping written by hand around a loop of one-epoch ``fit`` calls.

Keep the best validation loss and the weights that reached it
(``get_weights``), count epochs without improvement, stop after ``patience``
of them and put the best weights back (``set_weights``), as Keras users do
when they want full control of the loop.

Run it: ``python examples/manual_early_stopping.py`` (a few seconds on a CPU).
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


def main(max_epochs: int = 200, patience: int = 10) -> float:
    """Train until the validation loss stops improving; return the validation accuracy."""
    keras.utils.set_random_seed(0)
    X_train, X_val, y_train, y_val = load_data()

    model = keras.Sequential(
        [
            keras.Input(shape=(X_train.shape[1],)),
            layers.Dense(32, activation="relu"),
            layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=0.003),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )

    best_val_loss = float("inf")
    best_weights = model.get_weights()
    best_epoch = 0
    wait = 0
    for epoch in range(max_epochs):
        history = model.fit(X_train, y_train, epochs=1, verbose=0, validation_data=(X_val, y_val))
        val_loss = history.history["val_loss"][0]
        if val_loss < best_val_loss:
            best_val_loss, best_weights, best_epoch = val_loss, model.get_weights(), epoch
            wait = 0
        else:
            wait += 1
            if wait >= patience:
                print(f"stopping after epoch {epoch + 1}: no improvement for {patience} epochs")
                break
    model.set_weights(best_weights)

    val_accuracy = model.evaluate(X_val, y_val, verbose=0, return_dict=True)["accuracy"]
    print(
        f"best epoch {best_epoch + 1} (val_loss {best_val_loss:.4f}); "
        f"validation accuracy with its weights: {val_accuracy:.3f}"
    )
    return val_accuracy


if __name__ == "__main__":
    main()
