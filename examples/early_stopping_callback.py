"""Early stopping with the ``EarlyStopping`` callback, in one ``fit`` call.

The same job as ``manual_early_stopping.py`` in one line:
``EarlyStopping(monitor='val_loss', patience=10, restore_best_weights=True)``
stops when the validation loss has not improved for 10 epochs and leaves the
model with the best epoch's weights.

Run it: ``python examples/early_stopping_callback.py`` (a few seconds on a CPU).
"""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from epochal import keras
from epochal.keras import layers
from epochal.keras.callbacks import EarlyStopping


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


def main(max_epochs: int = 200) -> float:
    """Fit with early stopping; return the validation accuracy of the restored best weights."""
    keras.utils.set_random_seed(0)
    X_train, X_val, y_train, y_val = load_data()

    model = keras.Sequential(
        [
            layers.Dense(32, activation="relu", input_shape=(X_train.shape[1],)),
            layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=0.003),
        loss=keras.losses.BinaryCrossentropy(),
        metrics=["accuracy"],
    )

    early_stopping = EarlyStopping(monitor="val_loss", patience=10, restore_best_weights=True)
    history = model.fit(
        X_train,
        y_train,
        epochs=max_epochs,
        batch_size=32,
        verbose=0,
        validation_data=(X_val, y_val),
        callbacks=[early_stopping],
    )
    print(
        f"trained {len(history.history['loss'])} epochs, stopped at epoch "
        f"{early_stopping.stopped_epoch + 1}, best epoch {early_stopping.best_epoch + 1}"
    )

    val_accuracy = model.evaluate(X_val, y_val, verbose=0, return_dict=True)["accuracy"]
    print(f"validation accuracy with the best weights: {val_accuracy:.3f}")
    return val_accuracy


if __name__ == "__main__":
    main()
