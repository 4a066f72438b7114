"""A plain Sequential classifier, ending with the most copied Keras idiom.

As TensorFlow's "Basic classification" tutorial writes it: Flatten, a Dense
hidden layer, logits out, ``SparseCategoricalCrossentropy(from_logits=True)``,
then ``test_loss, test_acc = model.evaluate(x_test, y_test)`` and a
probability model that wraps the trained one with a Softmax layer. The data
is scikit-learn's bundled 8x8 digit images instead of Fashion-MNIST. Only the
imports differ from the Keras program.

Run it: ``python examples/keras_sequential_classifier.py`` (a few seconds on a CPU).
"""

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from epochal import keras
from epochal.keras import layers

keras.utils.set_random_seed(0)
digits = load_digits()
images = (digits.images / 16.0).astype("float32")
train_images, test_images, train_labels, test_labels = train_test_split(
    images, digits.target, test_size=0.25, random_state=0, stratify=digits.target
)
print("train images:", train_images.shape, "test images:", test_images.shape)

model = keras.Sequential(
    [
        keras.Input(shape=(8, 8)),
        layers.Flatten(),
        layers.Dense(128, activation="relu"),
        layers.Dense(10),
    ]
)
model.compile(
    optimizer="adam",
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=["accuracy"],
)
model.fit(train_images, train_labels, epochs=10, verbose=2)

test_loss, test_acc = model.evaluate(test_images, test_labels, verbose=2)
print("\nTest loss:", test_loss)
print("Test accuracy:", test_acc)

probability_model = keras.Sequential([model, layers.Softmax()])
predictions = probability_model.predict(test_images, verbose=0)
print("predictions shape:", predictions.shape)
print("first test image: predicted", np.argmax(predictions[0]), "label", test_labels[0])
