"""The most copied Keras program: fit, then ``test_loss, test_acc = model.evaluate(...)``.

A Keras script, with only the imports changed: a small dense network
classifies scikit-learn's 8x8 digits (bundled with scikit-learn, no
download). ``evaluate`` returns Keras's ``[loss, accuracy]``, so the usual
unpacking works; ``return_dict=True`` gives the dict.

Run it: ``python examples/keras_evaluate_digits.py`` (a few seconds on a CPU).
"""

from __future__ import annotations

from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from epochal import keras
from epochal.keras import layers


def main(epochs: int = 20) -> float:
    """Train, evaluate on the held-out digits; return the test accuracy."""
    keras.utils.set_random_seed(0)
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.25, random_state=0, stratify=y
    )

    model = keras.Sequential(
        [
            keras.Input(shape=(64,)),
            layers.Dense(64, activation="relu"),
            layers.Dropout(0.2),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer="adam",
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(x_train, y_train, epochs=epochs, batch_size=32, validation_split=0.1, verbose=0)

    test_loss, test_acc = model.evaluate(x_test, y_test, verbose=0)
    print(f"Test loss: {test_loss:.4f}")
    print(f"Test accuracy: {test_acc:.4f}")

    predictions = model.predict(x_test[:5], verbose=0)
    print("First predictions:", predictions.argmax(axis=1), "true:", y_test[:5])
    return float(test_acc)


if __name__ == "__main__":
    main()
