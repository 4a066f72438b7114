"""A custom layer (build / add_weight / call) inside a ``keras.Model`` subclass, trained with fit.

As Keras's guide "Making new layers and models via subclassing" writes them:
a ``Linear`` layer that creates its weights in ``build`` once it knows the
input size, and a model subclass that makes its layers in ``__init__`` and
runs them in ``call`` (with dropout only while training). The data is
scikit-learn's generated two-moons problem. Only the imports differ from
the Keras program.

Run it: ``python examples/keras_custom_layer_and_model.py`` (a few seconds on a CPU).
"""

import numpy as np
from sklearn.datasets import make_moons

from epochal import keras
from epochal.keras import layers, ops


class Linear(keras.layers.Layer):
    def __init__(self, units=32, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(
            shape=(input_shape[-1], self.units),
            initializer="random_normal",
            trainable=True,
            name="w",
        )
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", trainable=True, name="b")

    def call(self, inputs):
        return ops.matmul(inputs, self.w) + self.b

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units})
        return config


class MoonClassifier(keras.Model):
    def __init__(self, hidden_units=32, **kwargs):
        super().__init__(**kwargs)
        self.linear_1 = Linear(hidden_units)
        self.linear_2 = Linear(hidden_units)
        self.dropout = layers.Dropout(0.1)
        self.classifier = layers.Dense(1, activation="sigmoid")

    def call(self, inputs, training=None):
        x = ops.relu(self.linear_1(inputs))
        x = ops.relu(self.linear_2(x))
        x = self.dropout(x, training=training)
        return self.classifier(x)


keras.utils.set_random_seed(0)
x, y = make_moons(n_samples=1200, noise=0.2, random_state=0)
x = x.astype("float32")
y = y.astype("float32")
x_train, y_train, x_test, y_test = x[:1000], y[:1000], x[1000:], y[1000:]

model = MoonClassifier()
model.compile(
    optimizer=keras.optimizers.Adam(learning_rate=0.01),
    loss="binary_crossentropy",
    metrics=["accuracy"],
)
history = model.fit(x_train, y_train, batch_size=32, epochs=15, validation_split=0.1, verbose=2)

print("weights of the first Linear layer:", [tuple(w.shape) for w in model.linear_1.weights])
model.summary()
loss = history.history["loss"]
print(f"loss: first epoch {loss[0]:.4f}, last epoch {loss[-1]:.4f}")
predictions = model.predict(x_test, verbose=0)
print("predictions shape:", predictions.shape)
test_accuracy = float(np.mean((predictions[:, 0] > 0.5) == (y_test > 0.5)))
print(f"test accuracy: {test_accuracy:.4f}")
