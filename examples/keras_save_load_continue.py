"""Save a model to a ``.keras`` file, load it back, and continue training.

As Keras's guide "Save, serialize, and export models" does: ``model.save``
writes the architecture, the weights and the optimizer's state;
``keras.models.load_model`` rebuilds the model without its code, and ``fit``
continues where the saved model stopped. epochal goes one step further: the
continued run is bit for bit the run that was never interrupted, which the
program checks. The data is scikit-learn's bundled wine measurements.
Only the imports differ from the Keras program.

Run it: ``python examples/keras_save_load_continue.py`` (writes ``wine.keras``
in the current folder; a few seconds on a CPU).
"""

import numpy as np
from sklearn.datasets import load_wine
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from epochal import keras
from epochal.keras import layers

x, y = load_wine(return_X_y=True)
x_train, x_test, y_train, y_test = train_test_split(
    x, y, test_size=0.25, random_state=0, stratify=y
)
scaler = StandardScaler().fit(x_train)
x_train = scaler.transform(x_train).astype("float32")
x_test = scaler.transform(x_test).astype("float32")


def get_model():
    model = keras.Sequential(
        [
            keras.Input(shape=(13,)),
            layers.Dense(32, activation="relu"),
            layers.Dropout(0.2),
            layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


# Train for 5 epochs, save, load in a "new session" and train 5 more.
keras.utils.set_random_seed(0)
model = get_model()
first = model.fit(x_train, y_train, batch_size=16, epochs=5, verbose=0)
model.save("wine.keras")

# It can be used to reconstruct the model identically.
reconstructed_model = keras.models.load_model("wine.keras")
np.testing.assert_allclose(
    model.predict(x_test, verbose=0), reconstructed_model.predict(x_test, verbose=0)
)
del model

# The reconstructed model is already compiled and has kept the optimizer
# state, so training resumes -- and, in epochal, the run's own random state
# too, so whatever the session's seed, it goes on as if never stopped:
keras.utils.set_random_seed(1234)
second = reconstructed_model.fit(x_train, y_train, batch_size=16, epochs=5, verbose=0)
print("loss, epochs 1-5 (before saving):", first.history["loss"])
print("loss, epochs 6-10 (after loading):", second.history["loss"])

# The same 10 epochs without the interruption.
keras.utils.set_random_seed(0)
uninterrupted = get_model()
whole = uninterrupted.fit(x_train, y_train, batch_size=16, epochs=10, verbose=0)

weights, expected_weights = reconstructed_model.get_weights(), uninterrupted.get_weights()
print("weight arrays compared:", len(weights))
same_weights = len(weights) == len(expected_weights) and all(
    np.array_equal(a, b) for a, b in zip(weights, expected_weights, strict=False)
)
same_losses = first.history["loss"] + second.history["loss"] == whole.history["loss"]
print(
    "saved-and-loaded run equals the uninterrupted run, bit for bit:", same_weights and same_losses
)
predictions = reconstructed_model.predict(x_test, verbose=0)
test_accuracy = float(np.mean(predictions.argmax(axis=1) == y_test))
print(f"test accuracy: {test_accuracy:.4f}")
